package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/benchmarks/cost"
	"github.com/gannet-sec/gannet/benchmarks/hotpath"
	"github.com/gannet-sec/gannet/deploy/local/stacktest"
)

// benchLine is one parsed `go test -bench` result.
type benchLine struct {
	Name    string // without the -N suffix
	Procs   int
	N       int
	Metrics map[string]float64
}

func parseBench(r io.Reader) []benchLine {
	var out []benchLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		l := benchLine{Name: f[0], Procs: 1, Metrics: map[string]float64{}}
		if i := strings.LastIndexByte(l.Name, '-'); i > 0 {
			if p, err := strconv.Atoi(l.Name[i+1:]); err == nil {
				l.Name, l.Procs = l.Name[:i], p
			}
		}
		l.N, _ = strconv.Atoi(f[1])
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				l.Metrics[f[i+1]] = v
			}
		}
		out = append(out, l)
	}
	return out
}

// param returns the value of key=value in a benchmark name.
func param(name, key string) string {
	for _, p := range strings.Split(name, "/") {
		if v, ok := strings.CutPrefix(p, key+"="); ok {
			return v
		}
	}
	return ""
}

type peerRun struct {
	System string
	Note   string
	Proc   ProcResult
	Rows   int64
	Bytes  int64
	Files  int
	Err    string
}

type report struct {
	Start, End      time.Time
	LoadStart       string
	LoadEnd         string
	Commit          string
	BenchTime       string
	Pipeline        []benchLine
	Stages          []benchLine
	Ingest          []benchLine
	ESURL           string // the Elasticsearch the Lambda runs indexed into ("" none)
	PeerEvents      int
	PeerInputBytes  int64
	Peers           []peerRun
	RSS             []RSSResult
	Light, Heavy    BatchCPUResult
	ColdStarts      []map[string]any
	Init            *InitResult
	ColdStartErr    string
	Errors          []string
	SVG             string
	BenthosBuildErr string
}

