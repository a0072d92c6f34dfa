package lake

import (
	"fmt"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/parsedtest"
)

// parsedEvents: n generated entries of format f parsed by the real parser
// (parsedtest). Kinesis lineage for CloudTrail (KPL sub-sequences), S3
// object lineage otherwise.
func parsedEvents(tb testing.TB, f stream.Format, n int, seed int64) []stream.Event {
	tb.Helper()
	ingested := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	return parsedtest.Events(tb, f, n, seed, ingested, func(_, i int, offset int64) stream.Lineage {
		if f == stream.FormatCloudTrail {
			return stream.Lineage{Kind: stream.OriginKinesis, Source: "arn:aws:kinesis:eu-west-1:123456789012:stream/gannet",
				Shard: "shardId-000000000003", Sequence: fmt.Sprintf("4959033827149025660855969253836157109592157598913%07d", int64(i/8)+seed*1e6),
				SubSequence: int64(i % 8)}
		}
		return stream.Lineage{Kind: stream.OriginS3, Source: "logs-bucket", Shard: fmt.Sprintf("AWSLogs/%s/%d.log", f, seed), SubSequence: -1, Offset: offset, Line: int64(i + 1)}
	})
}
