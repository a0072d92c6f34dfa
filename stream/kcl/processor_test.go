package kcl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

func seq(i int) string { return fmt.Sprintf("%020d", i) }

// fakePipeline accepts records unless fail says otherwise; a flush makes the
// records accepted since the last flush durable, or (when flushFail says so)
// loses them, as the lake does when a file write fails.
type fakePipeline struct {
	mu        sync.Mutex
	fail      func(seq string, attempt int) bool
	flushFail func(n int) bool
	attempts  map[string]int
	accepted  map[string]bool // since the last flush
	durable   map[string]bool
	flushes   int
	closed    bool
	processed int
}

func newFakePipeline() *fakePipeline {
	return &fakePipeline{attempts: map[string]int{}, accepted: map[string]bool{}, durable: map[string]bool{},
		fail: func(string, int) bool { return false }, flushFail: func(int) bool { return false }}
}

func (f *fakePipeline) Process(_ context.Context, recs []stream.Record) pipeline.Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	var res pipeline.Result
	for i := range recs {
		s := recs[i].Lineage.Sequence
		f.attempts[s]++
		f.processed++
		if f.fail(s, f.attempts[s]) {
			res.Failed = append(res.Failed, i)
			if res.Err == nil {
				res.Err = stream.NewRetryable(errors.New("sink unavailable"))
			}
			continue
		}
		f.accepted[s] = true
	}
	return res
}

func (f *fakePipeline) Flush(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes++
	if f.flushFail(f.flushes) {
		clear(f.accepted)
		return errors.New("flush failed: rows lost")
	}
	for s := range f.accepted {
		f.durable[s] = true
	}
	clear(f.accepted)
	return nil
}

func (f *fakePipeline) Stats() pipeline.Stats { return pipeline.Stats{} }
func (f *fakePipeline) Close(ctx context.Context) error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

func (f *fakePipeline) isDurable(s string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.durable[s]
}

// fakeCheckpointer records checkpoints and checks, at each one, that every
// record up to it is durable.
type fakeCheckpointer struct {
	t       *testing.T
	pl      *fakePipeline
	first   int // first sequence of the shard
	cps     []string
	refuse  bool // the guard refuses: the lease is lost
	errOnce error
}

func (c *fakeCheckpointer) Checkpoint(s *string) error {
	if c.refuse {
		return &LeaseLostError{Shard: "shardId-0", Worker: "w", Checkpoint: aws.ToString(s)}
	}
	if c.errOnce != nil {
		err := c.errOnce
		c.errOnce = nil
		return err
	}
	v := "SHARD_END"
	if s != nil {
		v = *s
	}
	if len(c.cps) > 0 && v != "SHARD_END" && v < c.cps[len(c.cps)-1] {
		c.t.Errorf("checkpoint went backwards: %s after %s", v, c.cps[len(c.cps)-1])
	}
	if v != "SHARD_END" {
		var n int
		fmt.Sscanf(v, "%d", &n)
		for i := c.first; i <= n; i++ {
			if !c.pl.isDurable(seq(i)) {
				c.t.Errorf("checkpoint %d written while record %d is not durable", n, i)
				break
			}
		}
	}
	c.cps = append(c.cps, v)
	return nil
}

func (c *fakeCheckpointer) PrepareCheckpoint(*string) (kcl.IPreparedCheckpointer, error) {
	return nil, errors.New("not used")
}

func (c *fakeCheckpointer) last() string {
	if len(c.cps) == 0 {
		return ""
	}
	return c.cps[len(c.cps)-1]
}

