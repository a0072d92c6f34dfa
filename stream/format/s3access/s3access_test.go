package s3access_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/s3access"
	"github.com/gannet-sec/gannet/stream/gen"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// render is the stable JSON form of an event's common fields and Native
// used by the golden files: zero common fields are left out.
func render(ev *stream.Event) map[string]any {
	m := map[string]any{}
	put := func(k string, v any, zero bool) {
		if !zero {
			m[k] = v
		}
	}
	put("@timestamp", ev.Timestamp.Format(time.RFC3339Nano), ev.Timestamp.IsZero())
	put("event.dataset", ev.Format.Dataset(), ev.Format == stream.FormatUnknown)
	put("event.kind", ev.Kind, ev.Kind == "")
	put("event.category", ev.Category, len(ev.Category) == 0)
	put("event.type", ev.Type, len(ev.Type) == 0)
	put("event.action", ev.Action, ev.Action == "")
	put("event.outcome", ev.Outcome, ev.Outcome == "")
	put("event.provider", ev.Provider, ev.Provider == "")
	for _, ep := range []struct {
		name string
		e    *stream.Endpoint
	}{{"source", &ev.Source}, {"destination", &ev.Destination}} {
		put(ep.name+".ip", ep.e.IP.String(), !ep.e.IP.IsValid())
		put(ep.name+".port", ep.e.Port, ep.e.Port == 0)
		put(ep.name+".address", ep.e.Address, ep.e.Address == "")
		put(ep.name+".domain", ep.e.Domain, ep.e.Domain == "")
		put(ep.name+".bytes", ep.e.Bytes, ep.e.Bytes == 0)
		put(ep.name+".packets", ep.e.Packets, ep.e.Packets == 0)
	}
	put("user.name", ev.UserName, ev.UserName == "")
	put("user.id", ev.UserID, ev.UserID == "")
	put("user_agent.original", ev.UserAgent, ev.UserAgent == "")
	put("http.request.method", ev.HTTPMethod, ev.HTTPMethod == "")
	put("http.version", ev.HTTPVersion, ev.HTTPVersion == "")
	put("http.response.status_code", ev.HTTPStatusCode, ev.HTTPStatusCode == 0)
	put("url.original", ev.URLOriginal, ev.URLOriginal == "")
	put("url.domain", ev.URLDomain, ev.URLDomain == "")
	put("url.path", ev.URLPath, ev.URLPath == "")
	put("url.query", ev.URLQuery, ev.URLQuery == "")
	put("cloud.provider", ev.CloudProvider, ev.CloudProvider == "")
	put("cloud.account.id", ev.CloudAccountID, ev.CloudAccountID == "")
	put("cloud.region", ev.CloudRegion, ev.CloudRegion == "")
	put("network.transport", ev.NetworkTransport, ev.NetworkTransport == "")
	put("network.iana_number", ev.NetworkIANA, ev.NetworkIANA == 0)
	put("network.direction", ev.NetworkDirection, ev.NetworkDirection == "")
	put("network.bytes", ev.NetworkBytes, ev.NetworkBytes == 0)
	put("network.packets", ev.NetworkPackets, ev.NetworkPackets == 0)
	put("error.code", ev.ErrorCode, ev.ErrorCode == "")
	put("error.message", ev.ErrorMessage, ev.ErrorMessage == "")
	return m
}

