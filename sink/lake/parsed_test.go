package lake

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
)

// parsedEvents generates n log entries of format f with the project's
// generator and parses them with its parser, as the pipeline would. Kinesis
// lineage for CloudTrail (KPL sub-sequences), S3 object lineage otherwise.
func parsedEvents(tb testing.TB, f stream.Format, n int, seed int64) []stream.Event {
	tb.Helper()
	var buf bytes.Buffer
	if err := format.Generate(f, &buf, gen.Options{Count: n, Seed: seed, Attacks: true}); err != nil {
		tb.Fatal(err)
	}
	set := format.NewSet(format.Options{})
	data := buf.Bytes()
	evs := make([]stream.Event, 0, n)
	ingested := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var off int64
	for line := range bytes.Lines(data) {
		start := off
		off += int64(len(line))
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		var l stream.Lineage
		if f == stream.FormatCloudTrail {
			i := len(evs)
			l = stream.Lineage{Kind: stream.OriginKinesis, Source: "arn:aws:kinesis:eu-west-1:123456789012:stream/gannet",
				Shard: "shardId-000000000003", Sequence: fmt.Sprintf("4959033827149025660855969253836157109592157598913%07d", int64(i/8)+seed*1e6),
				SubSequence: int64(i % 8)}
		} else {
			l = stream.Lineage{Kind: stream.OriginS3, Source: "logs-bucket", Shard: fmt.Sprintf("AWSLogs/%s/%d.log", f, seed), SubSequence: -1, Offset: start, Line: int64(len(evs) + 1)}
		}
		u := stream.Unit{Data: line, Lineage: l, Format: f}
		evs = append(evs, stream.Event{})
		ev := &evs[len(evs)-1]
		ev.Lineage, ev.ID, ev.Ingested, ev.Raw = l, l.ID(), ingested, line
		p := set.For(f, line)
		if p == nil {
			tb.Fatalf("no parser for %s", f)
		}
		if err := p.Parse(&u, ev); err != nil {
			if err == stream.ErrSkip {
				evs = evs[:len(evs)-1]
				continue
			}
			tb.Fatalf("%s: parse %q: %v", f, line, err)
		}
	}
	return evs
}
