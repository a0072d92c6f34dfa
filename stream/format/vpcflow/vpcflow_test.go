package vpcflow_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/formattest"
	"github.com/gannet-sec/gannet/stream/format/vpcflow"
	"github.com/gannet-sec/gannet/stream/gen"
)

func TestGolden(t *testing.T) {
	formattest.GoldenLines(t, func() stream.Parser { return vpcflow.NewParser(nil) }, stream.FormatVPCFlow)
}

func parseBytes(data []byte) (*stream.Event, error) {
	return formattest.Parse(vpcflow.NewParser(nil), data)
}

const good = "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"

func parse(p stream.Parser, line string, hdr string) (*stream.Event, error) {
	ev := &stream.Event{}
	u := &stream.Unit{Data: []byte(line)}
	if hdr != "" {
		u.Context = &stream.UnitContext{Header: hdr}
	}
	return ev, p.Parse(u, ev)
}

func TestDefault(t *testing.T) {
	ev, err := parse(vpcflow.NewParser(nil), good+"\r\n", "")
	if err != nil {
		t.Fatal(err)
	}
	r := ev.Native.(*vpcflow.Record)
	if r.DstPort != 22 || r.Bytes != 4249 || r.Action != "ACCEPT" || !r.Present.Has(vpcflow.FieldLogStatus) || r.Present.Has(vpcflow.FieldVPCID) {
		t.Errorf("record %+v", r)
	}
	if ev.NetworkTransport != "tcp" || ev.Outcome != "success" || ev.CloudAccountID != "123456789010" || ev.Source.Packets != 20 {
		t.Errorf("event %+v", ev)
	}
	if want := time.Unix(1418530010, 0).UTC(); !ev.Timestamp.Equal(want) || ev.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp %v", ev.Timestamp)
	}
}

func TestConfiguredAndContextHeader(t *testing.T) {
	line := "10.0.0.1 10.0.0.2 443 ingress"
	// Configured LogFormat, as given to CreateFlowLogs.
	p := vpcflow.NewParser([]string{"${srcaddr} ${dstaddr} ${dstport} ${flow-direction}"})
	ev, err := parse(p, line, "")
	if err != nil {
		t.Fatal(err)
	}
	if ev.NetworkDirection != "ingress" || ev.Destination.Port != 443 {
		t.Errorf("event %+v", ev)
	}
	// The same layout from the container's header; the default format would reject the line.
	ev, err = parse(vpcflow.NewParser(nil), line, "srcaddr dstaddr dstport flow-direction")
	if err != nil || ev.Destination.Port != 443 {
		t.Fatalf("context header: %v %+v", err, ev)
	}
	// A bad configured field: every line fails, naming the field.
	_, err = parse(vpcflow.NewParser([]string{"srcaddr", "dest-port"}), line, "")
	if r := stream.ReasonOf(err); r.Code != "vpcflow_bad_format" || !strings.Contains(r.Detail, "dest-port") {
		t.Errorf("bad config: %v", err)
	}
	if _, err := vpcflow.ParseFields([]string{"srcaddr srcaddr"}); err == nil {
		t.Error("repeated field accepted")
	}
}

