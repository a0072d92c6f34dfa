package textscan

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestIndexSpace(t *testing.T) {
	for _, s := range []string{"", " ", "a", "abcdefgh", "abcdefg ", "abcdefgh ", "abcdefghijklmno p", "abcdefghijklmnopq r", "abcdefghijklmnopqrstuvwxy z", "! !!!!!!!!!!!!!!!!!!!!!!!!", "\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0 ", "!!!!!!!! "} {
		for i := 0; i <= len(s); i++ {
			want := strings.IndexByte(s[i:], ' ')
			if want < 0 {
				want = len(s)
			} else {
				want += i
			}
			if got := IndexSpace(s, i); got != want {
				t.Errorf("IndexSpace(%q, %d) = %d, want %d", s, i, got, want)
			}
		}
	}
}

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		in       string
		brackets bool
		max      int
		want     []string
		rest     string
		bad      int
	}{
		{`a b c`, false, 8, []string{"a", "b", "c"}, "", -1},
		{`a "b c" "-" d`, false, 8, []string{"a", "b c", "-", "d"}, "", -1},
		{`"say "hi"now" x`, false, 8, []string{`say "hi"now`, "x"}, "", -1},
		{`"a\" b" c`, false, 8, []string{`a\" b`, "c"}, "", -1},
		{`"a\\" b`, false, 8, []string{`a\\`, "b"}, "", -1},
		{`a "open`, false, 8, []string{"a", "open"}, "", 1},
		{`a b c d`, false, 2, []string{"a", "b"}, "c d", -1},
		{`[06/Feb/2019:00:00:38 +0000] x`, true, 8, []string{"06/Feb/2019:00:00:38 +0000", "x"}, "", -1},
		{`[06/Feb/2019:00:00:38 +0000] x`, false, 8, []string{"[06/Feb/2019:00:00:38", "+0000]", "x"}, "", -1},
		{`[a]b c`, true, 8, []string{"a]b c"}, "", 0},
		{`x [a`, true, 8, []string{"x", "a"}, "", 1},
		{`a  b`, false, 8, []string{"a", "", "b"}, "", -1},
		{`a `, false, 8, []string{"a"}, "", -1},
	} {
		f := make([]string, c.max)
		n, rest, bad := Split(c.in, f, c.brackets)
		if strings.Join(f[:n], "|") != strings.Join(c.want, "|") || c.in[rest:] != c.rest || bad != c.bad {
			t.Errorf("Split(%q, %d, %v) = %q, rest %q, bad %d; want %q, %q, %d", c.in, c.max, c.brackets, f[:n], c.in[rest:], bad, c.want, c.rest, c.bad)
		}
	}
}

func TestTimes(t *testing.T) {
	for in, want := range map[string]string{
		"2018-07-02T22:23:00.186641Z":     "2018-07-02T22:23:00.186641Z",
		"2018-07-02T22:23:00Z":            "2018-07-02T22:23:00Z",
		"2024-02-29T23:59:59.123456789Z":  "2024-02-29T23:59:59.123456789Z",
		"2023-02-29T00:00:00Z":            "",
		"2018-07-02T22:23:00.Z":           "",
		"2018-07-02T22:23:00.1234567890Z": "",
		"2018-07-02T22:23:60Z":            "",
		"2018-07-02 22:23:00Z":            "",
		"2018-07-02T22:23:00+01:00":       "",
	} {
		got, ok := ParseISOTime(in)
		if ok != (want != "") || ok && (got.Format(time.RFC3339Nano) != want || got.Location() != time.UTC) {
			t.Errorf("ParseISOTime(%q) = %v, %v; want %q", in, got, ok, want)
		}
	}
	for in, want := range map[string]string{
		"06/Feb/2019:00:00:38 +0000": "2019-02-06T00:00:38Z",
		"06/Feb/2019:00:00:38 +0130": "2019-02-05T22:30:38Z",
		"31/Dec/2019:23:00:00 -0200": "2020-01-01T01:00:00Z",
		"31/Feb/2019:00:00:38 +0000": "",
		"06/Fev/2019:00:00:38 +0000": "",
		"06/Feb/2019:00:00:38 0000":  "",
		"06/Feb/2019:00:00:38 *0000": "",
		"06/Feb/2019:00:00:38 +0060": "",
		"06/Feb/20x9:00:00:38 +0000": "",
	} {
		got, ok := ParseCLFTime(in)
		if ok != (want != "") || ok && (got.Format(time.RFC3339Nano) != want || got.Location() != time.UTC) {
			t.Errorf("ParseCLFTime(%q) = %v, %v; want %q", in, got, ok, want)
		}
	}
}