// testConsumer is a Consumer with fakes behind it: no parents, the lease
// owned by "w".
func testConsumer(t *testing.T, pl *fakePipeline, mod func(*Config)) *Consumer {
	cfg := Config{Stream: "s", App: "a", WorkerID: "w", AWS: aws.Config{Region: "us-east-1"},
		NewPipeline:  func(context.Context, string) (Pipeline, error) { return pl, nil },
		FlushRecords: 10, FlushInterval: time.Hour, MaxGap: 1000, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.defaults(); err != nil {
		t.Fatal(err)
	}
	c := &Consumer{cfg: cfg, workerID: cfg.WorkerID, metrics: cfg.Metrics, log: cfg.Logger,
		streamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/s", stopping: make(chan struct{}), live: map[string][]*processor{}}
	c.hardCtx, c.hardCancel = context.WithCancel(context.Background())
	t.Cleanup(c.hardCancel)
	c.leaseOwner = func(string) (string, error) { return "w", nil }
	c.parents = &parentGate{kc: fakeShards{"shardId-0": nil}, ddb: &fakeItems{m: map[string]string{}}, maxAge: time.Minute}
	return c
}

type fakeShards map[string][]string

func (f fakeShards) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	out := &kinesis.ListShardsOutput{}
	for id, ps := range f {
		s := ktypes.Shard{ShardId: aws.String(id)}
		if len(ps) > 0 {
			s.ParentShardId = aws.String(ps[0])
		}
		if len(ps) > 1 {
			s.AdjacentParentShardId = aws.String(ps[1])
		}
		out.Shards = append(out.Shards, s)
	}
	return out, nil
}

// fakeItems maps shard ids to their checkpoint.
type fakeItems struct {
	mu sync.Mutex
	m  map[string]string
}

func (f *fakeItems) set(id, cp string) {
	f.mu.Lock()
	f.m[id] = cp
	f.mu.Unlock()
}

func (f *fakeItems) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	id := in.Key["ShardID"].(*dtypes.AttributeValueMemberS).Value
	out := &dynamodb.GetItemOutput{}
	f.mu.Lock()
	defer f.mu.Unlock()
	if cp, ok := f.m[id]; ok {
		out.Item = map[string]dtypes.AttributeValue{"ShardID": in.Key["ShardID"], "Checkpoint": &dtypes.AttributeValueMemberS{Value: cp}}
	}
	return out, nil
}

func records(from, n int) []ktypes.Record {
	out := make([]ktypes.Record, n)
	for i := range out {
		out[i] = ktypes.Record{SequenceNumber: aws.String(seq(from + i)), Data: []byte(fmt.Sprintf(`{"n":%d}`, from+i)),
			PartitionKey: aws.String("pk"), ApproximateArrivalTimestamp: aws.Time(time.Now())}
	}
	return out
}

func newProc(c *Consumer) *processor {
	p := factory{c}.CreateProcessor().(*processor)
	p.Initialize(&kcl.InitializationInput{ShardId: "shardId-0", ExtendedSequenceNumber: &kcl.ExtendedSequenceNumber{}})
	return p
}

func TestCheckpointStopsBeforeFailedRecord(t *testing.T) {
	pl := newFakePipeline()
	// Record 4 fails on its first two attempts.
	pl.fail = func(s string, attempt int) bool { return s == seq(4) && attempt <= 2 }
	c := testConsumer(t, pl, nil)
	cp := &fakeCheckpointer{t: t, pl: pl, first: 1}
	p := newProc(c)
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(1, 10), Checkpointer: cp})
	// 9 of 10 processed: below FlushRecords, nothing flushed yet.
	if len(cp.cps) != 0 {
		t.Fatalf("checkpointed %v before any flush", cp.cps)
	}
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(11, 5), Checkpointer: cp})
	// 14 processed → flush; checkpoint stops at 3 (record 4 still failed).
	if got := cp.last(); got != seq(3) {
		t.Fatalf("checkpoint = %q, want %s (before the failed record)", got, seq(3))
	}
	time.Sleep(10 * time.Millisecond) // past the backoff
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: nil, Checkpointer: cp})
	time.Sleep(10 * time.Millisecond)
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(16, 10), Checkpointer: cp})
	if got := cp.last(); got != seq(25) {
		t.Fatalf("checkpoint = %q after the retry succeeded, want %s", got, seq(25))
	}
	if n := pl.attempts[seq(4)]; n != 3 {
		t.Errorf("record 4 attempted %d times, want 3", n)
	}
	if n := pl.attempts[seq(5)]; n != 1 {
		t.Errorf("record 5 attempted %d times, want 1 (only failed records are retried)", n)
	}
	if v := c.metrics.Value(mRecordFails, "shard", "shardId-0"); v != 2 {
		t.Errorf("%s = %v, want 2", mRecordFails, v)
	}
	if v := c.metrics.Value(mCheckpointed, "shard", "shardId-0"); v != 25 {
		t.Errorf("%s = %v, want 25", mCheckpointed, v)
	}
}

