package detect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/alb"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/format/vpcflow"
	"github.com/gannet-sec/gannet/stream/gen"
)

var update = flag.Bool("update", false, "rewrite golden files")

// corpusDir returns ../shared/corpus/<name> beside the repository root;
// absent, the test is skipped, except in CI (CI=true) where it fails.
func corpusDir(tb testing.TB, name string) string {
	tb.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "shared", "corpus", name))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("corpus %s missing in CI: %v", p, err)
		}
		tb.Skipf("corpus %s not present", p)
	}
	return p
}

// parseLines parses every line of data with p into events with file lineage.
func parseLines(tb testing.TB, data []byte, p stream.Parser, source string) []stream.Event {
	tb.Helper()
	var out []stream.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	line := int64(0)
	for sc.Scan() {
		line++
		raw := append([]byte(nil), sc.Bytes()...)
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var ev stream.Event
		ev.Lineage = stream.Lineage{Kind: stream.OriginFile, Source: source, SubSequence: -1, Line: line, Index: line - 1}
		ev.ID = ev.Lineage.ID()
		ev.Raw = raw
		err := p.Parse(&stream.Unit{Data: raw, Lineage: ev.Lineage, Format: p.Format()}, &ev)
		if errors.Is(err, stream.ErrSkip) {
			continue
		}
		if err != nil {
			tb.Fatalf("%s:%d: %v", source, line, err)
		}
		ev.Raw = raw
		out = append(out, ev)
	}
	return out
}

func generate(tb testing.TB, g func(io.Writer, gen.Options) error, p stream.Parser, o gen.Options, source string) []stream.Event {
	tb.Helper()
	var buf bytes.Buffer
	if err := g(&buf, o); err != nil {
		tb.Fatal(err)
	}
	return parseLines(tb, buf.Bytes(), p, source)
}

func run(tb testing.TB, e *Engine, events []stream.Event) []*stream.Alert {
	tb.Helper()
	var out []*stream.Alert
	for i := 0; i < len(events); i += 500 { // batches, as the pipeline gives them
		j := min(i+500, len(events))
		if err := e.Detect(context.Background(), events[i:j], func(a *stream.Alert) { out = append(out, a) }); err != nil {
			tb.Fatal(err)
		}
	}
	return out
}

func titles(alerts []*stream.Alert) map[string]int {
	m := map[string]int{}
	for _, a := range alerts {
		m[a.RuleTitle]++
	}
	return m
}

