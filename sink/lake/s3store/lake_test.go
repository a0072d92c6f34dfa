package s3store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/stream"
)

func kinesisEvents(n, batch int) []stream.Event {
	evs := make([]stream.Event, n)
	for i := range evs {
		e := &evs[i]
		e.Lineage = stream.Lineage{Kind: stream.OriginKinesis, Source: "arn:aws:kinesis:eu-west-1:1:stream/s", Shard: "shardId-0",
			Sequence: fmt.Sprintf("%030d", batch*100000+i), SubSequence: -1}
		e.ID = e.Lineage.ID()
		e.Format = stream.FormatVPCFlow
		e.Timestamp = time.Date(2026, 11, 1, 7, 0, i%60, 0, time.UTC)
		e.Action = "accept"
	}
	return evs
}

func rowCount(t *testing.T, st lake.Store, prefix string) (files int, rows int64) {
	t.Helper()
	ctx := context.Background()
	objs, err := st.List(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		r, err := st.Open(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := file.NewParquetReader(r)
		if err != nil {
			t.Fatal(err)
		}
		rows += pr.NumRows()
		r.Close()
	}
	return len(objs), rows
}

// TestLakeOnS3Store runs the lake and its compaction over the S3 store (an
// in-memory S3 serving the SDK calls).
func TestLakeOnS3Store(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	st := New(m.memCalls(), Options{Bucket: "b", Prefix: "lake/", BaseDelay: time.Millisecond})
	for b := 0; b < 5; b++ {
		l := lake.New(st, lake.Options{})
		if err := l.Write(ctx, kinesisEvents(200, b)); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	prefix := "vpcflow/dt=2026-11-01/hr=07/"
	if f, r := rowCount(t, st, prefix); f != 5 || r != 1000 {
		t.Fatalf("before: %d files %d rows", f, r)
	}
	if _, err := lake.Compact(ctx, st, "vpcflow", "dt=2026-11-01/hr=07", 64<<20); err != nil {
		t.Fatal(err)
	}
	if f, r := rowCount(t, st, prefix); f != 1 || r != 1000 {
		t.Fatalf("after: %d files %d rows", f, r)
	}
	for k := range m.objs {
		if len(k) < 5 || k[:5] != "lake/" {
			t.Errorf("object %s outside the prefix", k)
		}
	}
}