func TestFlushFailureReprocessesAndDoesNotCheckpoint(t *testing.T) {
	pl := newFakePipeline()
	pl.flushFail = func(n int) bool { return n == 1 }
	c := testConsumer(t, pl, nil)
	cp := &fakeCheckpointer{t: t, pl: pl, first: 1}
	p := newProc(c)
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(1, 12), Checkpointer: cp})
	if len(cp.cps) != 0 {
		t.Fatalf("checkpoint %v written after a failed flush", cp.cps)
	}
	time.Sleep(10 * time.Millisecond)
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(13, 3), Checkpointer: cp})
	if got := cp.last(); got != seq(15) {
		t.Fatalf("checkpoint = %q, want %s", got, seq(15))
	}
	if n := pl.attempts[seq(1)]; n != 2 {
		t.Errorf("record 1 processed %d times, want 2 (again after the lost flush)", n)
	}
	if v := c.metrics.Value(mFlushes, "result", "error"); v != 1 {
		t.Errorf("flush errors = %v, want 1", v)
	}
}

func TestGapCapStopsFetchingUntilRetrySucceeds(t *testing.T) {
	pl := newFakePipeline()
	// Record 2 fails on its first 5 attempts.
	pl.fail = func(s string, attempt int) bool { return s == seq(2) && attempt <= 5 }
	c := testConsumer(t, pl, func(c *Config) { c.MaxGap = 8; c.FlushRecords = 1000 })
	cp := &fakeCheckpointer{t: t, pl: pl, first: 1}
	p := newProc(c)
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(1, 5), Checkpointer: cp}) // gap 4: returns
	if n := pl.attempts[seq(2)]; n != 1 {
		t.Fatalf("record 2 attempted %d times before the cap, want 1", n)
	}
	// This call brings the gap to 9 ≥ 8: it must not return before record 2 succeeded.
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(6, 5), Checkpointer: cp})
	if n := pl.attempts[seq(2)]; n != 6 {
		t.Fatalf("record 2 attempted %d times, want 6 (retried until it succeeded)", n)
	}
	if p.gap() != 0 {
		t.Fatalf("gap %d after the stall, want 0", p.gap())
	}
	if v := c.metrics.Value(mStalls, "shard", "shardId-0"); v != 1 {
		t.Errorf("stalls = %v, want 1", v)
	}
	// A shutdown now flushes and checkpoints everything.
	p.Shutdown(&kcl.ShutdownInput{ShutdownReason: kcl.REQUESTED, Checkpointer: cp})
	if got := cp.last(); got != seq(10) {
		t.Fatalf("checkpoint after shutdown = %q, want %s", got, seq(10))
	}
	if !pl.closed {
		t.Error("pipeline not closed at shutdown")
	}
}

func TestGapStallEndsOnShutdown(t *testing.T) {
	pl := newFakePipeline()
	pl.fail = func(s string, _ int) bool { return s == seq(1) } // never succeeds
	c := testConsumer(t, pl, func(c *Config) { c.MaxGap = 3 })
	cp := &fakeCheckpointer{t: t, pl: pl, first: 1}
	p := newProc(c)
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(c.stopping)
	}()
	start := time.Now()
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(1, 5), Checkpointer: cp})
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("stalled ProcessRecords returned %s after the shutdown began", d)
	}
	p.Shutdown(&kcl.ShutdownInput{ShutdownReason: kcl.REQUESTED, Checkpointer: cp})
	if len(cp.cps) != 0 {
		t.Fatalf("checkpoint %v written past a record that never succeeded", cp.cps)
	}
}

