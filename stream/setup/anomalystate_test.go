package setup

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
)

// anomalyConfig is the default configuration with anomaly detection on,
// dead letters in dir/dlq and the anomaly state in dir/state.
func anomalyConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.DLQ = filepath.Join(dir, "dlq")
	cfg.Anomaly = true
	cfg.AnomalyState = filepath.Join(dir, "state")
	return cfg
}

// TestAnomalyStateSurvivesRestart: a pipeline with anomaly_state learns
// baselines from ALB traffic, snapshots them at Close, and the next Build
// with the same state name restores exactly those baselines.
func TestAnomalyStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := anomalyConfig(dir)
	ctx := context.Background()

	var logs bytes.Buffer
	if err := format.Generate(stream.FormatALB, &logs, gen.Options{Count: 2000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	var recs []stream.Record
	for i, line := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
		recs = append(recs, stream.Record{Data: line, Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "alb", Offset: int64(i), SubSequence: -1}})
	}

	first, err := Build(ctx, cfg, Options{StateName: "shardId-000000000001"})
	if err != nil {
		t.Fatal(err)
	}
	if res := first.Pipeline.Process(ctx, recs); len(res.Failed) != 0 {
		t.Fatalf("failed: %v (%v)", res.Failed, res.Err)
	}
	var learned bytes.Buffer
	if err := first.Detector.SnapshotAnomaly(&learned); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(learned.String(), `"ip"`) {
		t.Fatalf("nothing learned from 2000 ALB lines: %.200s", learned.String())
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(cfg.AnomalyState, "shardId-000000000001.anomaly")
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no snapshot written at Close: %v", err)
	}
	if !bytes.Equal(onDisk, learned.Bytes()) {
		t.Fatalf("snapshot on disk (%d B) differs from the learned state (%d B)", len(onDisk), learned.Len())
	}

	var logOut bytes.Buffer
	second, err := Build(ctx, cfg, Options{StateName: "shardId-000000000001", Logger: textLogger(&logOut)})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(ctx)
	var restored bytes.Buffer
	if err := second.Detector.SnapshotAnomaly(&restored); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(restored.Bytes(), learned.Bytes()) {
		t.Errorf("restored baselines differ from the snapshot (%d B vs %d B)", restored.Len(), learned.Len())
	}
	if !strings.Contains(logOut.String(), "anomaly state restored") {
		t.Errorf("restore not logged: %s", logOut.String())
	}

	// Another shard starts from nothing; a damaged file is logged, not fatal.
	if err := os.WriteFile(filepath.Join(cfg.AnomalyState, "other.anomaly"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	logOut.Reset()
	third, err := Build(ctx, cfg, Options{StateName: "other", Logger: textLogger(&logOut)})
	if err != nil {
		t.Fatalf("a damaged snapshot stopped the build: %v", err)
	}
	defer third.Close(ctx)
	if !strings.Contains(logOut.String(), "anomaly state not restored") {
		t.Errorf("damaged snapshot not reported: %s", logOut.String())
	}
}

func TestAnomalyStateNeedsAnomaly(t *testing.T) {
	if _, err := config.Load("", func(k string) (string, bool) {
		v, ok := map[string]string{"GANNET_ANOMALY_STATE": "/tmp/x"}[k]
		return v, ok
	}); err == nil || !strings.Contains(err.Error(), "anomaly_state") {
		t.Fatalf("anomaly_state without anomaly: %v", err)
	}
	if got := stateFileName("../shard/1"); got != "_shard_1.anomaly" {
		t.Errorf("stateFileName = %q", got)
	}
}

func textLogger(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

// albRecords returns n generated ALB log lines as records.
func albRecords(t *testing.T, n int, seed int64) []stream.Record {
	t.Helper()
	var logs bytes.Buffer
	if err := format.Generate(stream.FormatALB, &logs, gen.Options{Count: n, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	var recs []stream.Record
	for i, line := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
		recs = append(recs, stream.Record{Data: line, Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "alb", Offset: int64(i), SubSequence: -1}})
	}
	return recs
}

// fakeClock replaces the periodic saver's clock; the returned function
// moves it forward.
func fakeClock(t *testing.T, b *Built) (advance func(time.Duration)) {
	t.Helper()
	if b.anomalySaver == nil {
		t.Fatal("no periodic anomaly snapshots configured")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.anomalySaver.now = func() time.Time { return now }
	b.anomalySaver.last = now
	return func(d time.Duration) { now = now.Add(d) }
}

func learnedState(t *testing.T, b *Built) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := b.Detector.SnapshotAnomaly(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

// TestAnomalyPeriodicSnapshotSurvivesKill: with anomaly_snapshot_interval, a
// consumer snapshots its baselines at the first successful flush after the
// interval, while it runs; a consumer killed afterwards (its state directory
// copied before any Close, as a SIGKILL would leave it) restarts with the
// baselines of that snapshot, not from zero.
func TestAnomalyPeriodicSnapshotSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	cfg := anomalyConfig(dir)
	cfg.AnomalySnapshotInterval = time.Minute
	ctx := context.Background()
	recs := albRecords(t, 3000, 3)
	path := filepath.Join(cfg.AnomalyState, "shardId-000000000001.anomaly")

	var logOut bytes.Buffer
	first, err := Build(ctx, cfg, Options{StateName: "shardId-000000000001", DeferFlush: true, Logger: debugLogger(&logOut)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Close(ctx) })
	advance := fakeClock(t, first)
	process := func(recs []stream.Record) {
		t.Helper()
		if res := first.Pipeline.Process(ctx, recs); len(res.Failed) != 0 {
			t.Fatalf("failed: %v (%v)", res.Failed, res.Err)
		}
	}
	noSnapshot := func(when string) {
		t.Helper()
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("%s: snapshot file exists already (%v)", when, err)
		}
	}

	process(recs[:1000])
	if err := first.Pipeline.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	noSnapshot("flush before the interval")
	advance(time.Minute)
	process(recs[1000:2000])
	noSnapshot("Process with DeferFlush (nothing durable yet)")
	if err := first.Pipeline.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	learned := learnedState(t, first)
	if !strings.Contains(string(learned), `"ip"`) {
		t.Fatalf("nothing learned from 2000 ALB lines: %.200s", learned)
	}
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no periodic snapshot after the interval and a flush: %v", err)
	}
	if !bytes.Equal(onDisk, learned) {
		t.Fatalf("periodic snapshot (%d B) differs from the learned state (%d B)", len(onDisk), len(learned))
	}
	if !strings.Contains(logOut.String(), "anomaly state saved") || !strings.Contains(logOut.String(), path) {
		t.Errorf("periodic snapshot not logged with its path: %s", logOut.String())
	}
	if tmps, _ := filepath.Glob(filepath.Join(cfg.AnomalyState, "*.tmp")); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}

	// More learning, then the kill: no Close, no further snapshot.
	process(recs[2000:])
	if bytes.Equal(learnedState(t, first), learned) {
		t.Fatal("the last 1000 lines changed nothing; the test cannot tell the snapshot from the live state")
	}
	killed := filepath.Join(dir, "killed")
	copyDir(t, cfg.AnomalyState, killed)

	cfg2 := cfg
	cfg2.AnomalyState = killed
	logOut.Reset()
	second, err := Build(ctx, cfg2, Options{StateName: "shardId-000000000001", DeferFlush: true, Logger: textLogger(&logOut)})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(ctx)
	if restored := learnedState(t, second); !bytes.Equal(restored, learned) {
		t.Errorf("restored baselines (%d B) differ from the periodic snapshot (%d B)", len(restored), len(learned))
	}
	if !strings.Contains(logOut.String(), "anomaly state restored") {
		t.Errorf("restore not logged: %s", logOut.String())
	}
}

