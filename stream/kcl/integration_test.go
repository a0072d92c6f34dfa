package kcl

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/olivere/elastic/v7"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/pipeline"
	"github.com/gannet-sec/gannet/stream/setup"
)

// Environment of a worker child process (the test binary re-executed).
const (
	envChild   = "GANNET_KCL_TEST_CHILD"
	envStream  = "GANNET_KCL_TEST_STREAM"
	envTable   = "GANNET_KCL_TEST_TABLE"
	envWorker  = "GANNET_KCL_TEST_WORKER"
	envLake    = "GANNET_KCL_TEST_LAKE"
	envDLQ     = "GANNET_KCL_TEST_DLQ"
	envESURL   = "GANNET_KCL_TEST_ES"
	envMetrics = "GANNET_KCL_TEST_METRICS"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(childWorker())
	}
	os.Exit(m.Run())
}

// fastTiming shortens the KCL's intervals for tests.
func fastTiming(c *Config) {
	c.FailoverTime = 3 * time.Second
	c.LeaseRefresh = 750 * time.Millisecond
	c.IdleTime = 200 * time.Millisecond
	c.ShardSync = time.Second
	c.ParentPoll = 300 * time.Millisecond
	c.FlushInterval = time.Second
	c.FlushRecords = 2000
	c.MaxRecords = 500
	c.ShutdownTimeout = 15 * time.Second
}

// childWorker runs one consumer the way `gannet consume` does (AWS
// endpoints from AWS_ENDPOINT_URL_KINESIS / _DYNAMODB, pipeline from
// setup.Build) until SIGTERM.
func childWorker() int {
	ctx, stop := signalContext()
	defer stop()
	log := newChildLogger()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("aws config", "error", err)
		return 1
	}
	gc := config.Default()
	gc.Format = "json"
	gc.Detect = false
	gc.Lake = os.Getenv(envLake)
	gc.DLQ = os.Getenv(envDLQ)
	gc.ESURL = os.Getenv(envESURL)
	cfg := Config{Stream: os.Getenv(envStream), App: os.Getenv(envTable), WorkerID: os.Getenv(envWorker), AWS: awsCfg,
		NewPipeline: SetupFactory(gc, setup.Options{Logger: log}), FormatFor: gc.FormatFor, Logger: log,
		LeaseStealing: true}
	fastTiming(&cfg)
	c, err := New(ctx, cfg)
	if err != nil {
		log.Error("consumer", "error", err)
		return 1
	}
	if path := os.Getenv(envMetrics); path != "" {
		defer func() {
			f, err := os.Create(path)
			if err == nil {
				_, _ = c.Metrics().WriteTo(f)
				_ = f.Close()
			}
		}()
	}
	if err := c.Run(ctx); err != nil {
		log.Error("run", "error", err)
		return 1
	}
	return 0
}

type worker struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	logPath string
}

func startWorker(t *testing.T, env []string, name, logDir string) *worker {
	t.Helper()
	w := &worker{name: name, done: make(chan struct{}), logPath: filepath.Join(logDir, name+".log")}
	logf, err := os.Create(w.logPath)
	if err != nil {
		t.Fatal(err)
	}
	w.cmd = exec.Command(os.Args[0], "-test.run=^$")
	w.cmd.Env = append(append(os.Environ(), env...), envChild+"=1", envWorker+"="+name,
		envMetrics+"="+filepath.Join(logDir, name+".metrics"))
	w.cmd.Stdout, w.cmd.Stderr = logf, logf
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		w.err = w.cmd.Wait()
		_ = logf.Close()
		close(w.done)
	}()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			_ = w.cmd.Process.Kill()
			<-w.done
		}
		if t.Failed() {
			dumpLog(t, name, w.logPath)
		}
	})
	return w
}

// waitFor polls cond every interval until it is true or timeout passes.
func waitFor(t *testing.T, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
}