func TestHostPortRequestURL(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1:80": "10.0.0.1 80", "[2001:db8::1]:443": "2001:db8::1 443", "-": "invalid IP 0", "2001:db8::1:8": "2001:db8::1 8",
		"10.0.0.1": "!", "10.0.0.1:-1": "!", "10.0.0.1:65536": "!", "[::1]": "!", "[::1]x1": "!", "1.2.3.4:": "!", "256.0.0.1:1": "!",
	} {
		ip, port, ok := SplitHostPort(in)
		got := "!"
		if ok {
			got = ip.String() + " " + strconv.Itoa(int(port))
		}
		if got != want {
			t.Errorf("SplitHostPort(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"GET https://example.com:443/a b?c HTTP/1.1": "GET|https://example.com:443/a b?c|HTTP/1.1",
		"- - - ":  "||",
		"-":       "||",
		"GET /":   "GET|/|",
		"GET / -": "GET|/|",
	} {
		m, u, p := SplitRequest(in)
		if got := m + "|" + u + "|" + p; got != want {
			t.Errorf("SplitRequest(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"https://user@www.example.com:443/p/q?x=1#f": "www.example.com|/p/q|x=1#f",
		"http://[2001:db8::1]:80?a":                  "2001:db8::1||a",
		"/index.html":                                "|/index.html|",
		"http://h":                                   "h||",
	} {
		d, p, q := SplitURL(in)
		if got := d + "|" + p + "|" + q; got != want {
			t.Errorf("SplitURL(%q) = %q, want %q", in, got, want)
		}
	}
	if r, a := ARNRegionAccount("arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/x"); r != "us-east-2" || a != "123456789012" {
		t.Errorf("ARN: %q %q", r, a)
	}
	for _, s := range []string{"", "arn:aws", "arn:aws:s3", "arn:aws:s3:r", "x:aws:s3:r:a:b"} {
		if r, a := ARNRegionAccount(s); r != "" || a != "" {
			t.Errorf("ARN %q: %q %q", s, r, a)
		}
	}
}

func TestArena(t *testing.T) {
	var a Arena[[2]string]
	a.ChunkBytes = 64
	seen := map[*[2]string]bool{}
	var strs []string
	for i := 0; i < 3*DefaultChunkRecords; i++ {
		r := a.Record()
		if seen[r] || *r != ([2]string{}) {
			t.Fatal("record reused or not zero")
		}
		seen[r] = true
		s := a.String([]byte(strconv.Itoa(i)))
		r[0] = s
		strs = append(strs, s)
	}
	for i, s := range strs {
		if s != strconv.Itoa(i) {
			t.Fatalf("string %d changed to %q", i, s)
		}
	}
	if a.String(nil) != "" || a.String([]byte(strings.Repeat("x", 100))) != strings.Repeat("x", 100) {
		t.Error("empty or long string")
	}
	if string(TrimEOL([]byte("a\r\n"))) != "a" || string(TrimEOL([]byte("a\n\n"))) != "a\n" || string(TrimEOL([]byte("a\r"))) != "a" {
		t.Error("TrimEOL")
	}
}

// FuzzParse checks the hand-written parsers against the standard library
// and the tokenizer against its contract, on the same input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.", "1..2.3",
		"1.2.3.4 ", "2001:db8::1", "::ffff:1.2.3.4", "", "1.2.3.04", "100.200.300.1", "-12", "123456789012345678", "1234567890123456789",
		"0.086", "-1", "1e3", "NaN", "1.", ".5", "2018-07-02T22:23:00.186641Z", "06/Feb/2019:00:00:38 +0000",
		`a "b c" [d e] "f\" g" "-" h`, `"x`, `[x`, "https://user@h:1/p?q#f", "a:b://c/d", "http://[::1]:80/x?y", "x://@:", "-0.000", "0.08x", "9.999", "1418530010 20", "123456789012345678 1", "12345678 x", "1234567/ 1", ":0123456789", "0000-01-01T00:00:00Z", "0000-02-29T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := netip.ParseAddr(s)
		if got, ok := ParseAddr(s); ok != (err == nil) || got != want {
			t.Fatalf("ParseAddr(%q) = %v, %v; netip: %v, %v", s, got, ok, want, err)
		}
		for i := 0; i <= len(s); i++ {
			v, end, ok := UintField(s, i)
			j := strings.IndexByte(s[i:], ' ')
			if j < 0 {
				j = len(s)
			} else {
				j += i
			}
			w, wok := Uatoi(s[i:j])
			if ok != wok || ok && (v != w || end != j) {
				t.Fatalf("UintField(%q, %d) = %d, %d, %v; Uatoi(%q) = %d, %v", s, i, v, end, ok, s[i:j], w, wok)
			}
		}
		if n, ok := Atoi(s); ok {
			if m, err := strconv.ParseInt(s, 10, 64); err != nil || m != n || strings.HasPrefix(s, "+") {
				t.Fatalf("Atoi(%q) = %d; strconv %d, %v", s, n, m, err)
			}
		}
		{
			v, ok := ParseFloat(s)
			w, err := strconv.ParseFloat(s, 64)
			wok := err == nil && !math.IsNaN(w) && !math.IsInf(w, 0)
			if ok != wok || ok && (v != w || math.Signbit(v) != math.Signbit(w)) {
				t.Fatalf("ParseFloat(%q) = %v, %v; strconv: %v, %v", s, v, ok, w, err)
			}
			tm, ok := ParseISOTime(s)
			wt, wok := refParseISOTime(s)
			if ok != wok || tm != wt {
				t.Fatalf("ParseISOTime(%q) = %v, %v; before: %v, %v", s, tm, ok, wt, wok)
			}
			d, p, q := SplitURL(s)
			wd, wp, wq := refSplitURL(s)
			if d != wd || p != wp || q != wq {
				t.Fatalf("SplitURL(%q) = %q %q %q; before: %q %q %q", s, d, p, q, wd, wp, wq)
			}
		}
		if v, ok := ParseFloat(s); ok {
			w, err := strconv.ParseFloat(s, 64)
			if err != nil || v != w || math.IsInf(v, 0) || math.IsNaN(v) {
				t.Fatalf("ParseFloat(%q) = %v; strconv %v, %v", s, v, w, err)
			}
		}
		if tm, ok := ParseISOTime(s); ok {
			w, err := time.Parse(time.RFC3339Nano, s)
			if err != nil || !w.Equal(tm) || tm.Location() != time.UTC {
				t.Fatalf("ParseISOTime(%q) = %v; time.Parse %v, %v", s, tm, w, err)
			}
		}
		if tm, ok := ParseCLFTime(s); ok {
			w, err := time.Parse("02/Jan/2006:15:04:05 -0700", s)
			if err != nil || !w.Equal(tm) || tm.Location() != time.UTC {
				t.Fatalf("ParseCLFTime(%q) = %v; time.Parse %v, %v", s, tm, w, err)
			}
		}
		for _, max := range []int{3, 40} {
			checkSplit(t, s, max, false)
			checkSplit(t, s, max, true)
		}
		for i := 0; i <= len(s); i++ {
			want := strings.IndexByte(s[i:], ' ')
			if want < 0 {
				want = len(s) - i
			}
			if got := IndexSpace(s, i); got != i+want {
				t.Fatalf("IndexSpace(%q, %d) = %d, want %d", s, i, got, i+want)
			}
		}
		SplitHostPort(s)
		SplitRequest(s)
		SplitURL(s)
		ARNRegionAccount(s)
	})
}

