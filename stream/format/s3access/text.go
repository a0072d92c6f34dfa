package s3access

import (
	"math/bits"
	"net/netip"
	"strings"
	"time"
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
	arenaBytes   = 32 << 10
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

// split cuts s into at most len(f) space-separated fields and returns how
// many it found, the offset of the unread rest of the line, and the index of
// an unterminated quoted field (-1 if none). A field starting with a double
// quote runs to the next unescaped quote that is followed by a space or the
// end of the line (so quotes inside a value survive); its quotes are
// removed. A field starting with "[" runs to the next "]", which must be
// followed by a space or the end of the line.
func split(s string, f []string) (n, rest, bad int) {
	i := 0
	for n < len(f) && i < len(s) {
		if s[i] == '[' {
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
		if s[i] != '"' {
			j := indexSpace(s, i)
			f[n] = s[i:j]
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

// dash maps the absent marker "-" to "".
func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
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

// digits parses a run of decimal digits (no sign).
func digits(s string) (int, bool) {
	if len(s) == 0 {
		return 0, false
	}
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 {
			return 0, false
		}
		v = v*10 + int(c)
	}
	return v, true
}

// civil builds a UTC time from validated calendar fields.
func civil(year, month, day, hour, minute, sec, nsec int) (time.Time, bool) {
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	// Days from civil (H. Hinnant), proleptic Gregorian.
	y := year
	if month <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (month + 9) % 12
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	days := int64(era)*146097 + int64(doe) - 719468
	unix := days*86400 + int64(hour*3600+minute*60+sec)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// splitURL splits an absolute or origin-form URL into domain (host without
// port or brackets), path and query (without "?"). A fragment stays in the query.
func splitURL(u string) (domain, path, query string) {
	rest := u
	if k := strings.Index(u, "://"); k > 0 {
		hp := u[k+3:]
		end := strings.IndexAny(hp, "/?")
		if end < 0 {
			end = len(hp)
		}
		host := hp[:end]
		rest = hp[end:]
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		if len(host) > 0 && host[0] == '[' {
			if e := strings.IndexByte(host, ']'); e > 0 {
				host = host[1:e]
			}
		} else if c := strings.LastIndexByte(host, ':'); c >= 0 {
			host = host[:c]
		}
		domain = host
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		return domain, rest[:q], rest[q+1:]
	}
	return domain, rest, ""
}

// arnRegionAccount returns the region and account of an ARN
// ("arn:partition:service:region:account:resource"), or "" for either.
func arnRegionAccount(arn string) (region, account string) {
	if !strings.HasPrefix(arn, "arn:") {
		return "", ""
	}
	s := arn[4:]
	for i := 0; i < 2; i++ { // skip partition and service
		k := strings.IndexByte(s, ':')
		if k < 0 {
			return "", ""
		}
		s = s[k+1:]
	}
	k := strings.IndexByte(s, ':')
	if k < 0 {
		return "", ""
	}
	region, s = s[:k], s[k+1:]
	k = strings.IndexByte(s, ':')
	if k < 0 {
		return "", ""
	}
	return region, s[:k]
}

// monthOf maps "Jan"…"Dec" to 1…12, anything else to 0.
func monthOf(m string) int {
	switch m {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

// parseCLFTime parses "06/Feb/2019:00:00:38 +0000" (the brackets already
// removed) and returns it in UTC.
func parseCLFTime(s string) (time.Time, bool) {
	if len(s) != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' || s[20] != ' ' {
		return time.Time{}, false
	}
	day, ok1 := digits(s[0:2])
	year, ok2 := digits(s[7:11])
	hour, ok3 := digits(s[12:14])
	minute, ok4 := digits(s[15:17])
	sec, ok5 := digits(s[18:20])
	oh, ok6 := digits(s[22:24])
	om, ok7 := digits(s[24:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || om > 59 || oh > 23 {
		return time.Time{}, false
	}
	month := monthOf(s[3:6])
	if month == 0 {
		return time.Time{}, false
	}
	t, ok := civil(year, month, day, hour, minute, sec, 0)
	if !ok {
		return time.Time{}, false
	}
	off := time.Duration(oh)*time.Hour + time.Duration(om)*time.Minute
	switch s[21] {
	case '+':
		t = t.Add(-off)
	case '-':
		t = t.Add(off)
	default:
		return time.Time{}, false
	}
	return t, true
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
