package window

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gannet-sec/gannet/detect"
	"github.com/gannet-sec/gannet/detect/sigma"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/gen"
)

const bruteForceID = "6f1f4a5e-0d1b-4d0e-9c57-1b8f0c2a7e15"

var (
	winStart = gen.DefaultStart
	winEnd   = winStart.Add(5 * time.Minute)
)

func builtins(t testing.TB) *Correlator {
	t.Helper()
	rules, err := detect.BuiltinRules()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// failure is one failed console sign-in from ip at t, from a Kinesis record.
func failure(tb testing.TB, ip string, t time.Time, n int) stream.Event {
	raw := `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","userName":"mallory"},"eventTime":"` + t.Format(time.RFC3339) +
		`","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"` + ip +
		`","errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure"},"eventType":"AwsConsoleSignIn"}`
	ev := stream.Event{Raw: []byte(raw), Lineage: stream.Lineage{Kind: stream.OriginKinesis, Source: "arn:aws:kinesis:us-east-1:1:stream/ct",
		Shard: "shardId-000000000000", Sequence: fmt.Sprintf("4962%030d", n), SubSequence: -1}}
	ev.ID = ev.Lineage.ID()
	if err := cloudtrail.NewParser().Parse(&stream.Unit{Data: ev.Raw}, &ev); err != nil {
		tb.Fatal(err)
	}
	return ev
}

func props(state map[string]string, final bool) events.TimeWindowProperties {
	return events.TimeWindowProperties{
		Window:                 events.Window{Start: events.RFC3339EpochTime{Time: winStart}, End: events.RFC3339EpochTime{Time: winEnd}},
		State:                  state,
		ShardID:                "shardId-000000000000",
		EventSourceARN:         "arn:aws:kinesis:us-east-1:1:stream/ct",
		IsFinalInvokeForWindow: final,
	}
}

// lambdaTrip passes the state through JSON as Lambda does between invocations.
func lambdaTrip(t testing.TB, state map[string]string) map[string]string {
	t.Helper()
	data, err := json.Marshal(events.KinesisTimeWindowEventResponse{TimeWindowEventResponseProperties: events.TimeWindowEventResponseProperties{State: state}})
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 1<<20 {
		t.Fatalf("response of %d bytes exceeds 1 MB", len(data))
	}
	var back events.KinesisTimeWindowEventResponse
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	return back.State
}

// invokeAll runs the batches as successive invocations of one window, then
// the final invocation (with no records, as Lambda sends it).
func invokeAll(t testing.TB, c *Correlator, batches ...[]stream.Event) ([]stream.Alert, Result) {
	t.Helper()
	var state map[string]string
	for i, b := range batches {
		res, err := c.Invoke(props(state, false), b)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Alerts) != 0 {
			t.Fatalf("invocation %d raised alerts before the window ended", i)
		}
		if res.StateBytes > DefaultMaxStateBytes {
			t.Fatalf("invocation %d: state of %d bytes", i, res.StateBytes)
		}
		state = lambdaTrip(t, res.State)
	}
	res, err := c.Invoke(props(state, true), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.State) != 0 {
		t.Errorf("final invocation returned state %v", res.State)
	}
	return res.Alerts, res
}

func failures(t testing.TB, ip string, from, n int) []stream.Event {
	var out []stream.Event
	for i := from; i < from+n; i++ {
		out = append(out, failure(t, ip, winStart.Add(time.Duration(i)*10*time.Second), i))
	}
	return out
}

func TestBruteForceAcrossInvocations(t *testing.T) {
	c := builtins(t)
	alerts, _ := invokeAll(t, c, failures(t, gen.AttackerIP, 0, 7), failures(t, gen.AttackerIP, 7, 7), failures(t, gen.AttackerIP, 14, 6))
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(alerts), alerts)
	}
	a := alerts[0]
	key := "sourceIPAddress=" + gen.AttackerIP
	if a.RuleID != bruteForceID || a.Kind != "correlation" || a.GroupKey != key || a.Count != 20 ||
		!a.WindowStart.Equal(winStart) || !a.WindowEnd.Equal(winEnd) || a.ID != stream.AlertID(bruteForceID, key, winStart) {
		t.Errorf("alert %+v", a)
	}
	if !a.FirstSeen.Equal(winStart) || !a.LastSeen.Equal(winStart.Add(190*time.Second)) {
		t.Errorf("first/last %v %v", a.FirstSeen, a.LastSeen)
	}
	first := failure(t, gen.AttackerIP, winStart, 0)
	if len(a.Events) != 4 || a.Events[0].ID != first.ID || a.Events[0].Lineage != first.Lineage {
		t.Errorf("event refs %+v, want the first 4 with lineage", a.Events)
	}
}

