package reliability_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/decode"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
	"github.com/gannet-sec/gannet/stream/reliability"
	"github.com/gannet-sec/gannet/stream/setup"
)

// genLines returns n generated log lines of format f.
func genLines(t testing.TB, f stream.Format, n int, seed int64) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	if err := format.Generate(f, &buf, gen.Options{Count: n, Seed: seed, Attacks: true}); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for l := range bytes.Lines(buf.Bytes()) {
		if l = bytes.TrimRight(l, "\r\n"); len(l) > 0 {
			out = append(out, append([]byte(nil), l...))
		}
	}
	return out
}

// stream builds Kinesis records with distinct, unique lineage.
type kstream struct {
	arn string
	seq int
}

func newStream(t testing.TB) *kstream {
	return &kstream{arn: fmt.Sprintf("arn:aws:kinesis:eu-west-1:123456789012:stream/rel-%s-%d", filepath.Base(t.Name()), time.Now().UnixNano())}
}

func (s *kstream) record(data []byte) stream.Record {
	s.seq++
	return stream.Record{
		Data: data,
		Lineage: stream.Lineage{Kind: stream.OriginKinesis, Source: s.arn, Shard: "shardId-000000000000",
			Sequence: fmt.Sprintf("4963%052d", s.seq), SubSequence: -1},
		PartitionKey: "pk",
		ArrivalTime:  time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
	}
}

func (s *kstream) records(lines [][]byte) []stream.Record {
	out := make([]stream.Record, len(lines))
	for i, l := range lines {
		out[i] = s.record(l)
	}
	return out
}

// goodRecords mixes generated CloudTrail, ALB and VPC flow lines, n of each.
func goodRecords(t testing.TB, s *kstream, n int) []stream.Record {
	var recs []stream.Record
	for i, f := range []stream.Format{stream.FormatCloudTrail, stream.FormatALB, stream.FormatWAF} {
		recs = append(recs, s.records(genLines(t, f, n, int64(11+i)))...)
	}
	return recs
}

// localRun is a pipeline built by setup.Build over a temporary lake
// directory, NDJSON file and dead-letter directory.
type localRun struct {
	dir, out, dlq, lakeDir string
	cfg                    config.Config
	built                  *setup.Built
	logs                   bytes.Buffer
}

func newLocalRun(t testing.TB, mod func(*config.Config)) *localRun {
	t.Helper()
	dir := t.TempDir()
	r := &localRun{dir: dir, out: filepath.Join(dir, "events.ndjson"), dlq: filepath.Join(dir, "dlq"), lakeDir: filepath.Join(dir, "lake")}
	r.cfg = config.Default()
	r.cfg.Out, r.cfg.DLQ, r.cfg.Lake = r.out, r.dlq, r.lakeDir
	if mod != nil {
		mod(&r.cfg)
	}
	logger := slog.New(slog.NewJSONHandler(&r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b, err := setup.Build(context.Background(), r.cfg, setup.Options{Logger: logger, Stdout: os.Stdout})
	if err != nil {
		t.Fatal(err)
	}
	r.built = b
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return r
}

// process runs one batch and fails the test if any record is not acknowledged.
func (r *localRun) process(t testing.TB, recs []stream.Record) {
	t.Helper()
	res := r.built.Pipeline.Process(context.Background(), recs)
	if len(res.Failed) > 0 {
		t.Fatalf("%d records not acknowledged (%v): %v", len(res.Failed), res.Failed, res.Err)
	}
}

// account closes the run and tabulates recs against its outputs.
func (r *localRun) account(t testing.TB, name string, recs []stream.Record) *reliability.Report {
	t.Helper()
	if err := r.built.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	units := reliability.Expect(recs, decode.New(decode.Options{MaxDecompressed: int64(r.cfg.MaxRecordBytes)}),
		format.NewSet(format.Options{VPCFlowFields: r.cfg.VPCFlowFieldList()}))
	st, err := lake.NewDirStore(r.lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := reliability.Account(context.Background(), name, len(recs), units, reliability.Outputs{Lake: st, DLQ: r.dlq})
	if err != nil {
		t.Fatal(err)
	}
	reliability.Log(t, rep)
	reliability.Check(t, rep)
	return rep
}

// ndjsonLines returns the NDJSON output lines.
func (r *localRun) ndjsonLines(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile(r.out)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for l := range bytes.Lines(data) {
		out = append(out, bytes.TrimSuffix(l, []byte("\n")))
	}
	return out
}
