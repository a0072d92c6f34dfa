package alb_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/alb"
	"github.com/gannet-sec/gannet/stream/format/formattest"
	"github.com/gannet-sec/gannet/stream/gen"
)

func TestGolden(t *testing.T) {
	formattest.GoldenLines(t, func() stream.Parser { return alb.NewParser() }, stream.FormatALB)
}

func parseBytes(data []byte) (*stream.Event, error) { return formattest.Parse(alb.NewParser(), data) }

const good = `https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90`

func TestGoodLine(t *testing.T) {
	var ev stream.Event
	if err := alb.NewParser().Parse(&stream.Unit{Data: []byte(good + "\r\n")}, &ev); err != nil {
		t.Fatal(err)
	}
	r := ev.Native.(*alb.Record)
	if r.ConnTraceID != "TID_1234abcd5678ef90" || r.Extra != "" || r.TargetProcessingTime != 0.048 {
		t.Errorf("record %+v", r)
	}
	if ev.URLDomain != "www.example.com" || ev.URLPath != "/" || ev.CloudAccountID != "123456789012" || ev.CloudRegion != "us-east-2" {
		t.Errorf("event %+v", ev)
	}
	if want := time.Date(2018, 7, 2, 22, 23, 0, 186641000, time.UTC); !ev.Timestamp.Equal(want) || ev.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp %v", ev.Timestamp)
	}
}

