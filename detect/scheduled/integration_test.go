package scheduled

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/sink/elastic"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/gen"
)

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

// TestIntegrationScheduledBruteForce indexes a few hundred CloudTrail events
// into the local Elasticsearch with sink/elastic — clean generated traffic,
// 25 failed sign-ins from the attacker within one 5-minute window, 19 from a
// second address and 4 from a third — and checks that the scheduled query
// of the built-in brute-force correlation finds the attacker only, with the
// alert id a rerun gives again.
func TestIntegrationScheduledBruteForce(t *testing.T) {
	ep := stacktest.Require(t, stacktest.Elasticsearch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prefix := stacktest.UniqueName(t, "sched")
	sink, err := elastic.New(ctx, elastic.Config{URL: ep.ESURL, IndexPrefix: prefix, Refresh: "true"})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(ctx)
	client := ep.Elastic(t)
	if os.Getenv("GANNET_KEEP_INDICES") == "" {
		t.Cleanup(func() { client.DeleteIndex(prefix + "-*").Do(context.Background()) })
	}

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
