package vpcflow

import "unsafe"

// arena hands out Records and string storage in chunks, so that one parsed
// line costs a small fraction of an allocation. Nothing handed out is ever
// reused or written again: a Record stays valid for as long as anyone holds
// it (holding one keeps its chunk alive).
type arena struct {
	recs []Record
	buf  []byte
}

const (
	arenaRecords = 64
	arenaBytes   = 16 << 10
)

func (a *arena) record() *Record {
	if len(a.recs) == 0 {
		a.recs = make([]Record, arenaRecords)
	}
	r := &a.recs[0]
	a.recs = a.recs[1:]
	return r
}

// str copies b into the arena and returns it as an immutable string.
func (a *arena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(a.buf)-len(a.buf) {
		if len(b) > arenaBytes/4 {
			return string(b)
		}
		a.buf = make([]byte, 0, arenaBytes)
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[start], len(b))
}

// trimEOL removes one trailing line terminator ("\n", "\r\n" or "\r").
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// atoi parses an optionally negative decimal integer of at most 18 digits.
func atoi(s string) (int64, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
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
	if neg {
		v = -v
	}
	return v, true
}
