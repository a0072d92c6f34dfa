package correlate

import (
	"math"
	"slices"
)

// Seq is the state of one temporal_ordered group: per rule, the distinct
// times of its recent events, sorted ascending. The rules must match
// events at times t1 ≤ t2 ≤ … ≤ tk (ti an event of rule i; equal times are
// in order, and one event matching rules i and i+1 may stand for both)
// with tk − t1 ≤ span.
//
// Bounds. A rule keeps at most maxTimes distinct times, the most recent
// ones, and none more than span before the newest time observed (no
// sequence with an event at or after the newest time can use them). So a
// Seq holds, per rule, the maxTimes latest distinct times among those
// within span of the newest, and an event is checked against exactly
// those and itself. It misses a sequence only when, as its last event
// arrives, (a) one of its times has been pushed out by maxTimes later
// distinct times of the same rule, or (b) one of its times is more than
// span before the newest time the group has seen (an event of the group
// more than span after it arrived first). Events in time order never hit
// (b); an event more than span older than the newest is checked against
// what is held but not kept.
//
// Times are in any unit, as long as span is in the same.
type Seq struct {
	newest int64
	oldest int64 // at most the oldest time held (math.MaxInt64: none)
	init   bool
	times  []times
}

// times are one rule's times, buf[lo:hi]. buf has room for maxTimes plus
// a quarter, so that dropping the oldest and adding a newest time moves
// the times back to the start of buf only once every maxTimes/4 events.
type times struct {
	buf    []int64
	lo, hi int
}

func (l *times) held() []int64 { return l.buf[l.lo:l.hi] }

// NewSeq returns an empty Seq for a correlation of rules rules.
func NewSeq(rules int) *Seq {
	return &Seq{oldest: math.MaxInt64, times: make([]times, rules)}
}

// RestoreSeq rebuilds a Seq from its Newest and Times (as a state
// encoding stored them). Each rule's times are sorted, deduplicated and
// trimmed to the bounds of Observe.
func RestoreSeq(newest int64, rules [][]int64, span int64, maxTimes int) *Seq {
	s := &Seq{newest: newest, oldest: math.MaxInt64, init: true, times: make([]times, len(rules))}
	for i, l := range rules {
		slices.Sort(l)
		l = slices.Compact(l)
		j, _ := slices.BinarySearch(l, newest-span)
		l = l[j:]
		l = l[max(len(l)-maxTimes, 0):]
		s.times[i] = times{buf: l, hi: len(l)}
		if len(l) > 0 {
			s.oldest = min(s.oldest, l[0])
		}
	}
	return s
}

// Newest returns the newest time observed (0 before the first).
func (s *Seq) Newest() int64 { return s.newest }

// Times returns the times held for rule i, ascending. The slice is the
// Seq's own.
func (s *Seq) Times(i int) []int64 { return s.times[i].held() }

// Rules returns the number of rules.
func (s *Seq) Rules() int { return len(s.times) }

// Observe records an event of rule rule at time t and reports whether it
// completes an ordered sequence: whether some pick t1 ≤ … ≤ tk within span
// among the times held has this event as its rule's time. first is then
// the latest such t1 and last the earliest such tk (one pick has both).
// An event of a rule out of range is ignored. It does not allocate once
// each rule's list has reached its capacity.
func (s *Seq) Observe(rule int, t, span int64, maxTimes int) (first, last int64, ok bool) {
	if rule < 0 || rule >= len(s.times) {
		return 0, 0, false
	}
	if !s.init || t > s.newest {
		s.newest, s.init = t, true
		if lo := t - span; s.oldest < lo {
			s.oldest = math.MaxInt64
			for i := range s.times {
				l := &s.times[i]
				if l.lo < l.hi && l.buf[l.lo] < lo {
					j, _ := slices.BinarySearch(l.held(), lo)
					l.lo += j
				}
				if l.lo < l.hi {
					s.oldest = min(s.oldest, l.buf[l.lo])
				}
			}
		}
	}
	if t >= s.newest-span {
		s.insert(rule, t, maxTimes)
		s.oldest = min(s.oldest, t)
	}
	return s.pick(rule, t, span)
}

// insert adds t to rule r's times, dropping the oldest beyond maxTimes.
func (s *Seq) insert(r int, t int64, maxTimes int) {
	l := &s.times[r]
	p := l.hi // first index with buf[p] > t; events mostly arrive in order
	for p > l.lo && l.buf[p-1] > t {
		p--
	}
	if p > l.lo && l.buf[p-1] == t {
		return
	}
	if l.hi-l.lo >= maxTimes {
		if p == l.lo {
			return // older than every time held
		}
		l.lo++
	}
	if l.hi == len(l.buf) {
		if want := maxTimes + max(maxTimes/4, 1); len(l.buf) < want {
			n := make([]int64, min(max(2*len(l.buf), 4), want))
			copy(n, l.held())
			l.buf = n
		} else {
			copy(l.buf, l.held())
		}
		p -= l.lo
		l.hi -= l.lo
		l.lo = 0
	}
	copy(l.buf[p+1:l.hi+1], l.buf[p:l.hi])
	l.buf[p] = t
	l.hi++
}

// pick anchors the pick at rule r's time t: the latest chain of earlier
// rules ending at or before t, the earliest chain of later ones starting
// at or after it.
func (s *Seq) pick(r int, t, span int64) (first, last int64, ok bool) {
	// Both loops look at each list's last time first: events mostly
	// arrive in order, so it usually answers.
	first = t
	for i := r - 1; i >= 0; i-- {
		l := s.times[i].held()
		if n := len(l); n > 0 && l[n-1] <= first {
			first = l[n-1]
			continue
		}
		j, found := slices.BinarySearch(l, first)
		if found {
			j++
		}
		if j == 0 {
			return 0, 0, false
		}
		first = l[j-1]
	}
	last = t
	for i := r + 1; i < len(s.times); i++ {
		l := s.times[i].held()
		if n := len(l); n == 0 || l[n-1] < last {
			return 0, 0, false
		}
		j, _ := slices.BinarySearch(l, last)
		last = l[j]
	}
	if last-first > span {
		return 0, 0, false
	}
	return first, last, true
}

// Pick reports whether the times held contain an ordered pick within
// span, not necessarily with the latest event: the one with the earliest
// t1, and its earliest tk.
func (s *Seq) Pick(span int64) (first, last int64, ok bool) {
	if len(s.times) == 0 {
		return 0, 0, false
	}
	for _, t1 := range s.times[0].held() {
		last = t1
		for i := range s.times[1:] {
			l := s.times[1+i].held()
			j, _ := slices.BinarySearch(l, last)
			if j == len(l) {
				return 0, 0, false // a later t1 cannot do better
			}
			last = l[j]
		}
		if last-t1 <= span {
			return t1, last, true
		}
	}
	return 0, 0, false
}
