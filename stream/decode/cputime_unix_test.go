//go:build unix

package decode

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) the process has used. Benchmarks
// report throughput per CPU second as well as per wall second, because the
// machines they run on are shared and wall time includes waiting.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
