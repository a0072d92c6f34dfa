// Package correlate keeps the bounded in-memory windows of Sigma
// correlation rules (event_count, value_count, temporal, temporal_ordered)
// and says when a group crosses its threshold.
//
// A Window holds one state per group key, capped in number (the least
// recently updated group is evicted first) and in size (a group keeps at
// most the timestamps and distinct values its threshold needs; a
// temporal_ordered group at most Spec.MaxTimes recent times per rule, see
// Seq). A group fires once per episode: the next fire needs a window that
// starts after the fired one ended, so a burst raises one alert per
// timespan, and replaying the same events fires with the same window start
// (stable alert ids). Windows slide on event time, not wall time.
//
// temporal_ordered is exact within those bounds, for events arriving in
// any order: an event fires when it completes a pick t1 ≤ … ≤ tk (ti an
// event of the i-th rule, ties in order) with tk − t1 ≤ timespan, the
// event being one of the pick, and t1 at or after the end of the episode
// that last fired. The Fire's window starts at the latest such t1; Last
// is the earliest tk of a pick with that t1.
package correlate

import (
	"container/list"
	"fmt"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// Kind is the correlation type.
type Kind uint8

// Correlation types of the Sigma correlation specification.
const (
	EventCount Kind = iota
	ValueCount
	Temporal
	TemporalOrdered
)

// ParseKind maps the Sigma name to a Kind.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "event_count":
		return EventCount, nil
	case "value_count":
		return ValueCount, nil
	case "temporal":
		return Temporal, nil
	case "temporal_ordered":
		return TemporalOrdered, nil
	}
	return 0, fmt.Errorf("unknown correlation type %q", s)
}

// Spec configures a Window.
type Spec struct {
	Kind     Kind
	Timespan time.Duration
	// Op and Threshold are the condition (gte 20, gt 99); inline windows
	// support gt and gte, the conditions that can be decided as events
	// arrive.
	Op        string
	Threshold int64
	// Rules is the number of rules a temporal correlation needs.
	Rules int
	// MaxGroups caps the number of group keys held (default 100000).
	MaxGroups int
	// MaxValues caps the distinct values a value_count group holds
	// (default max(threshold+1, 1024)).
	MaxValues int
	// MaxEvents caps the matched events kept per group for the alert
	// (default 16).
	MaxEvents int
	// MaxTimes caps the distinct event times a temporal_ordered group keeps
	// per rule (default DefaultMaxTimes): the most recent ones, see Seq.
	MaxTimes int
}

// DefaultMaxTimes is the default Spec.MaxTimes.
const DefaultMaxTimes = 64

// Fire describes a group that crossed its threshold.
type Fire struct {
	WindowStart, WindowEnd time.Time
	First, Last            time.Time
	Count                  int64 // events (event_count, temporal) or distinct values (value_count)
	Events                 []stream.AlertEvent
}

// Window is the state of one correlation rule. It is not safe for
// concurrent use.
type Window struct {
	spec   Spec
	need   int64 // events or values needed to fire
	groups map[string]*list.Element
	lru    *list.List // front = least recently updated
	// Evicted counts groups dropped because MaxGroups was reached.
	Evicted int64
}

type group struct {
	key       string
	times     []int64 // ring of the most recent event times (event_count)
	head      int32   // int32 (need ≤ 1<<20) to make room for seq in 128 bytes
	n         int32
	seq       *Seq             // temporal_ordered
	values    map[string]int64 // value → last seen (value_count)
	last      []int64          // per rule: last seen (temporal)
	quietTill int64            // a new fire needs a window starting at or after this
	total     int64
	events    []stream.AlertEvent
}

// New returns an empty Window.
func New(spec Spec) (*Window, error) {
	switch spec.Op {
	case "gt", "gte":
	case "":
		if spec.Kind != Temporal && spec.Kind != TemporalOrdered {
			return nil, fmt.Errorf("correlation needs a condition")
		}
	default:
		return nil, fmt.Errorf("condition %s cannot be decided inline (supported: gt, gte)", spec.Op)
	}
	if spec.Timespan <= 0 {
		return nil, fmt.Errorf("timespan must be positive")
	}
	need := spec.Threshold
	if spec.Op == "gt" {
		need++
	}
	if spec.Kind == Temporal || spec.Kind == TemporalOrdered {
		if spec.Rules < 1 {
			return nil, fmt.Errorf("temporal correlation needs rules")
		}
		need = int64(spec.Rules)
	}
	if need < 1 {
		need = 1
	}
	if need > 1<<20 {
		return nil, fmt.Errorf("threshold %d too large for an inline window", need)
	}
	if spec.MaxGroups <= 0 {
		spec.MaxGroups = 100000
	}
	if spec.MaxValues <= 0 {
		spec.MaxValues = max(int(need)+1, 1024)
	}
	if spec.MaxEvents <= 0 {
		spec.MaxEvents = 16
	}
	if spec.MaxTimes <= 0 {
		spec.MaxTimes = DefaultMaxTimes
	}
	return &Window{spec: spec, need: need, groups: map[string]*list.Element{}, lru: list.New()}, nil
}

