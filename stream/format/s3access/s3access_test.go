package s3access_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/formattest"
	"github.com/gannet-sec/gannet/stream/format/s3access"
	"github.com/gannet-sec/gannet/stream/gen"
)

func TestGolden(t *testing.T) {
	formattest.GoldenLines(t, func() stream.Parser { return s3access.NewParser() }, stream.FormatS3Access)
}

func parseBytes(data []byte) (*stream.Event, error) {
	return formattest.Parse(s3access.NewParser(), data)
}

const good = `79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be 3E57427F3EXAMPLE REST.GET.VERSIONING - "GET /amzn-s3-demo-bucket1?versioning HTTP/1.1" 200 - 113 - 7 - "-" "S3Console/0.4" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com TLSV1.2 arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP Yes`

func TestGoodLine(t *testing.T) {
	var ev stream.Event
	if err := s3access.NewParser().Parse(&stream.Unit{Data: []byte(good + "\r\n")}, &ev); err != nil {
		t.Fatal(err)
	}
	r := ev.Native.(*s3access.Record)
	if !r.ACLRequired || r.Anonymous() || r.BytesSent != 113 || r.TotalTime != 7 || r.Extra != "" {
		t.Errorf("record %+v", r)
	}
	if ev.Action != "REST.GET.VERSIONING" || ev.URLPath != "/amzn-s3-demo-bucket1" || ev.URLQuery != "versioning" ||
		ev.CloudAccountID != "123456789012" || ev.CloudRegion != "us-west-1" || ev.HTTPVersion != "1.1" {
		t.Errorf("event %+v", ev)
	}
	if want := time.Date(2019, 2, 6, 0, 0, 38, 0, time.UTC); !ev.Timestamp.Equal(want) || ev.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp %v", ev.Timestamp)
	}
}

func TestMalformed(t *testing.T) {
	f := strings.Split(good, " ")
	with := func(i int, v string) string { return formattest.With(good, i, v) }
	// Indices of strings.Split: the time takes 2 (2, 3) and the request 3 (9-11).
	cases := []struct{ name, line, code string }{
		{"empty", "", "s3access_field_count"},
		{"few fields", strings.Join(f[:15], " "), "s3access_field_count"},
		{"truncated in time", good[:90], "s3access_bad_quoting"},
		{"unterminated quote", good[:strings.Index(good, `"S3Console`)+4], "s3access_bad_quoting"},
		{"bad bracket", with(3, "+0000]x"), "s3access_bad_quoting"},
		{"bad time", with(2, "[2019-02-06T00:00:38"), "s3access_bad_time"},
		{"bad month", with(2, "[06/Fev/2019:00:00:38"), "s3access_bad_time"},
		{"bad day", with(2, "[31/Feb/2019:00:00:38"), "s3access_bad_time"},
		{"bad zone", with(3, "0000]"), "s3access_bad_time"},
		{"bad ip", with(4, "192.0.2"), "s3access_bad_address"},
		{"bad status", with(12, "OK"), "s3access_bad_number"},
		{"bad bytes", with(14, "113b"), "s3access_bad_number"},
		{"negative size", with(15, "-5"), "s3access_bad_number"},
		{"bad total time", with(16, "7.5"), "s3access_bad_number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { formattest.Reject(t, parseBytes, c.line, c.code) })
	}
}

func TestSniff(t *testing.T) {
	yes := []string{good, strings.ToUpper(good[:64]) + good[64:]}
	no := []string{
		"",
		good[:70],
		"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2bg amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000]",
		"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 2019-02-06T00:00:38Z 192.0.2.3",
		"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 \"GET http://www.example.com:80/ HTTP/1.1\"",
		"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
	}
	for _, s := range yes {
		if !s3access.Sniff([]byte(s)) {
			t.Errorf("Sniff(%.40q) = false", s)
		}
	}
	for _, s := range no {
		if s3access.Sniff([]byte(s)) {
			t.Errorf("Sniff(%.40q) = true", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	for _, l := range formattest.Seeds("testdata/s3access.log", true) {
		f.Add(l)
	}
	f.Add([]byte(`a b [06/Feb/2019:00:00:38 +0000] - - - - - "-" - - - - - - "-" "-" -`))
	formattest.FuzzParser(f, s3access.NewParser(), "s3access", func(t *testing.T, ev *stream.Event) {
		if r := ev.Native.(*s3access.Record); ev.Format != stream.FormatS3Access || r.Time.IsZero() || ev.Timestamp.Location() != time.UTC {
			t.Fatalf("bad event %+v", ev)
		}
	})
}

func TestGenerate(t *testing.T) {
	o := gen.Options{Count: 2000, Seed: 3}
	formattest.Deterministic(t, s3access.Generate, o)
	a := formattest.Generate(t, s3access.Generate, o)
	o.Attacks = true
	c := formattest.Generate(t, s3access.Generate, o)
	if st := checkGenerated(t, a, o.Count); st != (genStats{}) {
		t.Errorf("clean traffic looks hostile: %+v", st)
	}
	st := checkGenerated(t, c, o.Count)
	if st.anonymousDenied == 0 || st.policy == 0 || st.acl == 0 || st.fromAttacker == 0 {
		t.Errorf("attacks missing: %+v", st)
	}
}

type genStats struct{ anonymous, anonymousDenied, policy, acl, fromAttacker int }

func checkGenerated(t *testing.T, data []byte, count int) genStats {
	t.Helper()
	var st genStats
	var last time.Time
	n := formattest.EachLine(t, data, s3access.Sniff, s3access.NewParser(), func(n int, ev *stream.Event) {
		if ev.Timestamp.Before(last) {
			t.Fatalf("line %d: time goes back", n)
		}
		last = ev.Timestamp
		r := ev.Native.(*s3access.Record)
		if r.Anonymous() {
			st.anonymous++
			if ev.HTTPStatusCode == 403 {
				st.anonymousDenied++
			}
		}
		switch ev.Action {
		case "REST.PUT.BUCKETPOLICY":
			st.policy++
		case "REST.PUT.ACL":
			st.acl++
		}
		if ev.Source.IP.String() == gen.AttackerIP {
			st.fromAttacker++
		}
	})
	if n != count {
		t.Fatalf("%d lines, want %d", n, count)
	}
	return st
}

func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	if err := s3access.Generate(&buf, gen.Options{Count: 4096, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	formattest.BenchParse(b, "format=s3access", s3access.NewParser(), buf.Bytes())
}
