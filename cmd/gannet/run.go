package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/input"
	"github.com/gannet-sec/gannet/stream/pipeline"
	"github.com/gannet-sec/gannet/stream/setup"
)

const runHelp = `Reads files, directories (recursively; .gz transparently), Lambda Kinesis event
files, or stdin ("-"), and runs every record through decode → parse → enrich →
detect → sinks. Normalized events go to --out as NDJSON; what cannot be processed
goes to the dead-letter directory with its reason; a summary table ends the run.

Settings come from --config (YAML), then GANNET_* environment variables, then flags.

Exit codes: 0 done, 1 error, 2 usage, 3 some records were not stored durably.
`

type runFlags struct {
	configFile  string
	format      string
	out         string
	dlq         string
	summaryJSON string
	batchSize   int
	maxRecord   string
	progress    string
	intelDemo   bool
	lake        string
	es          string
	geoip, asn  string
	intel       listFlag
	rules       listFlag
}

func cmdRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("run", "[flags] INPUT…", runHelp, stderr)
	var rf runFlags
	fs.StringVar(&rf.configFile, "config", "", "YAML configuration file")
	fs.StringVar(&rf.format, "format", "", "format of the inputs: auto (sniff each line) or a format name (default from config: auto)")
	fs.StringVar(&rf.out, "out", "", "write normalized events as NDJSON to FILE, or - for stdout")
	fs.StringVar(&rf.dlq, "dlq", "", "dead-letter directory or s3://bucket/prefix (default ./gannet-dlq)")
	fs.StringVar(&rf.summaryJSON, "summary-json", "", "also write the summary counts as JSON to FILE")
	fs.IntVar(&rf.batchSize, "batch-size", 0, "records per pipeline batch (default from config: 1000)")
	fs.StringVar(&rf.maxRecord, "max-record-bytes", "", "cap on one record's decompressed size, e.g. 64MiB")
	fs.StringVar(&rf.progress, "progress", "auto", "show progress on stderr: auto (when a terminal), always, never")
	fs.BoolVar(&rf.intelDemo, "intel-demo", false, "add the embedded demo threat-intel feed (the indicators gannet gen --attacks uses)")
	fs.StringVar(&rf.lake, "lake", "", "write the Parquet lake to DIR or s3://bucket/prefix")
	fs.StringVar(&rf.es, "es", "", "index into Elasticsearch/OpenSearch at URL (credentials from GANNET_ES_USERNAME/GANNET_ES_PASSWORD)")
	fs.StringVar(&rf.geoip, "geoip", "", "GeoIP city or country database (MaxMind DB format), path or s3://")
	fs.StringVar(&rf.asn, "asn", "", "ASN database (MaxMind DB format), path or s3://")
	fs.Var(&rf.intel, "intel", "threat-intel feed PATH[#format=csv&column=ip&feed=name…] (repeatable)")
	fs.Var(&rf.rules, "rules", "directory of Sigma rules, loaded besides the built-ins (repeatable)")
	inputs, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(inputs) == 0 {
		fmt.Fprintln(stderr, "gannet run: give at least one INPUT (a file, a directory, or - for stdin); see gannet run --help")
		return errUsage
	}
	cfg, err := config.Load(rf.configFile, nil)
	if err != nil {
		return err
	}
	if rf.format != "" {
		cfg.Format = rf.format
	}
	if rf.out != "" {
		cfg.Out = rf.out
	}
	if rf.dlq != "" {
		cfg.DLQ = rf.dlq
	}
	if cfg.DLQ == "" {
		cfg.DLQ = "gannet-dlq"
	}
	if rf.intelDemo {
		cfg.IntelDemo = true
	}
	if rf.lake != "" {
		cfg.Lake = rf.lake
	}
	if rf.es != "" {
		cfg.ESURL = rf.es
	}
	if rf.geoip != "" {
		cfg.GeoIP = rf.geoip
	}
	if rf.asn != "" {
		cfg.ASN = rf.asn
	}
	if len(rf.intel) > 0 {
		cfg.Intel = append(cfg.Intel, rf.intel...)
	}
	if len(rf.rules) > 0 {
		cfg.Rules = append(cfg.Rules, rf.rules...)
	}
	if rf.batchSize != 0 {
		cfg.BatchSize = rf.batchSize
	}
	if rf.maxRecord != "" {
		n, err := config.ParseByteSize(rf.maxRecord)
		if err != nil {
			return fmt.Errorf("--max-record-bytes: %w", err)
		}
		cfg.MaxRecordBytes = n
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)

	built, err := setup.Build(ctx, cfg, setup.Options{Stdout: stdout, Logger: logger, AlertsTo: alertsTo(cfg, stdout, stderr), DeferFlush: true})
	if err != nil {
		return err
	}
	defer built.Close(context.WithoutCancel(ctx))
	dead := deadLetters(built)
	inputRejects := map[string]int64{}
	titles := map[string]string{} // rule id → title, for the summary

	var bytesRead atomic.Int64
	var rejected []stream.DeadLetter
	rd := &input.Reader{
		BatchSize: cfg.BatchSize,
		MaxRecord: int64(cfg.MaxRecordBytes),
		FormatFor: cfg.FormatFor,
		Stdin:     stdin,
		BytesRead: func(n int) { bytesRead.Add(int64(n)) },
		Reject: func(l stream.Lineage, raw []byte, err error) {
			rejected = append(rejected, stream.DeadLetter{Time: time.Now().UTC(), Stage: "input", Reason: stream.ReasonOf(err), Lineage: l, Raw: append([]byte(nil), raw...)})
		},
	}

	start := time.Now()
	var events, recordsIn atomic.Int64
	stopProgress := startProgress(rf.progress, stderr, start, &recordsIn, &events, &bytesRead)
	var unacked, pending int64
	batches := 0
	flushRejected := func() error {
		if len(rejected) == 0 {
			return nil
		}
		if err := dead.DeadLetter(ctx, rejected); err != nil {
			return fmt.Errorf("dead-letter: %w", err)
		}
		for _, l := range rejected {
			inputRejects[l.Reason.Code]++
		}
		rejected = rejected[:0]
		return nil
	}
	// flush makes everything so far durable; records not flushed are unacknowledged.
	flush := func() error {
		if err := built.Pipeline.Flush(ctx); err != nil {
			unacked += pending
			return err
		}
		pending = 0
		return nil
	}
	err = rd.Read(ctx, inputs, func(recs []stream.Record) error {
		res := built.Pipeline.Process(ctx, recs)
		for i := range res.Alerts {
			titles[res.Alerts[i].RuleID] = res.Alerts[i].RuleTitle
		}
		unacked += int64(len(res.Failed))
		pending += int64(len(recs) - len(res.Failed))
		st := built.Pipeline.Stats()
		recordsIn.Store(st.Records)
		events.Store(st.Events)
		if err := flushRejected(); err != nil {
			return err
		}
		if batches++; batches%flushEvery == 0 {
			if err := flush(); err != nil {
				return err
			}
		}
		return ctx.Err()
	})
	if err == nil {
		err = flushRejected()
	}
	if ferr := flush(); ferr != nil && err == nil {
		err = ferr
	}
	stopProgress()
	if cerr := built.Close(ctx); cerr != nil && err == nil {
		err = cerr
	}
	elapsed := time.Since(start)
	st := built.Pipeline.Stats()
	sum := makeSummary(st, built, inputRejects, bytesRead.Load(), elapsed, cfg)
	sum.titles = titles
	summaryOut := stdout
	if cfg.Out == "-" {
		summaryOut = stderr
	}
	sum.print(summaryOut)
	if rf.summaryJSON != "" {
		data, _ := json.MarshalIndent(sum, "", "  ")
		if werr := os.WriteFile(rf.summaryJSON, append(data, '\n'), 0o644); werr != nil && err == nil {
			err = fmt.Errorf("--summary-json: %w", werr)
		}
	}
	if err != nil {
		return err
	}
	if unacked > 0 {
		return &unackedError{n: unacked}
	}
	return nil
}