func TestBuiltinsLoad(t *testing.T) {
	e, err := New(Options{AllowedCountries: []string{"FR", "DE"}, Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.Rules != 15 || st.Correlations != 2 {
		t.Errorf("loaded %d rules and %d correlations, want 15 and 2", st.Rules, st.Correlations)
	}
	// Without an allow-list the country rule is skipped, with its reason.
	e, err = New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Skipped()) != 1 || !strings.Contains(e.Skipped()[0].Reason, "allowed_countries") {
		t.Errorf("skipped = %+v, want the country rule only", e.Skipped())
	}
}

// TestGeneratedAttacks: the attacks the generators embed raise the
// built-in alerts, each once; the clean traffic raises none.
func TestGeneratedAttacks(t *testing.T) {
	ct := func(attacks bool) []stream.Event {
		return generate(t, cloudtrail.Generate, cloudtrail.NewParser(), gen.Options{Count: 3000, Seed: 7, Attacks: attacks}, "cloudtrail.json")
	}
	web := func(attacks bool) []stream.Event {
		return generate(t, alb.Generate, alb.NewParser(), gen.Options{Count: 3000, Seed: 7, Attacks: attacks}, "alb.log")
	}
	flow := func(attacks bool) []stream.Event {
		return generate(t, vpcflow.Generate, vpcflow.NewParser(nil), gen.Options{Count: 3000, Seed: 7, Attacks: attacks}, "vpcflow.log")
	}
	cases := []struct {
		name   string
		events func(bool) []stream.Event
		want   map[string]int
	}{
		{"cloudtrail", ct, map[string]int{
			"Console login brute force": 1,
			"Console login without MFA": 1,
			"Root account used":         1,
			"Security group ingress opened to the whole Internet on SSH or RDP": 1,
			"CloudTrail logging stopped, deleted or narrowed":                   1,
			"S3 bucket made public":                                             1,
			"Access key created for another IAM user":                           1,
		}},
		{"alb", web, map[string]int{
			"SQL injection attempt in a web request":        1,
			"Cross-site scripting attempt in a web request": 1,
			"Path traversal attempt in a web request":       1,
			"Vulnerability scanner user agent":              1,
		}},
		{"vpcflow", flow, map[string]int{"Port scan": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := titles(run(t, e, tc.events(true)))
			for title, n := range tc.want {
				if got[title] != n {
					t.Errorf("%q: %d alerts, want %d", title, got[title], n)
				}
			}
			for title, n := range got {
				if _, ok := tc.want[title]; !ok {
					t.Errorf("unexpected %d alerts of %q", n, title)
				}
			}
			e, _ = New(Options{})
			if clean := run(t, e, tc.events(false)); len(clean) != 0 {
				t.Errorf("clean traffic raised %d alerts: %v", len(clean), titles(clean))
			}
		})
	}
}

// consoleFailure is one failed console sign-in from ip at t.
func consoleFailure(ip string, t time.Time, n int) stream.Event {
	raw := `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","userName":"mallory"},"eventTime":"` + t.Format(time.RFC3339) +
		`","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"` + ip +
		`","errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure"},"eventType":"AwsConsoleSignIn"}`
	ev := stream.Event{Raw: []byte(raw), Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "bf", Line: int64(n + 1), SubSequence: -1}}
	ev.ID = ev.Lineage.ID()
	if err := cloudtrail.NewParser().Parse(&stream.Unit{Data: ev.Raw}, &ev); err != nil {
		panic(err)
	}
	return ev
}

