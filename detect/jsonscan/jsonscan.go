// Package jsonscan reads values out of JSON text in place, without decoding
// the document and without allocating: detection uses it to resolve Sigma
// field paths (userIdentity.arn, requestParameters.x.y) against an event's
// original bytes.
//
// The scanner is lenient: it never panics and never reads out of bounds on
// any input, but it does not validate. On malformed input it reports
// "absent" or returns whatever well-formed prefix it could read.
package jsonscan

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the type of a JSON value.
type Kind uint8

// Value kinds, as told by the first byte of the value.
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

// KindAt returns the kind of the value starting at b[i] (no whitespace
// skipping).
func KindAt(b []byte, i int) Kind {
	if i < 0 || i >= len(b) {
		return Invalid
	}
	switch c := b[i]; {
	case c == '"':
		return String
	case c == '{':
		return Object
	case c == '[':
		return Array
	case c == 't' || c == 'f':
		return Bool
	case c == 'n':
		return Null
	case c == '-' || (c >= '0' && c <= '9'):
		return Number
	}
	return Invalid
}

// SkipWS returns the index of the first non-whitespace byte at or after i.
func SkipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just past the closing quote of the string
// whose opening quote is at b[i], or -1.
func skipString(b []byte, i int) int {
	i++
	for {
		if i >= len(b) {
			return -1
		}
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		q := i + j
		// Count the backslashes right before the quote: an odd count escapes it.
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
}

// Skip returns the end (exclusive) of the value starting at b[i] (i must
// point at the value's first byte), or -1 when the value is malformed or
// truncated.
func Skip(b []byte, i int) int {
	if i < 0 || i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		// Literal or number: runs until a delimiter.
		j := i
		for j < len(b) {
			switch b[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r', ':', '"', '{', '[':
				if j == i {
					return -1
				}
				return j
			}
			j++
		}
		return j
	}
}

// Member is one member of an object: the key (raw, without quotes, possibly
// holding escapes) and the value span [VStart, VEnd).
type Member struct {
	Key          []byte
	KeyEscaped   bool
	VStart, VEnd int
}

// Members iterates the members of an object. The zero value is not usable;
// use NewMembers.
type Members struct {
	b    []byte
	i    int
	done bool
}

// NewMembers starts iterating the object whose '{' is at b[i]. If b[i] is
// not '{' the iterator yields nothing.
func NewMembers(b []byte, i int) Members {
	if i < 0 || i >= len(b) || b[i] != '{' {
		return Members{done: true}
	}
	return Members{b: b, i: i + 1}
}

