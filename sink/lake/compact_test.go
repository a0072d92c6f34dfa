package lake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/xxh3"
)

// partitionRows reads every row of the partition: its event ids (sorted) and
// a checksum over every column value of every row, independent of row order.
func partitionRows(t *testing.T, st Store, prefix string) (ids []string, sum uint64) {
	t.Helper()
	for _, k := range listKeys(t, st, prefix) {
		rows, _ := readFile(t, st, k)
		for i, id := range rows["event_id"] {
			ids = append(ids, id.(string))
			var rowHash uint64
			for name, vals := range rows {
				rowHash ^= xxh3.HashString(name + "=" + formatAny(vals[i]))
			}
			sum += rowHash
		}
	}
	slices.Sort(ids)
	return ids, sum
}

func formatAny(v any) string {
	switch x := v.(type) {
	case nil:
		return "<nil>"
	case []string:
		return "[" + strings.Join(x, ",") + "]"
	}
	return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(fmtSprint(v), "\n", " "), "\t", " "))
}

func write50(t *testing.T, st Store) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		l := New(st, Options{})
		evs := cloudTrailEvents(40+i, uint64(100+i), t0.Add(time.Duration(i)*time.Second))
		if err := l.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCompact50(t *testing.T) {
	ctx := context.Background()
	st, err := NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	write50(t, st)
	prefix := "cloudtrail/dt=2026-11-01/hr=05/"
	if n := len(listKeys(t, st, prefix)); n != 50 {
		t.Fatalf("%d files before, want 50", n)
	}
	idsBefore, sumBefore := partitionRows(t, st, prefix)
	// A target of about 10 inputs per output.
	objs, _ := st.List(ctx, prefix)
	target := 10 * objs[0].Size
	res, err := Compact(ctx, st, "cloudtrail", "dt=2026-11-01/hr=05", target)
	if err != nil {
		t.Fatal(err)
	}
	after := listKeys(t, st, prefix)
	if len(after) >= 50 || len(after) < 3 || res.Inputs < 45 || res.Outputs != len(after)-(50-res.Inputs) {
		t.Fatalf("after compaction: %d files, result %+v", len(after), res)
	}
	idsAfter, sumAfter := partitionRows(t, st, prefix)
	if !slices.Equal(idsBefore, idsAfter) {
		t.Fatalf("rows differ: %d before, %d after", len(idsBefore), len(idsAfter))
	}
	if sumBefore != sumAfter {
		t.Fatalf("checksum %x before, %x after", sumBefore, sumAfter)
	}
	if res.Rows == 0 || len(listKeys(t, st, compactionDir+"/")) != 0 {
		t.Errorf("rows %d, manifests left %v", res.Rows, listKeys(t, st, compactionDir+"/"))
	}
	// Rerun: nothing left to merge beyond what is now target-sized.
	res2, err := Compact(ctx, st, "cloudtrail", "dt=2026-11-01/hr=05", target)
	if err != nil {
		t.Fatal(err)
	}
	ids2, sum2 := partitionRows(t, st, prefix)
	if !slices.Equal(ids2, idsBefore) || sum2 != sumBefore {
		t.Fatalf("second run changed rows (%+v)", res2)
	}
}

// crashStore fails every Delete after the first `deletes`, like a process
// killed while removing the compacted inputs.
type crashStore struct {
	Store
	deletes int
}

var errCrash = errors.New("crash")

func (s *crashStore) Delete(ctx context.Context, key string) error {
	if s.deletes == 0 {
		return errCrash
	}
	s.deletes--
	return s.Store.Delete(ctx, key)
}

func TestCompactResumesAfterCrash(t *testing.T) {
	ctx := context.Background()
	dir, err := NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	write50(t, dir)
	prefix := "cloudtrail/dt=2026-11-01/hr=05/"
	idsBefore, sumBefore := partitionRows(t, dir, prefix)
	for _, deletes := range []int{7, 0} {
		_, err := Compact(ctx, &crashStore{Store: dir, deletes: deletes}, "cloudtrail", "dt=2026-11-01/hr=05", 1<<30)
		if !errors.Is(err, errCrash) {
			t.Fatalf("want crash, got %v", err)
		}
	}
	// Mid-crash a reader sees duplicates (old and new files): documented.
	if ids, _ := partitionRows(t, dir, prefix); len(ids) <= len(idsBefore) {
		t.Fatalf("expected the documented duplicate window, got %d rows", len(ids))
	}
	res, err := Compact(ctx, dir, "cloudtrail", "dt=2026-11-01/hr=05", 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if res.Recovered != 1 {
		t.Errorf("recovered %d manifests, want 1", res.Recovered)
	}
	ids, sum := partitionRows(t, dir, prefix)
	if !slices.Equal(ids, idsBefore) || sum != sumBefore {
		t.Fatalf("after recovery: %d rows (want %d), checksum equal %v", len(ids), len(idsBefore), sum == sumBefore)
	}
	if n := len(listKeys(t, dir, prefix)); n != 1 {
		t.Errorf("%d files after recovery, want 1", n)
	}
}

func fmtSprint(v any) string { return fmt.Sprint(v) }
