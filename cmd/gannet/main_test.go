package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
)

// gannet runs the command in-process and returns stdout, stderr and the exit code.
func gannet(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

func mustGannet(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := gannet(t, args...)
	if code != 0 {
		t.Fatalf("gannet %s: exit %d\nstderr: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

func readSummary(t *testing.T, path string) summary {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s summary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGenIsDeterministic(t *testing.T) {
	for _, f := range format.Generatable() {
		a := mustGannet(t, "gen", "--format", f.String(), "--count", "50", "--seed", "3", "--attacks")
		b := mustGannet(t, "gen", "--format", f.String(), "--count", "50", "--seed", "3", "--attacks")
		c := mustGannet(t, "gen", "--format", f.String(), "--count", "50", "--seed", "4", "--attacks")
		if a != b {
			t.Errorf("%s: same seed, different output", f)
		}
		if a == c {
			t.Errorf("%s: different seeds, same output", f)
		}
		if n := strings.Count(a, "\n"); n != 50 {
			t.Errorf("%s: %d lines, want 50", f, n)
		}
	}
}

// TestRunAllFormatsNoDeadLetters is the `make run` acceptance: logs of all
// seven formats, with attacks, sniffed and processed with zero dead letters,
// and the attacks raise alerts.
func TestRunAllFormatsNoDeadLetters(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.Mkdir(in, 0o755)
	formats := format.Generatable()
	if len(formats) != 7 {
		t.Fatalf("generatable formats = %v, want the seven AWS formats", formats)
	}
	for _, f := range formats {
		out := mustGannet(t, "gen", "--format", f.String(), "--count", "300", "--seed", "7", "--attacks")
		os.WriteFile(filepath.Join(in, f.String()+".log"), []byte(out), 0o644)
	}
	sumPath := filepath.Join(dir, "summary.json")
	stdout := mustGannet(t, "run", "--progress", "never", "--intel-demo", "--out", filepath.Join(dir, "events.ndjson"),
		"--dlq", filepath.Join(dir, "dlq"), "--summary-json", sumPath, in)
	s := readSummary(t, sumPath)
	if s.DeadLettered != 0 {
		t.Fatalf("dead-lettered %d: %v", s.DeadLettered, s.DeadLetteredReason)
	}
	if s.EventsOut != 7*300 || s.RecordsIn != 7*300 {
		t.Fatalf("records %d, events %d, want %d each", s.RecordsIn, s.EventsOut, 7*300)
	}
	for _, f := range formats {
		if s.EventsPerFormat[f.String()] != 300 {
			t.Errorf("%s: %d events, want 300 (sniffing must tell the formats apart)", f, s.EventsPerFormat[f.String()])
		}
	}
	if s.Alerts == 0 || !strings.Contains(stdout, "ALERT") || !strings.Contains(stdout, "Summary") {
		t.Errorf("no alerts printed for generated attacks:\n%s", stdout)
	}
	lines := countLines(t, filepath.Join(dir, "events.ndjson"))
	if lines != 7*300 {
		t.Errorf("events.ndjson has %d lines, want %d", lines, 7*300)
	}
}

func TestRunCleanTrafficRaisesNoAlert(t *testing.T) {
	dir := t.TempDir()
	for _, f := range format.Generatable() {
		out := mustGannet(t, "gen", "--format", f.String(), "--count", "400", "--seed", "11")
		os.WriteFile(filepath.Join(dir, f.String()+".log"), []byte(out), 0o644)
	}
	sumPath := filepath.Join(t.TempDir(), "s.json")
	mustGannet(t, "run", "--progress", "never", "--intel-demo", "--dlq", t.TempDir(), "--summary-json", sumPath, dir)
	s := readSummary(t, sumPath)
	if s.Alerts != 0 || s.DeadLettered != 0 {
		t.Fatalf("clean traffic: %d alerts %v, %d dead letters", s.Alerts, s.AlertsPerRule, s.DeadLettered)
	}
}

// TestWrapRoundTrip: gen --wrap kinesis|kpl|cwlogs, run on the Lambda event
// file, gives the same events as the unwrapped logs (all but lineage-derived
// fields: ids and lineage differ by design).
func TestWrapRoundTrip(t *testing.T) {
	for _, f := range []stream.Format{stream.FormatCloudTrail, stream.FormatALB, stream.FormatVPCFlow} {
		dir := t.TempDir()
		plain := filepath.Join(dir, "plain.log")
		os.WriteFile(plain, []byte(mustGannet(t, "gen", "--format", f.String(), "--count", "120", "--seed", "5", "--attacks")), 0o644)
		want := runEvents(t, plain, f)
		if len(want) != 120 {
			t.Fatalf("%s: %d plain events", f, len(want))
		}
		for _, wrap := range []string{"kinesis", "kpl", "cwlogs"} {
			ev := filepath.Join(dir, wrap+".json")
			os.WriteFile(ev, []byte(mustGannet(t, "gen", "--format", f.String(), "--count", "120", "--seed", "5", "--attacks", "--wrap", wrap)), 0o644)
			got := runEvents(t, ev, f)
			if len(got) != len(want) {
				t.Fatalf("%s --wrap %s: %d events, want %d", f, wrap, len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					a, _ := json.Marshal(want[i])
					b, _ := json.Marshal(got[i])
					t.Fatalf("%s --wrap %s: event %d differs\nplain: %s\nwrapped: %s", f, wrap, i, a, b)
				}
			}
		}
	}
}

// runEvents runs gannet on one input and returns its events without the
// fields derived from lineage and ingest time.
func runEvents(t *testing.T, input string, f stream.Format) []map[string]any {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "events.ndjson")
	sumPath := filepath.Join(dir, "s.json")
	mustGannet(t, "run", "--progress", "never", "--format", f.String(), "--out", out, "--dlq", filepath.Join(dir, "dlq"), "--summary-json", sumPath, input)
	if s := readSummary(t, sumPath); s.DeadLettered != 0 {
		t.Fatalf("%s: dead-lettered %v", input, s.DeadLetteredReason)
	}
	fh, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var evs []map[string]any
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "gannet")
		if e, ok := m["event"].(map[string]any); ok {
			delete(e, "id")
			delete(e, "ingested")
		}
		evs = append(evs, m)
	}
	return evs
}

func countLines(t *testing.T, path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(data, []byte("\n"))
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Commands:"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"gen", "--format", "apache"}, 2, "--format must be one of"},
		{[]string{"gen", "--format", "alb", "--wrap", "zip"}, 2, "--wrap must be kinesis, kpl or cwlogs"},
		{[]string{"run"}, 2, "give at least one INPUT"},
		{[]string{"run", "--format", "nope", "x"}, 1, `format = "nope"`},
		{[]string{"run", "--dlq", "/dev/null/x", "/does/not/exist"}, 1, "dlq"},
	}
	for _, tc := range cases {
		_, errs, code := gannet(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("gannet %v: exit %d, stderr %q; want exit %d containing %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

func TestRunDeadLettersBadLinesAndGoesOn(t *testing.T) {
	dir := t.TempDir()
	good := mustGannet(t, "gen", "--format", "alb", "--count", "10", "--seed", "1")
	lines := strings.Split(strings.TrimSpace(good), "\n")
	bad := append([]string{}, lines[:5]...)
	bad = append(bad, "this is not an ALB log line", `{"broken json`)
	bad = append(bad, lines[5:]...)
	in := filepath.Join(dir, "mixed.log")
	os.WriteFile(in, []byte(strings.Join(bad, "\n")+"\n"), 0o644)
	sumPath := filepath.Join(dir, "s.json")
	dlq := filepath.Join(dir, "dlq")
	mustGannet(t, "run", "--progress", "never", "--format", "alb", "--dlq", dlq, "--summary-json", sumPath, in)
	s := readSummary(t, sumPath)
	if s.EventsOut != 10 || s.DeadLettered != 2 {
		t.Fatalf("events %d (want 10), dead-lettered %d (want 2): %v", s.EventsOut, s.DeadLettered, s.DeadLetteredReason)
	}
	entries, _ := os.ReadDir(dlq)
	if len(entries) == 0 {
		t.Fatal("nothing written to the dead-letter directory")
	}
}
