package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/lambdas/handler"
	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/sink/lake/s3store"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/decode"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/kpl"
	"github.com/gannet-sec/gannet/stream/partition"
	"github.com/gannet-sec/gannet/stream/reliability"
	"github.com/gannet-sec/gannet/stream/reliability/faultproxy"
	"github.com/gannet-sec/gannet/stream/reliability/harness"
	"github.com/gannet-sec/gannet/stream/setup"
)

// The stream rows of the fault matrix: partition's PutRecords partial
// failures, DynamoDB conditional-check failures while KCL workers take
// leases, an ingest invocation reaching its deadline mid-batch, and SIGKILL
// of a KCL worker at seeded random points. They run on a private kinesalite
// and dynalite (stacktest.StartPrivate: the shared ones are restarted by
// other work on this machine), the shared versitygw and Elasticsearch.

// streamEnv is the private Kinesis/DynamoDB pair, with a fault proxy in
// front of dynalite.
type streamEnv struct {
	ep       stacktest.Endpoints // Kinesis/DynamoDB: the private servers
	kc       *kinesis.Client
	ddb      *dynamodb.Client
	ddbProxy *faultproxy.Proxy
}

func (env *chaosEnv) streams(*testing.T) *streamEnv {
	if env.st != nil {
		return env.st
	}
	t := env.t // the servers outlive the subtest that starts them
	e := stacktest.Lookup()
	e.KinesisEndpoint = e.StartPrivate(t, stacktest.Kinesis).Endpoint
	e.DynamoDBEndpoint = e.StartPrivate(t, stacktest.DynamoDB).Endpoint
	st := &streamEnv{ep: e, kc: e.Kinesis(t), ddb: e.DynamoDB(t)}
	var err error
	if st.ddbProxy, err = faultproxy.New(e.DynamoDBEndpoint); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.ddbProxy.Close() })
	env.st = st
	return st
}

// workerEnv is the AWS environment of a KCL worker child.
func (st *streamEnv) workerEnv(ddbEndpoint string) []string {
	return []string{
		"AWS_ENDPOINT_URL_KINESIS=" + st.ep.KinesisEndpoint, "AWS_ENDPOINT_URL_DYNAMODB=" + ddbEndpoint,
		"AWS_REGION=" + stacktest.Region, "AWS_ACCESS_KEY_ID=" + st.ep.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + st.ep.SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PROFILE=",
	}
}

// createStream makes a stream of n shards, waits for it and returns its ARN.
func (st *streamEnv) createStream(t *testing.T, name string, n int32) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := st.kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(n)}); err != nil {
		t.Fatalf("CreateStream %s: %v", name, err)
	}
	w := kinesis.NewStreamExistsWaiter(st.kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 50*time.Second); err != nil {
		t.Fatalf("stream %s not ACTIVE: %v", name, err)
	}
	d, err := st.kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(d.StreamDescriptionSummary.StreamARN)
}

// put writes data as records (partition keys pk-0…pk-15) and returns them
// as pipeline records with the lineage Kinesis gave them.
func (st *streamEnv) put(t *testing.T, name, arn string, data [][]byte) []stream.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []stream.Record
	for start := 0; start < len(data); start += 500 {
		in := &kinesis.PutRecordsInput{StreamName: aws.String(name)}
		chunk := data[start:min(start+500, len(data))]
		for i, d := range chunk {
			in.Records = append(in.Records, ktypes.PutRecordsRequestEntry{Data: d, PartitionKey: aws.String(fmt.Sprintf("pk-%d", (start+i)%16))})
		}
		res, err := st.kc.PutRecords(ctx, in)
		if err != nil {
			t.Fatalf("PutRecords: %v", err)
		}
		if c := aws.ToInt32(res.FailedRecordCount); c != 0 {
			t.Fatalf("PutRecords: %d records failed", c)
		}
		for i, r := range res.Records {
			out = append(out, stream.Record{Data: chunk[i], PartitionKey: fmt.Sprintf("pk-%d", (start+i)%16),
				Lineage: stream.Lineage{Kind: stream.OriginKinesis, Source: arn, Shard: aws.ToString(r.ShardId),
					Sequence: aws.ToString(r.SequenceNumber), SubSequence: -1}})
		}
	}
	return out
}