// TestAnomalyPeriodicSnapshotFailure: a periodic snapshot that cannot be
// written (the state directory removed) is logged with its path and error,
// Process acknowledges its batch all the same, and the snapshot is tried
// again one interval later.
func TestAnomalyPeriodicSnapshotFailure(t *testing.T) {
	dir := t.TempDir()
	cfg := anomalyConfig(dir)
	cfg.AnomalySnapshotInterval = time.Minute
	ctx := context.Background()
	recs := albRecords(t, 1500, 5)
	path := filepath.Join(cfg.AnomalyState, "gannet.anomaly")

	var logOut bytes.Buffer
	b, err := Build(ctx, cfg, Options{Logger: textLogger(&logOut)}) // no DeferFlush: every Process flushes
	if err != nil {
		t.Fatal(err)
	}
	advance := fakeClock(t, b)
	if err := os.RemoveAll(cfg.AnomalyState); err != nil {
		t.Fatal(err)
	}
	advance(time.Minute)
	if res := b.Pipeline.Process(ctx, recs[:500]); len(res.Failed) != 0 || res.Err != nil {
		t.Fatalf("a failed snapshot failed the batch: %v (%v)", res.Failed, res.Err)
	}
	log := logOut.String()
	if !strings.Contains(log, "anomaly state not saved") || !strings.Contains(log, path) || !strings.Contains(log, "no such file or directory") {
		t.Fatalf("failed snapshot not logged with path and error: %s", log)
	}
	if st := b.Pipeline.Stats(); st.Failed != 0 || st.Acked != 500 {
		t.Errorf("acked %d, failed %d; want 500, 0", st.Acked, st.Failed)
	}

	// The directory is back: nothing before the next interval, then a snapshot.
	if err := os.MkdirAll(cfg.AnomalyState, 0o750); err != nil {
		t.Fatal(err)
	}
	if res := b.Pipeline.Process(ctx, recs[500:1000]); len(res.Failed) != 0 {
		t.Fatalf("failed: %v (%v)", res.Failed, res.Err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("snapshot retried before the interval (%v)", err)
	}
	advance(time.Minute)
	if res := b.Pipeline.Process(ctx, recs[1000:]); len(res.Failed) != 0 {
		t.Fatalf("failed: %v (%v)", res.Failed, res.Err)
	}
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("snapshot not retried at the next interval: %v", err)
	}
	if !bytes.Equal(onDisk, learnedState(t, b)) {
		t.Error("retried snapshot differs from the learned state")
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestAnomalySnapshotInterval: config.Load's default (5m with anomaly_state)
// reaches the saver; 0s leaves snapshots to Close.
func TestAnomalySnapshotInterval(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	env := map[string]string{"GANNET_ANOMALY": "true", "GANNET_ANOMALY_STATE": filepath.Join(dir, "state"), "GANNET_DLQ": filepath.Join(dir, "dlq")}
	load := func() config.Config {
		t.Helper()
		cfg, err := config.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	b, err := Build(ctx, load(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.anomalySaver == nil || b.anomalySaver.every != 5*time.Minute {
		t.Errorf("default periodic snapshots: %+v, want every 5m", b.anomalySaver)
	}
	b.Close(ctx)

	env["GANNET_ANOMALY_SNAPSHOT_INTERVAL"] = "0s"
	b, err = Build(ctx, load(), Options{StateName: "zero"})
	if err != nil {
		t.Fatal(err)
	}
	if b.anomalySaver != nil {
		t.Fatalf("anomaly_snapshot_interval 0s still snapshots every %s", b.anomalySaver.every)
	}
	if res := b.Pipeline.Process(ctx, albRecords(t, 300, 7)); len(res.Failed) != 0 {
		t.Fatalf("failed: %v (%v)", res.Failed, res.Err)
	}
	path := filepath.Join(dir, "state", "zero.anomaly")
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("0s: snapshot written before Close (%v)", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("0s: no snapshot at Close: %v", err)
	}
}

func debugLogger(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
