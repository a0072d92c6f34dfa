package scheduled

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/detect/correlate"
	"github.com/gannet-sec/gannet/detect/sigma"
	"github.com/gannet-sec/gannet/stream"
	es "github.com/olivere/elastic/v7"
)

// orderedRules are three CloudTrail rules — console login, StopLogging,
// DeleteTrail — and a temporal_ordered correlation over them in that
// order, grouped by source address.
func orderedRules(t *testing.T) []*sigma.Rule {
	t.Helper()
	src := `title: Console login
name: login
id: 7a1c0000-0000-4000-8000-000000000001
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventSource: signin.amazonaws.com, eventName: ConsoleLogin}, condition: s}
---
title: Trail stopped
name: stop
id: 7a1c0000-0000-4000-8000-000000000002
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventSource: cloudtrail.amazonaws.com, eventName: StopLogging}, condition: s}
---
title: Trail deleted
name: delete
id: 7a1c0000-0000-4000-8000-000000000004
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventSource: cloudtrail.amazonaws.com, eventName: DeleteTrail}, condition: s}
---
title: Login, trail stopped, trail deleted
id: 7a1c0000-0000-4000-8000-000000000005
level: high
correlation: {type: temporal_ordered, rules: [login, stop, delete], group-by: [sourceIPAddress], timespan: 1h}
`
	rs, err := sigma.Parse([]byte(src), "ordered.yml")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// ordered reports, by trying every pick, whether times[0..k-1] (each
// rule's event times) hold t1 ≤ t2 ≤ … ≤ tk with ti in times[i].
func ordered(times [][]int64) bool {
	var try func(i int, from int64) bool
	try = func(i int, from int64) bool {
		if i == len(times) {
			return true
		}
		for _, t := range times[i] {
			if t >= from && try(i+1, t) {
				return true
			}
		}
		return false
	}
	return try(0, -1<<62)
}

// spansOf are the bucket's first/last times of each rule's events.
func spansOf(times [][]int64) []ruleSpan {
	out := make([]ruleSpan, len(times))
	for i, ts := range times {
		out[i] = ruleSpan{count: int64(len(ts)), first: slices.Min(ts), last: slices.Max(ts)}
	}
	return out
}

// earliestIn is the follow-up search over times: the earliest time of rule
// at or after from.
func earliestIn(times [][]int64, calls *[]int) func(rule int, from int64) (int64, bool, error) {
	return func(rule int, from int64) (int64, bool, error) {
		*calls = append(*calls, rule)
		best, found := int64(0), false
		for _, t := range times[rule] {
			if t >= from && (!found || t < best) {
				best, found = t, true
			}
		}
		return best, found, nil
	}
}

func TestPick(t *testing.T) {
	cases := []struct {
		name    string
		times   [][]int64
		want    bool
		queries int // follow-up searches the pick needs
	}{
		// The first/last check accepts it: login 100 ≤ stop's last 300,
		// delete's last 200 ≥ max(first login, first stop) = 100. But the
		// only stop after the login is at 300, and no delete follows it.
		{"interleaved, no ordered pick", [][]int64{{100}, {50, 300}, {200}}, false, 1},
		{"ordered: login, stop at 150, delete", [][]int64{{100}, {50, 150}, {200}}, true, 1},
		{"ordered without follow-up", [][]int64{{100, 400}, {200, 250}, {300}}, true, 0},
		{"ties: all at the same millisecond", [][]int64{{100}, {100}, {100}}, true, 0},
		{"ties: the stop picked at the login's time", [][]int64{{100}, {50, 100}, {100}}, true, 1},
		{"tie then earlier: delete before the only later stop", [][]int64{{100}, {50, 120}, {110}}, false, 1},
		{"four rules, two follow-ups", [][]int64{{100}, {50, 150}, {60, 170}, {180}}, true, 2},
		{"four rules, nothing of the last after the second follow-up", [][]int64{{100}, {50, 150}, {60, 170}, {160}}, false, 2},
		{"last rule settled by its last time", [][]int64{{100}, {50, 150}, {10, 160}}, true, 1},
		{"two rules: never a follow-up", [][]int64{{100, 300}, {50, 200}}, true, 0},
	}
	for _, c := range cases {
		if ordered(c.times) != c.want {
			t.Fatalf("%s: the case is wrong (brute force says %v)", c.name, !c.want)
		}
		sp := spansOf(c.times)
		if !coarse(sp) {
			t.Errorf("%s: rejected by the coarse check, which must pass to reach the pick", c.name)
		}
		var calls []int
		got, err := pick(sp, earliestIn(c.times, &calls))
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want || len(calls) != c.queries {
			t.Errorf("%s: pick %v with %d follow-ups %v, want %v with %d", c.name, got, len(calls), calls, c.want, c.queries)
		}
	}
}

// TestPickRandom compares the pick with the brute force on random small
// event sets (times in a narrow range so that ties are common), and checks
// that the coarse check never rejects a group with an ordered pick and
// that the pick needs no more than rules−2 follow-ups.
func TestPickRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	coarseWrong := 0
	for n := 0; n < 20000; n++ {
		k := 2 + rng.Intn(4)
		times := make([][]int64, k)
		for i := range times {
			for j := 0; j <= rng.Intn(4); j++ {
				times[i] = append(times[i], int64(rng.Intn(12)))
			}
		}
		want := ordered(times)
		sp := spansOf(times)
		if !coarse(sp) {
			if want {
				t.Fatalf("coarse rejects %v, which has an ordered pick", times)
			}
			continue
		}
		if !want {
			coarseWrong++
		}
		var calls []int
		got, err := pick(sp, earliestIn(times, &calls))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("pick %v for %v, want %v", got, times, want)
		}
		if len(calls) > max(k-2, 0) {
			t.Fatalf("%d follow-ups for %d rules: %v", len(calls), k, times)
		}
	}
	if coarseWrong == 0 {
		t.Error("the coarse check never accepted a group without an ordered pick: the test does not exercise the pick")
	}
}

