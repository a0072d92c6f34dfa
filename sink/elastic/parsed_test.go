package elastic

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
)

// parsedEvents generates n entries of format f with the format's own
// generator (attacks included) and parses them with the real parser, the
// way the pipeline does: lineage, id, ingest time and Raw set before Parse.
// It fails the test on any parse error, so the encoder is tested on what
// the parsers really produce.
func parsedEvents(tb testing.TB, f stream.Format, n int, seed int64) []stream.Event {
	tb.Helper()
	var buf bytes.Buffer
	if err := format.Generate(f, &buf, gen.Options{Count: n, Seed: seed, Attacks: true}); err != nil {
		tb.Fatal(err)
	}
	parsers := format.NewSet(format.Options{})
	ingested := time.Date(2026, 11, 2, 3, 4, 5, 6e6, time.UTC)
	evs := make([]stream.Event, 0, n)
	offset := 0
	for i, line := range bytes.Split(bytes.TrimRight(buf.Bytes(), "\n"), []byte("\n")) {
		u := stream.Unit{Data: line, Format: f, Lineage: stream.Lineage{Kind: stream.OriginFile,
			Source: fmt.Sprintf("generated/%s-%d.log", f, seed), Offset: int64(offset), Line: int64(i + 1), SubSequence: -1}}
		offset += len(line) + 1
		evs = append(evs, stream.Event{Lineage: u.Lineage, ID: u.Lineage.ID(), Ingested: ingested, Raw: line})
		ev := &evs[len(evs)-1]
		if err := parsers.For(f, line).Parse(&u, ev); err != nil {
			if err == stream.ErrSkip {
				evs = evs[:len(evs)-1]
				continue
			}
			tb.Fatalf("%s line %d: %v\n%s", f, i+1, err, line)
		}
	}
	if len(evs) == 0 {
		tb.Fatalf("%s: no events", f)
	}
	return evs
}
