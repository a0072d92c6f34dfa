// Package cost is the cost model of the paper's §2.7 (load-balancer logs,
// 200 requests per minute; Lambda against two m5.large instances), with the
// paper's assumed durations replaceable by Gannet's measured CPU time.
package cost

import (
	"math"
	"time"
)

// Prices are the list prices the model uses (us-east-1, as of 2026-11; the
// paper's own figures reproduce with its rounded $0.00001667 per GB-s).
type Prices struct {
	GBSecond     float64 // per GB-second of Lambda duration
	PerRequest   float64 // per request
	InstanceHour float64 // per instance-hour of the comparison VM
	Instances    int     // VMs the non-serverless design runs (the paper: 2, for failover)
}

// Price lists.
var (
	// PaperX86 is what reproduces the paper's $37.74 and $2,162.16: the
	// x86_64 GB-s price rounded to $0.00001667.
	PaperX86 = Prices{GBSecond: 0.00001667, PerRequest: 0.20 / 1e6, InstanceHour: 0.096, Instances: 2}
	// X86 is Lambda x86_64 at $0.0000166667 per GB-s (first 6 billion GB-s a month).
	X86 = Prices{GBSecond: 0.0000166667, PerRequest: 0.20 / 1e6, InstanceHour: 0.096, Instances: 2}
	// ARM64 is Lambda arm64 (Graviton) at $0.0000133334 per GB-s.
	ARM64 = Prices{GBSecond: 0.0000133334, PerRequest: 0.20 / 1e6, InstanceHour: 0.096, Instances: 2}
)

// PriceDate is when the prices above were taken.
const PriceDate = "2026-11 (AWS list prices, us-east-1; free tier ignored)"

// Lambda limits and the CPU share rule.
const (
	MinMemoryMB   = 128
	MaxMemoryMB   = 10240
	OneVCPUMB     = 1769 // memory size at which a function has one full vCPU
	MaxDuration   = 15 * time.Minute
	HoursPerMonth = 24 * 30
)

// Workload is the paper's: RequestsPerMinute requests of EntriesPerRequest
// log entries each, around the clock for a 30-day month.
type Workload struct {
	RequestsPerMinute int
	EntriesPerRequest int
}

// Requests returns the requests in a 30-day month (200/min → 8,640,000).
func (w Workload) Requests() float64 {
	return float64(w.RequestsPerMinute) * 60 * HoursPerMonth
}

// EntriesPerSecond is the sustained input rate.
func (w Workload) EntriesPerSecond() float64 {
	return float64(w.RequestsPerMinute) * float64(w.EntriesPerRequest) / 60
}

// LambdaMonthly is the monthly cost of a function of memMB running d per request.
func LambdaMonthly(w Workload, p Prices, memMB int, d time.Duration) float64 {
	return w.Requests() * (float64(memMB)/1024*d.Seconds()*p.GBSecond + p.PerRequest)
}

// InstancesMonthly is the monthly cost of the always-on instances.
func InstancesMonthly(p Prices) float64 {
	return float64(p.Instances) * p.InstanceHour * HoursPerMonth
}

// VCPU is the CPU share of a function of memMB (1,769 MB = 1 vCPU).
func VCPU(memMB int) float64 { return float64(memMB) / OneVCPUMB }

// Duration is the billed duration of work needing cpu of one core, on a
// function of memMB: below 1,769 MB the function gets a fraction of a core,
// so the work stretches; above it a single-threaded batch gains nothing.
// Billing rounds up to the millisecond.
func Duration(cpu time.Duration, memMB int) time.Duration {
	share := math.Min(1, VCPU(memMB))
	d := time.Duration(math.Ceil(float64(cpu) / share))
	if d%time.Millisecond != 0 {
		d = d.Truncate(time.Millisecond) + time.Millisecond
	}
	return d
}

// Choice is a memory size and what it costs.
type Choice struct {
	MemoryMB int
	Duration time.Duration
	Monthly  float64
	Fits     bool // the batch's peak memory fits and the duration is within 15 minutes
}

// At prices work of cpu per request needing needMB of memory on memMB.
func At(w Workload, p Prices, cpu time.Duration, needMB, memMB int) Choice {
	d := Duration(cpu, memMB)
	return Choice{MemoryMB: memMB, Duration: d, Monthly: LambdaMonthly(w, p, memMB, d),
		Fits: memMB >= needMB && d <= MaxDuration}
}

// Best finds the memory size (1 MB steps, 128 MB to 10,240 MB) with the
// lowest monthly cost among those that fit; ties go to the smaller size.
func Best(w Workload, p Prices, cpu time.Duration, needMB int) Choice {
	best := Choice{Monthly: math.Inf(1)}
	for m := max(MinMemoryMB, needMB); m <= MaxMemoryMB; m++ {
		c := At(w, p, cpu, needMB, m)
		if c.Fits && c.Monthly < best.Monthly-1e-9 {
			best = c
		}
	}
	return best
}

// CoresNeeded is how many fully used cores sustain w at rate entries per
// core-second.
func CoresNeeded(w Workload, rate float64) float64 { return w.EntriesPerSecond() / rate }
