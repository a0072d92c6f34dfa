//go:build unix

package s3access_test

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user+system) the process has used so far.
// On a shared machine it measures our work better than wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds cpu-ns/op and cpu-lines/s metrics measured from start.
func reportCPU(b *testing.B, start time.Duration) {
	d := cpuTime() - start
	if d <= 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/d.Seconds(), "cpu-lines/s")
}