func TestLeaseLostStopsWork(t *testing.T) {
	pl := newFakePipeline()
	c := testConsumer(t, pl, nil)
	cp := &fakeCheckpointer{t: t, pl: pl, first: 1, refuse: true}
	p := newProc(c)
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(1, 10), Checkpointer: cp})
	if !p.lost || !pl.closed {
		t.Fatalf("after a refused checkpoint: lost=%v closed=%v, want both", p.lost, pl.closed)
	}
	n := pl.processed
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(11, 10), Checkpointer: cp})
	if pl.processed != n {
		t.Errorf("processed %d more records after losing the lease", pl.processed-n)
	}
	if v := c.metrics.Value(mCheckpoints, "shard", "shardId-0", "result", "lease_lost"); v != 1 {
		t.Errorf("lease_lost checkpoints = %v, want 1", v)
	}
	if len(c.live) != 0 {
		t.Errorf("processor still registered after losing its lease")
	}
}

func TestCheckpointWriteErrorIsRetried(t *testing.T) {
	pl := newFakePipeline()
	c := testConsumer(t, pl, nil)
	cp := &fakeCheckpointer{t: t, pl: pl, first: 1, errOnce: errors.New("dynamodb throttled")}
	p := newProc(c)
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(1, 10), Checkpointer: cp})
	if len(cp.cps) != 0 {
		t.Fatalf("checkpoints %v, want none (the write failed)", cp.cps)
	}
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(11, 10), Checkpointer: cp})
	if got := cp.last(); got != seq(20) {
		t.Fatalf("checkpoint = %q, want %s", got, seq(20))
	}
	if v := c.metrics.Value(mCheckpointed, "shard", "shardId-0"); v != 20 {
		t.Errorf("checkpointed = %v, want 20", v)
	}
}

func TestShardEndCheckpointsOnlyWhenAllDurable(t *testing.T) {
	pl := newFakePipeline()
	pl.fail = func(s string, attempt int) bool { return s == seq(3) && attempt <= 3 }
	c := testConsumer(t, pl, func(c *Config) { c.FlushRecords = 1000 })
	cp := &fakeCheckpointer{t: t, pl: pl, first: 1}
	var hooks []string
	c.cfg.OnCheckpoint = func(_, s string) { hooks = append(hooks, s) }
	p := newProc(c)
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(1, 6), Checkpointer: cp})
	p.Shutdown(&kcl.ShutdownInput{ShutdownReason: kcl.TERMINATE, Checkpointer: cp})
	if len(cp.cps) < 2 || cp.cps[len(cp.cps)-2] != seq(6) || cp.last() != "SHARD_END" {
		t.Fatalf("checkpoints %v, want …%s, SHARD_END", cp.cps, seq(6))
	}
	if hooks[len(hooks)-1] != "SHARD_END" {
		t.Errorf("OnCheckpoint saw %v", hooks)
	}
	for i := 1; i <= 6; i++ {
		if !pl.isDurable(seq(i)) {
			t.Errorf("record %d not durable at SHARD_END", i)
		}
	}
}

func TestChildWaitsForParents(t *testing.T) {
	pl := newFakePipeline()
	c := testConsumer(t, pl, func(c *Config) { c.ParentPoll = 10 * time.Millisecond })
	items := &fakeItems{m: map[string]string{"shardId-0": seq(5)}}
	c.parents = &parentGate{kc: fakeShards{"shardId-0": nil, "shardId-1": nil, "shardId-2": {"shardId-0", "shardId-1"}}, ddb: items, maxAge: time.Minute}
	cp := &fakeCheckpointer{t: t, pl: pl, first: 1}
	p := factory{c}.CreateProcessor().(*processor)
	p.Initialize(&kcl.InitializationInput{ShardId: "shardId-2", ExtendedSequenceNumber: &kcl.ExtendedSequenceNumber{}})
	done := make(chan struct{})
	go func() {
		p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(1, 3), Checkpointer: cp})
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("child processed records while its parents were unfinished")
	case <-time.After(100 * time.Millisecond):
	}
	pl.mu.Lock()
	if pl.processed != 0 {
		t.Errorf("child processed %d records early", pl.processed)
	}
	pl.mu.Unlock()
	// The first parent ends; the second (merge's adjacent parent) is still open.
	items.set("shardId-0", "SHARD_END")
	select {
	case <-done:
		t.Fatal("child started with its adjacent parent unfinished")
	case <-time.After(100 * time.Millisecond):
	}
	items.set("shardId-1", "SHARD_END")
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("child still waiting after both parents finished")
	}
	if pl.processed != 3 {
		t.Errorf("child processed %d records, want 3", pl.processed)
	}
}

