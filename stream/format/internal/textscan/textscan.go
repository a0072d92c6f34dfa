// Package textscan holds what the space-separated AWS text log parsers (ALB,
// S3 server access, VPC flow) share: a tokenizer for quoted and bracketed
// fields, allocation-free number, address and time parsing, and an arena
// that gives each line one string and each record a slot in a chunk.
//
// Every function is total: malformed input gives ok=false, never a panic.
package textscan

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unsafe"

	"github.com/gannet-sec/gannet/stream"
)

// Arena hands out records and string storage in chunks, so that one parsed
// line costs a small fraction of an allocation. Nothing handed out is ever
// reused or written again: a record stays valid for as long as anyone holds
// it (holding one keeps its chunk alive). The zero Arena is ready to use.
type Arena[R any] struct {
	recs []R
	buf  []byte
	// ChunkBytes is the size of a string chunk (DefaultChunkBytes when 0).
	// Strings longer than a quarter of it get their own allocation.
	ChunkBytes int
}

const (
	// DefaultChunkRecords is how many records a record chunk holds by
	// default.
	DefaultChunkRecords = 64
	// DefaultChunkBytes is the default size of a string chunk.
	DefaultChunkBytes = 32 << 10
)

// Record returns a zeroed record that nothing else refers to.
func (a *Arena[R]) Record() *R {
	if len(a.recs) == 0 {
		a.recs = make([]R, DefaultChunkRecords)
	}
	r := &a.recs[0]
	a.recs = a.recs[1:]
	return r
}

// String copies b into the arena and returns it as an immutable string.
func (a *Arena[R]) String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(a.buf)-len(a.buf) {
		size := a.ChunkBytes
		if size <= 0 {
			size = DefaultChunkBytes
		}
		if len(b) > size/4 {
			return string(b)
		}
		a.buf = make([]byte, 0, size)
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}

// TrimEOL removes one trailing line terminator ("\n", "\r\n" or "\r").
func TrimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// Split cuts s into at most len(f) space-separated fields and returns how
// many it found, the offset of the unread rest of the line, and the index of
// an unterminated quoted (or bracketed) field, -1 if none.
//
// A field starting with a double quote runs to the next unescaped quote that
// is followed by a space or the end of the line (so quotes inside a value
// survive); its quotes are removed. With brackets, a field starting with
// "[" runs to the next "]", which must be followed by a space or the end of
// the line; the brackets are removed.
func Split(s string, f []string, brackets bool) (n, rest, bad int) {
	open := byte('"') // the second byte that opens a field, if any
	if brackets {
		open = '['
	}
	i := 0
	for n < len(f) && i < len(s) {
		c := s[i]
		if c != '"' && c != open {
			j := IndexSpace(s, i)
			f[n] = s[i:j]
			n++
			i = j + 1
			continue
		}
		if c == '[' {
			k := strings.IndexByte(s[i:], ']')
			j := i + k + 1
			if k < 0 || j < len(s) && s[j] != ' ' {
				f[n] = s[i+1:]
				return n + 1, len(s), n
			}
			f[n] = s[i+1 : j-1]
			n++
			i = j + 1
			continue
		}
		// "-" is the most common quoted value.
		if i+2 < len(s) && s[i+1] == '-' && s[i+2] == '"' && (i+3 == len(s) || s[i+3] == ' ') {
			f[n] = s[i+1 : i+2]
			n++
			i += 4
			continue
		}
		j := i + 1
		for {
			k := strings.IndexByte(s[j:], '"')
			if k < 0 {
				f[n] = s[i+1:]
				return n + 1, len(s), n
			}
			q := j + k
			j = q + 1
			if s[q-1] == '\\' && escaped(s, i+1, q) {
				continue
			}
			if j == len(s) || s[j] == ' ' {
				f[n] = s[i+1 : q]
				n++
				i = j + 1
				break
			}
		}
	}
	return n, min(i, len(s)), -1
}

