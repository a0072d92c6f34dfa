package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gannet-sec/gannet/sink/dlq"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/setup"
)

func cmdDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const help = "Usage: gannet dlq replay [run flags] SRC   re-feed dead letters through the pipeline\n" +
		"       gannet dlq show SRC                  print dead letters (stage, reason, lineage)\n"
	if len(args) == 0 {
		fmt.Fprint(stderr, help)
		return errUsage
	}
	switch args[0] {
	case "replay":
		return cmdDLQReplay(ctx, args[1:], stdout, stderr)
	case "show":
		return cmdDLQShow(ctx, args[1:], stdout, stderr)
	case "help", "--help", "-h":
		fmt.Fprint(stdout, help)
		return nil
	}
	fmt.Fprintf(stderr, "gannet dlq: unknown command %q\n%s", args[0], help)
	return errUsage
}

func cmdDLQShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dlq show", "SRC", "Prints each dead letter of a dead-letter directory or file (- for stdin).\n", stderr)
	srcs, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(srcs) != 1 {
		fmt.Fprintln(stderr, "gannet dlq show: give one SRC")
		return errUsage
	}
	return dlq.Read(ctx, srcs[0], func(l stream.DeadLetter) error {
		_, err := fmt.Fprintf(stdout, "%s  %-6s %-28s %s  %s  (%d bytes)\n", l.Time.UTC().Format("2006-01-02T15:04:05Z"),
			l.Stage, l.Reason.Code, l.Lineage.RecordKey(), l.Reason.Detail, len(l.Raw))
		return err
	})
}

// cmdDLQReplay re-feeds dead letters through the pipeline configured like
// `gannet run`. Letters from the decode stage are decoded again from their
// raw bytes; later ones go straight to the parser with their original
// lineage, so a replayed event has the id it would have had the first time
// (sinks overwrite rather than duplicate). Letters that fail again land in
// the --dlq given here (which must differ from SRC).
func cmdDLQReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dlq replay", "[--out FILE] [--lake …] [--es URL] [--dlq DIR] [--config FILE] SRC",
		"Re-feeds the entries of a dead-letter directory or file through the pipeline, e.g. after a\n"+
			"parser fix or a mapping change. What fails again is dead-lettered to --dlq.\n", stderr)
	configFile := fs.String("config", "", "YAML configuration file")
	out := fs.String("out", "", "write normalized events as NDJSON to FILE, or -")
	dlqDst := fs.String("dlq", "gannet-dlq-replay", "where letters that fail again go")
	lakeLoc := fs.String("lake", "", "Parquet lake DIR or s3://bucket/prefix")
	es := fs.String("es", "", "Elasticsearch/OpenSearch URL")
	srcs, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(srcs) != 1 {
		fmt.Fprintln(stderr, "gannet dlq replay: give one SRC (a dead-letter directory or file)")
		return errUsage
	}
	if srcs[0] == *dlqDst {
		fmt.Fprintln(stderr, "gannet dlq replay: --dlq must differ from SRC")
		return errUsage
	}
	cfg, err := config.Load(*configFile, nil)
	if err != nil {
		return err
	}
	cfg.DLQ = *dlqDst
	if *out != "" {
		cfg.Out = *out
	}
	if *lakeLoc != "" {
		cfg.Lake = *lakeLoc
	}
	if *es != "" {
		cfg.ESURL = *es
	}
	built, err := setup.Build(ctx, cfg, setup.Options{Stdout: stdout, Logger: newLogger(cfg, stderr), AlertsTo: alertsTo(cfg, stdout, stderr)})
	if err != nil {
		return err
	}
	defer built.Close(context.WithoutCancel(ctx))
	var batch []stream.Record
	var unacked int64
	process := func() {
		res := built.Pipeline.Process(ctx, batch)
		unacked += int64(len(res.Failed))
		batch = batch[:0]
	}
	err = dlq.Read(ctx, srcs[0], func(l stream.DeadLetter) error {
		batch = append(batch, stream.Record{Data: l.Raw, Lineage: l.Lineage, Format: l.Format, Decoded: l.Stage != "decode" && l.Stage != "input"})
		if len(batch) == cfg.BatchSize {
			process()
		}
		return ctx.Err()
	})
	if len(batch) > 0 && err == nil {
		process()
	}
	if cerr := built.Close(ctx); err == nil {
		err = cerr
	}
	st := built.Pipeline.Stats()
	fmt.Fprintf(stdout, "replayed %d dead letters: %d events out, %d dead-lettered again (%s)\n", st.Records, st.Events, st.DeadLetters, *dlqDst)
	if err != nil {
		return err
	}
	if unacked > 0 {
		return &unackedError{n: unacked}
	}
	return nil
}
