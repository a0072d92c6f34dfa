package reliability_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/kcl"
	"github.com/gannet-sec/gannet/stream/reliability/harness"
)

// soakSample is one point of the soak series.
type soakSample struct {
	at                                time.Duration
	sent, consumed, checkpointed, dlq int64
	rssMiB, heapMiB                   float64
	goroutines, fds                   int
}

// TestSoak drives steady load through the KCL consumer (`gannet consume`'s
// stream/kcl worker, in this process) for GANNET_SOAK (a duration, e.g. 10m;
// unset: not run): a producer puts GANNET_SOAK_RATE records/s (default 500)
// to a 2-shard stream on a private kinesalite, leases in a private dynalite,
// and the consumer writes a local Parquet lake and dead-letter directory
// (detection with the built-in rules, the demo intel feed). RSS, heap,
// goroutines and open files of the process are sampled every 10 s and
// written to benchmarks/soak.md; they must stay flat, and at the end every
// record sent must be checkpointed.
func TestSoak(t *testing.T) {
	d := os.Getenv("GANNET_SOAK")
	if d == "" {
		t.Log("GANNET_SOAK is not set (e.g. GANNET_SOAK=10m, or make soak): the soak does not run in make test")
		return
	}
	dur, err := time.ParseDuration(d)
	if err != nil {
		t.Fatalf("GANNET_SOAK=%q: %v", d, err)
	}
	rate := 500
	if v, err := strconv.Atoi(os.Getenv("GANNET_SOAK_RATE")); err == nil && v > 0 {
		rate = v
	}
	e := stacktest.Lookup()
	e.KinesisEndpoint = e.StartPrivate(t, stacktest.Kinesis).Endpoint
	e.DynamoDBEndpoint = e.StartPrivate(t, stacktest.DynamoDB).Endpoint
	st := &streamEnv{ep: e, kc: e.Kinesis(t), ddb: e.DynamoDB(t)}
	name := stacktest.UniqueName(t, "soak")
	st.createStream(t, name, 2)

	dir := t.TempDir()
	w := harness.Worker{Stream: name, App: stacktest.UniqueName(t, "soak-leases"), ID: "soak-worker",
		Lake: filepath.Join(dir, "lake"), DLQ: filepath.Join(dir, "dlq")}
	logf, err := os.Create(filepath.Join(dir, "consumer.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	log := slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := w.Consumer(ctx, e.AWSConfig(t), log, func(c *kcl.Config) {
		// Production flushing (5 s / 10 000 records) and lease timing.
		c.FlushInterval, c.FlushRecords = 5*time.Second, 10000
		c.FailoverTime, c.LeaseRefresh = 10*time.Second, 2500*time.Millisecond
	})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()

	// A pool of generated lines of every format, and 1 % hostile records.
	var pool [][]byte
	for i, f := range format.Generatable() {
		if f == stream.FormatVPCFlow {
			continue // its header line would be skipped, not counted
		}
		pool = append(pool, genLines(t, f, 500, int64(100+i))...)
	}
	hostile := []byte("\x01 hostile: no parser knows this")

	var sent atomic.Int64
	prodErr := make(chan error, 1)
	stopProd := make(chan struct{})
	go func() {
		const tick = 100 * time.Millisecond
		per := max(1, rate/10)
		next := time.Now()
		k := 0
		for {
			select {
			case <-stopProd:
				prodErr <- nil
				return
			case <-time.After(time.Until(next)):
			}
			next = next.Add(tick)
			in := &kinesis.PutRecordsInput{StreamName: aws.String(name)}
			for range per {
				data := pool[k%len(pool)]
				if k%100 == 99 {
					data = hostile
				}
				in.Records = append(in.Records, ktypes.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(strconv.Itoa(k % 64))})
				k++
			}
			pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
			out, err := st.kc.PutRecords(pctx, in)
			pcancel()
			if err != nil {
				prodErr <- err
				return
			}
			if n := aws.ToInt32(out.FailedRecordCount); n != 0 {
				prodErr <- fmt.Errorf("PutRecords: %d entries failed", n)
				return
			}
			sent.Add(int64(per))
		}
	}()

	m := c.Metrics()
	var series []soakSample
	sample := func(at time.Duration) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fds, _ := os.ReadDir("/proc/self/fd")
		series = append(series, soakSample{at: at, sent: sent.Load(),
			consumed:     int64(m.Sum("gannet_kcl_records_total")),
			checkpointed: int64(m.Sum("gannet_kcl_records_checkpointed_total")),
			dlq:          int64(m.Sum("gannet_kcl_dead_letters_total")),
			rssMiB:       rssMiB(), heapMiB: float64(ms.HeapAlloc) / (1 << 20), goroutines: runtime.NumGoroutine(), fds: len(fds)})
	}
	start := time.Now()
	sample(0)
	for next := 10 * time.Second; next <= dur; next += 10 * time.Second {
		select {
		case err := <-prodErr:
			t.Fatalf("producer: %v", err)
		case err := <-runErr:
			t.Fatalf("consumer stopped: %v", err)
		case <-time.After(time.Until(start.Add(next))):
		}
		sample(time.Since(start).Round(time.Second))
	}
	close(stopProd)
	if err := <-prodErr; err != nil {
		t.Fatalf("producer: %v", err)
	}
	// Drain: every record sent must be checkpointed (processed, durable).
	total := sent.Load()
	drainStart := time.Now()
	for int64(m.Sum("gannet_kcl_records_checkpointed_total")) < total && time.Since(drainStart) < 3*time.Minute {
		time.Sleep(time.Second)
	}
	drained := time.Since(drainStart)
	sample(time.Since(start).Round(time.Second))
	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("consumer shutdown: %v", err)
	}
	last := series[len(series)-1]
	if last.checkpointed < total {
		t.Errorf("%d of %d records checkpointed 3 min after the load stopped", last.checkpointed, total)
	}

	var md strings.Builder
	fmt.Fprintf(&md, "# Soak: %v of steady load through the KCL consumer\n\n", dur)
	fmt.Fprintf(&md, "Measured by `make soak` (`GANNET_SOAK=%s go test -run '^TestSoak$' ./stream/reliability/`) on %s, %d cores shared with other work, %s.\n\n",
		d, time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(&md, "Load: a producer puts %d records/s (PutRecords every 100 ms; CloudTrail, ALB, WAF, Route 53 Resolver, S3 access and GuardDuty lines, "+
		"1 %% hostile records that are dead-lettered) to a 2-shard stream on kinesalite; the consumer is stream/kcl's worker (what `gannet consume` runs), "+
		"in the test process, leases in dynalite, one pipeline per shard (setup.Build: local Parquet lake and dead-letter directory, detection with the "+
		"built-in rules and the demo intel), flushing and checkpointing every 5 s or 10 000 records. "+
		"Sampled every 10 s after a GC: process RSS (/proc/self/status VmRSS), Go heap in use, goroutines, open file descriptors; "+
		"records from the consumer's own counters (`gannet_kcl_records_total`, `…_records_checkpointed_total`, `…_dead_letters_total`). "+
		"After the load stopped, the last %d records were checkpointed within %v; the last row is after that drain.\n\n",
		rate, total-series[len(series)-2].checkpointed, drained.Round(time.Second))
	md.WriteString("| t | sent | consumed | checkpointed | dead-lettered | RSS MiB | heap MiB | goroutines | open fds |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range series {
		fmt.Fprintf(&md, "| %v | %d | %d | %d | %d | %.1f | %.1f | %d | %d |\n", p.at, p.sent, p.consumed, p.checkpointed, p.dlq, p.rssMiB, p.heapMiB, p.goroutines, p.fds)
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

	// Flat: compare the end of the load to the point after warm-up (a quarter of the run).
	if len(series) >= 5 {
		ref, end := series[len(series)/4], series[len(series)-2]
		if end.goroutines > ref.goroutines+10 {
			t.Errorf("goroutines grew from %d to %d", ref.goroutines, end.goroutines)
		}
		if end.fds > ref.fds+10 {
			t.Errorf("open files grew from %d to %d", ref.fds, end.fds)
		}
		if end.heapMiB > ref.heapMiB*1.5+16 {
			t.Errorf("heap grew from %.1f to %.1f MiB", ref.heapMiB, end.heapMiB)
		}
		if end.rssMiB > ref.rssMiB*1.5+32 {
			t.Errorf("RSS grew from %.1f to %.1f MiB", ref.rssMiB, end.rssMiB)
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