func TestMalformed(t *testing.T) {
	f := strings.Split(good, " ")
	with := func(i int, v string) string { return formattest.With(good, i, v) }
	cases := []struct {
		name, line, code string
	}{
		{"empty", "", "alb_field_count"},
		{"truncated", good[:200], "alb_field_count"},
		{"few fields", strings.Join(f[:20], " "), "alb_field_count"},
		{"unterminated quote", good[:strings.Index(good, `"curl`)+5], "alb_bad_quoting"},
		{"unterminated quote in trailing", good + ` "abc`, "alb_bad_quoting"},
		{"bad time", with(1, "2018-07-02 22:23:00Z"), "alb_bad_time"},
		{"bad month", with(1, "2018-13-02T22:23:00.1Z"), "alb_bad_time"},
		{"bad day", with(1, "2018-02-30T22:23:00.1Z"), "alb_bad_time"},
		{"time not UTC", with(1, "2018-07-02T22:23:00.186641+01:00"), "alb_bad_time"},
		{"bad creation time", with(23, "yesterday"), "alb_bad_time"},
		{"bad client ip", with(3, "192.168.131.999:2817"), "alb_bad_address"},
		{"client without port", with(3, "192.168.131.39"), "alb_bad_address"},
		{"bad port", with(4, "10.0.0.1:99999"), "alb_bad_address"},
		{"negative port", with(4, "10.0.0.1:-1"), "alb_bad_address"},
		{"bad float", with(5, "0.0.1"), "alb_bad_number"},
		{"NaN", with(6, "NaN"), "alb_bad_number"},
		{"bad status", with(8, "2OO"), "alb_bad_number"},
		{"bad bytes", with(11, "1e3"), "alb_bad_number"},
		{"negative bytes", with(10, "-5"), "alb_bad_number"},
		{"bad priority", with(22, "high"), "alb_bad_number"},
		{"dash type", with(0, "-"), "alb_bad_type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { formattest.Reject(t, parseBytes, c.line, c.code) })
	}
}

func TestSniff(t *testing.T) {
	yes := []string{good, "h2 2026-01-01T00:00:00.000000Z x", "wss 2026-01-01T00:00:00Z"}
	no := []string{
		"",
		"https",
		"https 2018/07/02 22:23:00",
		"2 123456789012 eni-0a1b2c3d4e5f6a7b8 10.0.1.5 10.0.2.9 443 49152 6 10 840 1620140661 1620140721 ACCEPT OK",
		"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
		"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING - \"GET /amzn-s3-demo-bucket1?versioning HTTP/1.1\" 200 - 113 - 7 - \"-\" \"S3Console/0.4\" -",
		`{"eventVersion":"1.08"}`,
	}
	for _, s := range yes {
		if !alb.Sniff([]byte(s)) {
			t.Errorf("Sniff(%.40q) = false", s)
		}
	}
	for _, s := range no {
		if alb.Sniff([]byte(s)) {
			t.Errorf("Sniff(%.40q) = true", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	for _, l := range formattest.Seeds("testdata/alb.log", true) {
		f.Add(l)
	}
	f.Add([]byte(`http 2018-07-02T22:23:00Z a [::1]:1 [::1 - - - - - - - "`))
	f.Add([]byte(`ws 2018-07-02T22:23:00.1234567891Z " " " " "`))
	formattest.FuzzParser(f, alb.NewParser(), "alb", func(t *testing.T, ev *stream.Event) {
		if r := ev.Native.(*alb.Record); ev.Format != stream.FormatALB || r.Time.IsZero() || ev.Timestamp.Location() != time.UTC {
			t.Fatalf("bad event %+v", ev)
		}
	})
}

func TestGenerate(t *testing.T) {
	o := gen.Options{Count: 2000, Seed: 7}
	formattest.Deterministic(t, alb.Generate, o)
	a := formattest.Generate(t, alb.Generate, o)
	o.Attacks = true
	c := formattest.Generate(t, alb.Generate, o)
	clean := checkGenerated(t, a, o.Count, gen.DefaultStart)
	if clean != 0 {
		t.Errorf("%d attack lines without Attacks", clean)
	}
	attacks := checkGenerated(t, c, o.Count, gen.DefaultStart)
	if attacks == 0 || attacks > o.Count/10 {
		t.Errorf("%d attack lines of %d", attacks, o.Count)
	}
	for _, s := range append(append(append(append([]string{}, alb.SQLi...), alb.XSS...), alb.Traversal...), alb.ScannerAgents...) {
		if !bytes.Contains(c, []byte(s)) {
			t.Errorf("attack %q not generated", s)
		}
	}
}

// checkGenerated parses every line, checks order and sniffing, and returns
// how many lines look like attacks.
func checkGenerated(t *testing.T, data []byte, count int, start time.Time) int {
	t.Helper()
	attacks := 0
	last := start
	n := formattest.EachLine(t, data, alb.Sniff, alb.NewParser(), func(n int, ev *stream.Event) {
		if ev.Timestamp.Before(last) {
			t.Fatalf("line %d: time goes back", n)
		}
		if r := ev.Native.(*alb.Record); r.RequestCreationTime.After(r.Time) {
			t.Fatalf("line %d: request created after the response", n)
		}
		last = ev.Timestamp
		if looksHostile(ev) {
			attacks++
		}
	})
	if n != count {
		t.Fatalf("%d lines, want %d", n, count)
	}
	return attacks
}

func looksHostile(ev *stream.Event) bool {
	if ev.Source.IP.String() == gen.AttackerIP || ev.Source.IP.String() == gen.ScannerIP {
		return true
	}
	u := strings.ToLower(ev.URLOriginal)
	ua := strings.ToLower(ev.UserAgent)
	for _, s := range []string{"'", "%27", "<", "%3c", "..", "%2e", "union", "select", "script", "etc/passwd"} {
		if strings.Contains(u, s) {
			return true
		}
	}
	for _, s := range []string{"sqlmap", "nikto", "masscan", "nmap", "zgrab"} {
		if strings.Contains(ua, s) {
			return true
		}
	}
	return false
}

func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	if err := alb.Generate(&buf, gen.Options{Count: 4096, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	formattest.BenchParse(b, "format=alb", alb.NewParser(), buf.Bytes())
}

// TestGeneratedTargets checks that a line has a target exactly when it has
// a target status or list.
func TestGeneratedTargets(t *testing.T) {
	var buf bytes.Buffer
	if err := alb.Generate(&buf, gen.Options{Count: 3000, Seed: 2, Attacks: true}); err != nil {
		t.Fatal(err)
	}
	p := alb.NewParser()
	for i, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var ev stream.Event
		if err := p.Parse(&stream.Unit{Data: line}, &ev); err != nil {
			t.Fatal(err)
		}
		r := ev.Native.(*alb.Record)
		if r.TargetIP.IsValid() != (r.TargetPortList != "") || (r.TargetStatusCode != 0 && !r.TargetIP.IsValid()) {
			t.Fatalf("line %d: inconsistent target fields: %s", i+1, line)
		}
	}
}
