package scheduled

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/sink/elastic"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/gen"
	es "github.com/olivere/elastic/v7"
)

// ctEvent is a CloudTrail event of one API call from ip.
func ctEvent(t *testing.T, ip, source, name string, at time.Time, n int) stream.Event {
	raw := `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","userName":"mallory"},"eventTime":"` + at.Format(time.RFC3339) +
		`","eventSource":"` + source + `","eventName":"` + name + `","awsRegion":"us-east-1","sourceIPAddress":"` + ip +
		`","eventType":"AwsApiCall","eventID":"` + fmt.Sprintf("tc-%d", n) + `"}`
	ev := stream.Event{Raw: []byte(raw), Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "scheduled-temporal", Line: int64(n), Index: int64(n), SubSequence: -1}}
	ev.ID = ev.Lineage.ID()
	if err := cloudtrail.NewParser().Parse(&stream.Unit{Data: ev.Raw}, &ev); err != nil {
		t.Fatal(err)
	}
	ev.Raw = []byte(raw)
	return ev
}

// TestIntegrationScheduledTemporal indexes, within one hour, a console
// login then StopLogging from one address, a login only from a second, and
// StopLogging then a login from a third, into Elasticsearch and OpenSearch,
// and runs the temporal and temporal_ordered correlations over the two
// rules: temporal alerts for the first and third addresses, ordered for the
// first only; the address that misses a rule never alerts. Then a
// three-rule ordered correlation over its own indices (scheduledOrdered3):
// interleaved events with no ordered pick raise no alert, events in order
// and tied events one each.
func TestIntegrationScheduledTemporal(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { scheduledTemporal(t, engine) })
	}
}