func TestGolden(t *testing.T) {
	logs, _ := filepath.Glob("testdata/*.log")
	if len(logs) == 0 {
		t.Fatal("no testdata/*.log")
	}
	for _, path := range logs {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p := s3access.NewParser()
			var out []map[string]any
			for i, line := range bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n")) {
				var ev stream.Event
				if err := p.Parse(&stream.Unit{Data: line}, &ev); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				if ev.Native == nil || ev.Native.Format() != stream.FormatS3Access {
					t.Fatalf("line %d: Native %T", i+1, ev.Native)
				}
				out = append(out, map[string]any{"line": i + 1, "event": render(&ev), "native": ev.Native})
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(path, ".log") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from parse output (run go test -update and review the diff)", golden)
			}
		})
	}
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
	with := func(i int, v string) string {
		g := append([]string(nil), f...)
		g[i] = v
		return strings.Join(g, " ")
	}
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
		t.Run(c.name, func(t *testing.T) {
			var ev stream.Event
			err := s3access.NewParser().Parse(&stream.Unit{Data: []byte(c.line)}, &ev)
			if err == nil {
				t.Fatalf("no error for %q", c.line)
			}
			if cl, _ := stream.ClassOf(err); cl != stream.Permanent {
				t.Errorf("class %v", cl)
			}
			if r := stream.ReasonOf(err); r.Code != c.code {
				t.Errorf("reason %v, want code %s", r, c.code)
			}
			if ev.Native != nil {
				t.Error("Native set on error")
			}
		})
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
	if data, err := os.ReadFile("testdata/s3access.log"); err == nil {
		for _, l := range bytes.Split(data, []byte("\n")) {
			f.Add(l)
		}
	}
	f.Add([]byte(`a b [06/Feb/2019:00:00:38 +0000] - - - - - "-" - - - - - - "-" "-" -`))
	p := s3access.NewParser()
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev stream.Event
		err := p.Parse(&stream.Unit{Data: data}, &ev)
		if err != nil {
			var e *stream.Error
			if !errors.As(err, &e) || e.Class != stream.Permanent || !strings.HasPrefix(e.Reason.Code, "s3access_") {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		r, ok := ev.Native.(*s3access.Record)
		if !ok || ev.Format != stream.FormatS3Access || r.Time.IsZero() || ev.Timestamp.Location() != time.UTC {
			t.Fatalf("bad event %+v", ev)
		}
	})
}

func TestGenerate(t *testing.T) {
	o := gen.Options{Count: 2000, Seed: 3}
	var a, b, c bytes.Buffer
	if err := s3access.Generate(&a, o); err != nil {
		t.Fatal(err)
	}
	if err := s3access.Generate(&b, o); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same options, different output")
	}
	o.Attacks = true
	if err := s3access.Generate(&c, o); err != nil {
		t.Fatal(err)
	}
	if st := checkGenerated(t, a.Bytes(), o.Count); st != (genStats{}) {
		t.Errorf("clean traffic looks hostile: %+v", st)
	}
	st := checkGenerated(t, c.Bytes(), o.Count)
	if st.anonymousDenied == 0 || st.policy == 0 || st.acl == 0 || st.fromAttacker == 0 {
		t.Errorf("attacks missing: %+v", st)
	}
}

type genStats struct{ anonymous, anonymousDenied, policy, acl, fromAttacker int }

func checkGenerated(t *testing.T, data []byte, count int) genStats {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	p := s3access.NewParser()
	var st genStats
	n := 0
	var last time.Time
	for sc.Scan() {
		n++
		if !s3access.Sniff(sc.Bytes()) {
			t.Fatalf("line %d does not sniff: %s", n, sc.Bytes())
		}
		var ev stream.Event
		if err := p.Parse(&stream.Unit{Data: sc.Bytes()}, &ev); err != nil {
			t.Fatalf("line %d: %v\n%s", n, err, sc.Bytes())
		}
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
	}
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
	lines := bytes.Split(bytes.TrimRight(buf.Bytes(), "\n"), []byte("\n"))
	b.Run("format=s3access", func(b *testing.B) {
		p := s3access.NewParser()
		var ev stream.Event
		u := stream.Unit{}
		b.SetBytes(int64(buf.Len() / len(lines)))
		b.ReportAllocs()
		b.ResetTimer()
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			ev.Reset()
			u.Data = lines[i%len(lines)]
			if err := p.Parse(&u, &ev); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		reportCPU(b, c0)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}