func TestHeaderLine(t *testing.T) {
	p := vpcflow.NewParser(nil)
	if _, err := parse(p, "version srcaddr dstaddr action", ""); !errors.Is(err, stream.ErrSkip) {
		t.Fatalf("header: %v", err)
	}
	ev, err := parse(p, "5 10.0.0.1 10.0.0.2 REJECT", "")
	if err != nil || ev.Outcome != "failure" {
		t.Fatalf("after header: %v %+v", err, ev)
	}
	_, err = parse(p, "version srcaddr dstaddr colour", "")
	if r := stream.ReasonOf(err); r.Code != "vpcflow_bad_header" || !strings.Contains(r.Detail, `"colour"`) {
		t.Errorf("unknown field in header: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	f := strings.Split(good, " ")
	with := func(i int, v string) string { return formattest.With(good, i, v) }
	cases := []struct{ name, line, code string }{
		{"empty", "", "vpcflow_field_count"},
		{"truncated", strings.Join(f[:9], " "), "vpcflow_field_count"},
		{"truncated in a field", good[:40], "vpcflow_field_count"},
		{"too many", good + " extra", "vpcflow_field_count"},
		{"double space", strings.Replace(good, " ", "  ", 1), "vpcflow_field_count"},
		{"trailing space", good + " ", "vpcflow_field_count"},
		{"bad version", with(0, "two"), "vpcflow_bad_number"},
		{"bad srcaddr", with(3, "172.31.16.256"), "vpcflow_bad_address"},
		{"bad dstaddr", with(4, "example.com"), "vpcflow_bad_address"},
		{"bad srcport", with(5, "http"), "vpcflow_bad_port"},
		{"port range", with(6, "65536"), "vpcflow_bad_port"},
		{"negative port", with(6, "-22"), "vpcflow_bad_port"},
		{"bad protocol", with(7, "tcp"), "vpcflow_bad_protocol"},
		{"protocol range", with(7, "256"), "vpcflow_bad_protocol"},
		{"bad packets", with(8, "2.5"), "vpcflow_bad_number"},
		{"bad bytes", with(9, "-1"), "vpcflow_bad_number"},
		{"bad start", with(10, "2014-12-14T04:06:50Z"), "vpcflow_bad_time"},
		{"huge end", with(11, "99999999999999999"), "vpcflow_bad_time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { formattest.Reject(t, parseBytes, c.line, c.code) })
	}
}

func TestSniff(t *testing.T) {
	yes := []string{
		good,
		"3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789",
		"5 52.95.128.179 10.0.0.71 80 34210 6 1616729292",
		"5 2001:db8::1 2001:db8::2 80 34210 6 1616729292",
		"2 unknown eni-0e2f1a2b3c4d5e6f7 198.51.100.7 10.0.1.5 51334 443 6 12 2048 1477913708 1477913820 ACCEPT OK",
		"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
	}
	no := []string{
		"",
		"2",
		"2 hello world",
		"version 2",
		"12 123456789012 eni-1",
		"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366",
		"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be amzn-s3-demo-bucket1 [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57427F3EXAMPLE REST.GET.VERSIONING -",
		`{"version":"0"}`,
	}
	for _, s := range yes {
		if !vpcflow.Sniff([]byte(s)) {
			t.Errorf("Sniff(%.40q) = false", s)
		}
	}
	for _, s := range no {
		if vpcflow.Sniff([]byte(s)) {
			t.Errorf("Sniff(%.40q) = true", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good), "")
	for _, l := range formattest.Seeds("testdata/*.log", true) {
		f.Add(l, "")
	}
	f.Add([]byte("10.0.0.1 - 443 ingress"), "srcaddr dstaddr dstport flow-direction")
	f.Add([]byte("version"), "")
	f.Fuzz(func(t *testing.T, data []byte, hdr string) {
		ev, err := parse(vpcflow.NewParser(nil), string(data), hdr)
		if errors.Is(err, stream.ErrSkip) {
			return
		}
		if formattest.Parsed(t, ev, err, "vpcflow") {
			if _, ok := ev.Native.(*vpcflow.Record); !ok || ev.Format != stream.FormatVPCFlow {
				t.Fatalf("bad event %+v", ev)
			}
		}
	})
}

func TestGenerate(t *testing.T) {
	o := gen.Options{Count: 3000, Seed: 11}
	formattest.Deterministic(t, vpcflow.Generate, o)
	a := formattest.Generate(t, vpcflow.Generate, o)
	o.Attacks = true
	c := formattest.Generate(t, vpcflow.Generate, o)
	st := checkGenerated(t, a, o.Count)
	if st.hostile != 0 || st.maxRejectFanout >= 10 {
		t.Errorf("clean traffic: %d hostile lines, max REJECT fan-out %d", st.hostile, st.maxRejectFanout)
	}
	st = checkGenerated(t, c, o.Count)
	if st.scanPorts < 100 || st.scanReject*10 < st.scanLines*9 {
		t.Errorf("scan: %d distinct ports, %d/%d rejected", st.scanPorts, st.scanReject, st.scanLines)
	}
	if st.attackerAccepted == 0 {
		t.Error("no accepted traffic with the attacker")
	}
}

type genStats struct {
	hostile, scanLines, scanReject, scanPorts, attackerAccepted, maxRejectFanout int
}

func checkGenerated(t *testing.T, data []byte, count int) genStats {
	t.Helper()
	var st genStats
	scanPorts := map[int32]bool{}
	rejectPorts := map[string]map[int32]bool{}
	var last time.Time
	n := formattest.EachLine(t, data, vpcflow.Sniff, vpcflow.NewParser(nil), func(n int, ev *stream.Event) {
		if ev.Timestamp.Before(last) {
			t.Fatalf("line %d: time goes back", n)
		}
		last = ev.Timestamp
		src, dst := ev.Source.IP.String(), ev.Destination.IP.String()
		if src == gen.ScannerIP || dst == gen.ScannerIP || src == gen.AttackerIP || dst == gen.AttackerIP {
			st.hostile++
		}
		if src == gen.ScannerIP {
			st.scanLines++
			scanPorts[ev.Destination.Port] = true
			if ev.Action == "REJECT" {
				st.scanReject++
			}
		}
		if (src == gen.AttackerIP || dst == gen.AttackerIP) && ev.Action == "ACCEPT" {
			st.attackerAccepted++
		}
		if ev.Action == "REJECT" {
			m := rejectPorts[src]
			if m == nil {
				m = map[int32]bool{}
				rejectPorts[src] = m
			}
			m[ev.Destination.Port] = true
			if src != gen.ScannerIP {
				st.maxRejectFanout = max(st.maxRejectFanout, len(m))
			}
		}
	})
	if n != count {
		t.Fatalf("%d lines, want %d", n, count)
	}
	st.scanPorts = len(scanPorts)
	return st
}

func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	if err := vpcflow.Generate(&buf, gen.Options{Count: 4096, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	formattest.BenchParse(b, "format=vpcflow", vpcflow.NewParser(nil), buf.Bytes())
}

// TestFastPathMatchesGeneric parses generated default-format lines with the
// default fast path and, reversed, through the generic per-field path.
func TestFastPathMatchesGeneric(t *testing.T) {
	var buf bytes.Buffer
	if err := vpcflow.Generate(&buf, gen.Options{Count: 500, Seed: 9, Attacks: true}); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, 14)
	for _, f := range vpcflow.DefaultFields() {
		names = append([]string{f.String()}, names...)
	}
	fast, generic := vpcflow.NewParser(nil), vpcflow.NewParser(names)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	lines = append(lines, "2 123456789010 eni-1 - - - - - - - - - - -", "2 1 e 1.2.3.4 1.2.3.5 1 2 3 4 5 6 7 X Y")
	for _, line := range lines {
		a, err1 := parse(fast, line, "")
		w := strings.Fields(line)
		for i, j := 0, len(w)-1; i < j; i, j = i+1, j-1 {
			w[i], w[j] = w[j], w[i]
		}
		b, err2 := parse(generic, strings.Join(w, " "), "")
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("%q: fast %v, generic %v", line, err1, err2)
		}
		if err1 != nil {
			continue
		}
		ra, rb := a.Native.(*vpcflow.Record), b.Native.(*vpcflow.Record)
		if *ra != *rb {
			t.Fatalf("%q:\nfast    %+v\ngeneric %+v", line, ra, rb)
		}
	}
}
