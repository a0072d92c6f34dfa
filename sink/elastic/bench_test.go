package elastic

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
)

// BenchmarkBulkEncode measures the bulk body encoder; bytes are output bytes.
//
//	go test ./sink/elastic -run '^$' -bench BulkEncode -benchtime=1s -count=1
func BenchmarkBulkEncode(b *testing.B) {
	for _, f := range []stream.Format{stream.FormatCloudTrail, stream.FormatALB, stream.FormatVPCFlow, stream.FormatRoute53Resolver} {
		b.Run("format="+f.String(), func(b *testing.B) {
			evs := fixtureEvents(f, 1000, 1)
			var e Encoder
			buf := make([]byte, 0, 4<<20)
			for i := range evs {
				buf = e.AppendBulkIndex(buf, &evs[i])
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				buf = buf[:0]
				for i := range evs {
					buf = e.AppendBulkIndex(buf, &evs[i])
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
			// The machine is shared: also report throughput per CPU second
			// actually used by this process, which contention does not skew.
			if d := cpuTime() - cpu0; d > 0 {
				b.ReportMetric(float64(b.N)*float64(len(buf))/d.Seconds()/1e6, "MB/cpu-s")
			}
		})
	}
}

// BenchmarkEncodeFormat measures the bulk body encoder on what the parsers
// really produce: 1,000 generated entries (attacks included) of each format,
// parsed by the format's parser. Bytes are output (bulk body) bytes; cpu-ns/op
// and MB/cpu-s divide by the process CPU time, which a shared machine does not
// skew.
//
//	go test ./sink/elastic -run '^$' -bench EncodeFormat -cpu 1 -count 5
func BenchmarkEncodeFormat(b *testing.B) {
	for _, f := range format.Generatable() {
		b.Run("format="+f.String(), func(b *testing.B) {
			evs := parsedEvents(b, f, 1000, 1)
			var e Encoder
			buf := make([]byte, 0, 8<<20)
			for i := range evs {
				buf = e.AppendBulkIndex(buf, &evs[i])
			}
			in := 0
			for i := range evs {
				in += len(evs[i].Raw)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				buf = buf[:0]
				for i := range evs {
					buf = e.AppendBulkIndex(buf, &evs[i])
				}
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(len(buf))/float64(len(evs)), "out-B/event")
			b.ReportMetric(float64(in)/float64(len(evs)), "in-B/event")
			if cpu > 0 {
				b.ReportMetric(float64(b.N)*float64(len(buf))/cpu.Seconds()/1e6, "MB/cpu-s")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(evs)), "cpu-ns/event")
			}
		})
	}
}

// BenchmarkEncodeFormatColdCache is BenchmarkEncodeFormat with the CPU
// caches flushed before each pass over the 1,000 events (64 MiB written,
// outside the measurement), as in the pipeline, where parsing and the
// Parquet lake run between two encodes of a batch. Only the encoding is
// timed, with the process CPU clock.
//
//	go test ./sink/elastic -run '^$' -bench EncodeFormatColdCache -cpu 1 -count 5
func BenchmarkEncodeFormatColdCache(b *testing.B) {
	scribble := make([]byte, 64<<20)
	for _, f := range format.Generatable() {
		b.Run("format="+f.String(), func(b *testing.B) {
			evs := parsedEvents(b, f, 1000, 1)
			var e Encoder
			buf := make([]byte, 0, 8<<20)
			for i := range evs {
				buf = e.AppendBulkIndex(buf, &evs[i])
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			var cpu time.Duration
			b.ResetTimer()
			for n := range b.N {
				b.StopTimer()
				for i := 0; i < len(scribble); i += 64 {
					scribble[i] = byte(n + i)
				}
				b.StartTimer()
				t0 := processCPU()
				buf = buf[:0]
				for i := range evs {
					buf = e.AppendBulkIndex(buf, &evs[i])
				}
				cpu += processCPU() - t0
			}
			b.StopTimer()
			if cpu > 0 {
				b.ReportMetric(float64(b.N)*float64(len(buf))/cpu.Seconds()/1e6, "MB/cpu-s")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(evs)), "cpu-ns/event")
			}
		})
	}
}

// processCPU reads the process CPU clock (CLOCK_PROCESS_CPUTIME_ID), which,
// unlike getrusage, is precise enough to time one pass.
func processCPU() time.Duration {
	var ts syscall.Timespec
	const clockProcessCPUTimeID = 2
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

// cpuTime is the user+system CPU time used by the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSinkWrite measures Write end to end (encode, chunk, HTTP on
// loopback) against a server that acknowledges every bulk without work.
func BenchmarkSinkWrite(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"took":1,"errors":false,"items":[]}`)
	}))
	defer srv.Close()
	s, err := New(context.Background(), Config{URL: srv.URL, SkipTemplates: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	evs := fixtureEvents(stream.FormatCloudTrail, 10000, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := s.Write(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.SetBytes(s.Stats().BytesSent.Load() / int64(b.N))
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
}
