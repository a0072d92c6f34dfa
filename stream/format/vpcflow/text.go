package vpcflow

import (
	"math/bits"
	"net/netip"
	"unsafe"
)

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

// uatoi parses a non-negative decimal integer of at most 18 digits.
func uatoi(s string) (int64, bool) {
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

const (
	swarOnes   = 0x0101010101010101
	swarHigh   = 0x8080808080808080
	swarSpaces = 0x2020202020202020
)

// indexSpace returns the index of the first ' ' in s at or after i, or
// len(s). It tests eight bytes at a time.
func indexSpace(s string, i int) int {
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

// parseAddr parses an IPv4 dotted quad by hand (the common case) and
// leaves anything else, including every malformed input, to netip.ParseAddr.
func parseAddr(s string) (netip.Addr, bool) {
	var a [4]byte
	i := 0
	for k := 0; k < 4; k++ {
		if k > 0 {
			if i >= len(s) || s[i] != '.' {
				return parseAddrSlow(s)
			}
			i++
		}
		if i >= len(s) || s[i]-'0' > 9 {
			return parseAddrSlow(s)
		}
		v := uint(s[i] - '0')
		i++
		if i < len(s) && s[i]-'0' <= 9 && v != 0 {
			v = v*10 + uint(s[i]-'0')
			i++
			if i < len(s) && s[i]-'0' <= 9 {
				v = v*10 + uint(s[i]-'0')
				i++
			}
		}
		if v > 255 {
			return parseAddrSlow(s)
		}
		a[k] = byte(v)
	}
	if i != len(s) {
		return parseAddrSlow(s)
	}
	return netip.AddrFrom4(a), true
}

func parseAddrSlow(s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(s)
	return ip, err == nil
}
