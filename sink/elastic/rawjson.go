package elastic

import (
	"encoding/binary"
	"unicode/utf8"
)

// maxRawDepth bounds the nesting of an embedded native JSON record (ES's own
// index.mapping.depth.limit is 20; deeper parts are stringified anyway).
const maxRawDepth = 64

// rawCopier copies a JSON text compactly (insignificant whitespace removed,
// so it fits on one NDJSON line), validating it as it goes: strings keep
// their escapes, raw control characters inside strings are escaped and
// invalid UTF-8 becomes U+FFFD. Anything that is not JSON makes it fail, and
// the caller falls back to a string field.
type rawCopier struct {
	src []byte
	i   int
	// esc writes the copy as the body of a JSON string: every '"' and
	// '\\' of the compact text gets a backslash (stringified members).
	esc bool
}

func (c *rawCopier) ws() {
	for c.i < len(c.src) {
		switch c.src[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

func (c *rawCopier) value(dst []byte, depth int) ([]byte, bool) {
	c.ws()
	if c.i >= len(c.src) {
		return dst, false
	}
	switch b := c.src[c.i]; {
	case b == '"':
		return c.str(dst)
	case b == '{':
		return c.object(dst, depth)
	case b == '[':
		return c.array(dst, depth)
	case b == 't':
		return c.lit(dst, "true")
	case b == 'f':
		return c.lit(dst, "false")
	case b == 'n':
		return c.lit(dst, "null")
	case b == '-' || (b >= '0' && b <= '9'):
		return c.number(dst)
	}
	return dst, false
}

func (c *rawCopier) lit(dst []byte, lit string) ([]byte, bool) {
	if len(c.src)-c.i < len(lit) || string(c.src[c.i:c.i+len(lit)]) != lit {
		return dst, false
	}
	c.i += len(lit)
	return append(dst, lit...), true
}

func (c *rawCopier) number(dst []byte) ([]byte, bool) {
	s, i := c.src, c.i
	digits := func() bool {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > j
	}
	if s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if !digits() {
		return dst, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return dst, false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return dst, false
		}
	}
	dst = append(dst, s[c.i:i]...)
	c.i = i
	return dst, true
}

func isHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

// str copies a JSON string starting at the opening quote. Valid escapes
// and valid UTF-8 are kept as they are, so a string is usually copied with
// one append, quotes included; only raw control characters (escaped) and
// invalid UTF-8 (U+FFFD) are rewritten.
func (c *rawCopier) str(dst []byte) ([]byte, bool) {
	if c.esc {
		return c.strEsc(dst)
	}
	s := c.src
	start := c.i // the part of s still to copy, from the opening quote
	i := c.i + 1
	for {
		for i+8 <= len(s) && !specialIn8(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		for i < len(s) && safeASCII[s[i]] {
			i++
		}
		if i >= len(s) {
			return dst, false
		}
		switch b := s[i]; {
		case b == '"':
			c.i = i + 1
			return append(dst, s[start:i+1]...), true
		case b == '\\':
			if i+1 >= len(s) {
				return dst, false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return dst, false
				}
				i += 6
			default:
				return dst, false
			}
		case b < 0x20:
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			i++
			start = i
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\ufffd"...)
				start = i + 1
			}
			i += size
		}
	}
}

// strEsc is str for a copy written inside a JSON string (c.esc): the
// quotes become \" and the backslashes of escapes are doubled.
func (c *rawCopier) strEsc(dst []byte) ([]byte, bool) {
	s := c.src
	i := c.i + 1
	start := i
	dst = append(dst, '\\', '"')
	for {
		for i+8 <= len(s) && !specialIn8(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		for i < len(s) && safeASCII[s[i]] {
			i++
		}
		if i >= len(s) {
			return dst, false
		}
		switch b := s[i]; {
		case b == '"':
			c.i = i + 1
			dst = append(dst, s[start:i]...)
			return append(dst, '\\', '"'), true
		case b == '\\':
			if i+1 >= len(s) {
				return dst, false
			}
			dst = append(dst, s[start:i]...)
			switch e := s[i+1]; e {
			case '"', '\\':
				dst = append(dst, '\\', '\\', '\\', e)
				i += 2
			case '/', 'b', 'f', 'n', 'r', 't':
				dst = append(dst, '\\', '\\', e)
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return dst, false
				}
				dst = append(dst, '\\', '\\')
				dst = append(dst, s[i+1:i+6]...)
				i += 6
			default:
				return dst, false
			}
			start = i
		case b < 0x20:
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			i++
			start = i
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\ufffd"...)
				start = i + 1
			}
			i += size
		}
	}
}