// payloads are n generated lines of each of CloudTrail, ALB and WAF (seeded)
// and one record no parser knows.
func payloads(t *testing.T, n int, seed int64) [][]byte {
	var out [][]byte
	for i, f := range []stream.Format{stream.FormatCloudTrail, stream.FormatALB, stream.FormatWAF} {
		out = append(out, genLines(t, f, n, seed*10+int64(i))...)
	}
	return append(out, []byte("\x00\x01 garbage no parser knows"))
}

// expectUnits derives the units of records as a default pipeline sees them.
func expectUnits(recs []stream.Record) []reliability.Unit {
	cfg := config.Default()
	return reliability.Expect(recs, decode.New(decode.Options{MaxDecompressed: int64(cfg.MaxRecordBytes)}), format.NewSet(format.Options{}))
}

// ---------------------------------------------------------------- KCL rows

// kclRow is one KCL scenario: workers consume a 2-shard stream while
// records keep arriving; optionally one is SIGKILLed at a seeded random
// point, and/or dynalite (through the proxy) refuses some lease writes with
// ConditionalCheckFailedException.
type kclRow struct {
	name    string
	seed    uint64
	workers int
	kill    bool // SIGKILL worker-0 at a random point
	// ddbFaults injects this many ConditionalCheckFailedException answers to
	// lease writes (conditional PutItem: taking and renewing leases).
	ddbFaults int
}

