package lake

import (
	"reflect"
	"unsafe"

	"github.com/gannet-sec/gannet/stream"
)

// Prefetching the rows ahead.
//
// A batch's events are usually cold when the lake gets them: the pipeline
// parses a whole batch (up to 10 000 Kinesis records, often more events),
// then enriches and detects over all of it before the sinks run, so an
// event's 1.1 KB struct, its native record (~1 KB for CloudTrail) and the
// parsed text its strings point into (~1–2 KB) have left the caches. Filling
// a row then waits on a dozen cache misses one after the other. Write asks
// the CPU to start loading them early instead: the Event two rows ahead,
// and the record and text of the event one row ahead (whose struct is by
// then in cache). On 131 072 cold CloudTrail events this takes a third off
// filling the column buffers (BenchmarkLakeFill, sink/lake/README.md).

const (
	prefetchStruct  = 2 // rows ahead whose Event struct is prefetched
	prefetchContent = 1 // rows ahead whose record and text are prefetched
	// maxTextSpan bounds the span of an event's strings that is prefetched;
	// wider spans are not one parsed text.
	maxTextSpan = 4 << 10
)

// prefetcher remembers the size of the last native record type seen.
type prefetcher struct {
	tab  unsafe.Pointer // itab of the last stream.Native seen
	size uintptr        // its record's size
}

// rows prefetches for row i of events.
func (pf *prefetcher) rows(events []stream.Event, i int) {
	if j := i + prefetchStruct; j < len(events) {
		prefetchRange(unsafe.Pointer(&events[j]), unsafe.Sizeof(events[j]))
	}
	if j := i + prefetchContent; j < len(events) {
		pf.contents(&events[j])
	}
}

// contents prefetches e's native record and the span of memory
// between its first and last common string, which for every parser is the
// event's own copy of its text.
func (pf *prefetcher) contents(e *stream.Event) {
	if e.Native != nil {
		// The interface's words are its itab and the record; the record's
		// size comes from its type, looked up when the type changes.
		w := (*[2]unsafe.Pointer)(unsafe.Pointer(&e.Native))
		if w[0] != pf.tab {
			pf.tab, pf.size = w[0], 64
			if t := reflect.TypeOf(e.Native); t.Kind() == reflect.Pointer {
				pf.size = t.Elem().Size()
			}
		}
		if w[1] != nil {
			prefetchRange(w[1], pf.size)
		}
	}
	var first unsafe.Pointer
	lo, hi := ^uintptr(0), uintptr(0)
	for _, s := range [...]string{e.Action, e.UserName, e.UserAgent, e.CloudRegion, e.URLOriginal, e.Message} {
		if len(s) == 0 {
			continue
		}
		p := unsafe.Pointer(unsafe.StringData(s))
		if a := uintptr(p); a < lo {
			first, lo = p, a
		}
		hi = max(hi, uintptr(p)+uintptr(len(s)))
	}
	if first != nil && hi-lo <= maxTextSpan {
		prefetchRange(first, hi-lo)
	}
}
