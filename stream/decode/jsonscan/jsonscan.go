// Package jsonscan finds the boundaries of JSON values without building
// them: the decoders use it to split arrays and "Records" files into units
// and to read CloudWatch Logs payloads without allocating per value.
//
// The scanner checks structure (brackets, commas, colons, string quoting,
// literal and number characters) strictly enough to tell JSON from a text
// line that happens to start with '[' or '{'; it does not validate escape
// sequences or number grammar in full, which the parsers do.
package jsonscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects the scanner accepts.
const MaxDepth = 512

// SyntaxError reports where scanning failed.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.Msg)
}

func syntaxErr(off int, msg string) error { return &SyntaxError{Offset: off, Msg: msg} }

// ErrTooDeep is wrapped by the error returned for nesting beyond MaxDepth.
var ErrTooDeep = errors.New("nesting too deep")

var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// SkipSpace returns the index of the first byte at or after i that is not
// JSON whitespace (len(b) if there is none).
func SkipSpace(b []byte, i int) int {
	for i < len(b) && space[b[i]] {
		i++
	}
	return i
}

// IsSpace reports whether b holds only JSON whitespace.
func IsSpace(b []byte) bool { return SkipSpace(b, 0) == len(b) }

// SkipValue returns the index just past the JSON value that starts at b[i]
// (whitespace before it is skipped).
func SkipValue(b []byte, i int) (int, error) { return skipValue(b, i, 0) }

var numChar = [256]bool{
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'-': true, '+': true, '.': true, 'e': true, 'E': true,
}

func skipValue(b []byte, i, depth int) (int, error) {
	i = SkipSpace(b, i)
	if i >= len(b) {
		return i, syntaxErr(i, "unexpected end of input, expected a value")
	}
	switch c := b[i]; c {
	case '"':
		_, end, _, err := String(b, i)
		return end, err
	case '{':
		return skipObject(b, i, depth+1)
	case '[':
		return skipArray(b, i, depth+1)
	case 't':
		return literal(b, i, "true")
	case 'f':
		return literal(b, i, "false")
	case 'n':
		return literal(b, i, "null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			j := i + 1
			for j < len(b) && numChar[b[j]] {
				j++
			}
			return j, nil
		}
		return i, syntaxErr(i, "unexpected character "+strconv.QuoteRune(rune(c))+", expected a value")
	}
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return i, syntaxErr(i, "invalid literal")
}

func skipObject(b []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, &SyntaxError{Offset: i, Msg: ErrTooDeep.Error()}
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, syntaxErr(i, "expected an object key")
		}
		_, end, _, err := String(b, i)
		if err != nil {
			return end, err
		}
		i = SkipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return i, syntaxErr(i, "expected ':' after object key")
		}
		if i, err = skipValue(b, i+1, depth); err != nil {
			return i, err
		}
		i = SkipSpace(b, i)
		if i >= len(b) {
			return i, syntaxErr(i, "unexpected end of input in object")
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, syntaxErr(i, "expected ',' or '}' in object")
		}
	}
}

func skipArray(b []byte, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, &SyntaxError{Offset: i, Msg: ErrTooDeep.Error()}
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return i, err
		}
		i = SkipSpace(b, i)
		if i >= len(b) {
			return i, syntaxErr(i, "unexpected end of input in array")
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1, nil
		default:
			return i, syntaxErr(i, "expected ',' or ']' in array")
		}
	}
}