func (env *chaosEnv) runKCL(t *testing.T, row kclRow) {
	st := env.streams(t)
	rng := rand.New(rand.NewPCG(row.seed, 0x9a77e7))
	name := stacktest.UniqueName(t, "rel")
	app := stacktest.UniqueName(t, "rel-leases")
	arn := st.createStream(t, name, 2)
	dir := t.TempDir()
	lakeDir, dlqDir := filepath.Join(dir, "lake"), filepath.Join(dir, "dlq")

	ddbEndpoint := st.ep.DynamoDBEndpoint
	var injected atomic.Int64
	if row.ddbFaults > 0 {
		st.ddbProxy.Clear()
		st.ddbProxy.ResetStats()
		var mu sync.Mutex
		frng := rand.New(rand.NewPCG(row.seed, 1))
		st.ddbProxy.Add(faultproxy.Rule{Name: "ddb-conditional-check-failed", Kind: faultproxy.Status, Times: row.ddbFaults,
			Status: http.StatusBadRequest, Header: map[string]string{"Content-Type": "application/x-amz-json-1.0"},
			Body: `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed (injected by faultproxy)"}`,
			Match: func(r *http.Request) bool {
				if r.Header.Get("X-Amz-Target") != "DynamoDB_20120810.PutItem" {
					return false
				}
				mu.Lock()
				defer mu.Unlock()
				if frng.IntN(3) != 0 {
					return false
				}
				injected.Add(1)
				return true
			}})
		defer st.ddbProxy.Clear()
		ddbEndpoint = st.ddbProxy.URL
	}

	data := payloads(t, 40+rng.IntN(40), int64(row.seed))
	rng.Shuffle(len(data), func(i, j int) { data[i], data[j] = data[j], data[i] })
	half := len(data) / 2
	recs := st.put(t, name, arn, data[:half])

	procs := make([]*harness.Process, row.workers)
	for i := range procs {
		w := harness.Worker{Stream: name, App: app, ID: fmt.Sprintf("worker-%d", i), Lake: lakeDir, DLQ: dlqDir, ES: env.ep.ESURL,
			Env: st.workerEnv(ddbEndpoint)}
		p, err := harness.Start(w, dir)
		if err != nil {
			t.Fatal(err)
		}
		procs[i] = p
		t.Cleanup(func() {
			if !p.Exited() {
				p.Kill()
			}
			if t.Failed() {
				t.Logf("--- %s log (tail):\n%s", p.Name, p.Tail(4000))
			}
		})
	}
	start := time.Now()
	// The rest arrives in three parts while the workers run; the kill
	// happens at a random point of the first 5 s (before the first lease,
	// mid-batch, between flushes, after a checkpoint…).
	killAt := time.Duration(rng.Int64N(int64(5 * time.Second)))
	rest := data[half:]
	parts := 3
	if row.kill {
		parts = 4 // the last part arrives after the kill, on the killed worker's shards too
	}
	for k := range parts {
		if k == 3 || row.kill && !procs[0].Exited() && time.Since(start) >= killAt {
			if d := killAt - time.Since(start); d > 0 {
				time.Sleep(d)
			}
			if !procs[0].Exited() {
				env.kill(t, procs[0], lakeDir, start, leasesHeld(t, st.ddb, app))
			}
		}
		part := rest[k*len(rest)/parts : (k+1)*len(rest)/parts]
		recs = append(recs, st.put(t, name, arn, part)...)
		time.Sleep(time.Duration(rng.Int64N(int64(1500 * time.Millisecond))))
	}

	units := expectUnits(recs)
	st0, err := lake.NewDirStore(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]string{} // each shard's last record
	for _, r := range recs {
		if cur := last[r.Lineage.Shard]; len(cur) < len(r.Lineage.Sequence) || len(cur) == len(r.Lineage.Sequence) && cur < r.Lineage.Sequence {
			last[r.Lineage.Shard] = r.Lineage.Sequence
		}
	}
	// Wait until every unit is in the lake or dead-lettered (the same
	// accounting, without Elasticsearch, which is checked after the stop)
	// and every shard's checkpoint has reached its last record: all of it
	// acknowledged while the workers run.
	deadline := time.Now().Add(120 * time.Second)
	for {
		rep, err := reliability.Account(context.Background(), row.name, len(recs), units, reliability.Outputs{Lake: st0, DLQ: dlqDir})
		taken := true
		if row.kill {
			// ... and the survivor holds the killed worker's leases.
			for _, h := range leasesHeld(t, st.ddb, app) {
				if strings.HasSuffix(h, "→"+procs[0].Name) {
					taken = false
				}
			}
		}
		acked := true
		cps := checkpoints(t, st.ddb, app)
		for shard, seq := range last {
			if cps[shard] != seq {
				acked = false
			}
		}
		if err == nil && rep.Lost == 0 && taken && acked {
			break
		}
		if time.Now().After(deadline) {
			if rep != nil {
				err = fmt.Errorf("%d of %d units neither in the lake nor dead-lettered; killed worker's leases taken over: %v; every checkpoint at its shard's last record: %v", rep.Lost, rep.Units, taken, acked)
			}
			t.Errorf("%s: after 120 s: %v", row.name, err)
			break
		}
		time.Sleep(time.Second)
	}
	for _, p := range procs {
		if p.Exited() {
			continue
		}
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("%s: %s: %v", row.name, p.Name, err)
		}
	}
	took := time.Since(start)
	if row.ddbFaults > 0 {
		s := st.ddbProxy.Stats()
		t.Logf("%s: dynalite saw %d requests through the proxy, %d conditional-check failures injected", row.name, s.Requests, s.Total())
		if s.Total() == 0 {
			t.Errorf("%s: no conditional-check failure was injected", row.name)
		}
	}
	// After every survivor stopped gracefully no lease is assigned and each
	// shard's checkpoint is still its last record.
	if held := leasesHeld(t, st.ddb, app); len(held) > 0 {
		t.Errorf("%s: leases still assigned after a graceful stop: %v", row.name, held)
	}
	for shard, cp := range checkpoints(t, st.ddb, app) {
		if last[shard] != "" && cp != last[shard] {
			t.Errorf("%s: shard %s checkpoint %q, want its last record %s", row.name, shard, cp, last[shard])
		}
	}
	rep, err := reliability.Account(context.Background(), row.name, len(recs), units, reliability.Outputs{
		Lake: st0, ES: &reliability.ES{URL: env.ep.ESURL}, DLQ: dlqDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d records, %d workers, %s", row.name, len(recs), row.workers, took.Round(100*time.Millisecond))
	env.reports = append(env.reports, rep)
	reliability.Check(t, rep)
	if rep.ByReason["format_unrecognised"] == 0 {
		t.Errorf("%s: the garbage record was not dead-lettered (got %v)", row.name, rep.ByReason)
	}
}

// kill SIGKILLs p and logs how far the run was.
func (env *chaosEnv) kill(t *testing.T, p *harness.Process, lakeDir string, start time.Time, leases []string) {
	n := 0
	if st, err := lake.NewDirStore(lakeDir); err == nil {
		if got, err := reliability.LakeEventIDs(context.Background(), st); err == nil {
			n = len(got)
		}
	}
	p.Kill()
	t.Logf("SIGKILL %s at %v (%d events in the lake then; leases %v)", p.Name, time.Since(start).Round(time.Millisecond), n, leases)
}

// checkpoints returns each shard's checkpoint.
func checkpoints(t *testing.T, ddb *dynamodb.Client, table string) map[string]string {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	var notFound *dtypes.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return nil // no worker has created the table yet
	}
	if err != nil {
		t.Errorf("scan %s: %v", table, err)
		return nil
	}
	cps := map[string]string{}
	for _, it := range out.Items {
		id, _ := it["ShardID"].(*dtypes.AttributeValueMemberS)
		cp, _ := it["Checkpoint"].(*dtypes.AttributeValueMemberS)
		if id != nil {
			cps[id.Value] = ""
			if cp != nil {
				cps[id.Value] = cp.Value
			}
		}
	}
	return cps
}

