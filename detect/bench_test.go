package detect

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/gen"
)

// cpuTime is the process's CPU time: the machine is shared, so wall time
// per op is noisy and the benchmark also reports CPU time per event.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDetect runs every loaded rule (the 57 SigmaHQ CloudTrail rules
// when the corpus is present, plus the built-ins) on generated CloudTrail
// events parsed by stream/format/cloudtrail, in batches of 500.
func BenchmarkDetect(b *testing.B) {
	opts := Options{AllowedCountries: []string{"FR", "DE", "IE"}}
	if dir := corpusDir(b, "sigma-aws-cloudtrail"); dir != "" {
		opts.RuleDirs = []string{dir}
	}
	for _, attacks := range []bool{false, true} {
		name := "rules=all/format=cloudtrail"
		if attacks {
			name += "/attacks"
		} else {
			name += "/clean"
		}
		events := generate(b, cloudtrail.Generate, cloudtrail.NewParser(), gen.Options{Count: 20000, Seed: 3, Attacks: attacks}, "bench.json")
		b.Run(name, func(b *testing.B) {
			size := 0
			for i := range events {
				size += len(events[i].Raw)
			}
			e, err := New(opts)
			if err != nil {
				b.Fatal(err)
			}
			const batch = 500
			alerts := 0
			emit := func(*stream.Alert) { alerts++ }
			ctx := context.Background()
			runtime.GC()
			b.SetBytes(int64(size / len(events)))
			b.ReportAllocs()
			b.ResetTimer()
			c0 := cpuTime()
			done := 0
			for done < b.N {
				for i := 0; i < len(events) && done < b.N; i += batch {
					j := min(i+batch, len(events), i+(b.N-done))
					if err := e.Detect(ctx, events[i:j], emit); err != nil {
						b.Fatal(err)
					}
					done += j - i
				}
			}
			cpu := cpuTime() - c0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
			b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