func newLogger(cfg config.Config, stderr io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	asJSON := cfg.LogFormat == "json"
	if cfg.LogFormat == "auto" {
		f, ok := stderr.(*os.File)
		asJSON = !ok || !term.IsTerminal(int(f.Fd()))
	}
	if asJSON {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

func startProgress(mode string, stderr io.Writer, start time.Time, recs, events, bytes *atomic.Int64) func() {
	show := mode == "always"
	if mode == "auto" {
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			show = true
		}
	}
	if !show {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(stderr, "\r\033[K")
				return
			case <-t.C:
				secs := time.Since(start).Seconds()
				fmt.Fprintf(stderr, "\r\033[K%s records, %s events (%s events/s), %s read",
					human(recs.Load()), human(events.Load()), human(int64(float64(events.Load())/secs)), humanBytes(bytes.Load()))
			}
		}
	}()
	return func() { close(done); <-finished }
}

// summary is what `gannet run` reports, as a table and as --summary-json.
type summary struct {
	RecordsIn          int64              `json:"records_in"`
	BytesIn            int64              `json:"bytes_in"`
	Units              int64              `json:"units"`
	EventsOut          int64              `json:"events_out"`
	Skipped            int64              `json:"skipped"`
	EventsPerFormat    map[string]int64   `json:"events_per_format"`
	DeadLettered       int64              `json:"dead_lettered"`
	DeadLetteredReason map[string]int64   `json:"dead_lettered_by_reason"`
	DeadLetteredStage  map[string]int64   `json:"dead_lettered_by_stage"`
	DeadLetterLocation string             `json:"dead_letter_location,omitempty"`
	Alerts             int64              `json:"alerts"`
	AlertsPerRule      map[string]int64   `json:"alerts_per_rule"`
	Unacknowledged     int64              `json:"unacknowledged"`
	ElapsedSeconds     float64            `json:"elapsed_seconds"`
	EventsPerSecond    float64            `json:"events_per_second"`
	Outputs            []string           `json:"outputs"`
	StageSeconds       map[string]float64 `json:"stage_seconds"`
	titles             map[string]string
	// ControlMessagesSkipped counts CloudWatch Logs CONTROL_MESSAGE payloads.
	ControlMessagesSkipped int64 `json:"cwlogs_control_messages_skipped"`
}