// leasesHeld lists the shards whose lease is still assigned.
func leasesHeld(t *testing.T, ddb *dynamodb.Client, table string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	var notFound *dtypes.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return nil // no worker has created the table yet
	}
	if err != nil {
		t.Errorf("scan %s: %v", table, err)
		return nil
	}
	var held []string
	for _, it := range out.Items {
		if a, ok := it["AssignedTo"].(*dtypes.AttributeValueMemberS); ok && a.Value != "" {
			id, _ := it["ShardID"].(*dtypes.AttributeValueMemberS)
			if id != nil {
				held = append(held, id.Value+"→"+a.Value)
			}
		}
	}
	return held
}

// ---------------------------------------------------------------- ingest: deadline mid-batch

// runIngestDeadline feeds lambdas/handler's Kinesis handler (what
// lambdas/ingest runs) from kinesalite through the event-source-mapping
// harness, with 2 s invocations (margin 0.5 s) while every Elasticsearch
// bulk request takes 300 ms more: invocations reach their deadline
// mid-batch, report the first unfinished record, and the harness retries
// from there.
func (env *chaosEnv) runIngestDeadline(t *testing.T, name string) {
	st := env.streams(t)
	ctx := context.Background()
	for _, p := range []*faultproxy.Proxy{env.es, env.s3} {
		p.Clear()
		p.ResetStats()
	}
	sname := stacktest.UniqueName(t, "rel-ingest")
	arn := st.createStream(t, sname, 2)
	recs := st.put(t, sname, arn, payloads(t, 30, 5))

	prefix := fmt.Sprintf("chaos/ingest-deadline-%d", time.Now().UnixNano())
	cfg := config.Default()
	cfg.DLQ = filepath.Join(t.TempDir(), "dlq")
	cfg.Lake = "s3://" + chaosBucket + "/" + prefix
	cfg.ESURL = env.es.URL
	cfg.IntelDemo = true
	b, err := setup.Build(ctx, cfg, setup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	env.es.Add(faultproxy.Rule{Name: "es-slow-bulk", Match: faultproxy.IsBulk, Kind: faultproxy.Delay, Delay: 300 * time.Millisecond})
	h := &handler.Kinesis{Pipeline: b.Pipeline, FormatFor: cfg.FormatFor, Margin: 500 * time.Millisecond, ChunkSize: 5, Logger: slog.New(slog.DiscardHandler)}
	m := &harness.ESM{Kinesis: st.kc, Stream: sname, StreamARN: arn, BatchSize: 100, Timeout: 2 * time.Second}
	if err := m.Drain(ctx, h.Handle); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	env.es.Clear()
	t.Logf("%s: %d records, %d invocations, %d retries (%d from inside a batch), %d bulk requests delayed",
		name, len(recs), m.Invocations, m.Retries, m.Tails, env.es.Stats().Total())
	if m.Tails == 0 {
		t.Errorf("%s: no invocation reached its deadline mid-batch (retries %d)", name, m.Retries)
	}
	if err := b.Close(ctx); err != nil {
		t.Errorf("%s: close: %v", name, err)
	}
	units := expectUnits(recs)
	rep, err := reliability.Account(ctx, name, len(recs), units, reliability.Outputs{
		Lake: s3store.New(s3store.FromClient(env.s3c), s3store.Options{Bucket: chaosBucket, Prefix: prefix + "/"}),
		ES:   &reliability.ES{URL: env.ep.ESURL}, DLQ: cfg.DLQ})
	if err != nil {
		t.Fatal(err)
	}
	env.reports = append(env.reports, rep)
	reliability.Check(t, rep)
}

// ---------------------------------------------------------------- partition: PutRecords partial failures

// throttled wraps kinesalite's PutRecords: in the first calls every third
// entry is answered ProvisionedThroughputExceededException (and not sent),
// as a hot shard would; then, for 2.5 s, every entry is, so an invocation
// runs out of time and the event source mapping retries it.
type throttled struct {
	c              *kinesis.Client
	calls          atomic.Int64
	rejected       atomic.Int64
	mu             sync.Mutex
	blackoutFrom   int64
	blackoutUntil  time.Time
	blackoutPassed bool
}

func (w *throttled) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	call := w.calls.Add(1)
	w.mu.Lock()
	if call == w.blackoutFrom {
		w.blackoutUntil = time.Now().Add(2500 * time.Millisecond)
	}
	blackout := time.Now().Before(w.blackoutUntil)
	w.mu.Unlock()
	reject := func(i int) bool { return blackout || (call <= 8 && i%3 == 1) }
	fwd := *in
	fwd.Records = nil
	var idx []int
	out := &kinesis.PutRecordsOutput{Records: make([]ktypes.PutRecordsResultEntry, len(in.Records))}
	for i, e := range in.Records {
		if reject(i) {
			w.rejected.Add(1)
			out.Records[i] = ktypes.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"),
				ErrorMessage: aws.String("Rate exceeded for shard shardId-000000000000 in stream (injected)")}
			continue
		}
		fwd.Records = append(fwd.Records, e)
		idx = append(idx, i)
	}
	if len(fwd.Records) > 0 {
		real, err := w.c.PutRecords(ctx, &fwd, opts...)
		if err != nil {
			return nil, err
		}
		for k, r := range real.Records {
			out.Records[idx[k]] = r
		}
	}
	failed := int32(0)
	for _, r := range out.Records {
		if r.ErrorCode != nil {
			failed++
		}
	}
	out.FailedRecordCount = aws.Int32(failed)
	return out, nil
}