func TestFourFailuresRaiseNothing(t *testing.T) {
	alerts, _ := invokeAll(t, builtins(t), failures(t, gen.AttackerIP, 0, 2), failures(t, gen.AttackerIP, 2, 2), nil)
	if len(alerts) != 0 {
		t.Fatalf("%d alerts, want none", len(alerts))
	}
}

// distinct returns n failures, each from its own pseudo-random address.
func distinct(t testing.TB, n, seed int) []stream.Event {
	proto := failure(t, "10.0.0.1", winStart, 0)
	out := make([]stream.Event, 0, n)
	x := uint32(seed*2654435761 + 1)
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		ev := proto
		ev.Raw = nil
		ip := netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
		ev.Native = &cloudtrail.Record{EventSource: "signin.amazonaws.com", EventName: "ConsoleLogin",
			SourceIPAddress: ip.String(), ErrorMessage: "Failed authentication"}
		ev.Timestamp = winStart.Add(time.Duration(i%300) * time.Second)
		ev.Lineage.Sequence = fmt.Sprintf("4962%030d", 1000+seed*1000000+i)
		ev.ID = ev.Lineage.ID()
		out = append(out, ev)
	}
	return out
}

// TestStateUnder1MB: 100k distinct source addresses (one failure each,
// random addresses) and the brute force among them, over four invocations:
// the state stays under 1 MB and the brute force raises its alert.
func TestStateUnder1MB(t *testing.T) {
	c := builtins(t)
	var batches [][]stream.Event
	for b := 0; b < 4; b++ {
		batches = append(batches, append(distinct(t, 25000, b+1), failures(t, gen.AttackerIP, b*5, 5)...))
	}
	var state map[string]string
	maxBytes := 0
	for _, b := range batches {
		res, err := c.Invoke(props(state, false), b)
		if err != nil {
			t.Fatal(err)
		}
		maxBytes = max(maxBytes, res.StateBytes)
		state = lambdaTrip(t, res.State)
		t.Logf("state: %d groups in %d bytes, dropped %d", res.Groups, res.StateBytes, res.DroppedGroups)
	}
	res, err := c.Invoke(props(state, true), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Alerts) != 1 || res.Alerts[0].GroupKey != "sourceIPAddress="+gen.AttackerIP || res.Alerts[0].Count != 20 {
		t.Fatalf("alerts %+v, want the brute force only", res.Alerts)
	}
	if maxBytes > DefaultMaxStateBytes {
		t.Errorf("state reached %d bytes", maxBytes)
	}
}