func scheduledTemporal(t *testing.T, engine string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	window := gen.DefaultStart.Truncate(time.Hour).Add(2 * time.Hour)
	const (
		both     = "198.51.100.1" // login, then trail stopped
		onlyOne  = "198.51.100.2" // logins only
		reversed = "198.51.100.3" // trail stopped, then login
	)
	login := func(ip string, min, n int) stream.Event {
		return ctEvent(t, ip, "signin.amazonaws.com", "ConsoleLogin", window.Add(time.Duration(min)*time.Minute), n)
	}
	stop := func(ip string, min, n int) stream.Event {
		return ctEvent(t, ip, "cloudtrail.amazonaws.com", "StopLogging", window.Add(time.Duration(min)*time.Minute), n)
	}
	events := []stream.Event{
		login(both, 5, 1), login(both, 6, 2), stop(both, 40, 3),
		login(onlyOne, 1, 4), login(onlyOne, 50, 5), ctEvent(t, onlyOne, "s3.amazonaws.com", "GetObject", window.Add(55*time.Minute), 6),
		stop(reversed, 10, 7), login(reversed, 30, 8),
		// The next window: a stop for onlyOne does not complete its
		// sequence of the window before.
		stop(onlyOne, 65, 9),
	}
	client, prefix := indexInto(t, ctx, engine, events)
	r := &Runner{Client: client}
	for _, ordered := range []bool{false, true} {
		rs := temporalRules(t, ordered)
		corr := rs[2]
		q, err := Translate(corr, rs, Options{IndexPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		alerts, err := r.Run(ctx, q, window)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{both, reversed}
		if ordered {
			want = []string{both}
		}
		var got []string
		for _, a := range alerts {
			got = append(got, strings.TrimPrefix(a.GroupKey, "sourceIPAddress="))
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("ordered=%v: alerts for %v, want %v", ordered, got, want)
		}
		a := alerts[0]
		key := "sourceIPAddress=" + both
		if a.ID != stream.AlertID(corr.ID, key, window) || a.Kind != "correlation" || a.Count != 3 ||
			!a.FirstSeen.Equal(window.Add(5*time.Minute)) || !a.LastSeen.Equal(window.Add(40*time.Minute)) || len(a.Events) != 3 ||
			!a.WindowEnd.Equal(window.Add(time.Hour)) {
			t.Errorf("ordered=%v: alert %+v", ordered, a)
		}
		if a.Events[0].ID != events[0].ID {
			t.Errorf("ordered=%v: first event %v, want %v", ordered, a.Events[0].ID, events[0].ID)
		}
		// The next window has one rule's event only.
		if next, err := r.Run(ctx, q, window.Add(time.Hour)); err != nil || len(next) != 0 {
			t.Errorf("ordered=%v: next window: %v %+v", ordered, err, next)
		}
	}
	if n := r.Followups.Load(); n != 0 {
		t.Errorf("%d follow-up searches for two rules", n)
	}
	scheduledOrdered3(t, ctx, engine, window)
}

// scheduledOrdered3 runs the three-rule temporal_ordered correlation (login,
// StopLogging, DeleteTrail) over its own indices: in the window, one
// address whose events pass the first/last check but have no ordered pick
// (the only stop after the login comes after the only delete) and one in
// order once the follow-up search finds the stop after the login; in the
// next window, one address whose stop and delete share the login's second
// (ties are in order).
func scheduledOrdered3(t *testing.T, ctx context.Context, engine string, window time.Time) {
	const (
		interleaved = "198.51.100.11" // login 10, stop 5 and 30, delete 20: no pick
		inOrder     = "198.51.100.12" // login 10, stop 5 and 15, delete 20
		tied        = "198.51.100.13" // next window: login 70, stop 65 and 70, delete 70
	)
	ev := func(ip, name string, min, n int) stream.Event {
		source := "cloudtrail.amazonaws.com"
		if name == "ConsoleLogin" {
			source = "signin.amazonaws.com"
		}
		return ctEvent(t, ip, source, name, window.Add(time.Duration(min)*time.Minute), 100+n)
	}
	events := []stream.Event{
		ev(interleaved, "ConsoleLogin", 10, 1), ev(interleaved, "StopLogging", 5, 2), ev(interleaved, "StopLogging", 30, 3), ev(interleaved, "DeleteTrail", 20, 4),
		ev(inOrder, "ConsoleLogin", 10, 5), ev(inOrder, "StopLogging", 5, 6), ev(inOrder, "StopLogging", 15, 7), ev(inOrder, "DeleteTrail", 20, 8),
		ev(tied, "ConsoleLogin", 70, 9), ev(tied, "StopLogging", 65, 10), ev(tied, "StopLogging", 70, 11), ev(tied, "DeleteTrail", 70, 12),
	}
	client, prefix := indexInto(t, ctx, engine, events)
	rs := orderedRules(t)
	corr := rs[3]
	q, err := Translate(corr, rs, Options{IndexPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Client: client}
	alerts, err := r.Run(ctx, q, window)
	if err != nil {
		t.Fatal(err)
	}
	key := "sourceIPAddress=" + inOrder
	if len(alerts) != 1 {
		t.Fatalf("three rules: %d alerts, want one for %s: %+v", len(alerts), key, alerts)
	}
	a := alerts[0]
	if a.GroupKey != key || a.ID != stream.AlertID(corr.ID, key, window) || a.Count != 4 || len(a.Events) != 4 ||
		!a.FirstSeen.Equal(window.Add(5*time.Minute)) || !a.LastSeen.Equal(window.Add(20*time.Minute)) ||
		a.Fields["scheduled.unconfirmed"] != "" {
		t.Errorf("three rules: alert %+v", a)
	}
	// One follow-up each: the interleaved and the in-order address have a
	// stop before the login.
	if n := r.Followups.Load(); n != 2 || r.Unconfirmed.Load() != 0 {
		t.Errorf("three rules: %d follow-up searches, %d unconfirmed, want 2 and 0", n, r.Unconfirmed.Load())
	}
	next, err := r.Run(ctx, q, window.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(next) != 1 || next[0].GroupKey != "sourceIPAddress="+tied {
		t.Errorf("three rules, next window (ties): %+v", next)
	}
}

func failed(t *testing.T, ip string, at time.Time, n int) stream.Event {
	raw := `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","userName":"mallory"},"eventTime":"` + at.Format(time.RFC3339) +
		`","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"` + ip +
		`","errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure"},"eventType":"AwsConsoleSignIn","eventID":"` +
		fmt.Sprintf("bf-%d", n) + `"}`
	ev := stream.Event{Raw: []byte(raw), Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "scheduled-test", Line: int64(n), Index: int64(n), SubSequence: -1}}
	ev.ID = ev.Lineage.ID()
	if err := cloudtrail.NewParser().Parse(&stream.Unit{Data: ev.Raw}, &ev); err != nil {
		t.Fatal(err)
	}
	ev.Raw = []byte(raw)
	return ev
}

// engines are the search engines scheduled queries run against.
var engines = []string{stacktest.Elasticsearch, stacktest.OpenSearch}

// indexInto opens the engine of the local stack, writes events with
// sink/elastic under a fresh index prefix and returns a client and the prefix.
func indexInto(t *testing.T, ctx context.Context, engine string, events []stream.Event) (*es.Client, string) {
	t.Helper()
	ep := stacktest.Require(t, engine)
	url, client := ep.ESURL, (*es.Client)(nil)
	if engine == stacktest.OpenSearch {
		url, client = ep.OpenSearchURL, ep.OpenSearch(t)
	} else {
		client = ep.Elastic(t)
	}
	prefix := stacktest.UniqueName(t, "sched")
	sink, err := elastic.New(ctx, elastic.Config{URL: url, IndexPrefix: prefix, Refresh: "true"})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(ctx)
	if os.Getenv("GANNET_KEEP_INDICES") == "" {
		t.Cleanup(func() { client.DeleteIndex(prefix + "-*").Do(context.Background()) })
	}
	if err := sink.Write(ctx, events); err != nil {
		var ie stream.ItemErrors
		if errors.As(err, &ie) {
			t.Fatalf("%d items rejected, first: %v", len(ie), ie[0].Err)
		}
		t.Fatal(err)
	}
	if err := sink.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Refresh(prefix + "-*").Do(ctx); err != nil {
		t.Fatal(err)
	}
	return client, prefix
}

// TestIntegrationScheduledBruteForce indexes a few hundred CloudTrail events
// into the local Elasticsearch and OpenSearch with sink/elastic — clean
// generated traffic, 25 failed sign-ins from the attacker within one
// 5-minute window, 19 from a second address and 4 from a third — and checks
// that the scheduled query of the built-in brute-force correlation
// (event_count) finds the attacker only, with the alert id a rerun gives
// again.
func TestIntegrationScheduledBruteForce(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) { scheduledBruteForce(t, engine) })
	}
}