// 1. Two worker processes on a 4-shard stream, 20k records; one is killed
// with SIGKILL midway and the other takes its leases. Every record is in the
// lake at least once and, when Elasticsearch is running, in it exactly once
// by event.id; the survivor's checkpoints end at each shard's last record.
func TestIntegrationTwoWorkersOneKilled(t *testing.T) {
	ep := localAWS(t)
	kc, ddb := ep.Kinesis(t), ep.DynamoDB(t)
	name := stacktest.UniqueName(t, "kcl")
	table := stacktest.UniqueName(t, "leases")
	arn := createStream(t, kc, name, 4)
	dir := t.TempDir()
	lakeDir, dlqDir := filepath.Join(dir, "lake"), filepath.Join(dir, "dlq")
	esURL := ""
	if ep.ESURL != "" && reachable(ep.ESURL) {
		esURL = ep.ESURL
	} else {
		t.Logf("Elasticsearch not running: checking the lake only")
	}
	env := []string{
		envStream + "=" + name, envTable + "=" + table, envLake + "=" + lakeDir, envDLQ + "=" + dlqDir, envESURL + "=" + esURL,
		"AWS_ENDPOINT_URL_KINESIS=" + ep.KinesisEndpoint, "AWS_ENDPOINT_URL_DYNAMODB=" + ep.DynamoDBEndpoint,
		"AWS_REGION=" + stacktest.Region, "AWS_ACCESS_KEY_ID=" + ep.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ep.SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	const n = 20000
	t0 := time.Now()
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(t0).Seconds(), what) }
	puts := putJSON(t, kc, name, 0, n/2)
	phase("first half put")

	a := startWorker(t, env, "worker-a", dir)
	waitFor(t, 40*time.Second, 250*time.Millisecond, "worker-a to hold leases", func() bool {
		held := 0
		for _, it := range leaseItems(t, ddb, table) {
			if it["AssignedTo"] == "worker-a" {
				held++
			}
		}
		return held >= 3
	})
	phase("worker-a holds 3 leases")
	b := startWorker(t, env, "worker-b", dir)
	want1 := eventIDs(arn, puts)
	var aShards []string
	waitFor(t, 60*time.Second, time.Second, "worker-b to take a lease and a quarter of the records to land", func() bool {
		items := leaseItems(t, ddb, table)
		aShards = aShards[:0]
		bHeld := 0
		for id, it := range items {
			switch it["AssignedTo"] {
			case "worker-a":
				aShards = append(aShards, id)
			case "worker-b":
				bHeld++
			}
		}
		return bHeld > 0 && len(aShards) > 0 && len(want1)-missing(want1, lakeIDs(t, lakeDir)) >= n/8
	})
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL worker-a: %v", err)
	}
	<-a.done
	phase(fmt.Sprintf("worker-a killed holding %v", aShards))

	puts = append(puts, putJSON(t, kc, name, n/2, n/2)...)
	phase("second half put")
	want := eventIDs(arn, puts)
	if len(want) != n {
		t.Fatalf("%d distinct ids for %d records", len(want), n)
	}
	var got map[string]int
	waitFor(t, 100*time.Second, 2*time.Second, "every record in the lake", func() bool {
		got = lakeIDs(t, lakeDir)
		return missing(want, got) == 0
	})
	phase("every record in the lake")
	// worker-b now holds the leases worker-a had.
	items := leaseItems(t, ddb, table)
	for _, id := range aShards {
		if o := items[id]["AssignedTo"]; o != "worker-b" {
			t.Errorf("shard %s (worker-a's) is assigned to %q, want worker-b", id, o)
		}
	}
	// A graceful stop flushes, checkpoints each shard's last record and releases the leases.
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		t.Fatal("worker-b did not stop within 30s of SIGTERM")
	}
	if b.err != nil {
		t.Errorf("worker-b exited with %v", b.err)
	}
	phase("worker-b stopped")
	items = leaseItems(t, ddb, table)
	for shard, last := range lastSeqByShard(puts) {
		it := items[shard]
		if it["Checkpoint"] != last {
			t.Errorf("shard %s: checkpoint %q, want its last record %s", shard, it["Checkpoint"], last)
		}
		if o, ok := it["AssignedTo"]; ok {
			t.Errorf("shard %s: lease still assigned to %q after a graceful stop", shard, o)
		}
	}
	dups := 0
	for id := range want {
		if got[id] > 1 {
			dups++
		}
	}
	extra := 0
	for id := range got {
		if !want[id] {
			extra++
		}
	}
	if extra > 0 {
		t.Errorf("%d ids in the lake that were never put", extra)
	}
	t.Logf("lake: %d/%d records present, %d present more than once (re-read after the kill)", n-missing(want, got), n, dups)
	if m, err := os.ReadFile(filepath.Join(dir, "worker-b.metrics")); err == nil {
		for _, l := range strings.Split(string(m), "\n") {
			if strings.HasPrefix(l, "gannet_kcl_records_checkpointed_total") || strings.HasPrefix(l, "gannet_kcl_lease_events_total") {
				t.Logf("worker-b %s", l)
			}
		}
	} else {
		t.Errorf("worker-b wrote no metrics: %v", err)
	}

	if esURL != "" {
		es := ep.Elastic(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := es.Refresh("gannet-json*").Do(ctx); err != nil {
			t.Fatalf("refresh: %v", err)
		}
		ids := sortedKeys(want)
		total := int64(0)
		for start := 0; start < len(ids); start += 5000 {
			end := min(start+5000, len(ids))
			c, err := es.Count("gannet-json*").Query(elastic.NewIdsQuery().Ids(ids[start:end]...)).Do(ctx)
			if err != nil {
				t.Fatalf("count: %v", err)
			}
			total += c
		}
		if total != n {
			t.Errorf("Elasticsearch holds %d documents with the %d expected ids, want exactly %d", total, n, n)
		}
		t.Logf("elasticsearch: %d documents for %d records (exactly once by event.id)", total, n)
	}
}