// escaped reports whether the quote at q is preceded by an odd number of
// backslashes (not looking before from).
func escaped(s string, from, q int) bool {
	n := 0
	for p := q - 1; p >= from && s[p] == '\\'; p-- {
		n++
	}
	return n&1 == 1
}

const (
	swarOnes   = 0x0101010101010101
	swarHigh   = 0x8080808080808080
	swarSpaces = 0x2020202020202020
)

// IndexSpace returns the index of the first ' ' in s at or after i, or
// len(s). It tests eight bytes at a time.
func IndexSpace(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		// Unaligned 8-byte load; i+8 <= len(s) keeps it inside s.
		x := *(*uint64)(unsafe.Pointer(unsafe.StringData(s[i:]))) ^ swarSpaces
		if t := (x - swarOnes) &^ x & swarHigh; t != 0 {
			return i + bits.TrailingZeros64(t)>>3
		}
	}
	for ; i < len(s); i++ {
		if s[i] == ' ' {
			return i
		}
	}
	return len(s)
}

// Set stores v in *dst unless v is absent ("-" or ""): then *dst, which
// the caller has zeroed, stays "" and costs no pointer write (nor a write
// barrier while the garbage collector marks).
func Set(dst *string, v string) {
	if len(v) > 1 || len(v) == 1 && v[0] != '-' {
		*dst = v
	}
}

// Dash maps the absent marker "-" to "".
func Dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// Bad is the Permanent error for a field whose value is malformed: the
// detail names the field and quotes (up to 64 bytes of) the value.
func Bad(code, field, val string) error {
	if len(val) > 64 {
		val = val[:64] + "…"
	}
	return stream.Permanentf(code, "field %s: %q", field, val)
}

// Atoi parses an optionally negative decimal integer of at most 18 digits.
func Atoi(s string) (int64, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	v, ok := Uatoi(s)
	if neg {
		v = -v
	}
	return v, ok
}

// Uatoi parses a non-negative decimal integer of at most 18 digits (no
// sign).
func Uatoi(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		v = v*10 + int64(c)
	}
	return v, true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// ParseFloat parses a finite decimal like "0.000" or "-1" as strconv does.
// Short decimals are converted exactly (mantissa and power of ten are both
// exact doubles, so the division is correctly rounded); anything else goes
// to strconv. NaN and infinities are rejected.
func ParseFloat(s string) (float64, bool) {
	t := s
	neg := false
	if len(t) > 0 && t[0] == '-' {
		neg = true
		t = t[1:]
	}
	// "0.086", the shape of every ALB processing time.
	if len(t) == 5 && t[1] == '.' {
		a, b, c, d := uint64(t[0]-'0'), uint64(t[2]-'0'), uint64(t[3]-'0'), uint64(t[4]-'0')
		if max(a, b, c, d) <= 9 {
			v := float64(a*1000+b*100+c*10+d) / 1e3
			if neg {
				v = -v
			}
			return v, true
		}
	}
	var m uint64
	digits, frac := 0, -1
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == '.' && frac < 0 {
			frac = 0
			continue
		}
		if c-'0' > 9 {
			goto slow
		}
		m = m*10 + uint64(c-'0')
		digits++
		if frac >= 0 {
			frac++
		}
	}
	if digits == 0 || digits > 15 || frac == 0 {
		goto slow
	}
	{
		v := float64(m)
		if frac > 0 {
			v /= pow10[frac]
		}
		if neg {
			v = -v
		}
		return v, true
	}
slow:
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// Lines is the stream.Parser of a format with one record per text line:
// each line (without its terminator) is copied once into the arena, parsed
// by parse into a fresh record, and the event is filled from it by fill. An
// empty line is a Permanent error with code empty. Not safe for concurrent
// use.
type Lines[R any] struct {
	a      Arena[R]
	format stream.Format
	empty  string
	parse  func(line string, r *R) error
	fill   func(ev *stream.Event, r *R)
}