// String scans the JSON string that starts at b[i] (which must be '"'). It
// returns the raw content without the quotes (aliasing b), the index just
// past the closing quote, and whether the content holds escapes (then use
// Unescape to read it).
func String(b []byte, i int) (raw []byte, end int, escaped bool, err error) {
	if i >= len(b) || b[i] != '"' {
		return nil, i, false, syntaxErr(i, "expected a string")
	}
	end, escaped, ok := scanString(b, i+1)
	if !ok {
		return nil, len(b), false, syntaxErr(len(b), "unterminated string")
	}
	return b[i+1 : end-1], end, escaped, nil
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// scanString finds the closing quote of a string whose content starts at
// b[j]. It returns the index just past the quote and whether a backslash
// was seen; 8 bytes at a time while no quote or backslash is in sight.
func scanString(b []byte, j int) (end int, escaped, ok bool) {
	for {
		for j+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[j:])
			q := x ^ (lsb * '"')
			s := x ^ (lsb * '\\')
			if m := ((q-lsb)&^q | (s-lsb)&^s) & msb; m != 0 {
				j += bits.TrailingZeros64(m) / 8
				break
			}
			j += 8
		}
		if j >= len(b) {
			return len(b), escaped, false
		}
		switch b[j] {
		case '"':
			return j + 1, escaped, true
		case '\\':
			escaped = true
			j += 2
		default:
			j++
		}
	}
}

