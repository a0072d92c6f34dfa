package handler

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

// fakeProc fails the records whose data is "fail" and records what it saw.
type fakeProc struct {
	seen  []string
	delay time.Duration
}

func (f *fakeProc) Process(ctx context.Context, recs []stream.Record) pipeline.Result {
	var res pipeline.Result
	for i, r := range recs {
		f.seen = append(f.seen, r.Lineage.Sequence)
		if string(r.Data) == "fail" {
			res.Failed = append(res.Failed, i)
			res.Err = errors.New("sink down")
		}
	}
	time.Sleep(f.delay)
	return res
}

func kevent(data ...string) events.KinesisEvent {
	var ev events.KinesisEvent
	for i, d := range data {
		seq := string(rune('A' + i))
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			EventID:        "shardId-000000000001:" + seq,
			EventSourceArn: "arn:aws:kinesis:eu-west-1:123456789012:stream/s",
			Kinesis:        events.KinesisRecord{Data: []byte(d), SequenceNumber: seq, PartitionKey: "pk"},
		})
	}
	return ev
}

func TestReportsLowestUnfinishedSequence(t *testing.T) {
	p := &fakeProc{}
	h := &Kinesis{Pipeline: p, ChunkSize: 2}
	resp, err := h.Handle(context.Background(), kevent("ok", "ok", "ok", "fail", "ok", "fail"))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "D" {
		t.Fatalf("failures = %+v, want only D (the lowest failed sequence)", resp.BatchItemFailures)
	}
	// Processing stops after the chunk holding the failure: E and F are left for the retry.
	if got := len(p.seen); got != 4 {
		t.Errorf("processed %d records, want 4 (two chunks)", got)
	}
}

func TestAllDoneReportsNothing(t *testing.T) {
	h := &Kinesis{Pipeline: &fakeProc{}}
	resp, err := h.Handle(context.Background(), kevent("ok", "ok"))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp = %+v, err = %v", resp, err)
	}
}

func TestStopsBeforeDeadline(t *testing.T) {
	p := &fakeProc{delay: 60 * time.Millisecond}
	h := &Kinesis{Pipeline: p, ChunkSize: 1, Margin: 50 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	resp, err := h.Handle(ctx, kevent("ok", "ok", "ok", "ok", "ok", "ok"))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("failures = %+v, want the first unprocessed record", resp.BatchItemFailures)
	}
	first := resp.BatchItemFailures[0].ItemIdentifier
	if first != string(rune('A'+len(p.seen))) {
		t.Errorf("reported %s after processing %v: must be the first record not processed", first, p.seen)
	}
	if len(p.seen) == 0 || len(p.seen) >= 6 {
		t.Errorf("processed %d records; the deadline should stop it midway", len(p.seen))
	}
}

func TestRecordsLineage(t *testing.T) {
	ev := kevent("x")
	recs := Records(nil, ev.Records, func(string) stream.Format { return stream.FormatALB })
	l := recs[0].Lineage
	if l.Kind != stream.OriginKinesis || l.Shard != "shardId-000000000001" || l.Sequence != "A" || l.SubSequence != -1 || recs[0].Format != stream.FormatALB {
		t.Fatalf("lineage = %+v", recs[0])
	}
}

func TestChunksByBytes(t *testing.T) {
	p := &sizes{}
	h := &Kinesis{Pipeline: p, ChunkSize: 3, ChunkBytes: 10}
	// 4+4 fit 10 bytes; 4+4+4 would not; 20 alone exceeds it but is a chunk of its own; then 1+1+1 hit ChunkSize.
	resp, err := h.Handle(context.Background(), kevent("aaaa", "bbbb", "cccc", "dddddddddddddddddddd", "e", "f", "g", "h"))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp = %+v, err = %v", resp, err)
	}
	want := []int{2, 1, 1, 3, 1}
	if fmt.Sprint(p.batches) != fmt.Sprint(want) {
		t.Fatalf("pipeline batches of %v records, want %v", p.batches, want)
	}
}

// sizes records the size of every pipeline batch.
type sizes struct{ batches []int }

func (s *sizes) Process(_ context.Context, recs []stream.Record) pipeline.Result {
	s.batches = append(s.batches, len(recs))
	return pipeline.Result{}
}
