package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
	"github.com/gannet-sec/gannet/stream/kinesisevent"
)

func cmdGen(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gen", "--format F [--count N] [--seed S] [--attacks] [--wrap kinesis|kpl|cwlogs]",
		"Writes realistic, deterministic logs of one format to stdout: the same flags always give\n"+
			"the same bytes. --attacks embeds the format's attacks among clean traffic. --wrap writes\n"+
			"instead the Lambda Kinesis event a Kinesis-triggered function would receive, whose records\n"+
			"carry the logs raw, KPL-aggregated, or as CloudWatch Logs subscription payloads.\n\n"+
			"Formats: "+genFormats()+"\n", stderr)
	formatName := fs.String("format", "", "log format (required): "+genFormats())
	count := fs.Int("count", 1000, "number of log entries")
	seed := fs.Int64("seed", 1, "random seed")
	attacks := fs.Bool("attacks", false, "embed attacks among clean traffic")
	wrap := fs.String("wrap", "", "wrap as a Lambda Kinesis event: kinesis (raw records), kpl or cwlogs")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	f, ok := stream.ParseFormat(*formatName)
	if !ok || f == stream.FormatJSON {
		fmt.Fprintf(stderr, "gannet gen: --format must be one of %s (got %q)\n", genFormats(), *formatName)
		return errUsage
	}
	if *count < 0 {
		fmt.Fprintf(stderr, "gannet gen: --count must be >= 0 (got %d)\n", *count)
		return errUsage
	}
	opts := gen.Options{Count: *count, Seed: *seed, Attacks: *attacks}
	if *wrap == "" {
		w := bufio.NewWriterSize(stdout, 256<<10)
		if err := format.Generate(f, w, opts); err != nil {
			return err
		}
		return w.Flush()
	}
	mode, ok := kinesisevent.ParseWrap(*wrap)
	if !ok {
		fmt.Fprintf(stderr, "gannet gen: --wrap must be kinesis, kpl or cwlogs (got %q)\n", *wrap)
		return errUsage
	}
	var buf bytes.Buffer
	if err := format.Generate(f, &buf, opts); err != nil {
		return err
	}
	lines := bytes.Split(bytes.TrimRight(buf.Bytes(), "\n"), []byte("\n"))
	if buf.Len() == 0 {
		lines = nil
	}
	w := bufio.NewWriter(stdout)
	if err := kinesisevent.Build(w, lines, kinesisevent.Options{Wrap: mode}); err != nil {
		return err
	}
	return w.Flush()
}

func genFormats() string {
	var names []string
	for _, f := range format.Generatable() {
		names = append(names, f.String())
	}
	return strings.Join(names, ", ")
}