// recordingPipeline notes when each shard first processed a record.
type recordingPipeline struct {
	Pipeline
	shard string
	first *sync.Map // shard → time.Time
}

func (r recordingPipeline) Process(ctx context.Context, recs []stream.Record) pipeline.Result {
	if len(recs) > 0 {
		r.first.LoadOrStore(r.shard, time.Now())
	}
	return r.Pipeline.Process(ctx, recs)
}

// 3. A shard split during consumption loses no record, and the parent is
// finished (SHARD_END) before either child processes a record.
func TestIntegrationShardSplit(t *testing.T) {
	ep := localAWS(t)
	kc, ddb := ep.Kinesis(t), ep.DynamoDB(t)
	name := stacktest.UniqueName(t, "split")
	table := stacktest.UniqueName(t, "leases")
	arn := createStream(t, kc, name, 1)
	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	gc := config.Default()
	gc.Format, gc.Detect, gc.Lake, gc.DLQ = "json", false, lakeDir, filepath.Join(dir, "dlq")

	var first sync.Map
	var mu sync.Mutex
	shardEnd := map[string]time.Time{}
	base := SetupFactory(gc, setup.Options{})
	cfg := Config{Stream: name, App: table, WorkerID: "split-worker", AWS: ep.AWSConfig(t), FormatFor: gc.FormatFor,
		Logger: testLogger(t, "split-worker"),
		NewPipeline: func(ctx context.Context, shard string) (Pipeline, error) {
			p, err := base(ctx, shard)
			if err != nil {
				return nil, err
			}
			return recordingPipeline{Pipeline: p, shard: shard, first: &first}, nil
		},
		OnCheckpoint: func(shard, seq string) {
			if seq == "SHARD_END" {
				mu.Lock()
				shardEnd[shard] = time.Now()
				mu.Unlock()
			}
		},
	}
	fastTiming(&cfg)
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30s of the cancel")
		}
	}()

	puts := putJSON(t, kc, name, 0, 3000)
	parent := puts[0].shard
	waitFor(t, 40*time.Second, 250*time.Millisecond, "a checkpoint on the parent", func() bool {
		return leaseItems(t, ddb, table)[parent]["Checkpoint"] != ""
	})
	// Split the parent at the middle of the hash key space while it is consumed.
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if _, err := kc.SplitShard(sctx, &kinesis.SplitShardInput{StreamName: aws.String(name), ShardToSplit: aws.String(parent),
		NewStartingHashKey: aws.String("170141183460469231731687303715884105728")}); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	waitActive(t, kc, name)
	puts = append(puts, putJSON(t, kc, name, 3000, 3000)...)
	children := map[string]bool{}
	for _, p := range puts[3000:] {
		children[p.shard] = true
	}
	if len(children) != 2 || children[parent] {
		t.Fatalf("records after the split went to %v, want the two children of %s", sortedKeys(children), parent)
	}
	want := eventIDs(arn, puts)
	var got map[string]int
	waitFor(t, 90*time.Second, time.Second, "every record in the lake", func() bool {
		got = lakeIDs(t, lakeDir)
		return missing(want, got) == 0
	})

	mu.Lock()
	end, ok := shardEnd[parent]
	mu.Unlock()
	if !ok {
		t.Fatalf("parent %s never checkpointed SHARD_END", parent)
	}
	if cp := leaseItems(t, ddb, table)[parent]["Checkpoint"]; cp != "SHARD_END" {
		t.Errorf("parent checkpoint %q, want SHARD_END", cp)
	}
	for child := range children {
		v, ok := first.Load(child)
		if !ok {
			t.Errorf("child %s processed nothing", child)
			continue
		}
		if ft := v.(time.Time); ft.Before(end) {
			t.Errorf("child %s processed records at %s, before its parent finished at %s", child, ft.Format(time.StampMicro), end.Format(time.StampMicro))
		}
	}
	if v := c.Metrics().Value(mCheckpoints, "shard", parent, "result", "lease_lost"); v != 0 {
		t.Errorf("%v refused checkpoints on the parent", v)
	}
	t.Logf("split: %d records, parent %s finished, children %v", len(want), parent, sortedKeys(children))
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
}

func newChildLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