func scheduledBruteForce(t *testing.T, engine string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var clean bytes.Buffer
	if err := cloudtrail.Generate(&clean, gen.Options{Count: 300, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	var events []stream.Event
	for i, line := range bytes.Split(bytes.TrimSpace(clean.Bytes()), []byte("\n")) {
		ev := stream.Event{Raw: line, Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "clean", Line: int64(i + 1), Index: int64(i), SubSequence: -1}}
		ev.ID = ev.Lineage.ID()
		if err := cloudtrail.NewParser().Parse(&stream.Unit{Data: line}, &ev); err != nil {
			t.Fatal(err)
		}
		ev.Raw = line
		events = append(events, ev)
	}
	window := gen.DefaultStart.Add(10 * time.Minute)
	n := 0
	for i := 0; i < 25; i++ {
		n++
		events = append(events, failed(t, gen.AttackerIP, window.Add(time.Duration(i)*10*time.Second), n))
	}
	for i := 0; i < 19; i++ {
		n++
		events = append(events, failed(t, "198.51.100.19", window.Add(time.Duration(i)*10*time.Second), n))
	}
	for i := 0; i < 4; i++ {
		n++
		events = append(events, failed(t, "198.51.100.4", window.Add(time.Duration(i)*time.Second), n))
	}
	client, prefix := indexInto(t, ctx, engine, events)

	corr, rules := builtin(t, bruteForceID)
	q, err := Translate(corr, rules, Options{IndexPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Client: client}
	alerts, err := r.Run(ctx, q, window)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(alerts), alerts)
	}
	a := alerts[0]
	key := "sourceIPAddress=" + gen.AttackerIP
	if a.GroupKey != key || a.Count != 25 || a.ID != stream.AlertID(bruteForceID, key, window) || a.Kind != "correlation" ||
		!a.FirstSeen.Equal(window) || !a.LastSeen.Equal(window.Add(240*time.Second)) || len(a.Events) != 10 {
		t.Errorf("alert %+v", a)
	}
	if a.Events[0].ID != events[300].ID {
		t.Errorf("first event %v, want %v", a.Events[0].ID, events[300].ID)
	}
	// The window before holds only clean traffic; a rerun gives the same id.
	if before, err := r.Run(ctx, q, window.Add(-5*time.Minute)); err != nil || len(before) != 0 {
		t.Errorf("previous window: %v %+v", err, before)
	}
	if again, err := r.Run(ctx, q, window); err != nil || len(again) != 1 || again[0].ID != a.ID {
		t.Errorf("rerun: %v %+v", err, again)
	}
	// Missing indices: no alerts, no error.
	q2, _ := Translate(corr, rules, Options{IndexPrefix: prefix + "-none"})
	if none, err := r.Run(ctx, q2, window); err != nil || len(none) != 0 {
		t.Errorf("missing indices: %v %+v", err, none)
	}
}