// cmdReport runs everything and writes the report.
func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	out := fs.String("out", "benchmarks/REPORT.md", "report file")
	work := fs.String("work", "benchmarks/out", "scratch directory (raw results are kept here)")
	benchtime := fs.String("benchtime", "1s", "go test -benchtime for the hot-path benchmarks")
	peerEvents := fs.Int("peer-events", 200000, "CloudTrail events in the peer-comparison file")
	coldstarts := fs.Int("coldstarts", 5, "cold starts of the ingest Lambda (0: skip)")
	heavyEntries := fs.Int("heavy", 300000, "entries of the paper's heavy request")
	_ = fs.Parse(args)
	if err := os.MkdirAll(*work, 0o755); err != nil {
		return err
	}
	work0, _ := filepath.Abs(*work)
	*work = work0
	rep := &report{Start: time.Now(), LoadStart: loadAvg(), BenchTime: *benchtime, PeerEvents: *peerEvents}
	if b, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		rep.Commit = strings.TrimSpace(string(b))
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	step := func(s string) { fmt.Fprintf(os.Stderr, "benchrun: %s (load %s)\n", s, loadAvg()) }
	fail := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "benchrun: %s: %v\n", what, err)
		rep.Errors = append(rep.Errors, fmt.Sprintf("%s: %v", what, firstLine(err.Error())))
	}

	// Builds: the peer (tools module) and the baseline (its own module).
	step("building Benthos v4.27.0 and the encoding/json+pqarrow baseline")
	benthos, jsonarrow := filepath.Join(*work, "benthos"), filepath.Join(*work, "jsonarrow")
	if err := goBuild("benchmarks/peer", benthos, "-ldflags=-checklinkname=0"); err != nil {
		fail("building Benthos", err)
		benthos = ""
	}
	if err := goBuild("benchmarks/peer/jsonarrow", jsonarrow); err != nil {
		fail("building the baseline", err)
		jsonarrow = ""
	}

	// Hot-path benchmarks.
	step("hot-path benchmarks (BenchmarkPipeline, -cpu 1,2)")
	if txt, err := goBench(filepath.Join(*work, "bench-pipeline.txt"), "BenchmarkPipeline", "1,2", *benchtime); err != nil {
		fail("BenchmarkPipeline", err)
	} else {
		rep.Pipeline = parseBench(bytes.NewReader(txt))
	}
	step("per-stage benchmarks (BenchmarkStages, -cpu 1)")
	if txt, err := goBench(filepath.Join(*work, "bench-stages.txt"), "BenchmarkStages", "1", *benchtime); err != nil {
		fail("BenchmarkStages", err)
	} else {
		rep.Stages = parseBench(bytes.NewReader(txt))
	}

	step("ingest invocation benchmarks (BenchmarkIngest, -cpu 1)")
	if txt, err := goBench(filepath.Join(*work, "bench-ingest.txt"), "BenchmarkIngest", "1", *benchtime); err != nil {
		fail("BenchmarkIngest", err)
	} else {
		rep.Ingest = parseBench(bytes.NewReader(txt))
	}

	// Peer comparison on one generated file. The GeoIP databases of the
	// whole-hot-path run are written first, so that its process only opens
	// them, as a deployed Gannet does.
	step("peer comparison")
	if _, _, err := hotpath.WriteGeoIP(*work); err != nil {
		return err
	}
	in := filepath.Join(*work, "cloudtrail.ndjson")
	if _, err := runProc(nil, self, "gen", "-format", "cloudtrail", "-n", strconv.Itoa(*peerEvents), "-out", in); err != nil {
		fail("generating the peer input", err)
	} else {
		fi, _ := os.Stat(in)
		rep.PeerInputBytes = fi.Size()
		one := []string{"GOMAXPROCS=1"}
		run := func(system, note, outDir string, name string, args ...string) {
			countDir := outDir
			if strings.HasPrefix(system, "Gannet") {
				countDir = filepath.Join(outDir, "cloudtrail") // the event table, not alerts
			}
			_ = os.RemoveAll(outDir)
			_ = os.MkdirAll(outDir, 0o755)
			pr := peerRun{System: system, Note: note}
			p, err := runProc(one, name, args...)
			pr.Proc = p
			if err != nil {
				pr.Err = firstLine(err.Error())
				fail(system, err)
			} else {
				pr.Bytes, pr.Files, _ = dirBytes(outDir)
				if pr.Rows, err = countParquetRows(countDir); err != nil {
					pr.Err = "row count: " + firstLine(err.Error())
				}
			}
			rep.Peers = append(rep.Peers, pr)
		}
		if benthos != "" {
			cfg := filepath.Join(*work, "benthos.yaml")
			bdir := filepath.Join(*work, "peer-benthos")
			if err := writeBenthosConfig(cfg, in, bdir); err != nil {
				return err
			}
			run("Benthos v4.27.0", "file → mapping (16 columns) → parquet_encode zstd → file, 20k-event batches", bdir, benthos, "-c", cfg)
		}
		run("Gannet (same work)", "decode → CloudTrail parse → lake (full CloudTrail table, ZSTD), flush every 20k", filepath.Join(*work, "peer-gannet"),
			self, "gannet-file", "-in", in, "-out", filepath.Join(*work, "peer-gannet"))
		run("Gannet (whole hot path)", "+ GeoIP/ASN/intel enrich + all rules + ES bulk encode", filepath.Join(*work, "peer-gannet-full"),
			self, "gannet-file", "-full", "-env", *work, "-in", in, "-out", filepath.Join(*work, "peer-gannet-full"))
		if jsonarrow != "" {
			jdir := filepath.Join(*work, "peer-jsonarrow")
			run("encoding/json + pqarrow", "typed struct → Arrow builders → pqarrow zstd, 16 columns, 20k-row groups", jdir,
				jsonarrow, "-in", in, "-out", filepath.Join(jdir, "out.parquet"))
		}
	}

	// Peak RSS of the ingest Lambda handling one 10,000-entry batch, in a
	// fresh process each: as a 128 MB function (the Go memory limit derived
	// from it) and, for comparison, without a memory size.
	step("peak RSS (ingest cold start + one 10,000-entry invocation)")
	// With the local stack's Elasticsearch up, the events are indexed there
	// too, as in a deployed function; without it the ES sink is left out.
	esURL := stacktest.Lookup().ESURL
	if esURL != "" {
		if c, err := net.DialTimeout("tcp", strings.TrimPrefix(strings.TrimPrefix(esURL, "http://"), "https://"), 2*time.Second); err == nil {
			_ = c.Close()
		} else {
			esURL = ""
		}
	}
	rep.ESURL = esURL
	for _, c := range []struct{ format, memory string }{{"alb", "128"}, {"cloudtrail", "128"}, {"alb", "0"}, {"cloudtrail", "0"}} {
		p, err := runProc(nil, self, "rss", "-format", c.format, "-n", "10000", "-per", "1000", "-memory", c.memory, "-geoip-check", "quick", "-es", esURL, "-env", *work)
		f := c.format + " memory " + c.memory
		if err != nil {
			fail("rss "+f, err)
			continue
		}
		var r RSSResult
		if err := json.Unmarshal(p.Stdout, &r); err != nil {
			fail("rss "+f, err)
			continue
		}
		rep.RSS = append(rep.RSS, r)
	}

	// CPU per request for the cost model (one core). A request is an ALB
	// log object handled by lambdas/s3event, which streams it in pipeline
	// batches of at most 1,000 records (or 4 MiB), each flushed.
	const s3Batch = 1000
	step("CPU per request (cost model)")
	light, err := runProc([]string{"GOMAXPROCS=1"}, self, "batchcpu", "-format", "alb", "-n", "5000", "-chunk", strconv.Itoa(s3Batch), "-reps", "9", "-env", *work)
	if err == nil {
		err = json.Unmarshal(light.Stdout, &rep.Light)
	}
	if err != nil {
		fail("batchcpu 5,000", err)
	}
	heavy, err := runProc([]string{"GOMAXPROCS=1"}, self, "batchcpu", "-format", "alb", "-n", strconv.Itoa(*heavyEntries), "-chunk", strconv.Itoa(s3Batch), "-reps", "1", "-env", *work)
	if err == nil {
		err = json.Unmarshal(heavy.Stdout, &rep.Heavy)
	}
	if err != nil {
		fail("batchcpu heavy", err)
	}

	step("init breakdown (in-process CPU)")
	if p, err := runProc(nil, self, "init"); err != nil {
		fail("init breakdown", err)
	} else {
		rep.Init = &InitResult{}
		if err := json.Unmarshal(p.Stdout, rep.Init); err != nil {
			fail("init breakdown", err)
			rep.Init = nil
		}
	}

	// Cold start under the emulator: GeoIP databases checked in full on
	// open (the default) and quickly (GANNET_GEOIP_CHECK=quick). The
	// emulator is installed here if it is not yet (a fresh machine needs
	// nothing but `make bench`), and the test runs with CI=true so that a
	// missing emulator fails it instead of skipping it.
	if *coldstarts < 1 {
		return fmt.Errorf("-coldstarts %d: the report needs at least one cold start", *coldstarts)
	}
	step("aws-lambda-rie (deploy/local/stack install lambda-rie)")
	rie, err := ensureRIE()
	if err != nil {
		rep.ColdStartErr = "not measured: the Lambda runtime emulator is not available: " + firstLine(err.Error())
		fail("cold start", err)
	} else {
		for _, check := range []string{"full", "quick"} {
			step("ingest cold starts under aws-lambda-rie, GeoIP check " + check)
			csOut := filepath.Join(*work, "coldstart-"+check+".json")
			_ = os.Remove(csOut)
			cmd := exec.Command("go", "test", "-count=1", "-timeout", "20m", "-run", "^TestColdStart$", "-v", "./benchmarks/coldstart")
			cmd.Env = append(os.Environ(), "GANNET_BENCH_COLDSTART_OUT="+csOut, "GANNET_BENCH_COLDSTARTS="+strconv.Itoa(*coldstarts),
				"GANNET_GEOIP_CHECK="+check, "GANNET_LAMBDA_RIE="+rie, "CI=true", "GANNET_ES_URL="+esURL)
			b, err := cmd.CombinedOutput()
			_ = os.WriteFile(filepath.Join(*work, "coldstart-"+check+".log"), b, 0o644)
			var m map[string]any
			jb, rerr := os.ReadFile(csOut)
			if err == nil && rerr == nil && json.Unmarshal(jb, &m) == nil {
				m["check"] = check
				rep.ColdStarts = append(rep.ColdStarts, m)
				continue
			}
			why := lastLines(string(b), 3)
			if err != nil {
				why += " (" + err.Error() + ")"
			}
			rep.ColdStartErr = "not measured (GeoIP check " + check + "): " + why
			fail("cold start, GeoIP check "+check, fmt.Errorf("%s; log: %s", why, filepath.Join(*work, "coldstart-"+check+".log")))
		}
	}

	rep.End, rep.LoadEnd = time.Now(), loadAvg()
	svgPath := strings.TrimSuffix(*out, ".md") + ".svg"
	rep.SVG = filepath.Base(svgPath)
	var md bytes.Buffer
	writeReport(&md, rep)
	if len(rep.Errors) > 0 {
		// A report with a hole is not written over the last good one: the
		// partial one stays beside the raw results, and the run fails.
		partial := filepath.Join(*work, "REPORT.partial.md")
		_ = os.WriteFile(partial, md.Bytes(), 0o644)
		return fmt.Errorf("%d steps failed, %s not written (partial report: %s):\n  %s", len(rep.Errors), *out, partial, strings.Join(rep.Errors, "\n  "))
	}
	if err := os.WriteFile(svgPath, []byte(plot(rep)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(*out, md.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchrun: wrote %s and %s in %s\n", *out, svgPath, rep.End.Sub(rep.Start).Round(time.Second))
	return nil
}

func goBuild(dir, out string, flags ...string) error {
	args := append([]string{"build"}, flags...)
	args = append(args, "-o", out, ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, b)
	}
	return nil
}

func goBench(outFile, re, cpus, benchtime string) ([]byte, error) {
	cmd := exec.Command("go", "test", "-count=1", "-run", "^$", "-bench", "^"+re+"$/", "-benchmem",
		"-cpu", cpus, "-benchtime", benchtime, "-timeout", "30m", "./benchmarks/hotpath")
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(&buf, os.Stderr)
	cmd.Stderr = os.Stderr
	err := cmd.Run()
	_ = os.WriteFile(outFile, buf.Bytes(), 0o644)
	return buf.Bytes(), err
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}

// ---------------------------------------------------------------- report

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func kfmt(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func (rep *report) pipeline(format string, batch, procs int) (benchLine, bool) {
	for _, l := range rep.Pipeline {
		if param(l.Name, "format") == format && param(l.Name, "batch") == strconv.Itoa(batch) && l.Procs == procs {
			return l, true
		}
	}
	return benchLine{}, false
}

func (rep *report) peer(prefix string) (peerRun, bool) {
	for _, p := range rep.Peers {
		if strings.HasPrefix(p.System, prefix) && p.Err == "" {
			return p, true
		}
	}
	return peerRun{}, false
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func writeReport(w io.Writer, rep *report) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# Gannet benchmarks\n\n")
	p("Written by `make bench-report` (`go run ./benchmarks/cmd/benchrun report`); every figure below was measured in this run.\n\n")
	p("| | |\n|---|---|\n")
	p("| run | %s → %s (%s) |\n", rep.Start.UTC().Format(time.RFC3339), rep.End.UTC().Format("15:04:05Z"), rep.End.Sub(rep.Start).Round(time.Second))
	p("| commit | %s |\n| Go | %s %s/%s |\n| CPU | %s, %d logical CPUs |\n", rep.Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, cpuModel(), runtime.NumCPU())
	p("| load average (1/5/15 min) | at start %s; at end %s |\n", rep.LoadStart, rep.LoadEnd)
	p("| hot-path benchtime | %s per benchmark |\n\n", rep.BenchTime)
	if l1 := strings.Fields(rep.LoadStart); len(l1) > 0 {
		if v, _ := strconv.ParseFloat(l1[0], 64); v > float64(runtime.NumCPU()) {
			p("> **The machine was loaded (load average %s on %d CPUs): wall-clock figures (records/s, MB/s, wall times) are not meaningful in this run; the CPU-time figures (records per CPU-second, from CLOCK_PROCESS_CPUTIME_ID and wait4 rusage) are the ones to read, and even they are inflated somewhat by cache and frequency effects of sharing the cores.**\n\n", rep.LoadStart, runtime.NumCPU())
		}
	}
	if len(rep.Errors) > 0 {
		p("Steps that failed in this run:\n\n")
		for _, e := range rep.Errors {
			p("- %s\n", e)
		}
		p("\n")
	}

	writeGoals(w, rep)

	p("## Hot path per format\n\n")
	p("`BenchmarkPipeline/format=F/batch=N` (benchmarks/hotpath): one op is one batch of N Kinesis records (one log entry each, generated with attacks) through decode → parse → enrich (generated GeoIP2 city + ASN databases of ~20,000 networks, demo threat intel) → detect (built-in rules + the SigmaHQ AWS CloudTrail corpus) → Parquet lake (ZSTD, committed to a store that discards the bytes) + Elasticsearch bulk-body encoding, flushed after every batch as the ingest Lambda flushes after each pipeline batch of an invocation (500 Kinesis records; see \"One ingest Lambda invocation\" below for what that costs). At GOMAXPROCS 2 two pipelines run in parallel goroutines, sharing the enricher and the lake, each with its own detector. records/CPU-s divides by the process CPU time (all threads, GC included).\n\n")
	p("| format | batch | GOMAXPROCS | records/s (wall) | records/CPU-s | MB/s (wall) | MB/CPU-s | B alloc/record | allocs/record | alerts/batch | Parquet B/record |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range rep.Pipeline {
		batch, _ := strconv.ParseFloat(param(l.Name, "batch"), 64)
		m := l.Metrics
		mbcpu := 0.0
		if m["records/s"] > 0 {
			mbcpu = m["MB/s"] * m["records/cpu-s"] / m["records/s"]
		}
		p("| %s | %.0f | %d | %s | %s | %.1f | %.1f | %.0f | %.1f | %.2f | %.0f |\n", param(l.Name, "format"), batch, l.Procs,
			kfmt(m["records/s"]), kfmt(m["records/cpu-s"]), m["MB/s"], mbcpu, m["B/op"]/batch, m["allocs/op"]/batch, m["alerts/op"], m["parquet-B/rec"])
	}
	p("\n![throughput per format and the peer ratio](%s)\n\n", rep.SVG)

	p("### Where the time goes (CPU per record, batch 1,000, one pipeline)\n\n")
	p("`BenchmarkStages/format=F/upto=S`: the pipeline built up to each stage in turn; a stage's cost is its CPU time per record minus the previous stage's (noise can make a small stage negative).\n\n")
	p("| format | parse (incl. decode) µs | enrich µs | detect µs | lake (Parquet) µs | ES encode µs | total µs/record | records/CPU-s |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range hotpath.Formats {
		var cum [5]float64
		ok := true
		for i, st := range hotpath.StageNames {
			found := false
			for _, l := range rep.Stages {
				if param(l.Name, "format") == f.String() && param(l.Name, "upto") == st {
					cum[i] = l.Metrics["cpu-ns/op"] / 1000 / 1000 // µs per record (batch 1,000)
					found = true
				}
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		p("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |\n", f, cum[0], cum[1]-cum[0], cum[2]-cum[1], cum[3]-cum[2], cum[4]-cum[3], cum[4], kfmt(1e6/cum[4]))
	}
	p("\nReading it: every batch is flushed (a Lambda acknowledges nothing that is not flushed), so each batch becomes new Parquet files (one per table and hour partition) — at 100 or 1,000 records the per-file cost (column writers, ZSTD contexts, footer) dominates, which is why batch 10,000 is faster per record. Generated GuardDuty findings span many hours, so each of its batches writes dozens of small files. ES encode is the cost of the bulk body alone (no network).\n\n")

	writeIngest(w, rep)
	writePeers(w, rep)
	writeLambda(w, rep)
	writeCost(w, rep)

	p("## How to reproduce\n\n")
	p("```sh\nmake bench-report                      # everything: writes benchmarks/REPORT.md and benchmarks/REPORT.svg\n")
	p("go test -run '^$' -bench 'BenchmarkPipeline/format=alb/' -cpu 1,2 -benchmem ./benchmarks/hotpath   # one format\n")
	p("go test ./benchmarks/cost                # the paper's §2.7 figures reproduce\n```\n\n")
	p("Raw `go test -bench` output (for benchstat) and the peer runs' outputs are kept in `benchmarks/out/`.\n")
}

func writeIngest(w io.Writer, rep *report) {
	if len(rep.Ingest) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("### One ingest Lambda invocation\n\n")
	p("`BenchmarkIngest/format=F/chunk=C`: one op is what one invocation of the ingest Lambda does — the Kinesis event JSON (one entry per record, as many records as fit the 6 MB payload limit, at most 10,000) unmarshalled into `events.KinesisEvent` and handled by `lambdas/handler.Kinesis` on the whole hot path above, flushing after each pipeline batch (chunk). `chunk=lambda` cuts the invocation as the ingest Lambda does (500 records per pipeline batch); `chunk=1MiB` into batches of at most 1 MiB of record data (`handler.Kinesis.ChunkBytes`), a candidate not yet used by the Lambda: every flush writes a Parquet file per table and hour partition, so fewer, larger batches cost less per record, but when a sink fails part of a batch the lake still commits the rows of the records that are then retried, and with larger batches `TestIntegrationIngestUnderEmulator` finds such duplicate rows in the lake. One pipeline, GOMAXPROCS 1.\n\n")
	p("| format | chunking | records per invocation | payload | lake files per invocation | CPU per invocation | records/CPU-s | B alloc/record |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range rep.Ingest {
		m := l.Metrics
		recs := m["records/op"]
		if recs == 0 {
			continue
		}
		p("| %s | %s | %s | %.1f MB | %.0f | %.0f ms | %s | %.0f |\n", param(l.Name, "format"), param(l.Name, "chunk"), commas(int64(recs)), m["payload-B/op"]/1e6,
			m["files/op"], m["cpu-ns/op"]/1e6, kfmt(m["records/cpu-s"]), m["B/op"]/recs)
	}
	p("\n")
}

type goal struct{ name, target, measured, verdict string }

func writeGoals(w io.Writer, rep *report) {
	var gs []goal
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	if l, ok := rep.pipeline("cloudtrail", 1000, 1); ok {
		v := l.Metrics["records/cpu-s"]
		gs = append(gs, goal{"CloudTrail end to end, per core", "≥ 200 k events/s", kfmt(v) + " events/CPU-s (batch 1,000)", verdict(v >= 200e3)})
	}
	if g, ok := rep.peer("Gannet (same work)"); ok {
		if b, ok := rep.peer("Benthos"); ok {
			r := rate(g.Rows, g.Proc.CPU) / rate(b.Rows, b.Proc.CPU)
			gs = append(gs, goal{"vs Benthos on identical input, per core", "about 10×", fmt.Sprintf("%.1f× (events per CPU-second, whole process)", r), verdict(r >= 9.5)})
		}
	}
	best := 0.0
	bestF := ""
	for _, f := range []string{"alb", "vpcflow"} {
		if l, ok := rep.pipeline(f, 1000, 1); ok && l.Metrics["records/cpu-s"] > best {
			best, bestF = l.Metrics["records/cpu-s"], f
		}
	}
	if bestF != "" {
		gs = append(gs, goal{"ALB or VPC-flow lines, per core", "≥ 1 M lines/s", kfmt(best) + " lines/CPU-s (" + bestF + ", batch 1,000)", verdict(best >= 1e6)})
	}
	for _, cs := range rep.ColdStarts {
		gs = append(gs, goal{"ingest init (all rules + GeoIP), GeoIP check " + fmt.Sprint(cs["check"]), "≤ 50 ms",
			fmt.Sprintf("%.0f ms median wall (%.0f ms CPU)", num(cs["median_init_ms"]), num(cs["median_init_cpu_ms"])), verdict(num(cs["median_init_ms"]) <= 50)})
		if v := num(cs["peak_rss"]); v > 0 {
			gs = append(gs, goal{fmt.Sprintf("ingest peak RSS, 10,000-entry ALB batch, %.0f MB function under the emulator, GeoIP check %v", num(cs["memory_mb"]), cs["check"]), "≤ 128 MiB", mib(int64(v)) + " (GeoIP: " + fmt.Sprint(cs["geoip"]) + ")", verdict(v <= 128<<20)})
		}
	}
	if len(rep.ColdStarts) == 0 {
		gs = append(gs, goal{"ingest init (all rules + GeoIP)", "≤ 50 ms", rep.ColdStartErr, "not measured"})
	}
	for _, r := range rep.RSS {
		if r.MemoryMB == 128 {
			gs = append(gs, goal{fmt.Sprintf("ingest peak RSS, 10,000-entry %s batch, 128 MB function (in-process model)", r.Format), "≤ 128 MiB",
				fmt.Sprintf("%s (%.1f MB of entries)", mib(r.PeakRSS), float64(r.BatchBytes)/1e6), verdict(r.PeakRSS <= 128<<20)})
		}
	}
	if rep.Heavy.MedianCPU > 0 {
		need := needMB(rep.Heavy.PeakRSS)
		w := cost.Workload{RequestsPerMinute: 200, EntriesPerRequest: rep.Heavy.Entries}
		c := cost.Best(w, cost.ARM64, rep.Heavy.MedianCPU, need)
		ec2 := cost.InstancesMonthly(cost.ARM64)
		name := "paper's heavy case on Lambda arm64"
		if rep.Heavy.Entries != 300000 {
			name += fmt.Sprintf(" (this run: %s entries per request, not the paper's 300,000)", commas(int64(rep.Heavy.Entries)))
		}
		gs = append(gs, goal{name, "< 2×m5.large ($138.24/month)", fmt.Sprintf("$%.2f/month at %d MB", c.Monthly, c.MemoryMB), verdict(c.Monthly < ec2)})
	}
	fmt.Fprintf(w, "## Goals and where Gannet stands\n\n| goal | target | measured | |\n|---|---|---|---|\n")
	for _, g := range gs {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", g.name, g.target, g.measured, g.verdict)
	}
	fmt.Fprintf(w, "\n")
}

func writePeers(w io.Writer, rep *report) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("## Peer comparison: CloudTrail NDJSON → ZSTD Parquet, whole process, identical input\n\n")
	p("One generated file of %d CloudTrail events (%.1f MB, with attacks), processed by each system in turn in this run, each as its own process at GOMAXPROCS=1 (one core). CPU time and peak RSS come from wait4's rusage; rows are read back from the Parquet footers of what each wrote.\n\n", rep.PeerEvents, float64(rep.PeerInputBytes)/1e6)
	p("| system | work | events/s (wall) | MB/s (wall) | events/CPU-s | MB/CPU-s | CPU s | peak RSS | rows written | Parquet |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rep.Peers {
		if r.Err != "" {
			p("| %s | %s | failed: %s | | | | | | | |\n", r.System, r.Note, r.Err)
			continue
		}
		p("| %s | %s | %s | %.1f | %s | %.1f | %.2f | %s | %d | %.1f MB in %d files |\n", r.System, r.Note,
			kfmt(rate(r.Rows, r.Proc.Wall)), rate(rep.PeerInputBytes, r.Proc.Wall)/1e6, kfmt(rate(r.Rows, r.Proc.CPU)),
			rate(rep.PeerInputBytes, r.Proc.CPU)/1e6, r.Proc.CPU.Seconds(), mib(r.Proc.MaxRSS), r.Rows, float64(r.Bytes)/1e6, r.Files)
	}
	b, okb := rep.peer("Benthos")
	if okb {
		p("\n| ratio to Benthos | by events/CPU-s | by wall clock |\n|---|---:|---:|\n")
		for _, r := range rep.Peers {
			if r.Err != "" || strings.HasPrefix(r.System, "Benthos") {
				continue
			}
			p("| %s / Benthos | %.1f× | %.1f× |\n", r.System, rate(r.Rows, r.Proc.CPU)/rate(b.Rows, b.Proc.CPU), rate(r.Rows, r.Proc.Wall)/rate(b.Rows, b.Proc.Wall))
		}
	}
	p("\nGannet's lake writes its full CloudTrail table (ECS fields, lineage, event id, the native record), more columns than the 16 the peer and the baseline write, so \"same work\" is, if anything, more work for Gannet.\n\n")
}

func heavyPaper(entries int) string {
	if entries == 300000 {
		return "$2,162.16 (60 s)"
	}
	return "— (the paper's case is 300,000)"
}

// commas formats n with thousands separators.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func needMB(peak int64) int {
	return int((peak + (1<<20 - 1)) >> 20)
}

func writeLambda(w io.Writer, rep *report) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("## Cold start and memory\n\n")
	if len(rep.ColdStarts) == 0 {
		p("Cold start: %s.\n\n", rep.ColdStartErr)
	}
	for _, cs := range rep.ColdStarts {
		p("**GeoIP check %v.** `lambdas/ingest` built as `bootstrap` (%.0f MB) and started under aws-lambda-rie by `deploy/local/stacktest.RunLambda`, %v times; configuration from the environment as in AWS: built-in rules + the SigmaHQ corpus, GeoIP: %v (GANNET_GEOIP_CHECK=%v), demo intel, lake and dead letters to local directories, %s, AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%.0f.\n\n",
			cs["check"], num(cs["bootstrap_bytes"])/1e6, cs["starts"], cs["geoip"], cs["check"], esNote(rep.ESURL), num(cs["memory_mb"]))
		p("| | median | each start |\n|---|---:|---|\n")
		p("| init duration (emulator INIT REPORT), wall | %.0f ms | %v |\n", num(cs["median_init_ms"]), cs["init_ms"])
		p("| pipeline build inside init (coldstart took_ms), wall | %.0f ms | %v |\n", num(cs["median_build_ms"]), cs["build_ms"])
		p("| handler CPU after init + a 10-record invoke (/proc stat, 10 ms ticks) | %.0f ms | %v |\n\n", num(cs["median_init_cpu_ms"]), cs["init_cpu_ms"])
		p("10,000-record ALB batch (%.1f MB of log lines, sent as 10 gzip-compressed Kinesis records, %.1f MB invocation payload; sent raw it would exceed the 6 MB payload limit): handler peak RSS (VmHWM) **%s**, %s after init; the emulator's duration for the batch %.0f ms (wall).\n\n",
			num(cs["batch_bytes"])/1e6, num(cs["payload_bytes"])/1e6, mib(int64(num(cs["peak_rss"]))), mib(int64(num(cs["rss_after_init"]))), num(cs["batch_wall_ms"]))
	}
	p("A full check (`GANNET_GEOIP_CHECK=full`, the default) decodes every record of the GeoIP databases at open: CPU, and every page of the memory-mapped files becomes resident and counts in RSS. A quick check reads the metadata and search tree only. The setting reaches the Lambda's enricher through stream/config's `geoip_check` key (`GANNET_GEOIP_CHECK`), which stream/setup passes to `enrich.Options.Check`")
	var full, quick map[string]any
	for _, cs := range rep.ColdStarts {
		switch cs["check"] {
		case "full":
			full = cs
		case "quick":
			quick = cs
		}
	}
	if full != nil && quick != nil {
		p(": in this run the median init took %.0f ms with the full check and %.0f ms with the quick one, and RSS after init was %s and %s", num(full["median_init_ms"]), num(quick["median_init_ms"]),
			mib(int64(num(full["rss_after_init"]))), mib(int64(num(quick["rss_after_init"]))))
	}
	p(". Use the quick check in Lambda, with the files pinned by `GANNET_GEOIP_SHA256`.\n\n")
	if in := rep.Init; in != nil {
		p("What init spends CPU on, in-process (`benchrun init`): compiling the %d rules (built-ins + SigmaHQ corpus) **%s**", in.Rules, in.RulesCPU.Round(100*time.Microsecond))
		if in.GeoIP != "" {
			p("; opening the GeoIP databases (%s) with the full check **%s**, with the quick check **%s**", in.GeoIP, in.GeoIPFullCPU.Round(time.Millisecond), in.GeoIPQuickCPU.Round(100*time.Microsecond))
		}
		p(".\n\n")
	}
	if len(rep.RSS) > 0 {
		p("In-process, fresh process per case (`benchrun rss`): what the ingest Lambda does, without the emulator — the cold start of `lambdas/coldstart` (configuration from `GANNET_*`, the Go memory limit it derives from `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, all rules, generated GeoIP city + ASN databases with the quick check, demo intel), then one invocation: the payload bytes as the runtime API hands them over, `json.Unmarshal` into `events.KinesisEvent`, the ingest handler (`Core.Kinesis`); lake and dead letters to local directories, the events indexed into the local stack's Elasticsearch when it is up (else the row says \"no Elasticsearch\"). The batch is 10,000 entries in gzip-compressed Kinesis records of 1,000 (one entry per record would not fit the 6 MB payload limit). The inputs are written before the measured process starts.\n\n")
		p("| batch | entries size | payload | function memory | Go memory limit | RSS after init | peak RSS | peak heap in use | GCs | CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range rep.RSS {
			mem, lim := "not set", "none"
			if r.MemoryMB > 0 {
				mem = fmt.Sprintf("%d MB", r.MemoryMB)
			}
			if r.GoMemLimit > 0 && r.GoMemLimit < 1<<62 {
				lim = mib(r.GoMemLimit)
			}
			if r.ES == "" {
				mem += ", no Elasticsearch"
			}
			p("| %s %s entries in %d records | %.1f MB | %.1f MB | %s | %s | %s | **%s** | %s | %d | %s |\n", commas(int64(r.Records)), r.Format, r.KinesisRecords, float64(r.BatchBytes)/1e6, float64(r.PayloadBytes)/1e6,
				mem, lim, mib(r.InitRSS), mib(r.PeakRSS), mib(r.HeapPeak), r.GCs, r.CPU.Round(time.Millisecond))
		}
		p("\nThe Go memory limit (75%% of the function's memory, set by `lambdas/coldstart.MemoryLimit` when `GOMEMLIMIT` is not set) makes the collector run before the heap doubles (GOGC=100): the peak heap stays near the limit at the price of more collections (CPU column). RSS beyond the heap is the binary's mapped text and, with real GeoIP databases, the pages lookups touched.\n\n")
	}
}

func esNote(url string) string {
	if url == "" {
		return "no Elasticsearch (the local stack's was not up)"
	}
	return "events indexed into the local stack's Elasticsearch"
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

func writeCost(w io.Writer, rep *report) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("## Cost: the paper's §2.7 table with measured durations\n\n")
	light := cost.Workload{RequestsPerMinute: 200, EntriesPerRequest: 5000}
	heavy := cost.Workload{RequestsPerMinute: 200, EntriesPerRequest: 300000}
	p("The paper: 200 requests/min × 5,000 load-balancer entries (%s requests a 30-day month), a 256 MB Lambda running 1 s per request: **$37.74/month**; 300,000 entries per request at 60 s: **$2,162.16/month**; 2×m5.large: **$138.24/month**.\n\n", commas(int64(light.Requests())))
	p("Prices (%s): Lambda x86_64 $%.10f per GB-s, arm64 $%.10f per GB-s, $0.20 per million requests; m5.large $0.096/h × 720 h × 2. The paper's figures reproduce exactly with its GB-s price rounded to $0.00001667 (`go test ./benchmarks/cost`):\n\n", cost.PriceDate, cost.X86.GBSecond, cost.ARM64.GBSecond)
	p("| case | paper | recomputed, paper's assumptions ($0.00001667) | at $0.0000166667 |\n|---|---:|---:|---:|\n")
	p("| 5,000 entries, 256 MB, 1 s | $37.74 | $%.2f | $%.2f |\n", cost.LambdaMonthly(light, cost.PaperX86, 256, time.Second), cost.LambdaMonthly(light, cost.X86, 256, time.Second))
	p("| 300,000 entries, 256 MB, 60 s | $2,162.16 | $%.2f | $%.2f |\n", cost.LambdaMonthly(heavy, cost.PaperX86, 256, time.Minute), cost.LambdaMonthly(heavy, cost.X86, 256, time.Minute))
	p("| 2×m5.large | $138.24 | $%.2f | $%.2f |\n\n", cost.InstancesMonthly(cost.PaperX86), cost.InstancesMonthly(cost.X86))
	if rep.Light.MedianCPU == 0 || rep.Heavy.MedianCPU == 0 {
		p("Gannet's CPU time per request was not measured in this run.\n\n")
		return
	}
	p("Gannet's duration replaces the assumed one: the measured CPU time of one request on the whole hot path (ALB, one core, `benchrun batchcpu`; a request is one ALB log object as `lambdas/s3event` handles it, streamed in pipeline batches of %s records, each flushed, never held whole; median of %d requests of 5,000 entries, one of %s entries), divided by the function's vCPU share (memory / 1,769 MB, capped at 1: one batch is one thread), billed per started millisecond. The memory size must hold the request's measured peak RSS. CPU time is measured on this machine's x86_64 cores and assumed equal on Graviton (arm64 speed not measured here). The I/O waits of a real function (S3 PUT, Elasticsearch bulk POST) are not included.\n\n",
		commas(int64(rep.Light.Chunk)), rep.Light.Reps, commas(int64(rep.Heavy.Entries)))
	p("| case | CPU per request | peak RSS | paper (256 MB, assumed duration) | Gannet x86_64 at 256 MB | Gannet x86_64, best size | Gannet arm64, best size | 2×m5.large | cores needed at Gannet's rate (2×m5.large has 4 vCPU) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range []struct {
		name  string
		w     cost.Workload
		r     BatchCPUResult
		paper string
	}{{"5,000 entries", light, rep.Light, "$37.74 (1 s)"}, {commas(int64(rep.Heavy.Entries)) + " entries", cost.Workload{RequestsPerMinute: 200, EntriesPerRequest: rep.Heavy.Entries}, rep.Heavy, heavyPaper(rep.Heavy.Entries)}} {
		need := needMB(c.r.PeakRSS)
		at := cost.At(c.w, cost.X86, c.r.MedianCPU, need, 256)
		atS := fmt.Sprintf("$%.2f (%s)", at.Monthly, at.Duration.Round(time.Millisecond))
		if !at.Fits {
			atS += " — does not fit: needs " + strconv.Itoa(need) + " MB"
		}
		bx := cost.Best(c.w, cost.X86, c.r.MedianCPU, need)
		ba := cost.Best(c.w, cost.ARM64, c.r.MedianCPU, need)
		perCore := float64(c.r.Entries) / c.r.MedianCPU.Seconds()
		p("| %s | %s | %s | %s | %s | $%.2f at %d MB (%s) | $%.2f at %d MB (%s) | $%.2f | %.2f |\n", c.name, c.r.MedianCPU.Round(time.Millisecond), mib(c.r.PeakRSS), c.paper, atS,
			bx.Monthly, bx.MemoryMB, bx.Duration.Round(time.Millisecond), ba.Monthly, ba.MemoryMB, ba.Duration.Round(time.Millisecond), cost.InstancesMonthly(cost.X86), cost.CoresNeeded(c.w, perCore))
	}
	p("\nBelow 1,769 MB the GB-seconds of a CPU-bound request do not depend on the memory size (less memory, proportionally longer), so the best size is the smallest that holds the batch, up to millisecond rounding; above it a single-threaded batch only pays more. \"Cores needed\" is the input rate (entries/s) over Gannet's measured entries per CPU-second: the 2×m5.large side of the paper's comparison only holds if that is ≤ 4.\n\n")
}

// ---------------------------------------------------------------- plot

// plot draws records per CPU-second per format (batch 1,000, one core) and
// the peer comparison, as an SVG bar chart.
func plot(rep *report) string {
	type bar struct {
		label string
		v     float64
		color string
	}
	var bars []bar
	for _, f := range hotpath.Formats {
		if l, ok := rep.pipeline(f.String(), 1000, 1); ok {
			bars = append(bars, bar{f.String(), l.Metrics["records/cpu-s"], "#2b6cb0"})
		}
	}
	var peers []bar
	for _, r := range rep.Peers {
		if r.Err == "" {
			c := "#2f855a"
			if strings.HasPrefix(r.System, "Benthos") {
				c = "#c05621"
			} else if strings.HasPrefix(r.System, "encoding") {
				c = "#718096"
			}
			peers = append(peers, bar{r.System, rate(r.Rows, r.Proc.CPU), c})
		}
	}
	const W, rowH, left, top = 900, 26, 230, 60
	n := len(bars) + len(peers) + 2
	H := top + n*rowH + 60
	maxV := 1.0
	for _, b := range append(append([]bar{}, bars...), peers...) {
		maxV = max(maxV, b.v)
	}
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="13">`+"\n", W, H)
	fmt.Fprintf(&s, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&s, `<text x="10" y="22" font-size="16" font-weight="bold">Gannet throughput per CPU-second (one core), load average at start %s</text>`+"\n", rep.LoadStart)
	fmt.Fprintf(&s, `<text x="10" y="42" fill="#444">Blue: whole hot path per format, records/CPU-s, batch 1,000. Below: CloudTrail → ZSTD Parquet, whole process, events/CPU-s.</text>`+"\n")
	y := top
	scale := float64(W-left-140) / maxV
	draw := func(b bar, ratio string) {
		wd := b.v * scale
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-8, y+17, b.label)
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y+4, wd, rowH-8, b.color)
		fmt.Fprintf(&s, `<text x="%.1f" y="%d">%s%s</text>`+"\n", float64(left)+wd+6, y+17, kfmt(b.v), ratio)
		y += rowH
	}
	for _, b := range bars {
		draw(b, "")
	}
	y += rowH
	fmt.Fprintf(&s, `<text x="10" y="%d" font-weight="bold">Peer comparison (identical input)</text>`+"\n", y+10)
	y += rowH / 2
	var benthos float64
	for _, b := range peers {
		if strings.HasPrefix(b.label, "Benthos") {
			benthos = b.v
		}
	}
	sort.SliceStable(peers, func(i, j int) bool { return peers[i].v > peers[j].v })
	for _, b := range peers {
		r := ""
		if benthos > 0 {
			r = fmt.Sprintf(" (%.1f× Benthos)", b.v/benthos)
		}
		draw(b, r)
	}
	s.WriteString("</svg>\n")
	return s.String()
}

// cmdCost prints the cost table for given CPU times (no measurement).
func cmdCost(args []string) error {
	fs := flag.NewFlagSet("cost", flag.ExitOnError)
	light := fs.Duration("light", time.Second, "CPU per 5,000-entry request")
	heavy := fs.Duration("heavy", time.Minute, "CPU per 300,000-entry request")
	lightMB := fs.Int("light-mb", 128, "memory the light request needs")
	heavyMB := fs.Int("heavy-mb", 256, "memory the heavy request needs")
	_ = fs.Parse(args)
	rep := &report{Light: BatchCPUResult{Entries: 5000, Chunk: 1000, Reps: 1, MedianCPU: *light, PeakRSS: int64(*lightMB) << 20},
		Heavy: BatchCPUResult{Entries: 300000, Chunk: 1000, Reps: 1, MedianCPU: *heavy, PeakRSS: int64(*heavyMB) << 20}}
	writeCost(os.Stdout, rep)
	return nil
}
