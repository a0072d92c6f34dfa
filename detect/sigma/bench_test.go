package sigma

import (
	"syscall"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// BenchmarkMatch runs the 57 SigmaHQ CloudTrail rules over the Stratus
// events, with only Raw set and with the typed fields a parser fills.
func BenchmarkMatch(b *testing.B) {
	rules := loadCorpusRules(b)
	events := loadStratus(b)
	set := NewSet()
	for _, cr := range rules {
		if _, err := set.Add(cr.rule); err != nil {
			b.Fatal(err)
		}
	}
	for mode, name := range modeNames {
		b.Run("event="+name, func(b *testing.B) {
			evs := make([]stream.Event, len(events))
			size := 0
			for i, e := range events {
				evs[i] = eventOf(b, e.raw, e.m, mode)
				size += len(e.raw)
			}
			m := set.NewMatcher()
			var dst []*Compiled
			b.SetBytes(int64(size / len(evs)))
			b.ReportAllocs()
			b.ResetTimer()
			c0 := cpuTime()
			for i := 0; i < b.N; i++ {
				dst = m.Match(&evs[i%len(evs)], dst[:0])
			}
			cpu := cpuTime() - c0
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
			b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
		})
	}
}

// cpuTime is the process's user+system CPU time; benchmarks report CPU
// time per event because the machine is shared and wall time is noisy.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
