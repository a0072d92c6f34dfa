package kcl

import (
	"context"
	"crypto/md5"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/sink/dlq"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/kpl"
	"github.com/gannet-sec/gannet/stream/setup"
)

// KPL aggregates reach Gannet's decoder intact through the library: user
// records get their sub-sequence numbers (the Lambda path's event ids), and
// an aggregate with a valid MD5 but a broken body — which v1.0.0's own
// de-aggregation would drop with its whole batch — is dead-lettered while
// the records around it land.
func TestIntegrationKPLAggregates(t *testing.T) {
	ep := localAWS(t)
	kc := ep.Kinesis(t)
	name := stacktest.UniqueName(t, "kpl")
	arn := createStream(t, kc, name, 1)
	dir := t.TempDir()
	lakeDir, dlqDir := filepath.Join(dir, "lake"), filepath.Join(dir, "dlq")

	agg := kpl.NewAggregator(0)
	for i := range 50 {
		if out, err := agg.Add(fmt.Sprintf("pk-%d", i), "", fmt.Appendf(nil, `{"@timestamp":"2026-11-01T12:00:00Z","user_record":%d}`, i)); err != nil || out != nil {
			t.Fatalf("aggregate: %v %v", out, err)
		}
	}
	good := agg.Flush()
	body := []byte{0x0a, 0xff, 0xff, 0xff} // a truncated protobuf field
	sum := md5.Sum(body)
	bad := append(append([]byte{0xf3, 0x89, 0x9a, 0xc2}, body...), sum[:]...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var seqs []string
	for _, data := range [][]byte{good.Data, bad, []byte(`{"@timestamp":"2026-11-01T12:00:00Z","plain":true}`)} {
		out, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("pk"), Data: data})
		if err != nil {
			t.Fatalf("PutRecord: %v", err)
		}
		seqs = append(seqs, aws.ToString(out.SequenceNumber))
	}
	shard := "shardId-000000000000"
	want := map[string]bool{}
	for i := range 50 {
		l := stream.Lineage{Kind: stream.OriginKinesis, Source: arn, Shard: shard, Sequence: seqs[0], SubSequence: int64(i)}
		want[l.ID().String()] = true
	}
	plain := stream.Lineage{Kind: stream.OriginKinesis, Source: arn, Shard: shard, Sequence: seqs[2], SubSequence: -1}
	want[plain.ID().String()] = true

	gc := config.Default()
	gc.Format, gc.Detect, gc.Lake, gc.DLQ = "json", false, lakeDir, dlqDir
	cfg := Config{Stream: name, App: stacktest.UniqueName(t, "leases"), WorkerID: "kpl-worker", AWS: ep.AWSConfig(t),
		NewPipeline: SetupFactory(gc, setup.Options{}), FormatFor: gc.FormatFor, Logger: testLogger(t, "kpl-worker")}
	fastTiming(&cfg)
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(rctx) }()
	var got map[string]int
	waitFor(t, 60*time.Second, 500*time.Millisecond, "the 51 events in the lake and a checkpoint past the bad aggregate", func() bool {
		got = lakeIDs(t, lakeDir)
		return missing(want, got) == 0 && c.Metrics().Value(mCheckpointed, "shard", shard) >= 3
	})
	rcancel()
	if err := <-runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("lake holds %d distinct events, want %d", len(got), len(want))
	}
	var letters []stream.DeadLetter
	if err := dlq.Read(context.Background(), dlqDir, func(d stream.DeadLetter) error {
		letters = append(letters, d)
		return nil
	}); err != nil {
		t.Fatalf("read dead letters: %v", err)
	}
	if len(letters) != 1 || letters[0].Lineage.Sequence != seqs[1] {
		t.Fatalf("dead letters %+v, want one for the bad aggregate %s", letters, seqs[1])
	}
	t.Logf("bad aggregate dead-lettered: %s (stage %s)", letters[0].Reason, letters[0].Stage)
	if v := c.Metrics().Sum(mDeadLetters); v != 1 {
		t.Errorf("dead-letter metric %v, want 1", v)
	}
}
