package lake

import (
	"testing"
	"unsafe"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
)

// TestPrefetcherReadsInterfaceWords checks the assumption prefetch.go makes
// of Go's interface layout: the second word of a stream.Native holding a
// *cloudtrail.Record is that pointer, and the size looked up is the record's.
func TestPrefetcherReadsInterfaceWords(t *testing.T) {
	evs := parsedEvents(t, stream.FormatCloudTrail, 4, 1)
	var pf prefetcher
	for i := range evs {
		rec := evs[i].Native.(*cloudtrail.Record)
		w := (*[2]unsafe.Pointer)(unsafe.Pointer(&evs[i].Native))
		if w[1] != unsafe.Pointer(rec) {
			t.Fatalf("event %d: data word %p, record %p", i, w[1], rec)
		}
		pf.rows(evs, i)
		pf.contents(&evs[i])
		if pf.size != unsafe.Sizeof(*rec) {
			t.Fatalf("record size %d, want %d", pf.size, unsafe.Sizeof(*rec))
		}
	}
	// An event without a native record and one with empty strings only.
	pf.contents(&stream.Event{})
	pf.rows([]stream.Event{{}, {}, {}}, 0)
}

// BenchmarkPrefetch is the cost of the prefetching per row when the rows
// are already in cache (what it costs a batch that did not need it).
func BenchmarkPrefetch(b *testing.B) {
	evs := parsedEvents(b, stream.FormatCloudTrail, 64, 1)
	var pf prefetcher
	for i := range b.N {
		pf.rows(evs, i&31)
	}
}