// Random process and flush failures: every checkpoint covers only durable
// records (checked by fakeCheckpointer), and once the failures stop the
// checkpoint reaches the last record.
func TestCheckpointPropertyRandomFailures(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 7))
			pl := newFakePipeline()
			failing := true
			pl.fail = func(string, int) bool { return failing && r.IntN(10) == 0 }
			pl.flushFail = func(int) bool { return failing && r.IntN(5) == 0 }
			c := testConsumer(t, pl, func(c *Config) { c.MaxGap = 40; c.FlushRecords = 15 })
			cp := &fakeCheckpointer{t: t, pl: pl, first: 1}
			p := newProc(c)
			next := 1
			for range 50 {
				n := r.IntN(12)
				p.ProcessRecords(&kcl.ProcessRecordsInput{Records: records(next, n), Checkpointer: cp})
				next += n
			}
			failing = false
			time.Sleep(10 * time.Millisecond)
			p.Shutdown(&kcl.ShutdownInput{ShutdownReason: kcl.TERMINATE, Checkpointer: cp})
			if cp.last() != "SHARD_END" {
				t.Fatalf("last checkpoint %q, want SHARD_END (records 1..%d)", cp.last(), next-1)
			}
			for i := 1; i < next; i++ {
				if !pl.isDurable(seq(i)) {
					t.Fatalf("record %d not durable at the end", i)
				}
			}
		})
	}
}

func TestWrapUnwrap(t *testing.T) {
	for _, data := range [][]byte{
		nil, []byte("plain"), append(append([]byte{}, kplMagic...), "agg"...),
		append(append([]byte{}, rawMarker...), "looks marked"...),
		append(append([]byte{}, rawMarker...), rawMarker...),
	} {
		w := wrapData(data)
		if len(w) >= 4 && string(w[:4]) == string(kplMagic) {
			t.Errorf("wrapped %q still starts with the KPL magic", data)
		}
		if got := unwrapData(w); string(got) != string(data) {
			t.Errorf("unwrap(wrap(%q)) = %q", data, got)
		}
	}
}

func TestConvertMatchesLambdaLineage(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	r := ktypes.Record{SequenceNumber: aws.String("4959"), Data: wrapData(append(append([]byte{}, kplMagic...), 'x')),
		PartitionKey: aws.String("pk"), ApproximateArrivalTimestamp: &at}
	rec := convert(&r, "arn:s", "shardId-000000000001", stream.FormatJSON)
	want := stream.Lineage{Kind: stream.OriginKinesis, Source: "arn:s", Shard: "shardId-000000000001", Sequence: "4959", SubSequence: -1}
	if rec.Lineage != want {
		t.Errorf("lineage %+v, want %+v", rec.Lineage, want)
	}
	if !strings.HasPrefix(string(rec.Data), string(kplMagic)) {
		t.Errorf("data not unwrapped: %q", rec.Data)
	}
	if !rec.ArrivalTime.Equal(time.Date(2026, 11, 1, 12, 0, 0, 123000000, time.UTC)) || rec.Format != stream.FormatJSON {
		t.Errorf("arrival %v format %v", rec.ArrivalTime, rec.Format)
	}
}

func TestMetricsExposition(t *testing.T) {
	m := NewMetrics()
	m.add(mRecords, labels("shard", `a"b`), 3)
	m.set(mBehind, labels("shard", "s1"), 1500)
	var b strings.Builder
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# TYPE gannet_kcl_records_total counter\n",
		`gannet_kcl_records_total{shard="a\"b"} 3` + "\n",
		`gannet_kcl_millis_behind_latest{shard="s1"} 1500` + "\n",
		"gannet_kcl_leases_held 0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q:\n%s", want, out)
		}
	}
}