// Next returns the next member; ok is false at the end of the object or on
// malformed input.
func (m *Members) Next() (mb Member, ok bool) {
	if m.done {
		return mb, false
	}
	b := m.b
	i := SkipWS(b, m.i)
	if i < len(b) && b[i] == ',' {
		i = SkipWS(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		m.done = true
		return mb, false
	}
	ke := skipString(b, i)
	if ke < 0 {
		m.done = true
		return mb, false
	}
	mb.Key = b[i+1 : ke-1]
	mb.KeyEscaped = bytes.IndexByte(mb.Key, '\\') >= 0
	i = SkipWS(b, ke)
	if i >= len(b) || b[i] != ':' {
		m.done = true
		return mb, false
	}
	i = SkipWS(b, i+1)
	ve := Skip(b, i)
	if ve < 0 {
		m.done = true
		return mb, false
	}
	mb.VStart, mb.VEnd = i, ve
	m.i = ve
	return mb, true
}

// Elements iterates the elements of an array.
type Elements struct {
	b    []byte
	i    int
	done bool
}

// NewElements starts iterating the array whose '[' is at b[i].
func NewElements(b []byte, i int) Elements {
	if i < 0 || i >= len(b) || b[i] != '[' {
		return Elements{done: true}
	}
	return Elements{b: b, i: i + 1}
}

// Next returns the span of the next element.
func (e *Elements) Next() (start, end int, ok bool) {
	if e.done {
		return 0, 0, false
	}
	b := e.b
	i := SkipWS(b, e.i)
	if i < len(b) && b[i] == ',' {
		i = SkipWS(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		e.done = true
		return 0, 0, false
	}
	end = Skip(b, i)
	if end < 0 {
		e.done = true
		return 0, 0, false
	}
	e.i = end
	return i, end, true
}

// KeyEquals reports whether the member key equals name, decoding escapes
// when the key has any.
func KeyEquals(m *Member, name string) bool {
	if !m.KeyEscaped {
		return string(m.Key) == name
	}
	var buf [128]byte
	return string(AppendUnescaped(buf[:0], m.Key)) == name
}

// AppendUnescaped appends the decoded form of the string content s (the
// bytes between the quotes) to dst. Invalid escapes and lone surrogates
// decode to U+FFFD, as encoding/json does.
func AppendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				return append(dst, s[i:]...)
			}
			dst = append(dst, s[i:i+j]...)
			i += j
			continue
		}
		if i+1 >= len(s) {
			return utf8.AppendRune(dst, utf8.RuneError)
		}
		switch s[i+1] {
		case '"', '\\', '/':
			dst = append(dst, s[i+1])
			i += 2
		case 'b':
			dst = append(dst, '\b')
			i += 2
		case 'f':
			dst = append(dst, '\f')
			i += 2
		case 'n':
			dst = append(dst, '\n')
			i += 2
		case 'r':
			dst = append(dst, '\r')
			i += 2
		case 't':
			dst = append(dst, '\t')
			i += 2
		case 'u':
			r, ok := hex4(s, i+2)
			if !ok {
				dst = utf8.AppendRune(dst, utf8.RuneError)
				i += 2
				continue
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2, ok := hex4(s, i+2); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = utf8.AppendRune(dst, utf8.RuneError)
			i += 2
		}
	}
	return dst
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Visitor receives the values Walk reaches: b[start:end] is one scalar
// value (string with its quotes, number, true/false/null), or the first
// byte of an object ('{') reached at the end of the path (followed by its
// leaves), or of an empty array ('[').
type Visitor interface {
	Visit(b []byte, start, end int)
}

// Walk visits every value reached from the value at b[i] by following path.
// Arrays along the path are transparent (each element is followed with the
// same remaining path), so a path reaches many values; an object or array
// at the end of the path is expanded into all of its scalar leaves (an
// object is also visited itself, first, so that it counts as a non-null
// value). When an
// object holds a key twice the last one wins, as in encoding/json.
func Walk(b []byte, i int, path []string, v Visitor) {
	walk(b, SkipWS(b, i), path, v, 0)
}

const maxDepth = 64

func walk(b []byte, i int, path []string, v Visitor, depth int) {
	if depth > maxDepth || i >= len(b) {
		return
	}
	switch b[i] {
	case '[':
		it := NewElements(b, i)
		n := 0
		for {
			s, _, ok := it.Next()
			if !ok {
				break
			}
			n++
			walk(b, s, path, v, depth+1)
		}
		if n == 0 && len(path) == 0 {
			v.Visit(b, i, i+1)
		}
		return
	case '{':
		if len(path) == 0 {
			v.Visit(b, i, i+1)
			it := NewMembers(b, i)
			for {
				m, ok := it.Next()
				if !ok {
					break
				}
				walk(b, m.VStart, nil, v, depth+1)
			}
			return
		}
		if s, ok := Find(b, i, path[0]); ok {
			walk(b, s, path[1:], v, depth+1)
		}
		return
	}
	if len(path) != 0 {
		return
	}
	end := Skip(b, i)
	if end < 0 {
		return
	}
	v.Visit(b, i, end)
}

// Find returns the start of the value of key name in the object at b[i]
// (last occurrence wins).
func Find(b []byte, i int, name string) (start int, ok bool) {
	it := NewMembers(b, i)
	for {
		m, more := it.Next()
		if !more {
			return start, ok
		}
		if KeyEquals(&m, name) {
			start, ok = m.VStart, true
		}
	}
}

// HasEscape reports whether string content s holds an escape sequence.
func HasEscape(s []byte) bool { return bytes.IndexByte(s, '\\') >= 0 }
