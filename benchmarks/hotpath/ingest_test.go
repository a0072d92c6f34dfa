package hotpath

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gannet-sec/gannet/lambdas/handler"
	"github.com/gannet-sec/gannet/stream"
)

// chunkings are the ways of cutting an invocation into pipeline batches:
// the ingest Lambda's (the handler's default, 500 records) and a candidate
// bounded by bytes (≤ 1 MiB of record data, up to 10,000 records).
var chunkings = []struct {
	name         string
	size, nbytes int
}{
	{"lambda", 0, 0},
	{"1MiB", 10000, 1 << 20},
}

// ingestHandler is the ingest Lambda's handler (lambdas/handler.Kinesis,
// the pipeline flushing every chunk) over a rig.
func ingestHandler(r *Rig, f stream.Format, size, nbytes int) *handler.Kinesis {
	return &handler.Kinesis{Pipeline: r.Pipeline, FormatFor: func(string) stream.Format { return f },
		ChunkSize: size, ChunkBytes: nbytes, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// BenchmarkIngest measures what one ingest Lambda invocation costs: one op
// is the Kinesis event JSON (one entry per record, as many records as fit
// the 6 MB payload limit, at most 10,000) unmarshalled into
// events.KinesisEvent and handled by lambdas/handler.Kinesis on the whole
// hot path, which processes it in chunks and flushes the sinks after each:
// chunk=lambda as the ingest Lambda cuts them (500 records), chunk=1MiB
// into batches of at most 1 MiB of record data (a candidate). Compare
// with BenchmarkPipeline at batch=10000 (one pipeline batch, one flush).
// One pipeline (GOMAXPROCS has no effect on it).
func BenchmarkIngest(b *testing.B) {
	env := testEnv(b)
	for _, f := range Formats {
		for _, ch := range chunkings {
			b.Run(fmt.Sprintf("format=%s/chunk=%s", f, ch.name), func(b *testing.B) {
				inv, err := NewInvocation(fixture(b, f), 10000)
				if err != nil {
					b.Fatal(err)
				}
				lk, store := NewLake()
				r, err := env.NewRig(lk)
				if err != nil {
					b.Fatal(err)
				}
				h := ingestHandler(r, f, ch.size, ch.nbytes)
				ctx := context.Background()
				invoke := func() {
					var ev events.KinesisEvent
					if err := json.Unmarshal(inv.Payload, &ev); err != nil {
						b.Fatal(err)
					}
					resp, err := h.Handle(ctx, ev)
					if err != nil || len(resp.BatchItemFailures) > 0 {
						b.Fatalf("invocation not acknowledged: %v %+v", err, resp.BatchItemFailures)
					}
				}
				invoke() // warm-up
				objects := store.Objects.Load()
				before := r.Pipeline.Stats()
				b.SetBytes(inv.Bytes)
				b.ReportAllocs()
				runtime.GC()
				cpu0 := CPUTime()
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					invoke()
				}
				wall := time.Since(start)
				b.StopTimer()
				cpu := CPUTime() - cpu0
				st := Delta(r.Pipeline.Stats(), before)
				if st.Events != int64(inv.Records*b.N) {
					b.Fatalf("%d events from %d invocations of %d records", st.Events, b.N, inv.Records)
				}
				ReportStats(b, st, wall, cpu, b.N)
				b.ReportMetric(float64(inv.Records), "records/op")
				b.ReportMetric(float64(len(inv.Payload)), "payload-B/op")
				b.ReportMetric(float64(store.Objects.Load()-objects)/float64(b.N), "files/op")
			})
		}
	}
}