// TestStateBudgetDrops: with a budget too small for every group, the
// groups nearest their threshold are kept, the rest counted as dropped.
func TestStateBudgetDrops(t *testing.T) {
	rules, _ := detect.BuiltinRules()
	c, err := New(rules, Options{MaxStateBytes: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	var batches [][]stream.Event
	for b := 0; b < 3; b++ {
		batches = append(batches, append(distinct(t, 20000, b+1), failures(t, gen.AttackerIP, b*7, 7)...))
	}
	var state map[string]string
	var res Result
	for _, b := range batches {
		res, err = c.Invoke(props(state, false), b)
		if err != nil {
			t.Fatal(err)
		}
		if res.StateBytes > 50_000 {
			t.Fatalf("state %d bytes over the 50000 budget", res.StateBytes)
		}
		state = lambdaTrip(t, res.State)
	}
	if res.DroppedGroups == 0 || res.DroppedEvents < res.DroppedGroups || res.Groups+int(res.DroppedGroups) < 60000 {
		t.Errorf("kept %d, dropped %d groups / %d events", res.Groups, res.DroppedGroups, res.DroppedEvents)
	}
	final, err := c.Invoke(props(state, true), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(final.Alerts) != 1 || final.Alerts[0].Count != 21 || final.DroppedGroups != res.DroppedGroups {
		t.Fatalf("final %+v", final)
	}
	t.Logf("kept %d groups in %d bytes, dropped %d groups (%d events)", res.Groups, res.StateBytes, res.DroppedGroups, res.DroppedEvents)
}

func TestPortScanValueCount(t *testing.T) {
	c := builtins(t)
	mk := func(ports int) []stream.Event {
		var out []stream.Event
		for p := 0; p < ports; p++ {
			ev := stream.Event{Format: stream.FormatVPCFlow, Timestamp: winStart.Add(time.Duration(p) * time.Second),
				Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "flow.log", Line: int64(p + 1), Index: int64(p)}}
			ev.Source.IP = netip.MustParseAddr(gen.AttackerIP)
			ev.Source.Port = 40000
			ev.Destination.IP = netip.MustParseAddr("10.0.0.5")
			ev.Destination.Port = int32(1 + p%150)
			ev.ID = ev.Lineage.ID()
			out = append(out, ev, ev) // repeats do not count twice
		}
		return out
	}
	evs := mk(150)
	alerts, _ := invokeAll(t, c, evs[:100], evs[100:])
	if len(alerts) != 1 || alerts[0].RuleTitle != "Port scan" || alerts[0].Count != 100 {
		t.Fatalf("alerts %+v", alerts)
	}
	if alerts, _ := invokeAll(t, c, mk(50)); len(alerts) != 0 {
		t.Errorf("50 ports raised %d alerts", len(alerts))
	}
}

func TestTemporalOrdered(t *testing.T) {
	rules, err := sigma.Parse([]byte(`title: a
name: a
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventName: StopLogging}, condition: s}
---
title: b
name: b
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventName: DeleteTrail}, condition: s}
---
title: stop then delete
id: ordered
correlation: {type: temporal_ordered, rules: [a, b], group-by: [userIdentity.userName], timespan: 5m}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := func(name string, at time.Duration, n int) stream.Event {
		e := stream.Event{Format: stream.FormatCloudTrail, Timestamp: winStart.Add(at), Lineage: stream.Lineage{Source: "x", Line: int64(n), Index: int64(n)},
			Native: &cloudtrail.Record{EventName: name, UserIdentity: cloudtrail.UserIdentity{UserName: "mallory"}}}
		e.ID = e.Lineage.ID()
		return e
	}
	if alerts, _ := invokeAll(t, c, []stream.Event{ev("StopLogging", time.Minute, 1)}, []stream.Event{ev("DeleteTrail", 2*time.Minute, 2)}); len(alerts) != 1 || alerts[0].GroupKey != "userIdentity.userName=mallory" {
		t.Errorf("in order: %+v", alerts)
	}
	if alerts, _ := invokeAll(t, c, []stream.Event{ev("DeleteTrail", time.Minute, 1)}, []stream.Event{ev("StopLogging", 2*time.Minute, 2)}); len(alerts) != 0 {
		t.Errorf("out of order raised %+v", alerts)
	}
}

// orderedCorrelator: rules a (StopLogging), b (DeleteTrail), c
// (DeleteBucket), and "a then b then c" per user within span.
func orderedCorrelator(t testing.TB, span string, opts Options) *Correlator {
	t.Helper()
	rules, err := sigma.Parse([]byte(`title: a
name: a
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventName: StopLogging}, condition: s}
---
title: b
name: b
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventName: DeleteTrail}, condition: s}
---
title: c
name: c
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventName: DeleteBucket}, condition: s}
---
title: stop, delete, delete
id: ordered3
correlation: {type: temporal_ordered, rules: [a, b, c], group-by: [userIdentity.userName], timespan: `+span+`}
`), "test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// orderedEvents returns one event per (rule letter, seconds after the
// window start), numbered from n.
func orderedEvents(n int, evs ...any) []stream.Event {
	names := map[string]string{"a": "StopLogging", "b": "DeleteTrail", "c": "DeleteBucket"}
	var out []stream.Event
	for i := 0; i+1 < len(evs); i += 2 {
		n++
		e := stream.Event{Format: stream.FormatCloudTrail, Timestamp: winStart.Add(time.Duration(evs[i+1].(int)) * time.Second),
			Lineage: stream.Lineage{Source: "x", Line: int64(n), Index: int64(n)},
			Native:  &cloudtrail.Record{EventName: names[evs[i].(string)], UserIdentity: cloudtrail.UserIdentity{UserName: "mallory"}}}
		e.ID = e.Lineage.ID()
		out = append(out, e)
	}
	return out
}

// TestTemporalOrderedAcrossInvocations: sequences whose ordered pick is not
// made of each rule's first event, split over two invocations.
func TestTemporalOrderedAcrossInvocations(t *testing.T) {
	c := orderedCorrelator(t, "10m", Options{})
	cases := []struct {
		name   string
		one    []stream.Event
		two    []stream.Event
		alerts int
	}{
		// B's first event is before every A: the first-seen times are out
		// of order, the pick A100 ≤ B200 ≤ C300 is not.
		{"B50 A100 | B200 C300", orderedEvents(0, "b", 50, "a", 100), orderedEvents(2, "b", 200, "c", 300), 1},
		{"A100 B150 | A300 C400", orderedEvents(0, "a", 100, "b", 150), orderedEvents(2, "a", 300, "c", 400), 1},
		{"C400 A300 | B150 A100", orderedEvents(0, "c", 400, "a", 300), orderedEvents(2, "b", 150, "a", 100), 1},
		{"C100 B150 | A200", orderedEvents(0, "c", 100, "b", 150), orderedEvents(2, "a", 200), 0},
		{"A100 C150 | B200", orderedEvents(0, "a", 100, "c", 150), orderedEvents(2, "b", 200), 0},
		// More than the timespan apart (a late A, 15 minutes before).
		{"A-900 B60 | C120", orderedEvents(0, "a", -900, "b", 60), orderedEvents(2, "c", 120), 0},
		{"A-500 B60 | C60", orderedEvents(0, "a", -500, "b", 60), orderedEvents(2, "c", 60), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			alerts, _ := invokeAll(t, c, tc.one, tc.two)
			if len(alerts) != tc.alerts {
				t.Fatalf("%d alerts, want %d: %+v", len(alerts), tc.alerts, alerts)
			}
			for _, a := range alerts {
				if a.RuleID != "ordered3" || a.GroupKey != "userIdentity.userName=mallory" || a.Count != int64(len(tc.one)+len(tc.two)) {
					t.Errorf("alert %+v", a)
				}
			}
		})
	}
}

// States written by the previous version (commit 8726a21), which kept only
// each rule's first time, for orderedCorrelator(t, "10m", …) after one
// invocation: B50 A100, and A60 B120 C180.
const (
	prevStateB50A100     = "YmxYsP/YpgwGBkYGBtnS4tQiz5TUvJLMkko9EMcvMTfVNjcxJye/qJJpQS/bhTZmBmbGA7N4GBf0sjEwZcl8+Dtr1tb4OZVC6yvy/hkwMFYwMDAwMDExWHy8zK+5hc/94fqiBQcCJZSgMiwsDIAAAAD//w=="
	prevStateA60B120C180 = "YmxYsP/YpgwGBkYGBtnS4tQiz5TUvJLMkko9EMcvMTfVNjcxJye/qJL5wEr2AyvZGZgZD6xkZ2y4zMd44I8oc5bMh7+zZm2Nn1MptL4i758BA2MFAwMDAxMTg8XHy/yaW/jcH64vWnAgUEIJKsPCwrBneeHULgu5DBbXG43R1TESUBk2NgZAAAAA//8="
)

// TestOrderedStateFromPreviousVersion: a state of the previous version is
// read with each rule's first time as its times; the group fires if they
// are in order (as the previous version decided), and later events
// complete sequences with them.
func TestOrderedStateFromPreviousVersion(t *testing.T) {
	c := orderedCorrelator(t, "10m", Options{})
	// B50 A100, then B200 C300: A100 ≤ B200 ≤ C300 (the previous version
	// raised nothing: B's first time is before A's).
	res, err := c.Invoke(props(map[string]string{StateKey: prevStateB50A100}, false), orderedEvents(2, "b", 200, "c", 300))
	if err != nil {
		t.Fatal(err)
	}
	fin, err := c.Invoke(props(lambdaTrip(t, res.State), true), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fin.Alerts) != 1 || fin.Alerts[0].Count != 4 || fin.DroppedGroups != 0 {
		t.Errorf("B50 A100 | B200 C300: %+v", fin)
	}
	// B50 A100 alone: nothing.
	if fin, err := c.Invoke(props(map[string]string{StateKey: prevStateB50A100}, true), nil); err != nil || len(fin.Alerts) != 0 {
		t.Errorf("B50 A100: %+v %v", fin, err)
	}
	// A60 B120 C180 had fired: it still does, and stays fired.
	for _, more := range [][]stream.Event{nil, orderedEvents(3, "c", 10)} {
		res, err := c.Invoke(props(map[string]string{StateKey: prevStateA60B120C180}, false), more)
		if err != nil {
			t.Fatal(err)
		}
		fin, err := c.Invoke(props(lambdaTrip(t, res.State), true), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(fin.Alerts) != 1 || fin.Alerts[0].Count != int64(3+len(more)) {
			t.Errorf("A60 B120 C180 + %d: %+v", len(more), fin.Alerts)
		}
	}
}

// TestOrderedStateForPreviousVersion: the sequence states follow the group
// records, which are encoded as before (with each rule's first time), so
// the previous version, which stops reading after the records, reads a
// new state as its own; a state without temporal_ordered groups is
// unchanged.
func TestOrderedStateForPreviousVersion(t *testing.T) {
	c := orderedCorrelator(t, "10m", Options{})
	res, err := c.Invoke(props(nil, false), orderedEvents(0, "b", 50, "a", 100, "b", 200))
	if err != nil {
		t.Fatal(err)
	}
	raw := rawState(t, res.State)
	st, err := decodeState(res.State, winStart.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	var gs []*group
	for _, g := range st.groups {
		gs = append(gs, g)
	}
	if len(gs) != 1 || len(st.ordered) != 1 {
		t.Fatalf("%d groups, %d sequence states", len(gs), len(st.ordered))
	}
	ws := winStart.UnixMilli()
	if !slices.Equal(gs[0].seen, []int64{ws + 100_000, ws + 50_000, 0}) {
		t.Errorf("first times %v", gs[0].seen)
	}
	prev := c.appendState(nil, &state{windowStart: ws, groups: st.groups}, gs, 0, 0)
	if !bytes.HasPrefix(raw, prev) || len(raw) == len(prev) || raw[len(prev)] != sectionOrdered {
		t.Fatalf("state %x does not extend the records %x with the section", raw, prev)
	}
	o := st.ordered[gs[0]]
	if o.done || o.newest != ws+200_000 || len(o.times) != 3 || !slices.Equal(o.times[0], []int64{ws + 100_000}) ||
		!slices.Equal(o.times[1], []int64{ws + 50_000, ws + 200_000}) || len(o.times[2]) != 0 {
		t.Errorf("sequence state %+v", o)
	}
	// No temporal_ordered group, no section.
	b, err := builtins(t).Invoke(props(nil, false), failures(t, gen.AttackerIP, 0, 3))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := decodeState(b.State, winStart.UnixMilli()); err != nil || len(st.ordered) != 0 {
		t.Errorf("builtin state: %v %v", st, err)
	}
}

// TestOrderedStateBounded: a group that has not found its sequence keeps
// at most MaxOrderedTimes times per rule, whatever the number of events.
func TestOrderedStateBounded(t *testing.T) {
	c := orderedCorrelator(t, "10m", Options{MaxOrderedTimes: 8})
	var state map[string]string
	sizes := []int{}
	for inv := 0; inv < 3; inv++ {
		var evs []stream.Event
		for i := 0; i < 90; i++ {
			evs = append(evs, orderedEvents(inv*100+i, "b", inv*90+i, "c", inv*90+i)...)
		}
		res, err := c.Invoke(props(state, false), evs)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, res.StateBytes)
		state = lambdaTrip(t, res.State)
	}
	st, err := decodeState(state, winStart.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range st.ordered {
		if o.done || len(o.times) != 3 || len(o.times[1]) != 8 || len(o.times[2]) != 8 {
			t.Errorf("sequence state: done %v, times %v", o.done, o.times)
		}
	}
	if sizes[2] > sizes[0]+16 {
		t.Errorf("state sizes %v grow with the events", sizes)
	}
	// An A before the last eight Bs held finds B (the latest eight are all
	// after it), then the Cs.
	res, err := c.Invoke(props(state, false), orderedEvents(1000, "a", 200))
	if err != nil {
		t.Fatal(err)
	}
	if fin, err := c.Invoke(props(lambdaTrip(t, res.State), true), nil); err != nil || len(fin.Alerts) != 1 {
		t.Errorf("A200 after 270 Bs and Cs: %+v %v", fin.Alerts, err)
	}
}
