package reliability_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/setup"
)

// soakSample is one point of the soak series.
type soakSample struct {
	at                  time.Duration
	records, deadLetter int64
	rssMiB, heapMiB     float64
	goroutines, fds     int
}

// TestSoak drives steady load through the core `gannet run` uses
// (setup.Build with deferred flushing and a periodic Flush, local lake and
// dead-letter directory, detection and the demo intel on) for GANNET_SOAK
// (a duration, e.g. 10m; unset: not run), samples RSS, heap, goroutines and
// open files every 10 s, writes the series to benchmarks/soak.md and checks
// that they stay flat.
func TestSoak(t *testing.T) {
	d := os.Getenv("GANNET_SOAK")
	if d == "" {
		t.Log("GANNET_SOAK is not set (e.g. GANNET_SOAK=10m, or make soak): the soak does not run in make test")
		return
	}
	dur, err := time.ParseDuration(d)
	if err != nil {
		dur = 10 * time.Minute
	}
	const rate = 3000 // records per second: steady, leaving the shared cores room
	ctx := context.Background()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DLQ = filepath.Join(dir, "dlq")
	cfg.Lake = filepath.Join(dir, "lake")
	cfg.IntelDemo = true
	b, err := setup.Build(ctx, cfg, setup.Options{DeferFlush: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)

	// A pool of generated lines of every format, and 1 % hostile records.
	var pool [][]byte
	for i, f := range format.Generatable() {
		if f == stream.FormatVPCFlow {
			continue // its header line would be skipped, not counted
		}
		pool = append(pool, genLines(t, f, 500, int64(100+i))...)
	}
	s := newStream(t)
	const batch = 500
	recs := make([]stream.Record, batch)
	var sent, dead int64
	var series []soakSample
	sample := func(at time.Duration) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fds, _ := os.ReadDir("/proc/self/fd")
		series = append(series, soakSample{at: at, records: sent, deadLetter: dead, rssMiB: rssMiB(),
			heapMiB: float64(ms.HeapAlloc) / (1 << 20), goroutines: runtime.NumGoroutine(), fds: len(fds)})
	}
	start := time.Now()
	sample(0)
	nextSample, nextFlush := 10*time.Second, 5*time.Second
	for k := 0; time.Since(start) < dur; k++ {
		for i := range recs {
			if (k*batch+i)%100 == 99 {
				recs[i] = s.record([]byte("\x01 hostile: no parser knows this"))
				dead++
			} else {
				recs[i] = s.record(pool[(k*batch+i)%len(pool)])
			}
		}
		res := b.Pipeline.Process(ctx, recs)
		if len(res.Failed) > 0 {
			t.Fatalf("batch %d: %d records not acknowledged: %v", k, len(res.Failed), res.Err)
		}
		sent += batch
		el := time.Since(start)
		if el >= nextFlush {
			if err := b.Pipeline.Flush(ctx); err != nil {
				t.Fatalf("flush: %v", err)
			}
			nextFlush += 5 * time.Second
		}
		if el >= nextSample {
			sample(el.Round(time.Second))
			nextSample += 10 * time.Second
		}
		// Steady rate: sleep until this batch's slot.
		if ahead := time.Duration(float64(sent)/rate*float64(time.Second)) - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	if err := b.Pipeline.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sample(time.Since(start).Round(time.Second))

	var md strings.Builder
	fmt.Fprintf(&md, "# Soak: %v of steady load through the `gannet run` core\n\n", dur)
	fmt.Fprintf(&md, "Measured by `make soak` (`GANNET_SOAK=%s go test -run '^TestSoak$' ./stream/reliability/`) on %s, %d cores, %s.\n",
		d, time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&md, "Load: %d records/s in batches of %d (CloudTrail, ALB, WAF, Route 53 Resolver, S3 access, GuardDuty lines; 1 %% hostile records that are dead-lettered), "+
		"setup.Build with a local Parquet lake and dead-letter directory, detection with the built-in rules and the demo intel, Flush every 5 s. "+
		"Sampled every 10 s after a GC: process RSS (/proc/self/status VmRSS), Go heap in use, goroutines, open file descriptors.\n\n", rate, batch)
	md.WriteString("| t | records | dead-lettered | RSS MiB | heap MiB | goroutines | open fds |\n|---|---|---|---|---|---|---|\n")
	for _, p := range series {
		fmt.Fprintf(&md, "| %v | %d | %d | %.1f | %.1f | %d | %d |\n", p.at, p.records, p.deadLetter, p.rssMiB, p.heapMiB, p.goroutines, p.fds)
	}
	t.Log("\n" + md.String())
	if testing.Verbose() {
		fmt.Println(md.String())
	}
	out := filepath.Join("..", "..", "benchmarks", "soak.md")
	if err := os.WriteFile(out, []byte(md.String()), 0o644); err != nil {
		t.Errorf("writing %s: %v", out, err)
	} else {
		t.Logf("series written to %s", out)
	}

	// Flat: compare the end to the point after warm-up (a quarter of the run).
	if len(series) >= 4 {
		ref, last := series[len(series)/4], series[len(series)-1]
		if last.goroutines > ref.goroutines+5 {
			t.Errorf("goroutines grew from %d to %d", ref.goroutines, last.goroutines)
		}
		if last.fds > ref.fds+5 {
			t.Errorf("open files grew from %d to %d", ref.fds, last.fds)
		}
		if last.heapMiB > ref.heapMiB*1.5+16 {
			t.Errorf("heap grew from %.1f to %.1f MiB", ref.heapMiB, last.heapMiB)
		}
		if last.rssMiB > ref.rssMiB*1.5+32 {
			t.Errorf("RSS grew from %.1f to %.1f MiB", ref.rssMiB, last.rssMiB)
		}
	}
}

// rssMiB reads VmRSS of this process (0 where /proc is missing).
func rssMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(data) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
