package setup

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
)

func TestBuildLocalOutputs(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DLQ = filepath.Join(dir, "dlq")
	cfg.Out = filepath.Join(dir, "events.ndjson")
	cfg.Lake = filepath.Join(dir, "lake")
	cfg.IntelDemo = true
	var alertsOut bytes.Buffer
	b, err := Build(context.Background(), cfg, Options{AlertsTo: &alertsOut})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if err := format.Generate(stream.FormatCloudTrail, &logs, gen.Options{Count: 200, Seed: 1, Attacks: true}); err != nil {
		t.Fatal(err)
	}
	var recs []stream.Record
	for i, line := range bytes.Split(bytes.TrimSpace(logs.Bytes()), []byte("\n")) {
		recs = append(recs, stream.Record{Data: line, Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "t", Offset: int64(i), SubSequence: -1}})
	}
	recs = append(recs, stream.Record{Data: []byte("garbage"), Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "t", Offset: 999, SubSequence: -1}})
	res := b.Pipeline.Process(context.Background(), recs)
	if len(res.Failed) != 0 {
		t.Fatalf("failed: %v (%v)", res.Failed, res.Err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := b.Pipeline.Stats()
	if st.Events != 200 || st.DeadLetters != 1 || st.Alerts == 0 {
		t.Fatalf("stats: events %d, dead letters %d, alerts %d", st.Events, st.DeadLetters, st.Alerts)
	}
	if !strings.Contains(alertsOut.String(), "ALERT") {
		t.Error("no alert line written")
	}
	data, _ := os.ReadFile(cfg.Out)
	if n := bytes.Count(data, []byte("\n")); n != 200 {
		t.Errorf("events file has %d lines", n)
	}
	var parquet, dead int
	filepath.WalkDir(cfg.Lake, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			if strings.Contains(p, "dead_letter") {
				dead++
			}
			parquet++
		}
		return nil
	})
	if parquet == 0 || dead == 0 {
		t.Errorf("lake: %d parquet files, %d in dead_letter", parquet, dead)
	}
	if entries, _ := os.ReadDir(cfg.DLQ); len(entries) == 0 {
		t.Error("dead-letter directory is empty")
	}
}

func TestBuildErrorsNameTheOutput(t *testing.T) {
	cfg := config.Default()
	if _, err := Build(context.Background(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "dead-letter") {
		t.Fatalf("no dlq: %v", err)
	}
	cfg.DLQ = t.TempDir()
	cfg.Lake = "s3://"
	if _, err := Build(context.Background(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "names no bucket") {
		t.Fatalf("bad lake: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	if got := redactURL("https://user:secret@es.example:9200/x"); strings.Contains(got, "secret") || !strings.Contains(got, "es.example") {
		t.Fatalf("redactURL = %s", got)
	}
}
