package jsonlog

import (
	"iter"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Text converts one unit to the string every field of its record aliases:
// one allocation per unit. Invalid UTF-8 is replaced, not rejected: each
// maximal run of invalid bytes becomes U+FFFD (as encoding/json does inside
// strings), so an event with one bad byte is still stored and searchable;
// Event.Raw keeps the original bytes. replaced reports whether that happened.
func Text(data []byte) (s string, replaced bool) {
	if utf8.Valid(data) {
		return string(data), false
	}
	return strings.ToValidUTF8(string(data), "\uFFFD"), true
}

// ParseTime parses an RFC 3339 timestamp ("2026-11-01T12:00:00Z", with
// optional fraction and offset) into UTC, with a fast path for the forms
// AWS writes. ok is false when s is not a timestamp.
func ParseTime(s string) (t time.Time, ok bool) {
	if len(s) >= 20 && s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == ' ') && s[13] == ':' && s[16] == ':' {
		y, ok1 := digits(s[0:4])
		mo, ok2 := digits(s[5:7])
		d, ok3 := digits(s[8:10])
		h, ok4 := digits(s[11:13])
		mi, ok5 := digits(s[14:16])
		se, ok6 := digits(s[17:19])
		rest := s[19:]
		ns := 0
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && se < 61 {
			if rest[0] == '.' {
				j := 1
				scale := 100000000
				for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
					ns += int(rest[j]-'0') * scale
					scale /= 10
					j++
				}
				if j == 1 {
					goto slow
				}
				rest = rest[j:]
			}
			if rest == "Z" || rest == "+00:00" || rest == "z" {
				t = time.Date(y, time.Month(mo), d, h, mi, se, ns, time.UTC)
				if t.Day() == d {
					return t, true
				}
				return time.Time{}, false
			}
		}
	}
slow:
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// Values yields the values found at a dotted path inside raw JSON text
// (a sub-object a record keeps as raw JSON, e.g. CloudTrail
// requestParameters). Arrays on the way are traversed: every element is
// searched, as Sigma field matching expects. Scalars are yielded as their
// string value (numbers and booleans as their JSON text); objects and arrays
// at the end of the path are yielded as raw JSON. Malformed JSON ends the
// sequence.
func Values(raw, path string) iter.Seq[string] {
	return func(yield func(string) bool) {
		if raw == "" {
			return
		}
		var d Decoder
		d.Reset(raw)
		walk(&d, path, yield)
	}
}

func walk(d *Decoder, path string, yield func(string) bool) bool {
	switch d.Peek() {
	case KindArray:
		d.Array()
		for d.Elem() {
			if !walk(d, path, yield) {
				return false
			}
		}
		return d.err == nil
	case KindObject:
		if path == "" {
			return yield(d.Raw())
		}
		head, rest, _ := strings.Cut(path, ".")
		d.Object()
		for {
			k, ok := d.Key()
			if !ok {
				return d.err == nil
			}
			if k == head {
				if !walk(d, rest, yield) {
					return false
				}
			} else {
				d.Skip()
			}
		}
	case KindNone:
		return false
	case KindNull:
		d.Skip()
		return d.err == nil
	}
	if path != "" {
		d.Skip()
		return d.err == nil
	}
	v := d.String()
	if d.err != nil {
		return false
	}
	return yield(v)
}

// AppendString appends s as a JSON string (quoted and escaped) to dst.
// Generators use it to write NDJSON deterministically without reflection.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendField appends `"key":"value"` (value escaped) preceded by a comma
// unless dst ends with '{'.
func AppendField(dst []byte, key, value string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return AppendString(dst, value)
}

// AppendRawField appends `"key":raw` (raw must be valid JSON) preceded by a
// comma unless dst ends with '{'.
func AppendRawField(dst []byte, key, raw string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return append(dst, raw...)
}

// AppendIntField appends `"key":n` preceded by a comma unless dst ends with '{'.
func AppendIntField(dst []byte, key string, n int64) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return strconv.AppendInt(dst, n, 10)
}

// UUID returns a random version-4 UUID drawn from r, for deterministic
// generators.
func UUID(r *rand.Rand) string {
	const hexd = "0123456789abcdef"
	var b [36]byte
	a, c := r.Uint64(), r.Uint64()
	j := 0
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			b[i] = '-'
			continue
		case 14:
			b[i] = '4'
			continue
		}
		var nib uint64
		if j < 16 {
			nib = a >> (4 * j) & 0xf
		} else {
			nib = c >> (4 * (j - 16)) & 0xf
		}
		if i == 19 {
			nib = 8 | nib&3
		}
		b[i] = hexd[nib]
		j++
	}
	return string(b[:])
}
