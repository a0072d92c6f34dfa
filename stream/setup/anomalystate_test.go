package setup

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
)

// TestAnomalyStateSurvivesRestart: a pipeline with anomaly_state learns
// baselines from ALB traffic, snapshots them at Close, and the next Build
// with the same state name restores exactly those baselines.
func TestAnomalyStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DLQ = filepath.Join(dir, "dlq")
	cfg.Anomaly = true
	cfg.AnomalyState = filepath.Join(dir, "state")
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
