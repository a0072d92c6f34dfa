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

// prefetchRows prefetches for row i of events.
func prefetchRows(events []stream.Event, i int) {
	if j := i + prefetchStruct; j < len(events) {
		prefetchRange(unsafe.Pointer(&events[j]), unsafe.Sizeof(events[j]))
	}
	if j := i + prefetchContent; j < len(events) {
		prefetchContents(&events[j])
	}
}

// prefetchContents prefetches e's native record and the span of memory
// between its first and last common string, which for every parser is the
// event's own copy of its text.
func prefetchContents(e *stream.Event) {
	if e.Native != nil {
		if v := reflect.ValueOf(e.Native); v.Kind() == reflect.Pointer && !v.IsNil() {
			prefetchRange(v.UnsafePointer(), v.Type().Elem().Size())
		}
	}
	var first unsafe.Pointer
	lo, hi := ^uintptr(0), uintptr(0)
	for _, s := range [...]string{e.Action, e.Provider, e.UserName, e.UserAgent, e.CloudAccountID,
		e.CloudRegion, e.ErrorCode, e.URLOriginal, e.DNSQuestionName, e.Message} {
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