func (c *rawCopier) object(dst []byte, depth int) ([]byte, bool) {
	if depth >= maxRawDepth {
		return dst, false
	}
	c.i++ // '{'
	dst = append(dst, '{')
	c.ws()
	if c.i < len(c.src) && c.src[c.i] == '}' {
		c.i++
		return append(dst, '}'), true
	}
	for {
		c.ws()
		if c.i >= len(c.src) || c.src[c.i] != '"' {
			return dst, false
		}
		var ok bool
		if dst, ok = c.str(dst); !ok {
			return dst, false
		}
		c.ws()
		if c.i >= len(c.src) || c.src[c.i] != ':' {
			return dst, false
		}
		c.i++
		dst = append(dst, ':')
		if dst, ok = c.value(dst, depth+1); !ok {
			return dst, false
		}
		c.ws()
		if c.i >= len(c.src) {
			return dst, false
		}
		switch c.src[c.i] {
		case ',':
			c.i++
			dst = append(dst, ',')
		case '}':
			c.i++
			return append(dst, '}'), true
		default:
			return dst, false
		}
	}
}

func (c *rawCopier) array(dst []byte, depth int) ([]byte, bool) {
	if depth >= maxRawDepth {
		return dst, false
	}
	c.i++ // '['
	dst = append(dst, '[')
	c.ws()
	if c.i < len(c.src) && c.src[c.i] == ']' {
		c.i++
		return append(dst, ']'), true
	}
	for {
		var ok bool
		if dst, ok = c.value(dst, depth+1); !ok {
			return dst, false
		}
		c.ws()
		if c.i >= len(c.src) {
			return dst, false
		}
		switch c.src[c.i] {
		case ',':
			c.i++
			dst = append(dst, ',')
		case ']':
			c.i++
			return append(dst, ']'), true
		default:
			return dst, false
		}
	}
}

// appendNativeObject appends the JSON object raw, compacted and validated,
// with the members spec names turned into JSON strings (their compact JSON
// text), so that deeply variable parts do not create mappings. ok is false,
// and dst must be discarded past its original length, when raw is not one
// JSON object.
func appendNativeObject(dst, raw []byte, spec *nativeSpec) ([]byte, bool) {
	if spec == nil {
		spec = &nativeSpec{}
	}
	c := rawCopier{src: raw}
	c.ws()
	if c.i >= len(raw) || raw[c.i] != '{' {
		return dst, false
	}
	dst, ok := c.specObject(dst, spec, 1)
	if !ok {
		return dst, false
	}
	c.ws()
	return dst, c.i == len(raw)
}

// specObject copies the object at c.i like object, stringifying and
// descending into the members spec names.
func (c *rawCopier) specObject(dst []byte, spec *nativeSpec, depth int) ([]byte, bool) {
	raw := c.src
	c.i++ // '{'
	dst = append(dst, '{')
	c.ws()
	if c.i < len(raw) && raw[c.i] == '}' {
		c.i++
		return append(dst, '}'), true
	}
	for {
		c.ws()
		if c.i >= len(raw) || raw[c.i] != '"' {
			return dst, false
		}
		keyStart := c.i + 1
		var ok bool
		if dst, ok = c.str(dst); !ok {
			return dst, false
		}
		name := raw[keyStart : c.i-1]
		c.ws()
		if c.i >= len(raw) || raw[c.i] != ':' {
			return dst, false
		}
		c.i++
		dst = append(dst, ':')
		c.ws()
		if c.i >= len(raw) {
			return dst, false
		}
		switch b := raw[c.i]; {
		case b != '"' && b != 'n' && listed(spec.stringify, name):
			// Copied straight into a JSON string: escaped as it is copied.
			dst = append(dst, '"')
			c.esc = true
			dst, ok = c.value(dst, depth)
			c.esc = false
			if !ok {
				return dst, false
			}
			dst = append(dst, '"')
		case b == '{' && spec.nested != nil && spec.sub(name) != nil:
			if dst, ok = c.specObject(dst, spec.sub(name), depth+1); !ok {
				return dst, false
			}
		default:
			if dst, ok = c.value(dst, depth); !ok {
				return dst, false
			}
		}
		c.ws()
		if c.i >= len(raw) {
			return dst, false
		}
		switch raw[c.i] {
		case ',':
			c.i++
			dst = append(dst, ',')
		case '}':
			c.i++
			return append(dst, '}'), true
		default:
			return dst, false
		}
	}
}

func listed(names []string, name []byte) bool {
	for _, n := range names {
		if n == string(name) {
			return true
		}
	}
	return false
}