// NewLines returns the Lines parser of format f.
func NewLines[R any](f stream.Format, empty string, parse func(line string, r *R) error, fill func(ev *stream.Event, r *R)) *Lines[R] {
	return &Lines[R]{format: f, empty: empty, parse: parse, fill: fill}
}

// Format returns the format given to NewLines.
func (p *Lines[R]) Format() stream.Format { return p.format }

// Parse parses one line into ev; on error ev is left alone.
func (p *Lines[R]) Parse(u *stream.Unit, ev *stream.Event) error {
	line := TrimEOL(u.Data)
	if len(line) == 0 {
		return stream.Permanentf(p.empty, "empty line")
	}
	r := p.a.Record()
	if err := p.parse(p.a.String(line), r); err != nil {
		var zero R
		*r = zero
		return err
	}
	p.fill(ev, r)
	return nil
}

// UintField reads the 1-18 decimal digits at s[i:] that end at a space or
// the end of s, as Uatoi would read that field; end is where the digits
// end. It converts eight digits at a time.
func UintField(s string, i int) (v int64, end int, ok bool) {
	j := i
	p := unsafe.Pointer(unsafe.StringData(s))
	for j+8 <= len(s) && j-i <= 18 {
		x := *(*uint64)(unsafe.Add(p, j))
		// High bit of each byte that is not a digit: above '9' (x+0x46
		// carries into bit 7) or below '0' (x-0x30 borrows). Carries and
		// borrows only spread upward from a non-digit byte, so the
		// lowest flag is exact.
		t := ((x + 0x4646464646464646) | (x - 0x3030303030303030)) & swarHigh
		n := 8
		if t != 0 {
			n = bits.TrailingZeros64(t) >> 3
		}
		if n > 0 {
			v = v*pow10u[n] + int64(eightDigits((x-0x3030303030303030)<<(64-8*n)))
		}
		j += n
		if n < 8 {
			return v, j, j > i && j-i <= 18 && s[j] == ' '
		}
	}
	for ; j < len(s) && j-i <= 18; j++ {
		c := s[j] - '0'
		if c > 9 {
			break
		}
		v = v*10 + int64(c)
	}
	return v, j, j > i && j-i <= 18 && (j == len(s) || s[j] == ' ')
}

var pow10u = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// eightDigits converts eight digit values (0-9, the first in the lowest
// byte) to their decimal value.
func eightDigits(x uint64) uint64 {
	x = x*10 + x>>8 // pairs
	x = ((x&0x000000FF000000FF)*(100+1000000<<32) + (x>>16&0x000000FF000000FF)*(1+10000<<32)) >> 32
	return x
}

// Layout is what the tokenizer's errors need to know of a text format.
type Layout struct {
	Prefix   string   // reason-code prefix, e.g. "alb"
	Names    []string // the documented field names, in line order
	Min      int      // how many fields every line has
	Brackets bool     // fields may be "[…]" (S3 server access logs)
}

// Split cuts s into f as Split does and returns the offset of the unread
// rest, or the Permanent error "<prefix>_bad_quoting" (a quoted or
// bracketed field is not closed) or "<prefix>_field_count" (fewer than Min
// fields). len(f) must not exceed len(Names).
func (l *Layout) Split(s string, f []string) (rest int, err error) {
	n, rest, bad := Split(s, f, l.Brackets)
	if bad >= 0 {
		what := "quoted"
		if l.Brackets {
			what = "quoted or bracketed"
		}
		return 0, stream.Permanentf(l.Prefix+"_bad_quoting", "field %d (%s): unterminated %s field", bad+1, l.Names[bad], what)
	}
	if n < l.Min {
		return 0, stream.Permanentf(l.Prefix+"_field_count", "%d fields, want at least %d", n, l.Min)
	}
	return rest, nil
}