// runPartition routes records (half KPL-aggregated) from an input stream to
// three output streams by format with lambdas/handler's Route handler (what
// lambdas/partition runs), fed by the event-source-mapping harness, while
// PutRecords answers partial failures; then reads every output stream back
// from kinesalite and accounts each input user record in the stream it
// belongs to.
func (env *chaosEnv) runPartition(t *testing.T, name string) {
	st := env.streams(t)
	ctx := context.Background()
	in := stacktest.UniqueName(t, "rel-part-in")
	inARN := st.createStream(t, in, 1)
	routes := map[string]string{}
	for _, k := range []string{"cloudtrail", "alb", "*"} {
		s := stacktest.UniqueName(t, "rel-part-"+strings.Trim(k, "*"))
		st.createStream(t, s, 2)
		routes[k] = s
	}
	// Input: generated CloudTrail, ALB and WAF lines (WAF goes to "*"), each
	// distinct; every other one KPL-aggregated in groups, as a producer sends them.
	lines := payloads(t, 60, 9)
	lines = lines[:len(lines)-1] // partition forwards anything; no garbage needed here
	seen := map[string]bool{}
	var data [][]byte
	agg := kpl.NewAggregator(32 << 10)
	for i, l := range lines {
		if seen[string(l)] {
			continue
		}
		seen[string(l)] = true
		if i%2 == 0 {
			data = append(data, l)
			continue
		}
		out, err := agg.Add(fmt.Sprintf("pk-%d", i%7), "", l)
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			data = append(data, out.Data)
		}
	}
	if out := agg.Flush(); out != nil {
		data = append(data, out.Data)
	}
	recs := st.put(t, in, inARN, data)

	api := &throttled{c: st.kc, blackoutFrom: 10}
	r, err := partition.New(api, partition.Config{Mode: partition.ByFormat, Routes: routes, MaxRecordSize: 8 << 10,
		InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h := &handler.Route{Router: r, Margin: 500 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	m := &harness.ESM{Kinesis: st.kc, Stream: in, StreamARN: inARN, BatchSize: 25, Timeout: 2 * time.Second}
	if err := m.Drain(ctx, h.Handle); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s: %d input records, %d invocations, %d retries, %d entries rejected", name, len(recs), m.Invocations, m.Retries, api.rejected.Load())
	if api.rejected.Load() == 0 || m.Retries == 0 {
		t.Errorf("%s: the faults did not happen (rejected %d, retries %d)", name, api.rejected.Load(), m.Retries)
	}

	// Read every output stream back, de-aggregated.
	got := map[string]map[string]int{} // stream → data → count
	for _, s := range routes {
		got[s] = readStream(t, st.kc, s)
	}
	units := reliability.ExpectData(recs, decode.New(decode.Options{}), nil)
	delivered := map[string]int{}
	misrouted, extra := 0, 0
	inputs := map[string]bool{}
	for _, u := range units {
		k := partition.LogType(u.Data)
		if _, ok := routes[k]; !ok {
			k = "*"
		}
		delivered[u.ID.String()] = got[routes[k]][string(u.Data)]
		inputs[string(u.Data)] = true
		for s, m := range got {
			if s != routes[k] && m[string(u.Data)] > 0 {
				misrouted++
			}
		}
	}
	dups := 0
	for _, m := range got {
		for d, n := range m {
			if !inputs[d] {
				extra++
			}
			if n > 1 {
				dups++
			}
		}
	}
	if misrouted > 0 || extra > 0 {
		t.Errorf("%s: %d user records in a wrong stream, %d that were never sent", name, misrouted, extra)
	}
	t.Logf("%s: %d user records; %d read back more than once (at least once: the retry resends what had landed after the first failure)", name, len(units), dups)
	rep, err := reliability.Account(ctx, name, len(recs), units, reliability.Outputs{Streams: delivered})
	if err != nil {
		t.Fatal(err)
	}
	env.reports = append(env.reports, rep)
	reliability.Check(t, rep)
}

// readStream reads every record of every shard of a stream, de-aggregates
// it and counts each user record's data.
func readStream(t *testing.T, kc *kinesis.Client, name string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, d := range stacktest.ReadAggregated(t, kc, name) {
		out[d]++
	}
	return out
}

// TestIntegrationConsumersStartTogether: KCL workers of a new application
// started at the same moment race to create the lease table; every one of
// them must start (v1.0.0 made the losers of CreateTable exit with
// ResourceInUseException — found by the SIGKILL rows, seeds 9 and 10).
func TestIntegrationConsumersStartTogether(t *testing.T) {
	e := stacktest.Lookup()
	e.KinesisEndpoint = e.StartPrivate(t, stacktest.Kinesis).Endpoint
	e.DynamoDBEndpoint = e.StartPrivate(t, stacktest.DynamoDB).Endpoint
	st := &streamEnv{ep: e, kc: e.Kinesis(t), ddb: e.DynamoDB(t)}
	name := stacktest.UniqueName(t, "together")
	st.createStream(t, name, 4)
	app := stacktest.UniqueName(t, "together-leases")
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 4
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		w := harness.Worker{Stream: name, App: app, ID: fmt.Sprintf("worker-%d", i), Lake: filepath.Join(dir, "lake"), DLQ: filepath.Join(dir, "dlq")}
		c, err := w.Consumer(ctx, e.AWSConfig(t), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			<-start
			errs <- c.Run(ctx)
		}()
	}
	close(start)
	// Every worker runs until the cancel, and the 4 shards get leased.
	deadline := time.Now().Add(30 * time.Second)
	for len(leasesHeld(t, st.ddb, app)) < 4 && time.Now().Before(deadline) {
		select {
		case err := <-errs:
			t.Fatalf("a worker stopped at start-up: %v", err)
		case <-time.After(250 * time.Millisecond):
		}
	}
	if held := leasesHeld(t, st.ddb, app); len(held) < 4 {
		t.Errorf("after 30 s only %d of 4 shards are leased: %v", len(held), held)
	}
	cancel()
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
}
