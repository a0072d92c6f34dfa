// Package parsedtest gives sink tests events as the pipeline makes them:
// entries from the project's own generator (attacks included), parsed by the
// real parser with lineage, id, ingest time and Raw set before Parse. A
// sink is then tested on what the parsers really produce.
package parsedtest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
)

// Lineage returns the lineage of one generated line: line is its 1-based
// number among all lines (skipped ones included), index the number of
// events kept before it, offset its byte offset in the generated text.
type Lineage func(line, index int, offset int64) stream.Lineage

// Events generates n entries of format f (seed) and parses them. Lines the
// parser skips (headers) are left out; any parse error fails the test, as
// does a format that yields no event.
func Events(tb testing.TB, f stream.Format, n int, seed int64, ingested time.Time, lineage Lineage) []stream.Event {
	tb.Helper()
	var buf bytes.Buffer
	if err := format.Generate(f, &buf, gen.Options{Count: n, Seed: seed, Attacks: true}); err != nil {
		tb.Fatal(err)
	}
	set := format.NewSet(format.Options{})
	evs := make([]stream.Event, 0, n)
	var off int64
	lineNo := 0
	for line := range bytes.Lines(buf.Bytes()) {
		start := off
		off += int64(len(line))
		lineNo++
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		l := lineage(lineNo, len(evs), start)
		u := stream.Unit{Data: line, Lineage: l, Format: f}
		evs = append(evs, stream.Event{Lineage: l, ID: l.ID(), Ingested: ingested, Raw: line})
		p := set.For(f, line)
		if p == nil {
			tb.Fatalf("%s line %d: no parser", f, lineNo)
		}
		if err := p.Parse(&u, &evs[len(evs)-1]); err != nil {
			if errors.Is(err, stream.ErrSkip) {
				evs = evs[:len(evs)-1]
				continue
			}
			tb.Fatalf("%s line %d: %v\n%s", f, lineNo, err, line)
		}
	}
	if len(evs) == 0 {
		tb.Fatalf("%s: no events", f)
	}
	return evs
}