// Groups returns the number of group keys held.
func (w *Window) Groups() int { return len(w.groups) }

// Observe records one event of group key at time t: rule is the index of
// the matched rule among the correlation's rules (temporal), value the
// counted field's value (value_count). It reports a Fire when the group
// crosses the threshold and has not fired in this episode. key is copied
// only when the group is new.
func (w *Window) Observe(key string, t time.Time, rule int, value string, ev *stream.Event) (Fire, bool) {
	g := w.group(key)
	now := t.UnixNano()
	span := int64(w.spec.Timespan)
	g.total++
	if len(g.events) < w.spec.MaxEvents && ev != nil {
		g.events = append(g.events, EventRef(ev))
	}
	var start int64
	var count int64
	switch w.spec.Kind {
	case EventCount:
		if g.times == nil {
			g.times = make([]int64, w.need)
		}
		g.times[g.head] = now
		g.head = (g.head + 1) % int32(len(g.times))
		if int(g.n) < len(g.times) {
			g.n++
		}
		// The ring holds the last `need` event times; they fire when the
		// oldest (the slot head now points at) is within the timespan.
		if int64(g.n) < w.need {
			return Fire{}, false
		}
		start = g.times[g.head]
		count = int64(g.n)
		if now-start > span {
			return Fire{}, false
		}
	case ValueCount:
		if g.values == nil {
			g.values = map[string]int64{}
		}
		if _, ok := g.values[value]; ok {
			g.values[value] = now
		} else {
			if len(g.values) >= w.spec.MaxValues {
				w.prune(g, now)
			}
			if len(g.values) < w.spec.MaxValues {
				g.values[string([]byte(value))] = now
			}
		}
		if int64(len(g.values)) < w.need {
			return Fire{}, false
		}
		w.prune(g, now)
		count = int64(len(g.values))
		if count < w.need {
			return Fire{}, false
		}
		start = now
		for _, ts := range g.values {
			start = min(start, ts)
		}
	case TemporalOrdered:
		if g.seq == nil {
			g.seq = NewSeq(w.spec.Rules)
		}
		first, last, ok := g.seq.Observe(rule, now, span, w.spec.MaxTimes)
		if !ok || first < g.quietTill {
			return Fire{}, false
		}
		g.quietTill = first + span
		f := Fire{
			WindowStart: time.Unix(0, first).UTC(),
			WindowEnd:   time.Unix(0, first+span).UTC(),
			First:       time.Unix(0, first).UTC(),
			Last:        time.Unix(0, last).UTC(),
			Count:       g.total,
			Events:      append([]stream.AlertEvent(nil), g.events...),
		}
		g.events = g.events[:0]
		return f, true
	default:
		if g.last == nil {
			g.last = make([]int64, w.spec.Rules)
		}
		if rule >= 0 && rule < len(g.last) {
			g.last[rule] = now
		}
		start = now
		for _, ts := range g.last {
			if ts == 0 || now-ts > span {
				return Fire{}, false
			}
			start = min(start, ts)
		}
		count = g.total
	}
	if start < g.quietTill {
		return Fire{}, false // this episode already fired
	}
	g.quietTill = start + span
	f := Fire{
		WindowStart: time.Unix(0, start).UTC(),
		WindowEnd:   time.Unix(0, start+span).UTC(),
		First:       time.Unix(0, start).UTC(),
		Last:        t.UTC(),
		Count:       count,
		Events:      append([]stream.AlertEvent(nil), g.events...),
	}
	g.events = g.events[:0]
	return f, true
}

// EventRef returns the alert reference of an event: its id and a copy of
// its lineage that does not alias the batch.
func EventRef(ev *stream.Event) stream.AlertEvent {
	l := ev.Lineage
	l.Source, l.Shard, l.Sequence, l.LogEventID = strings.Clone(l.Source), strings.Clone(l.Shard), strings.Clone(l.Sequence), strings.Clone(l.LogEventID)
	return stream.AlertEvent{ID: ev.ID, Lineage: l}
}

// prune drops the values of g last seen before the timespan.
func (w *Window) prune(g *group, now int64) {
	for v, ts := range g.values {
		if now-ts > int64(w.spec.Timespan) {
			delete(g.values, v)
		}
	}
}

func (w *Window) group(key string) *group {
	if e, ok := w.groups[key]; ok {
		w.lru.MoveToBack(e)
		return e.Value.(*group)
	}
	if len(w.groups) >= w.spec.MaxGroups {
		old := w.lru.Front()
		w.lru.Remove(old)
		delete(w.groups, old.Value.(*group).key)
		w.Evicted++
	}
	g := &group{key: string([]byte(key))}
	w.groups[g.key] = w.lru.PushBack(g)
	return g
}
