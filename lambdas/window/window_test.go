package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gannet-sec/gannet/detect"
	"github.com/gannet-sec/gannet/detect/window"
	"github.com/gannet-sec/gannet/sink/dlq"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/decode"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/gen"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

type memAlerts struct{ got []stream.Alert }

func (m *memAlerts) Deliver(ctx context.Context, a []stream.Alert) error {
	m.got = append(m.got, a...)
	return nil
}

func TestWindowFoldsBatchesAndAlertsOnFinal(t *testing.T) {
	rules, err := detect.BuiltinRules()
	if err != nil {
		t.Fatal(err)
	}
	corr, err := window.New(rules, window.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := dlq.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	capture := &Capture{}
	p, err := pipeline.New(pipeline.Config{Decoder: decode.New(decode.Options{}), Parsers: format.NewSet(format.Options{}),
		Sinks: []stream.Sink{capture}, DeadLetter: d})
	if err != nil {
		t.Fatal(err)
	}
	alerts := &memAlerts{}
	h := &Handler{Pipeline: p, Capture: capture, Corr: corr, Alerts: alerts}

	var buf bytes.Buffer
	if err := cloudtrail.Generate(&buf, gen.Options{Count: 400, Seed: 3, Attacks: true}); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	start := gen.DefaultStart
	tw := events.TimeWindowProperties{Window: events.Window{Start: events.RFC3339EpochTime{Time: start}, End: events.RFC3339EpochTime{Time: start.Add(time.Hour)}}, ShardID: "shardId-000000000000",
		EventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/ct"}
	batch := func(from, to int) events.KinesisEvent {
		var ev events.KinesisEvent
		for i := from; i < to; i++ {
			seq := fmt.Sprintf("%020d", i+1)
			ev.Records = append(ev.Records, events.KinesisEventRecord{EventID: tw.ShardID + ":" + seq, EventSourceArn: tw.EventSourceARN,
				Kinesis: events.KinesisRecord{Data: lines[i], SequenceNumber: seq, PartitionKey: "k"}})
		}
		return ev
	}
	state := map[string]string(nil)
	for _, r := range [][2]int{{0, 150}, {150, 300}, {300, len(lines)}} {
		tw.State = state
		resp, err := h.Handle(context.Background(), events.KinesisTimeWindowEvent{KinesisEvent: batch(r[0], r[1]), TimeWindowProperties: tw})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch %v: %+v %v", r, resp, err)
		}
		if len(resp.State) == 0 {
			t.Fatalf("batch %v: empty state before the window ended", r)
		}
		state = resp.State
	}
	if len(alerts.got) != 0 {
		t.Fatalf("alerts before the final invocation: %d", len(alerts.got))
	}
	tw.State, tw.IsFinalInvokeForWindow = state, true
	resp, err := h.Handle(context.Background(), events.KinesisTimeWindowEvent{TimeWindowProperties: tw})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.State) != 0 {
		t.Errorf("state after the final invocation: %d keys", len(resp.State))
	}
	found := false
	for _, a := range alerts.got {
		if a.Kind == "correlation" && a.Count >= 20 {
			found = true
		}
	}
	if !found {
		t.Fatalf("no brute-force correlation alert among %d alerts: %+v", len(alerts.got), alerts.got)
	}
}