func TestBruteForce(t *testing.T) {
	t0 := gen.DefaultStart
	mk := func(n int, every time.Duration) []stream.Event {
		var out []stream.Event
		for i := 0; i < n; i++ {
			out = append(out, consoleFailure(gen.AttackerIP, t0.Add(time.Duration(i)*every), i))
		}
		return out
	}
	cases := []struct {
		name   string
		events []stream.Event
		want   int
	}{
		{"20 failures in 5 minutes", mk(20, 10*time.Second), 1},
		{"30 failures, one alert", mk(30, 5*time.Second), 1},
		{"4 failures", mk(4, time.Second), 0},
		{"20 failures over an hour", mk(20, 3*time.Minute), 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			alerts := run(t, e, tc.events)
			if len(alerts) != tc.want {
				t.Fatalf("%d alerts, want %d: %v", len(alerts), tc.want, titles(alerts))
			}
			if tc.want == 0 {
				return
			}
			a := alerts[0]
			if a.Kind != "correlation" || a.GroupKey != "sourceIPAddress="+gen.AttackerIP || a.Count < 20 || len(a.Events) == 0 {
				t.Errorf("alert %+v", a)
			}
			if a.ID != stream.AlertID(a.RuleID, a.GroupKey, a.WindowStart) || !a.WindowStart.Equal(t0) {
				t.Errorf("alert id/window: %v %v", a.ID, a.WindowStart)
			}
			if a.Events[0].ID != tc.events[0].ID || a.Events[0].Lineage.Line != 1 {
				t.Errorf("first event ref %+v", a.Events[0])
			}
			// A replay (a fresh engine, as after a restart) raises the same id.
			e2, _ := New(Options{})
			if again := run(t, e2, tc.events); len(again) != 1 || again[0].ID != a.ID {
				t.Errorf("replay gave %v", again)
			}
			st := e.Stats()
			if st.Alerts[a.RuleID] != 1 || st.Matches["6f1f4a5e-0d1b-4d0e-9c57-1b8f0c2a7e14"] != int64(len(tc.events)) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestSuppression(t *testing.T) {
	root := func(n int, at time.Time) stream.Event {
		raw := `{"eventVersion":"1.10","userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root"},"eventTime":"` + at.Format(time.RFC3339) +
			`","eventSource":"iam.amazonaws.com","eventName":"ListUsers","sourceIPAddress":"1.2.3.4","eventType":"AwsApiCall"}`
		ev := stream.Event{Raw: []byte(raw), Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "r", Line: int64(n)}}
		ev.ID = ev.Lineage.ID()
		if err := cloudtrail.NewParser().Parse(&stream.Unit{Data: ev.Raw}, &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	t0 := gen.DefaultStart
	evs := []stream.Event{root(1, t0), root(2, t0.Add(time.Minute)), root(3, t0.Add(2*time.Hour))}
	cases := []struct {
		suppress  time.Duration
		wantAlert int
		wantCount int64
	}{
		{time.Hour, 2, 2},
		{-1, 3, 1},
	}
	for _, tc := range cases {
		e, err := New(Options{Suppress: tc.suppress})
		if err != nil {
			t.Fatal(err)
		}
		var alerts []*stream.Alert
		// One event per batch: suppression must hold across batches too.
		for i := range evs {
			if err := e.Detect(context.Background(), evs[i:i+1], func(a *stream.Alert) { alerts = append(alerts, a) }); err != nil {
				t.Fatal(err)
			}
		}
		if len(alerts) != tc.wantAlert {
			t.Fatalf("suppress %v: %d alerts, want %d", tc.suppress, len(alerts), tc.wantAlert)
		}
		// In one batch, the folded alert counts both events.
		e, _ = New(Options{Suppress: tc.suppress})
		alerts = run(t, e, evs)
		if alerts[0].Count != tc.wantCount {
			t.Errorf("suppress %v: count %d, want %d", tc.suppress, alerts[0].Count, tc.wantCount)
		}
	}
}

// TestSuppressionOrder checks single-event suppression against a model of
// its contract on two rules, out-of-order windows, batch boundaries and a
// suppression memory small enough to forget: a match folds into its (rule,
// window) alert while that alert is pending in the batch, is suppressed
// while the key is among the MaxSuppressed most recent keys of all rules,
// and raises the alert (same id) again otherwise.
func TestSuppressionOrder(t *testing.T) {
	titles := []string{"Root account used", "CloudTrail logging stopped, deleted or narrowed"}
	event := func(n, rule int, at time.Time) stream.Event {
		ident, src, name := `{"type":"Root","arn":"arn:aws:iam::1:root"}`, "iam.amazonaws.com", "ListUsers"
		if rule == 1 {
			ident, src, name = `{"type":"IAMUser","arn":"arn:aws:iam::1:user/bob","userName":"bob"}`, "cloudtrail.amazonaws.com", "StopLogging"
		}
		raw := `{"eventVersion":"1.10","userIdentity":` + ident + `,"eventTime":"` + at.Format(time.RFC3339) +
			`","eventSource":"` + src + `","eventName":"` + name + `","sourceIPAddress":"1.2.3.4","eventType":"AwsApiCall"}`
		ev := stream.Event{Raw: []byte(raw), Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "r", Line: int64(n)}}
		ev.ID = ev.Lineage.ID()
		if err := cloudtrail.NewParser().Parse(&stream.Unit{Data: ev.Raw}, &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	type key struct{ rule, hour int }
	t0 := gen.DefaultStart.Truncate(time.Hour)
	// (rule, hour) of the events, and where batches end.
	seq := []key{{0, 0}, {0, 0}, {0, 1}, {1, 1}, {0, 1}, {1, 0}, {0, 1}, {0, 0}, {0, 0}, {1, 2},
		{0, 0}, {0, 2}, {0, 2}, {1, 2}, {0, 0}, {0, 1}, {0, 3}, {1, 0}, {0, 0}, {0, 0}, {0, 2}, {0, 1}}
	cuts := []int{2, 3, 5, 8, 9, 13, 14, 16, 19, 22}
	var evs []stream.Event
	for i, k := range seq {
		evs = append(evs, event(i+1, k.rule, t0.Add(time.Duration(k.hour)*time.Hour+time.Duration(i)*time.Second)))
	}
	for _, maxSup := range []int{1, 2, 3, 100} {
		e, err := New(Options{MaxSuppressed: maxSup})
		if err != nil {
			t.Fatal(err)
		}
		type alert struct {
			key
			count int64
		}
		// The model.
		var want []alert
		var fifo []key
		lo := 0
		for _, hi := range cuts {
			pending := map[key]int{} // → index in want
			for _, k := range seq[lo:hi] {
				if j, ok := pending[k]; ok {
					want[j].count++
					continue
				}
				if slices.Contains(fifo, k) {
					continue
				}
				fifo = append(fifo, k)
				if len(fifo) > maxSup {
					fifo = fifo[1:]
				}
				pending[k] = len(want)
				want = append(want, alert{k, 1})
			}
			lo = hi
		}
		// The engine.
		var got []alert
		ids := map[key]stream.EventID{}
		lo = 0
		for _, hi := range cuts {
			err := e.Detect(context.Background(), evs[lo:hi], func(a *stream.Alert) {
				r := slices.Index(titles, a.RuleTitle)
				if r < 0 {
					t.Errorf("unexpected alert %q", a.RuleTitle)
					return
				}
				k := key{r, int(a.WindowStart.Sub(t0) / time.Hour)}
				if id, ok := ids[k]; ok && id != a.ID {
					t.Errorf("%v raised ids %s and %s", k, id, a.ID)
				}
				ids[k] = a.ID
				got = append(got, alert{k, a.Count})
			})
			if err != nil {
				t.Fatal(err)
			}
			lo = hi
		}
		if !slices.Equal(got, want) {
			t.Errorf("MaxSuppressed %d: alerts %v, want %v", maxSup, got, want)
		}
	}
}

// TestStratusTable checks which rules (SigmaHQ and built-in) fire on which
// Stratus Red Team technique, against testdata/stratus_fired.golden, and
// that every technique a built-in rule targets raises its alert.
func TestStratusTable(t *testing.T) {
	stratus := corpusDir(t, "cloudtrail-stratus")
	rulesDir := corpusDir(t, "sigma-aws-cloudtrail")
	files, _ := filepath.Glob(filepath.Join(stratus, "*.json"))
	table := map[string][]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			t.Fatal(err)
		}
		var nd bytes.Buffer
		for _, el := range elems {
			if err := json.Compact(&nd, el); err != nil {
				t.Fatal(err)
			}
			nd.WriteByte('\n')
		}
		events := parseLines(t, nd.Bytes(), cloudtrail.NewParser(), filepath.Base(f))
		e, err := New(Options{RuleDirs: []string{rulesDir}, Strict: true, AllowedCountries: []string{"FR"}})
		if err != nil {
			t.Fatal(err)
		}
		tech := strings.TrimSuffix(filepath.Base(f), ".json")
		for title := range titles(run(t, e, events)) {
			table[tech] = append(table[tech], title)
		}
		sort.Strings(table[tech])
	}
	var b strings.Builder
	techs := make([]string, 0, len(files))
	for _, f := range files {
		techs = append(techs, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	sort.Strings(techs)
	for _, tech := range techs {
		b.WriteString(tech + ":\n")
		for _, title := range table[tech] {
			b.WriteString("  - " + title + "\n")
		}
	}
	golden := filepath.Join("testdata", "stratus_fired.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("Stratus table differs from %s (run with -update to accept):\n%s", golden, b.String())
	}
	targets := map[string]string{
		"aws.exfiltration.ec2-security-group-open-port-22-ingress": "Security group ingress opened to the whole Internet on SSH or RDP",
		"aws.defense-evasion.cloudtrail-stop":                      "CloudTrail logging stopped, deleted or narrowed",
		"aws.defense-evasion.cloudtrail-delete":                    "CloudTrail logging stopped, deleted or narrowed",
		"aws.defense-evasion.cloudtrail-event-selectors":           "CloudTrail logging stopped, deleted or narrowed",
		"aws.initial-access.console-login-without-mfa":             "Console login without MFA",
		"aws.persistence.iam-backdoor-user":                        "Access key created for another IAM user",
		"aws.persistence.iam-create-admin-user":                    "Access key created for another IAM user",
	}
	for tech, title := range targets {
		found := false
		for _, got := range table[tech] {
			found = found || got == title
		}
		if !found {
			t.Errorf("%s does not raise %q", tech, title)
		}
	}
}