// TestPickTiesAsInline checks that equal times are in order for the pick as
// for the inline temporal_ordered window of detect/correlate.
func TestPickTiesAsInline(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	w, err := correlate.New(correlate.Spec{Kind: correlate.TemporalOrdered, Timespan: time.Hour, Rules: 3})
	if err != nil {
		t.Fatal(err)
	}
	fired := false
	for rule := range 3 {
		_, ok := w.Observe("g", t0, rule, "", nil)
		fired = fired || ok
	}
	var calls []int
	tied := [][]int64{{t0.UnixMilli()}, {t0.UnixMilli()}, {t0.UnixMilli()}}
	got, err := pick(spansOf(tied), earliestIn(tied, &calls))
	if err != nil {
		t.Fatal(err)
	}
	if !fired || got != fired {
		t.Errorf("three rules at the same time: inline fired %v, pick %v", fired, got)
	}
}

func TestEarliestBody(t *testing.T) {
	rs := orderedRules(t)
	q, err := Translate(rs[3], rs, Options{IndexPrefix: "gx"})
	if err != nil {
		t.Fatal(err)
	}
	if q.maxConfirm != 100 {
		t.Errorf("default MaxConfirm %d", q.maxConfirm)
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	terms := []groupTerm{{field: "aws.cloudtrail.sourceIPAddress", value: "198.51.100.7"}}
	from := start.Add(10*time.Minute + 250*time.Millisecond).UnixMilli()
	body, _ := json.Marshal(q.earliestBody(terms, 1, from, start))
	s := string(body)
	rule1, _ := json.Marshal(q.ruleFilters[1])
	for _, want := range []string{
		`"size":0`,
		`"aggs":{"t":{"min":{"field":"@timestamp"}}}`,
		`{"range":{"@timestamp":{"gte":"2026-11-01T00:10:00.25Z","lt":"2026-11-01T01:00:00Z"}}}`,
		`{"term":{"aws.cloudtrail.sourceIPAddress":"198.51.100.7"}}`,
		string(rule1),
		`"StopLogging"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("body lacks %s\n%s", want, s)
		}
	}
	if strings.Contains(s, "ConsoleLogin") || strings.Contains(s, "DeleteTrail") {
		t.Errorf("body filters on other rules:\n%s", s)
	}
	// A time before the window is clamped to its start; a numeric key
	// stays a JSON number.
	terms = []groupTerm{{field: "destination.port", value: json.RawMessage("443")}}
	body, _ = json.Marshal(q.earliestBody(terms, 2, start.Add(-time.Minute).UnixMilli(), start))
	s = string(body)
	for _, want := range []string{`"gte":"2026-11-01T00:00:00Z"`, `{"term":{"destination.port":443}}`, `"DeleteTrail"`} {
		if !strings.Contains(s, want) {
			t.Errorf("body lacks %s\n%s", want, s)
		}
	}
}

// fakeEvent is one event of the fake cluster: its group, the correlation
// rule it matches and its @timestamp in Unix ms.
type fakeEvent struct {
	group string
	rule  int
	ms    int64
}

// fakeCluster answers the aggregation and the follow-up searches of a
// temporal_ordered query over events as Elasticsearch would, or fails them
// with failMain / failFollowup (an error body, status 400).
type fakeCluster struct {
	t                      *testing.T
	q                      *Query
	events                 []fakeEvent
	failMain, failFollowup string
	followups              int
}

const searchFailure = `{"error":{"root_cause":[{"type":"query_shard_exception","reason":"failed to create query"}],` +
	`"type":"search_phase_execution_exception","reason":"all shards failed"},"status":400}`

func (f *fakeCluster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Aggs  map[string]json.RawMessage `json:"aggs"`
		Query struct {
			Bool struct {
				Filter []map[string]json.RawMessage `json:"filter"`
			} `json:"bool"`
		} `json:"query"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.t.Errorf("fake cluster: %v", err)
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fail := func(s string) bool {
		if s == "" {
			return false
		}
		w.WriteHeader(400)
		w.Write([]byte(s))
		return true
	}
	var aggs any
	switch {
	case body.Aggs["g0"] != nil:
		if fail(f.failMain) {
			return
		}
		aggs = m{"g0": m{"buckets": f.buckets()}}
	case body.Aggs["t"] != nil:
		f.followups++
		if fail(f.failFollowup) {
			return
		}
		aggs = m{"t": m{"value": f.earliest(body.Query.Bool.Filter)}}
	default:
		f.t.Errorf("fake cluster: unexpected search %v", body.Aggs)
	}
	json.NewEncoder(w).Encode(m{"took": 1, "timed_out": false, "_shards": m{"total": 1, "successful": 1, "failed": 0},
		"hits": m{"hits": []any{}}, "aggregations": aggs})
}

// buckets are the terms buckets, most events first then by key, as
// Elasticsearch orders them.
func (f *fakeCluster) buckets() []any {
	byGroup := map[string][]fakeEvent{}
	var groups []string
	for _, e := range f.events {
		if byGroup[e.group] == nil {
			groups = append(groups, e.group)
		}
		byGroup[e.group] = append(byGroup[e.group], e)
	}
	sort.Slice(groups, func(i, j int) bool {
		a, b := groups[i], groups[j]
		return len(byGroup[a]) > len(byGroup[b]) || len(byGroup[a]) == len(byGroup[b]) && a < b
	})
	stats := func(evs []fakeEvent, rule int) m {
		var ts []int64
		for _, e := range evs {
			if rule < 0 || e.rule == rule {
				ts = append(ts, e.ms)
			}
		}
		if len(ts) == 0 {
			return m{"doc_count": 0, "first": m{"value": nil}, "last": m{"value": nil}}
		}
		return m{"doc_count": len(ts), "first": m{"value": slices.Min(ts)}, "last": m{"value": slices.Max(ts)}}
	}
	var out []any
	for _, g := range groups {
		b := stats(byGroup[g], -1)
		b["key"] = g
		b["events"] = m{"hits": m{"hits": []any{}}}
		for i := range f.q.ruleFilters {
			b["r"+fmt.Sprint(i)] = stats(byGroup[g], i)
		}
		out = append(out, b)
	}
	return out
}

// earliest answers a follow-up search: filter is the time range, the group
// term and a rule's filter.
func (f *fakeCluster) earliest(filter []map[string]json.RawMessage) any {
	if len(filter) != 3 {
		f.t.Errorf("follow-up filter %v", filter)
		return nil
	}
	var rng struct {
		T struct{ Gte, Lt time.Time } `json:"@timestamp"`
	}
	var term map[string]string
	if err := json.Unmarshal(filter[0]["range"], &rng); err != nil {
		f.t.Error(err)
	}
	if err := json.Unmarshal(filter[1]["term"], &term); err != nil {
		f.t.Error(err)
	}
	got, _ := json.Marshal(filter[2])
	rule := -1
	for i, rf := range f.q.ruleFilters {
		if want, _ := json.Marshal(rf); bytes.Equal(got, want) {
			rule = i
		}
	}
	if rule < 0 {
		f.t.Errorf("follow-up filters on no rule: %s", got)
	}
	var best any
	for _, e := range f.events {
		if e.rule == rule && e.group == term["aws.cloudtrail.sourceIPAddress"] && e.ms >= rng.T.Gte.UnixMilli() && e.ms < rng.T.Lt.UnixMilli() &&
			(best == nil || e.ms < best.(int64)) {
			best = e.ms
		}
	}
	return best
}

// runFake runs q over a fake cluster of events for the window at start.
func runFake(t *testing.T, f *fakeCluster, start time.Time) (*Runner, []stream.Alert, string, error) {
	t.Helper()
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := es.NewClient(es.SetURL(srv.URL), es.SetSniff(false), es.SetHealthcheck(false))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r := &Runner{Client: c, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	alerts, err := r.Run(context.Background(), f.q, start)
	return r, alerts, logs.String(), err
}

// TestRunOrdered runs a three-rule temporal_ordered query against a fake
// cluster: groups whose events are interleaved with no ordered pick (which
// the first/last check accepts), in order, tied, in order without
// follow-up, and rejected by the first/last check already.
func TestRunOrdered(t *testing.T) {
	rs := orderedRules(t)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	at := func(min int) int64 { return start.Add(time.Duration(min) * time.Minute).UnixMilli() }
	const (
		interleaved = "198.51.100.1" // login 10, stop 5 and 30, delete 20
		inOrder     = "198.51.100.2" // login 10, stop 5 and 15, delete 20
		tied        = "198.51.100.3" // all at 10
		plain       = "198.51.100.4" // login 1, stop 2, delete 3
		coarseNo    = "198.51.100.5" // login 10, stop 5, delete 20
	)
	events := []fakeEvent{
		{interleaved, 0, at(10)}, {interleaved, 1, at(5)}, {interleaved, 1, at(30)}, {interleaved, 2, at(20)},
		{inOrder, 0, at(10)}, {inOrder, 1, at(5)}, {inOrder, 1, at(15)}, {inOrder, 2, at(20)},
		{tied, 0, at(10)}, {tied, 1, at(10)}, {tied, 2, at(10)},
		{plain, 0, at(1)}, {plain, 1, at(2)}, {plain, 2, at(3)},
		{coarseNo, 0, at(10)}, {coarseNo, 1, at(5)}, {coarseNo, 2, at(20)},
	}
	// What the exact check must find, by brute force.
	var want []string
	groupTimes := map[string][][]int64{}
	for _, e := range events {
		if groupTimes[e.group] == nil {
			groupTimes[e.group] = make([][]int64, 3)
		}
		groupTimes[e.group][e.rule] = append(groupTimes[e.group][e.rule], e.ms)
	}
	for g, times := range groupTimes {
		if ordered(times) {
			want = append(want, g)
		}
	}
	sort.Strings(want)
	if strings.Join(want, ",") != strings.Join([]string{inOrder, tied, plain}, ",") {
		t.Fatalf("the brute force wants %v", want)
	}
	if !coarse(spansOf(groupTimes[interleaved])) || coarse(spansOf(groupTimes[coarseNo])) {
		t.Fatal("the interleaved group must pass the coarse check, coarseNo not")
	}

	t.Run("exact", func(t *testing.T) {
		q, err := Translate(rs[3], rs, Options{IndexPrefix: "gx"})
		if err != nil {
			t.Fatal(err)
		}
		f := &fakeCluster{t: t, q: q, events: events}
		r, alerts, logs, err := runFake(t, f, start)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range alerts {
			got = append(got, strings.TrimPrefix(a.GroupKey, "sourceIPAddress="))
			if a.Fields["scheduled.unconfirmed"] != "" {
				t.Errorf("%s: unconfirmed under the bound", a.GroupKey)
			}
			if a.ID != stream.AlertID(q.RuleID, a.GroupKey, start) || !a.WindowStart.Equal(start) {
				t.Errorf("alert %+v", a)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("alerts for %v, want %v", got, want)
		}
		// One follow-up each for the interleaved and the in-order group,
		// whose stop has an event before the login.
		if f.followups != 2 || r.Followups.Load() != 2 || r.Unconfirmed.Load() != 0 || logs != "" {
			t.Errorf("follow-ups %d (counter %d), unconfirmed %d, logs %q", f.followups, r.Followups.Load(), r.Unconfirmed.Load(), logs)
		}
	})

	t.Run("bound", func(t *testing.T) {
		q, err := Translate(rs[3], rs, Options{IndexPrefix: "gx", MaxConfirm: 1})
		if err != nil {
			t.Fatal(err)
		}
		f := &fakeCluster{t: t, q: q, events: events}
		r, alerts, logs, err := runFake(t, f, start)
		if err != nil {
			t.Fatal(err)
		}
		// Buckets come most events first, then by key: the interleaved
		// group is confirmed (no alert), the in-order one is over the
		// bound and alerts unconfirmed.
		unconfirmed := map[string]bool{}
		var got []string
		for _, a := range alerts {
			g := strings.TrimPrefix(a.GroupKey, "sourceIPAddress=")
			got = append(got, g)
			unconfirmed[g] = a.Fields["scheduled.unconfirmed"] == "true"
		}
		if strings.Join(got, ",") != strings.Join(want, ",") || !unconfirmed[inOrder] || unconfirmed[tied] || unconfirmed[plain] {
			t.Errorf("alerts for %v, unconfirmed %v", got, unconfirmed)
		}
		if f.followups != 1 || r.Followups.Load() != 1 || r.Unconfirmed.Load() != 1 {
			t.Errorf("follow-ups %d (counter %d), unconfirmed %d", f.followups, r.Followups.Load(), r.Unconfirmed.Load())
		}
		for _, want := range []string{"level=WARN", "rule=" + q.RuleID, "max_confirm=1", "confirmed=1", "unconfirmed=1"} {
			if !strings.Contains(logs, want) {
				t.Errorf("log lacks %s: %q", want, logs)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		q, err := Translate(rs[3], rs, Options{IndexPrefix: "gx"})
		if err != nil {
			t.Fatal(err)
		}
		// The aggregation and a follow-up fail alike: the cluster's
		// reason and root cause, and the *elastic.Error for callers.
		for _, f := range []*fakeCluster{
			{t: t, q: q, events: events, failMain: searchFailure},
			{t: t, q: q, events: events, failFollowup: searchFailure},
		} {
			_, alerts, _, err := runFake(t, f, start)
			var ee *es.Error
			if err == nil || alerts != nil || !errors.As(err, &ee) || ee.Status != 400 {
				t.Fatalf("failMain=%v: alerts %v, error %v", f.failMain != "", alerts, err)
			}
			msg := err.Error()
			for _, want := range []string{"scheduled " + q.RuleID + ": ", "all shards failed; query_shard_exception: failed to create query"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q: %s", want, msg)
				}
			}
			if f.failFollowup != "" && (!strings.Contains(msg, `temporal_ordered check of group "sourceIPAddress=`+interleaved+`", rule 1`) || f.followups != 1) {
				t.Errorf("follow-up error %s after %d follow-ups", msg, f.followups)
			}
		}
	})
}
