package textscan

import (
	"net/netip"
	"strings"
	"time"
)

// ParseISOTime parses "2018-07-02T22:23:00.186641Z" (fraction of 1-9
// digits optional, UTC only) into a UTC time.
func ParseISOTime(s string) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	// Digit values; a byte that is not a digit gives a value above 9.
	y0, y1, y2, y3 := uint(s[0]-'0'), uint(s[1]-'0'), uint(s[2]-'0'), uint(s[3]-'0')
	mo0, mo1, d0, d1 := uint(s[5]-'0'), uint(s[6]-'0'), uint(s[8]-'0'), uint(s[9]-'0')
	h0, h1, mi0, mi1 := uint(s[11]-'0'), uint(s[12]-'0'), uint(s[14]-'0'), uint(s[15]-'0')
	s0, s1 := uint(s[17]-'0'), uint(s[18]-'0')
	if max(y0, y1, y2, y3, mo0, mo1, d0, d1, h0, h1, mi0, mi1, s0, s1) > 9 {
		return time.Time{}, false
	}
	nsec := 0
	if f := s[19 : len(s)-1]; len(f) > 0 {
		if f[0] != '.' || len(f) < 2 || len(f) > 10 {
			return time.Time{}, false
		}
		for i := 1; i < len(f); i++ {
			c := f[i] - '0'
			if c > 9 {
				return time.Time{}, false
			}
			nsec = nsec*10 + int(c)
		}
		nsec *= int(pow10i[10-len(f)])
	}
	return Civil(int(y0*1000+y1*100+y2*10+y3), int(mo0*10+mo1), int(d0*10+d1),
		int(h0*10+h1), int(mi0*10+mi1), int(s0*10+s1), nsec)
}

// pow10i are the powers of ten that scale a fraction of 1-9 digits to
// nanoseconds.
var pow10i = [...]int32{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000}

// d2 parses the two decimal digits at s[i:i+2].
func d2(s string, i int) (int, bool) {
	a, b := s[i]-'0', s[i+1]-'0'
	return int(a)*10 + int(b), a <= 9 && b <= 9
}

// ParseCLFTime parses the Common Log Format time "06/Feb/2019:00:00:38
// +0000" (without its brackets) and returns it in UTC.
func ParseCLFTime(s string) (time.Time, bool) {
	if len(s) != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' || s[20] != ' ' {
		return time.Time{}, false
	}
	day, ok1 := d2(s, 0)
	y1, ok2 := d2(s, 7)
	y2, ok8 := d2(s, 9)
	hour, ok3 := d2(s, 12)
	minute, ok4 := d2(s, 15)
	sec, ok5 := d2(s, 18)
	oh, ok6 := d2(s, 22)
	om, ok7 := d2(s, 24)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) || om > 59 || oh > 23 {
		return time.Time{}, false
	}
	month := monthOf(s[3:6])
	if month == 0 {
		return time.Time{}, false
	}
	t, ok := Civil(y1*100+y2, month, day, hour, minute, sec, 0)
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

// Civil builds a UTC time from calendar fields, checking that they name a
// real date and time of day (seconds 0-59).
func Civil(year, month, day, hour, minute, sec, nsec int) (time.Time, bool) {
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	// Days from civil (H. Hinnant), proleptic Gregorian.
	y := year
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 { // floor division: year 0 in January or February
		era = (y - 399) / 400
	}
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

// ParseAddr parses an IP address exactly as netip.ParseAddr does: an IPv4
// dotted quad by hand (the common case), anything else, including every
// malformed input, by netip.ParseAddr.
func ParseAddr(s string) (netip.Addr, bool) {
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

// SplitHostPort splits "ip:port" or "[v6]:port"; "-" and "" give the zero
// address and port 0. The port must be 0-65535 without a sign.
func SplitHostPort(s string) (ip netip.Addr, port int32, ok bool) {
	if s == "-" || s == "" {
		return netip.Addr{}, 0, true
	}
	var host, p string
	if s[0] == '[' {
		k := strings.IndexByte(s, ']')
		if k < 0 || k+1 >= len(s) || s[k+1] != ':' {
			return netip.Addr{}, 0, false
		}
		host, p = s[1:k], s[k+2:]
	} else {
		k := strings.LastIndexByte(s, ':')
		if k < 0 {
			return netip.Addr{}, 0, false
		}
		host, p = s[:k], s[k+1:]
	}
	a, ok := ParseAddr(host)
	if !ok {
		return netip.Addr{}, 0, false
	}
	v, okp := Uatoi(p)
	if !okp || v > 65535 {
		return netip.Addr{}, 0, false
	}
	return a, int32(v), true
}

// SplitRequest splits an HTTP request line "METHOD TARGET PROTOCOL" at the
// first and the last space, so a target with raw spaces stays whole. "-"
// parts become "", and so does a missing part; one trailing space is
// ignored (a malformed request is logged as "- - - ").
func SplitRequest(req string) (method, target, proto string) {
	req = strings.TrimSuffix(req, " ")
	i := strings.IndexByte(req, ' ')
	if i < 0 {
		return "", Dash(req), ""
	}
	method = Dash(req[:i])
	rest := req[i+1:]
	j := strings.LastIndexByte(rest, ' ')
	if j < 0 {
		return method, Dash(rest), ""
	}
	return method, Dash(rest[:j]), Dash(rest[j+1:])
}

// SplitURL splits an absolute or origin-form URL into domain (host without
// userinfo, port or brackets; "" for origin form), path and query (without
// "?"). A fragment stays in the query.
func SplitURL(u string) (domain, path, query string) {
	rest := u
	k := strings.IndexByte(u, ':')
	if k == 0 || k > 0 && !strings.HasPrefix(u[k+1:], "//") {
		k = strings.Index(u, "://") // a ':' before the scheme separator
	}
	if k > 0 {
		hp := u[k+3:]
		// One pass over the authority: its end, the last '@' and ':'.
		end, at, colon := 0, -1, -1
		for ; end < len(hp); end++ {
			switch hp[end] {
			case '/', '?':
				goto done
			case '@':
				at = end
			case ':':
				colon = end
			}
		}
	done:
		host := hp[at+1 : end]
		rest = hp[end:]
		if len(host) > 0 && host[0] == '[' {
			if e := strings.IndexByte(host, ']'); e > 0 {
				host = host[1:e]
			}
		} else if colon > at {
			host = hp[at+1 : colon]
		}
		domain = host
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		return domain, rest[:q], rest[q+1:]
	}
	return domain, rest, ""
}

// ARNRegionAccount returns the region and account of an ARN
// ("arn:partition:service:region:account:resource"), or "" for either.
func ARNRegionAccount(arn string) (region, account string) {
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