// refSplit is Split written the plainest way, byte by byte, as the
// reference for FuzzParse.
func refSplit(s string, f []string, brackets bool) (n, rest, bad int) {
	i := 0
	for n < len(f) && i < len(s) {
		var closer byte
		if s[i] == '"' {
			closer = '"'
		} else if brackets && s[i] == '[' {
			closer = ']'
		}
		if closer == 0 {
			j := i
			for j < len(s) && s[j] != ' ' {
				j++
			}
			f[n], n, i = s[i:j], n+1, j+1
			continue
		}
		for j := i + 1; ; j++ {
			if j == len(s) {
				f[n] = s[i+1:]
				return n + 1, len(s), n
			}
			if s[j] != closer {
				continue
			}
			backslashes := 0
			for k := j - 1; closer == '"' && k > i && s[k] == '\\'; k-- {
				backslashes++
			}
			if backslashes%2 == 1 {
				continue
			}
			if j+1 == len(s) || s[j+1] == ' ' {
				f[n], n, i = s[i+1:j], n+1, j+2
				break
			}
			if closer == ']' {
				f[n] = s[i+1:]
				return n + 1, len(s), n
			}
		}
	}
	return n, min(i, len(s)), -1
}

func checkSplit(t *testing.T, s string, max int, brackets bool) {
	var want, got [64]string
	n, rest, bad := refSplit(s, want[:max], brackets)
	gn, grest, gbad := Split(s, got[:max], brackets)
	if gn != n || grest != rest || gbad != bad || got != want {
		t.Fatalf("Split(%q, %d, %v) = %q %d %d %d; want %q %d %d %d", s, max, brackets, got[:gn], gn, grest, gbad, want[:n], n, rest, bad)
	}
}