// flushEvery is how many batches `gannet run` processes between flushes
// (fewer, larger lake files; everything is flushed at the end).
const flushEvery = 50

// alertsTo is where alerts are printed as lines: stdout, unless events go there.
func alertsTo(cfg config.Config, stdout, stderr io.Writer) io.Writer {
	if cfg.Out == "-" {
		return stderr
	}
	return stdout
}

// deadLetters is where input-level rejects (oversized lines, unreadable
// files) go: the same dead-letter store the pipeline uses.
func deadLetters(b *setup.Built) stream.DeadLetterSink { return b.DeadLetter }

func makeSummary(st pipeline.Stats, b *setup.Built, inputRejects map[string]int64, bytesIn int64, elapsed time.Duration, cfg config.Config) *summary {
	s := &summary{
		RecordsIn: st.Records, BytesIn: bytesIn, Units: st.Units, EventsOut: st.Events, Skipped: st.Skipped,
		EventsPerFormat: st.EventsByFormat, DeadLettered: st.DeadLetters,
		DeadLetteredReason: st.DeadByReason, DeadLetteredStage: st.DeadByStage,
		Alerts: st.Alerts, AlertsPerRule: st.AlertsByRule, Unacknowledged: st.Failed,
		ElapsedSeconds: elapsed.Seconds(), Outputs: b.Outputs, StageSeconds: map[string]float64{},
		ControlMessagesSkipped: b.Decoder.Stats().ControlMessages,
	}
	for code, n := range inputRejects {
		s.DeadLettered += n
		s.DeadLetteredReason[code] += n
		s.DeadLetteredStage["input"] += n
	}
	if s.DeadLettered > 0 {
		s.DeadLetterLocation = cfg.DLQ
	}
	if elapsed > 0 {
		s.EventsPerSecond = float64(st.Events) / elapsed.Seconds()
	}
	for k, v := range st.StageTime {
		s.StageSeconds[k] = v.Seconds()
	}
	return s
}

func (s *summary) print(w io.Writer) {
	type line struct {
		name string
		n    int64
		note string
	}
	var rows []line
	row := func(name string, n int64, note string) { rows = append(rows, line{name, n, note}) }
	row("records in", s.RecordsIn, humanBytes(s.BytesIn))
	row("events out", s.EventsOut, "")
	for _, f := range pipeline.SortedKeys(s.EventsPerFormat) {
		row("  "+f, s.EventsPerFormat[f], "")
	}
	if s.Skipped > 0 {
		row("skipped (headers)", s.Skipped, "")
	}
	if s.ControlMessagesSkipped > 0 {
		row("CloudWatch Logs control messages", s.ControlMessagesSkipped, "skipped")
	}
	row("dead-lettered", s.DeadLettered, s.DeadLetterLocation)
	for _, r := range pipeline.SortedKeys(s.DeadLetteredReason) {
		row("  "+r, s.DeadLetteredReason[r], "")
	}
	row("alerts", s.Alerts, "")
	rules := pipeline.SortedKeys(s.AlertsPerRule)
	sort.SliceStable(rules, func(i, j int) bool { return s.AlertsPerRule[rules[i]] > s.AlertsPerRule[rules[j]] })
	for _, r := range rules {
		name := r
		if t := s.titles[r]; t != "" {
			name = t
		}
		row("  "+name, s.AlertsPerRule[r], "")
	}
	if s.Unacknowledged > 0 {
		row("NOT STORED (retry them)", s.Unacknowledged, "")
	}
	wName, wNum := 0, 0
	for _, r := range rows {
		wName = max(wName, len(r.name))
		wNum = max(wNum, len(fmt.Sprint(r.n)))
	}
	fmt.Fprintf(w, "\nSummary (%.2fs, %s events/s)\n", s.ElapsedSeconds, human(int64(s.EventsPerSecond)))
	for _, r := range rows {
		fmt.Fprintf(w, "  %-*s  %*d  %s\n", wName, r.name, wNum, r.n, r.note)
	}
	for _, o := range s.Outputs {
		fmt.Fprintf(w, "  → %s\n", o)
	}
}

func human(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
