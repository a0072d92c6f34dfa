package lake

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// TestReprocessSameKeys writes the same batch twice (a retried Lambda
// invocation): the second run leaves exactly the same objects with the same bytes.
func TestReprocessSameKeys(t *testing.T) {
	ctx := context.Background()
	st, err := NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Two hours of events: two partitions.
	evs := cloudTrailEvents(3000, 9, t0.Add(-time.Minute))
	run := func() map[string][]byte {
		l := New(st, Options{})
		if err := l.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		out := map[string][]byte{}
		for _, k := range listKeys(t, st, "") {
			b, err := os.ReadFile(filepath.Join(st.Root(), k))
			if err != nil {
				t.Fatal(err)
			}
			out[k] = b
		}
		return out
	}
	first := run()
	second := run()
	if len(first) != 2 {
		t.Fatalf("first run wrote %d objects, want 2: %v", len(first), keysOf(first))
	}
	if !slices.Equal(keysOf(first), keysOf(second)) {
		t.Fatalf("keys differ:\n%v\n%v", keysOf(first), keysOf(second))
	}
	for k, b := range first {
		if string(second[k]) != string(b) {
			t.Errorf("%s: contents differ", k)
		}
	}
	k := keysOf(first)[0]
	// <table>/dt=/hr=/<hash>-<first seq>_<sub>_<idx>-<last seq>_<sub>_<idx>.parquet
	if !strings.HasPrefix(k, "cloudtrail/dt=2026-11-01/hr=04/") || !strings.Contains(k, "-"+evs[0].Lineage.Sequence+"_0_0-") {
		t.Errorf("key %s does not name the first sequence %s", k, evs[0].Lineage.Sequence)
	}

	// A different batch from the same source gets different keys: no overwrite.
	l := New(st, Options{})
	if err := l.Write(ctx, evs[:10]); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(listKeys(t, st, "")); n != 3 {
		t.Errorf("after a different batch: %d objects, want 3", n)
	}
}

func keysOf(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestKeyerDistinguishesSources(t *testing.T) {
	a := stream.Lineage{Kind: stream.OriginS3, Source: "b", Shard: "k1", Offset: 10}
	b := stream.Lineage{Kind: stream.OriginS3, Source: "b", Shard: "k2", Offset: 10}
	var k1, k2 keyer
	k1.add(&a, a.ID())
	k2.add(&a, a.ID())
	k2.add(&b, b.ID())
	if k1.name() == k2.name() {
		t.Errorf("same name for different contents: %s", k1.name())
	}
	if got := k1.name(); !strings.HasSuffix(got, "-10_0-10_0.parquet") {
		t.Errorf("name %s", got)
	}
}

func TestPartitionLayout(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := (Layout{}).Partition("waf", ts, "1", "r"); got != "waf/dt=2026-01-02/hr=03/" {
		t.Errorf("got %s", got)
	}
	if got := (Layout{Account: true, Region: true}).Partition("waf", ts, "", "eu/west"); got != "waf/account=unknown/region=eu%2Fwest/dt=2026-01-02/hr=03/" {
		t.Errorf("got %s", got)
	}
}
