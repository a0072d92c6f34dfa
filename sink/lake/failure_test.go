package lake

import (
	"context"
	"errors"
	"testing"

	"github.com/gannet-sec/gannet/stream"
)

// flakyStore fails object writes or commits while its flags are set.
type flakyStore struct {
	Store
	failWrite, failCommit bool
}

type flakyObject struct {
	ObjectWriter
	s *flakyStore
}

var errFlaky = errors.New("flaky store")

func (s *flakyStore) Create(ctx context.Context) (ObjectWriter, error) {
	w, err := s.Store.Create(ctx)
	return flakyObject{w, s}, err
}

func (o flakyObject) Write(ctx context.Context, p []byte) error {
	if o.s.failWrite {
		return errFlaky
	}
	return o.ObjectWriter.Write(ctx, p)
}

func (o flakyObject) Commit(ctx context.Context, key string) error {
	if o.s.failCommit {
		return errFlaky
	}
	return o.ObjectWriter.Commit(ctx, key)
}

// A failed commit is retried by the next Flush; nothing is lost.
func TestFlushRetriesFailedCommit(t *testing.T) {
	ctx := context.Background()
	dir, _ := NewDirStore(t.TempDir())
	st := &flakyStore{Store: dir, failCommit: true}
	l := New(st, Options{})
	evs := cloudTrailEvents(100, 1, t0)
	if err := l.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	err := l.Flush(ctx)
	if c, _ := stream.ClassOf(err); err == nil || c != stream.Retryable {
		t.Fatalf("flush: %v (class %v)", err, c)
	}
	st.failCommit = false
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys := listKeys(t, dir, "cloudtrail/")
	if len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
	if rows, _ := readFile(t, dir, keys[0]); len(rows["event_id"]) != 100 {
		t.Errorf("%d rows", len(rows["event_id"]))
	}
}

// A write failure inside Write discards the unflushed rows and the next
// Flush says so, so the caller does not acknowledge them; after re-delivery
// the lake holds each row once.
func TestWriteFailureReportedByFlush(t *testing.T) {
	ctx := context.Background()
	dir, _ := NewDirStore(t.TempDir())
	st := &flakyStore{Store: dir}
	l := New(st, Options{Encoding: Encoding{RowGroupRows: 50}})
	first := cloudTrailEvents(30, 1, t0)
	if err := l.Write(ctx, first); err != nil { // buffered, not yet written
		t.Fatal(err)
	}
	st.failWrite = true
	second := cloudTrailEvents(40, 2, t0)
	if err := l.Write(ctx, second); !errors.Is(err, errFlaky) {
		t.Fatalf("write: %v", err)
	}
	st.failWrite = false
	if err := l.Flush(ctx); err == nil {
		t.Fatal("flush after a lost write returned nil")
	}
	// Re-delivery of everything not acknowledged.
	if err := l.Write(ctx, append(first, second...)); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ids, _ := partitionRows(t, dir, "cloudtrail/")
	if len(ids) != 70 {
		t.Fatalf("%d rows, want 70", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Fatalf("row %s twice", ids[i])
		}
	}
}
