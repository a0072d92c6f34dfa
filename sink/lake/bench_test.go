package lake

import (
	"context"
	"io"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// discardStore is a Store that counts bytes and keeps nothing.
type discardStore struct{ bytes int64 }

type discardObject struct{ s *discardStore }

func (s *discardStore) Create(context.Context) (ObjectWriter, error) { return discardObject{s}, nil }
func (s *discardStore) Open(context.Context, string) (Object, error) { return nil, io.EOF }
func (s *discardStore) List(context.Context, string) ([]ObjectInfo, error) {
	return nil, nil
}
func (s *discardStore) Delete(context.Context, string) error { return nil }
func (o discardObject) Write(_ context.Context, p []byte) error {
	o.s.bytes += int64(len(p))
	return nil
}
func (o discardObject) Commit(context.Context, string) error { return nil }
func (o discardObject) Abort(context.Context) error          { return nil }

// BenchmarkLakeEncode measures events → Parquet bytes (Write + Flush) into a
// store that discards them. SetBytes counts the Parquet bytes produced.
func BenchmarkLakeEncode(b *testing.B) {
	const batch = 1 << 17 // one default row group per Write+Flush
	for _, tc := range []struct {
		name  string
		codec Codec
	}{{"zstd", ZSTD}, {"snappy", Snappy}, {"none", Uncompressed}} {
		b.Run("table=cloudtrail-common/codec="+tc.name, func(b *testing.B) {
			evs := cloudTrailEvents(batch, 1, time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC))
			benchEncode(b, evs, Options{Encoding: Encoding{Codec: tc.codec}})
		})
		b.Run("table=cloudtrail17/codec="+tc.name, func(b *testing.B) {
			// The 17-column shape of the design's pqarrow baseline (218 k rows/s
			// ZSTD+dictionary, 275 k ZSTD, 399 k none on this machine).
			evs := streamTimes(parsedEvents(b, stream.FormatCloudTrail, batch, 1))
			l := New(&discardStore{}, Options{Encoding: Encoding{Codec: tc.codec}})
			useCloudTrail17(l)
			benchEncodeLake(b, l, evs)
		})
		b.Run("table=cloudtrail/codec="+tc.name, func(b *testing.B) {
			evs := streamTimes(parsedEvents(b, stream.FormatCloudTrail, batch, 1))
			benchEncode(b, evs, Options{Encoding: Encoding{Codec: tc.codec}})
		})
		b.Run("table=cloudtrail/batch=1000/codec="+tc.name, func(b *testing.B) {
			// The hot path's shape: every Write of 1,000 events is followed by
			// a Flush, so each batch becomes a file of its own and per-file
			// costs (writer setup, column writers, footer) count.
			evs := streamTimes(parsedEvents(b, stream.FormatCloudTrail, 1<<14, 1))
			benchEncodeBatches(b, New(&discardStore{}, Options{Encoding: Encoding{Codec: tc.codec}}), evs, 1000)
		})
	}
}

var cloudtrail17 = []string{"event_id", "timestamp", "event_action", "event_provider", "event_outcome", "source_ip",
	"user_name", "user_agent", "cloud_account_id", "cloud_region", "error_code", "error_message",
	"user_identity_type", "user_identity_arn", "request_parameters", "request_id", "read_only"}

// useCloudTrail17 makes l write CloudTrail events with the cloudtrail17
// columns only.
func useCloudTrail17(l *Lake) {
	full := eventTables[stream.FormatCloudTrail]
	var cols []col[evRow]
	for _, name := range cloudtrail17 {
		i := slices.IndexFunc(full.cols, func(c col[evRow]) bool { return c.Name == name })
		cols = append(cols, full.cols[i])
	}
	l.events[stream.FormatCloudTrail] = newTableWriter(l, &tableDef[evRow]{name: "cloudtrail", cols: cols, info: eventInfo})
}

// streamTimes puts the events 25 ms apart from t0, as a near-real-time stream
// delivers them (the generators spread theirs over days, which would make
// every Flush write dozens of one-hour partitions).
func streamTimes(evs []stream.Event) []stream.Event {
	t := time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)
	for i := range evs {
		evs[i].Timestamp = t.Add(time.Duration(i) * 25 * time.Millisecond)
	}
	return evs
}

func benchEncode(b *testing.B, evs []stream.Event, opts Options) {
	benchEncodeLake(b, New(&discardStore{}, opts), evs)
}

func benchEncodeLake(b *testing.B, l *Lake, evs []stream.Event) {
	benchEncodeBatches(b, l, evs, len(evs))
}

// benchEncodeBatches writes evs per op, as Write+Flush of batch events at a
// time. Metrics: rows/cpu-s and cpu-ns/row divide by the CPU time of the
// whole process (GC included), the per-core figure.
func benchEncodeBatches(b *testing.B, l *Lake, evs []stream.Event, batch int) {
	ctx := context.Background()
	st := l.store.(*discardStore)
	write := func() {
		for i := 0; i < len(evs); i += batch {
			if err := l.Write(ctx, evs[i:min(i+batch, len(evs))]); err != nil {
				b.Fatal(err)
			}
			if err := l.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Warm up buffers so the measured loop shows steady-state allocations.
	write()
	st.bytes = 0
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		write()
		rows += len(evs)
	}
	b.StopTimer()
	cpu := processCPU() - cpu0
	b.SetBytes(st.bytes / int64(b.N))
	// rows/cpu-s divides by the CPU time of the whole process (GC included),
	// the per-core figure; rows/s is wall-clock and suffers on a shared machine.
	b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(rows), "cpu-ns/row")
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(st.bytes)/float64(rows), "B/row")
}

// cpuPerRow runs op once to warm up, then b.N times, and reports the
// process CPU time (GC included) per row, op handling rows rows. It
// returns that CPU time.
func cpuPerRow(b *testing.B, rows int, op func()) time.Duration {
	op()
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for range b.N {
		op()
	}
	b.StopTimer()
	cpu := processCPU() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*rows), "cpu-ns/row")
	return cpu
}

// processCPU returns the user+system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