func TestSplitMatchesReference(t *testing.T) {
	lines := []string{
		`https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "-" 1 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1 x  y`,
		`79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /a?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" -`,
		"a", " ", "  ", "a b", "abcdefgh ijklmnop", "abcdefg hijklmno p", "12345678 ", "1234567 8", "-", `"-"`, `"-" `, `"-"x "`,
	}
	for _, s := range lines {
		for _, max := range []int{1, 3, 8, 40} {
			checkSplit(t, s, max, false)
			checkSplit(t, s, max, true)
		}
	}
}

// The implementations the text parsers had before the shared package, as
// references: FuzzParse checks that the faster ones agree with them.

func refParseISOTime(s string) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	y1, ok1 := refD2(s, 0)
	y2, ok2 := refD2(s, 2)
	month, ok3 := refD2(s, 5)
	day, ok4 := refD2(s, 8)
	hour, ok5 := refD2(s, 11)
	minute, ok6 := refD2(s, 14)
	sec, ok7 := refD2(s, 17)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
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
		for i := len(f) - 1; i < 9; i++ {
			nsec *= 10
		}
	}
	return Civil(y1*100+y2, month, day, hour, minute, sec, nsec)
}

func refSplitURL(u string) (domain, path, query string) {
	rest := u
	if k := strings.Index(u, "://"); k > 0 {
		hp := u[k+3:]
		end := 0
		for end < len(hp) && hp[end] != '/' && hp[end] != '?' {
			end++
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

func refD2(s string, i int) (int, bool) {
	a, b := s[i]-'0', s[i+1]-'0'
	return int(a)*10 + int(b), a <= 9 && b <= 9
}
