package elastic

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Low-level JSON writing helpers. They append into a caller-owned []byte and
// never allocate beyond growing it.

const hexDigits = "0123456789abcdef"

// safeASCII[c] is true for ASCII bytes that need no escaping inside a JSON string.
var safeASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const (
	swarLo   = 0x0101010101010101
	swarHi   = 0x8080808080808080
	swarQuot = '"' * swarLo
	swarBsl  = '\\' * swarLo
	swarCtl  = 0x20 * swarLo
)

// specialIn8 reports whether any of the 8 bytes at x needs attention inside a
// JSON string: '"', '\\', a control character or a non-ASCII byte.
func specialIn8(x uint64) bool {
	q := x ^ swarQuot
	b := x ^ swarBsl
	return ((q-swarLo)&^q|(b-swarLo)&^b|(x-swarCtl)&^x|x)&swarHi != 0
}

// safePrefix returns the length of the longest prefix of s that needs no
// escaping.
func safePrefix(s string) int {
	i := 0
	for i+8 <= len(s) {
		if specialIn8(binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))) {
			break
		}
		i += 8
	}
	for i < len(s) && safeASCII[s[i]] {
		i++
	}
	return i
}

// appendString appends s as a quoted JSON string: '"', '\\' and control
// characters (CR, LF, TAB included) are escaped, invalid UTF-8 is replaced
// by U+FFFD, everything else is copied as is.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendStringBody(dst, s)
	return append(dst, '"')
}

// appendBytesString is appendString for a byte slice.
func appendBytesString(dst []byte, b []byte) []byte {
	return appendString(dst, unsafe.String(unsafe.SliceData(b), len(b)))
}

// appendStringBody appends the escaped content of s without the quotes.
func appendStringBody(dst []byte, s string) []byte {
	for len(s) > 0 {
		n := safePrefix(s)
		dst = append(dst, s[:n]...)
		s = s[n:]
		if len(s) == 0 {
			break
		}
		c := s[0]
		if c < utf8.RuneSelf {
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
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			s = s[1:]
			continue
		}
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\ufffd"...)
		} else {
			dst = append(dst, s[:size]...)
		}
		s = s[size:]
	}
	return dst
}

// key appends a separator (when the enclosing object or array already has a
// member) and the pre-quoted key k, which must look like `"name":`.
func key(dst []byte, k string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	return append(dst, k...)
}

// sep appends a comma unless the enclosing object or array is still empty.
func sep(dst []byte) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' && dst[n-1] != '[' {
		dst = append(dst, ',')
	}
	return dst
}

func strField(dst []byte, k, v string) []byte {
	if v == "" {
		return dst
	}
	return appendString(key(dst, k), v)
}

func intField(dst []byte, k string, v int64) []byte {
	if v == 0 {
		return dst
	}
	return strconv.AppendInt(key(dst, k), v, 10)
}

func timeField(dst []byte, k string, t time.Time) []byte {
	if t.IsZero() {
		return dst
	}
	dst = append(key(dst, k), '"')
	dst = appendTime(dst, t)
	return append(dst, '"')
}

func floatVal(dst []byte, f float64) []byte {
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// open starts a lazily written object: it appends `k{` and returns the
// position to give to closeObj, which removes the key again when no member
// was written.
func open(dst []byte, k string) ([]byte, int) {
	start := len(dst)
	dst = key(dst, k)
	return append(dst, '{'), start
}

func closeObj(dst []byte, start int) []byte {
	if dst[len(dst)-1] == '{' {
		return dst[:start]
	}
	return append(dst, '}')
}

// appendTime appends t in UTC as an RFC 3339 timestamp with millisecond
// precision ("2026-11-01T10:00:00.123Z"), the precision of an ES date field.
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	ms := t.Nanosecond() / 1e6
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	}
	dst = append(dst,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-',
		byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':',
		byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return dst
}

// appendDay appends the UTC day of t as YYYY.MM.DD (index name suffix).
func appendDay(dst []byte, t time.Time) []byte {
	y, mo, d := t.UTC().Date()
	if y < 0 || y > 9999 {
		y = 0
	}
	return append(dst,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '.',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '.',
		byte('0'+d/10), byte('0'+d%10))
}