// Unescape appends the decoded form of raw string content (as returned by
// String) to dst. Invalid escapes are an error; unpaired surrogates become
// U+FFFD, as encoding/json does.
func Unescape(dst, raw []byte) ([]byte, error) {
	for len(raw) > 0 {
		k := bytes.IndexByte(raw, '\\')
		if k < 0 {
			return append(dst, raw...), nil
		}
		dst = append(dst, raw[:k]...)
		raw = raw[k:]
		if len(raw) < 2 {
			return dst, errors.New("invalid escape at end of string")
		}
		switch c := raw[1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw[2:])
			if !ok {
				return dst, errors.New("invalid \\u escape")
			}
			raw = raw[6:]
			if utf16.IsSurrogate(r) {
				if len(raw) >= 6 && raw[0] == '\\' && raw[1] == 'u' {
					if r2, ok := hex4(raw[2:]); ok {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							raw = raw[6:]
							dst = utf8.AppendRune(dst, dec)
							continue
						}
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, fmt.Errorf("invalid escape \\%c", c)
		}
		raw = raw[2:]
	}
	return dst, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
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

// ArrayIter walks the elements of a JSON array. An element is scanned
// only when asked for (Value) or when the iteration moves on; a caller
// that walks the element itself reports where it ended with Consumed.
// Start with NewArrayIter.
type ArrayIter struct {
	b       []byte
	i       int
	first   bool
	done    bool
	pending bool
	err     error
	start   int
	end     int
}

// NewArrayIter returns an iterator over the array that starts at b[i]
// (whitespace before it is skipped).
func NewArrayIter(b []byte, i int) ArrayIter {
	i = SkipSpace(b, i)
	it := ArrayIter{b: b, i: i + 1, first: true}
	if i >= len(b) || b[i] != '[' {
		it.err = syntaxErr(i, "expected an array")
		it.done = true
	}
	return it
}

func (it *ArrayIter) fail(err error) bool {
	it.err, it.done, it.pending = err, true, false
	return false
}

// Next advances to the next element; it returns false at the end of the
// array or on error (see Err).
func (it *ArrayIter) Next() bool {
	if it.done {
		return false
	}
	if it.pending {
		if _, _, err := it.Value(); err != nil {
			return false
		}
	}
	b := it.b
	i := SkipSpace(b, it.i)
	if it.first {
		it.first = false
		if i < len(b) && b[i] == ']' {
			it.i, it.done = i+1, true
			return false
		}
	} else {
		if i >= len(b) {
			return it.fail(syntaxErr(i, "unexpected end of input in array"))
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case ']':
			it.i, it.done = i+1, true
			return false
		default:
			return it.fail(syntaxErr(i, "expected ',' or ']' in array"))
		}
	}
	if i >= len(b) {
		return it.fail(syntaxErr(i, "unexpected end of input, expected a value"))
	}
	it.start, it.end, it.i, it.pending = i, i, i, true
	return true
}

// Start returns the index of the first byte of the current element.
func (it *ArrayIter) Start() int { return it.start }

// Value scans the current element and returns its bounds b[start:end].
func (it *ArrayIter) Value() (start, end int, err error) {
	if it.pending {
		it.pending = false
		end, err := skipValue(it.b, it.start, 1)
		if err != nil {
			it.fail(err)
			return it.start, end, err
		}
		it.end, it.i = end, end
	}
	return it.start, it.end, it.err
}

// Consumed tells the iterator that the caller scanned the current element
// itself and that it ends at end.
func (it *ArrayIter) Consumed(end int) {
	it.pending = false
	it.end, it.i = end, end
}

// End returns the index just past the closing ']' once Next has returned
// false without error.
func (it *ArrayIter) End() int { return it.i }

// Err returns the error that stopped the iteration, if any.
func (it *ArrayIter) Err() error { return it.err }

// ObjectIter walks the members of a JSON object. Start with NewObjectIter.
// A member's value is scanned only when asked for (Value) or when the
// iteration moves on; a caller that walks the value itself reports where it
// ended with Consumed, so nothing is scanned twice.
type ObjectIter struct {
	b       []byte
	i       int
	first   bool
	done    bool
	pending bool
	err     error
	key     []byte
	escaped bool
	vstart  int
	vend    int
}

// NewObjectIter returns an iterator over the object that starts at b[i]
// (whitespace before it is skipped).
func NewObjectIter(b []byte, i int) ObjectIter {
	i = SkipSpace(b, i)
	it := ObjectIter{b: b, i: i + 1, first: true}
	if i >= len(b) || b[i] != '{' {
		it.err = syntaxErr(i, "expected an object")
		it.done = true
	}
	return it
}

func (it *ObjectIter) fail(err error) bool {
	it.err, it.done, it.pending = err, true, false
	return false
}

// Next advances to the next member; it returns false at the end of the
// object or on error (see Err).
func (it *ObjectIter) Next() bool {
	if it.done {
		return false
	}
	if it.pending {
		if _, _, err := it.Value(); err != nil {
			return false
		}
	}
	b := it.b
	i := SkipSpace(b, it.i)
	if it.first {
		it.first = false
		if i < len(b) && b[i] == '}' {
			it.i, it.done = i+1, true
			return false
		}
	} else {
		if i >= len(b) {
			return it.fail(syntaxErr(i, "unexpected end of input in object"))
		}
		switch b[i] {
		case ',':
			i = SkipSpace(b, i+1)
		case '}':
			it.i, it.done = i+1, true
			return false
		default:
			return it.fail(syntaxErr(i, "expected ',' or '}' in object"))
		}
	}
	key, end, esc, err := String(b, i)
	if err != nil {
		return it.fail(err)
	}
	i = SkipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return it.fail(syntaxErr(i, "expected ':' after object key"))
	}
	it.key, it.escaped = key, esc
	it.vstart = SkipSpace(b, i+1)
	it.vend, it.i, it.pending = it.vstart, it.vstart, true
	return true
}

// Key returns the raw key of the current member and whether it holds escapes.
func (it *ObjectIter) Key() (raw []byte, escaped bool) { return it.key, it.escaped }

// KeyIs reports whether the current key equals k (keys with escapes never match).
func (it *ObjectIter) KeyIs(k string) bool { return !it.escaped && string(it.key) == k }

// ValueStart returns the index of the first byte of the current value.
func (it *ObjectIter) ValueStart() int { return it.vstart }

// Value scans the current member's value and returns its bounds b[start:end].
func (it *ObjectIter) Value() (start, end int, err error) {
	if it.pending {
		it.pending = false
		end, err := skipValue(it.b, it.vstart, 1)
		if err != nil {
			it.fail(err)
			return it.vstart, end, err
		}
		it.vend, it.i = end, end
	}
	return it.vstart, it.vend, it.err
}

// Consumed tells the iterator that the caller scanned the current value
// itself and that it ends at end.
func (it *ObjectIter) Consumed(end int) {
	it.pending = false
	it.vend, it.i = end, end
}

// End returns the index just past the closing '}' once Next has returned
// false without error.
func (it *ObjectIter) End() int { return it.i }

// Err returns the error that stopped the iteration, if any.
func (it *ObjectIter) Err() error { return it.err }
