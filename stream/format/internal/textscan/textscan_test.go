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
	for _, s := range []string{"", " ", "a", "abcdefgh", "abcdefg ", "abcdefgh ", "abcdefghijklmno p", "\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0 ", "!!!!!!!! "} {
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
	for i := 0; i < 3*ChunkRecords; i++ {
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
		`a "b c" [d e] "f\" g" "-" h`, `"x`, `[x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := netip.ParseAddr(s)
		if got, ok := ParseAddr(s); ok != (err == nil) || got != want {
			t.Fatalf("ParseAddr(%q) = %v, %v; netip: %v, %v", s, got, ok, want, err)
		}
		if n, ok := Atoi(s); ok {
			if m, err := strconv.ParseInt(s, 10, 64); err != nil || m != n || strings.HasPrefix(s, "+") {
				t.Fatalf("Atoi(%q) = %d; strconv %d, %v", s, n, m, err)
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
		for _, brackets := range []bool{false, true} {
			var fs [8]string
			n, rest, bad := Split(s, fs[:], brackets)
			if n > len(fs) || rest < 0 || rest > len(s) || bad >= n || (bad >= 0 && rest != len(s)) {
				t.Fatalf("Split(%q, %v) = %d, %d, %d", s, brackets, n, rest, bad)
			}
			if bad < 0 && n < len(fs) && rest != len(s) {
				t.Fatalf("Split(%q, %v) stopped early at %d", s, brackets, rest)
			}
			for _, v := range fs[:n] {
				if !strings.Contains(s, v) {
					t.Fatalf("Split(%q) field %q is not a substring", s, v)
				}
			}
		}
		SplitHostPort(s)
		SplitRequest(s)
		SplitURL(s)
		ARNRegionAccount(s)
	})
}
