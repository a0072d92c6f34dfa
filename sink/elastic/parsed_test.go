package elastic

import (
	"fmt"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/parsedtest"
)

// parsedEvents: n generated entries of format f parsed by the real parser
// (parsedtest), with file lineage (byte offset and line number).
func parsedEvents(tb testing.TB, f stream.Format, n int, seed int64) []stream.Event {
	tb.Helper()
	ingested := time.Date(2026, 11, 2, 3, 4, 5, 6e6, time.UTC)
	return parsedtest.Events(tb, f, n, seed, ingested, func(line, _ int, offset int64) stream.Lineage {
		return stream.Lineage{Kind: stream.OriginFile, Source: fmt.Sprintf("generated/%s-%d.log", f, seed),
			Offset: offset, Line: int64(line), SubSequence: -1}
	})
}
