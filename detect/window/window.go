// Package window evaluates Sigma correlation rules (event_count,
// value_count, temporal, temporal_ordered) in a Lambda fed by Kinesis with
// a tumbling window: the state of the window travels between invocations
// in the event source mapping's State map, which Lambda caps at 1 MB.
//
// Invoke is a pure step: (window properties with the previous state, the
// batch's parsed events) → (new state, and on the final invocation of the
// window the alerts). The Correlator holds only the compiled rules and
// scratch space.
//
// Counting. Lambda's tumbling windows are cut on record arrival time. A
// correlation whose timespan is at least the window's length counts over
// the whole window (alert window = the Lambda window); one with a shorter
// timespan counts per timespan-aligned slice of event time inside it.
// Bursts that straddle two windows are counted in both halves separately
// (the price of tumbling windows; the inline engine and the scheduled
// queries slide or overlap instead).
//
// temporal_ordered. A group fires when its events contain a pick
// t1 ≤ … ≤ tk (ti an event of the i-th rule, ties in order) with
// tk − t1 ≤ timespan, found as events arrive in any order and across
// invocations with correlate.Seq: until the pick is found the group keeps,
// per rule, the Options.MaxOrderedTimes latest distinct times within the
// timespan of its newest (see correlate.Seq for what that bound misses);
// once found, only that it was.
//
// State budget. The state is a compact binary encoding of one counter
// record per (correlation, slice, group key) — counts, first/last times,
// distinct-value hashes up to the threshold, each temporal rule's first
// time, up to MaxEventRefs matched event references (kept only for groups
// with two or more events) — then, when there are temporal_ordered
// groups, a section with their sequence states (a decoder from before the
// section reads the records and ignores it; a state from before the
// section gives each temporal_ordered group its rules' first times as its
// times, and the group has fired if they are in order within the
// timespan), deflated and base64-encoded under one key. When it would exceed
// MaxStateBytes, the groups closest to their threshold (then the most
// recently updated) are kept and the rest dropped; Result.DroppedGroups and
// DroppedEvents count what was lost in this window (an undercount, never a
// false alert), and are carried in the state until the window ends.
package window

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gannet-sec/gannet/detect/correlate"
	"github.com/gannet-sec/gannet/detect/sigma"
	"github.com/gannet-sec/gannet/stream"
	"github.com/zeebo/xxh3"
)

// StateKey is the key of the State map that holds the encoded state.
const StateKey = "gannet.window.v1"

// DefaultMaxStateBytes keeps the JSON of the State map under Lambda's 1 MB
// limit with room for the rest of the response.
const DefaultMaxStateBytes = 1_000_000

// Options configure a Correlator.
type Options struct {
	// MaxStateBytes caps the size of the returned State map as JSON
	// (default DefaultMaxStateBytes).
	MaxStateBytes int
	// MaxEventRefs caps the matched events kept per group for the alert
	// (default 4).
	MaxEventRefs int
	// MaxOrderedTimes caps the distinct event times a temporal_ordered
	// group keeps per rule until its sequence is found (default
	// correlate.DefaultMaxTimes), as correlate.Spec.MaxTimes.
	MaxOrderedTimes int
	// Placeholders fill %name% placeholders of the rules' expand modifier.
	Placeholders map[string][]string
}

// Result is the outcome of one invocation.
type Result struct {
	// State is the state to return to Lambda (empty after the final
	// invocation of a window).
	State map[string]string
	// Alerts are the correlations that crossed their threshold; set only on
	// the final invocation (or when the window was terminated early).
	Alerts []stream.Alert
	// Groups is the number of group records in the returned state.
	Groups int
	// StateBytes is the size of State as JSON.
	StateBytes int
	// DroppedGroups and DroppedEvents count, for the whole window so far,
	// the group records (and the events they had counted) dropped to keep
	// the state under MaxStateBytes.
	DroppedGroups, DroppedEvents int64
}

// Correlator evaluates a fixed set of correlation rules. It is not safe
// for concurrent use.
type Correlator struct {
	opts    Options
	set     *sigma.Set
	matcher *sigma.Matcher
	corrs   []*corr
	byRule  [][]ref // per compiled rule index: the correlations using it
	matched []*sigma.Compiled
	valBuf  []string
	keyBuf  []byte
}

type corr struct {
	rule     *sigma.Rule
	id       string
	kind     correlate.Kind
	timespan time.Duration
	op       string
	need     int64
	groupBy  []*sigma.Field
	names    []string
	value    *sigma.Field
	nrules   int
}

type ref struct {
	c   int // correlation index
	idx int // the rule's position among the correlation's rules
}

func ruleID(r *sigma.Rule) string {
	if r.ID != "" {
		return r.ID
	}
	return r.Title
}

// New compiles the correlation rules among rules, and the detection rules
// they refer to (by name or id). Other rules are ignored. A correlation
// that cannot be evaluated is an error.
func New(rules []*sigma.Rule, opts Options) (*Correlator, error) {
	if opts.MaxStateBytes <= 0 {
		opts.MaxStateBytes = DefaultMaxStateBytes
	}
	if opts.MaxEventRefs <= 0 {
		opts.MaxEventRefs = 4
	}
	if opts.MaxOrderedTimes <= 0 {
		opts.MaxOrderedTimes = correlate.DefaultMaxTimes
	}
	c := &Correlator{opts: opts, set: sigma.NewSet()}
	c.set.Placeholders = opts.Placeholders
	byName := map[string]*sigma.Rule{}
	for _, r := range rules {
		if r.Detection == nil {
			continue
		}
		if r.Name != "" {
			byName[r.Name] = r
		}
		if r.ID != "" {
			byName[r.ID] = r
		}
	}
	compiled := map[*sigma.Rule]*sigma.Compiled{}
	for _, r := range rules {
		cr := r.Correlation
		if cr == nil {
			continue
		}
		kind, err := correlate.ParseKind(cr.Type)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Source, err)
		}
		if len(cr.Aliases) > 0 {
			return nil, fmt.Errorf("%s: correlation aliases are not supported", r.Source)
		}
		need := cr.Condition.Count
		switch cr.Condition.Op {
		case "gt":
			need++
		case "gte":
		case "":
			if kind != correlate.Temporal && kind != correlate.TemporalOrdered {
				return nil, fmt.Errorf("%s: correlation needs a condition", r.Source)
			}
		default:
			return nil, fmt.Errorf("%s: condition %s is not supported in tumbling windows (gt, gte)", r.Source, cr.Condition.Op)
		}
		if kind == correlate.Temporal || kind == correlate.TemporalOrdered {
			need = int64(len(cr.Rules))
			if len(cr.Rules) > 32 {
				return nil, fmt.Errorf("%s: temporal correlation over more than 32 rules", r.Source)
			}
		}
		co := &corr{rule: r, id: ruleID(r), kind: kind, timespan: cr.Timespan, op: cr.Condition.Op,
			need: max(need, 1), names: cr.GroupBy, nrules: len(cr.Rules)}
		idx := len(c.corrs)
		for i, name := range cr.Rules {
			dr, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("%s: correlation refers to unknown rule %q", r.Source, name)
			}
			cp, ok := compiled[dr]
			if !ok {
				cp, err = c.set.Add(dr)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", dr.Source, err)
				}
				compiled[dr] = cp
			}
			for len(c.byRule) <= cp.Index() {
				c.byRule = append(c.byRule, nil)
			}
			c.byRule[cp.Index()] = append(c.byRule[cp.Index()], ref{c: idx, idx: i})
		}
		for _, g := range cr.GroupBy {
			co.groupBy = append(co.groupBy, c.set.Field(g))
		}
		if kind == correlate.ValueCount {
			co.value = c.set.Field(cr.Condition.Field)
		}
		c.corrs = append(c.corrs, co)
	}
	if len(c.corrs) == 0 {
		return nil, errors.New("window: no correlation rules")
	}
	c.matcher = c.set.NewMatcher()
	return c, nil
}

// Rules returns the ids of the correlation rules evaluated.
func (c *Correlator) Rules() []string {
	out := make([]string, len(c.corrs))
	for i, co := range c.corrs {
		out[i] = co.id
	}
	return out
}

// group is the counter record of one (correlation, slice, key).
type group struct {
	corr   int
	slice  int64 // slice start, unix ms
	key    string
	count  int64 // matched events
	first  int64 // unix ms
	last   int64
	values []uint32 // value_count: distinct value hashes, at most need
	seen   []int64  // temporal: per rule, first seen (unix ms, 0 = never)
	refs   []stream.AlertEvent
}

// ordered is the sequence state of a temporal_ordered group, kept beside
// the group (the other kinds' records do not carry it).
type ordered struct {
	done bool           // a sequence was found; seq is then dropped
	seq  *correlate.Seq // unix ms
	// As decoded, until Invoke knows the correlation's bounds.
	newest int64
	times  [][]int64
}

type gkey struct {
	corr  int
	slice int64
	key   string
}

// state is the decoded state of a window.
type state struct {
	windowStart   int64 // unix ms
	groups        map[gkey]*group
	ordered       map[*group]*ordered // temporal_ordered groups
	droppedGroups int64
	droppedEvents int64
}

// Invoke folds the batch's events into the window's state and returns the
// new state; on the window's final invocation (or when Lambda terminated the
// window early, after which a fresh state continues it) it returns the
// alerts of every group over its threshold and an empty state. events are
// owned by the caller and not kept.
func (c *Correlator) Invoke(tw events.TimeWindowProperties, evs []stream.Event) (Result, error) {
	winStart, winEnd := tw.Window.Start.UTC(), tw.Window.End.UTC()
	st, err := decodeState(tw.State, winStart.UnixMilli())
	if err != nil {
		return Result{}, err
	}
	for k, g := range st.groups {
		// A group of a correlation these rules do not have, or not in this
		// shape (a deploy changed the rules mid-window, or the state is
		// damaged), is dropped, not indexed past the end of c.corrs or g.seen.
		if g.corr < 0 || g.corr >= len(c.corrs) || g.seen != nil && len(g.seen) != c.corrs[g.corr].nrules ||
			!c.restoreOrdered(st, g) {
			delete(st.groups, k)
			delete(st.ordered, g)
			st.droppedGroups++
		}
	}
	winLen := winEnd.Sub(winStart)
	for i := range evs {
		ev := &evs[i]
		c.matched = c.matcher.Match(ev, c.matched[:0])
		for _, m := range c.matched {
			if m.Index() >= len(c.byRule) {
				continue
			}
			for _, r := range c.byRule[m.Index()] {
				c.observe(st, r, ev, winStart, winLen)
			}
		}
	}
	res := Result{}
	if tw.IsFinalInvokeForWindow || tw.IsWindowTerminatedEarly {
		res.Alerts = c.alerts(st, winStart, winEnd, winLen)
		res.DroppedGroups, res.DroppedEvents = st.droppedGroups, st.droppedEvents
		res.State = map[string]string{}
		res.StateBytes = stateJSONSize(res.State)
		return res, nil
	}
	res.State, res.Groups, err = c.encode(st)
	if err != nil {
		return Result{}, err
	}
	res.StateBytes = stateJSONSize(res.State)
	res.DroppedGroups, res.DroppedEvents = st.droppedGroups, st.droppedEvents
	return res, nil
}

func eventTime(ev *stream.Event) time.Time {
	if !ev.Timestamp.IsZero() {
		return ev.Timestamp
	}
	return ev.Ingested
}

func (c *Correlator) observe(st *state, r ref, ev *stream.Event, winStart time.Time, winLen time.Duration) {
	co := c.corrs[r.c]
	b := c.keyBuf[:0]
	for i, f := range co.groupBy {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, co.names[i]...)
		b = append(b, '=')
		c.valBuf = c.matcher.Values(f, ev, c.valBuf[:0])
		for j, v := range c.valBuf {
			if j > 0 {
				b = append(b, '|')
			}
			b = append(b, v...)
		}
	}
	c.keyBuf = b
	var vh uint32
	if co.value != nil {
		c.valBuf = c.matcher.Values(co.value, ev, c.valBuf[:0])
		if len(c.valBuf) == 0 {
			return
		}
		vh = uint32(xxh3.HashString(c.valBuf[0]))
	}
	t := eventTime(ev)
	slice := winStart
	if co.timespan < winLen && !t.IsZero() {
		slice = t.Truncate(co.timespan)
	}
	ms := t.UnixMilli()
	k := gkey{corr: r.c, slice: slice.UnixMilli(), key: string(b)}
	g, ok := st.groups[k]
	if !ok {
		g = &group{corr: r.c, slice: k.slice, key: k.key, first: ms, last: ms}
		st.groups[k] = g
	}
	g.count++
	g.first, g.last = min(g.first, ms), max(g.last, ms)
	if len(g.refs) < c.opts.MaxEventRefs {
		g.refs = append(g.refs, correlate.EventRef(ev))
	}
	switch co.kind {
	case correlate.ValueCount:
		if int64(len(g.values)) < co.need {
			found := false
			for _, h := range g.values {
				if h == vh {
					found = true
					break
				}
			}
			if !found {
				g.values = append(g.values, vh)
			}
		}
	case correlate.Temporal, correlate.TemporalOrdered:
		if g.seen == nil {
			g.seen = make([]int64, co.nrules)
		}
		if g.seen[r.idx] == 0 || ms < g.seen[r.idx] {
			g.seen[r.idx] = ms
		}
		if co.kind == correlate.TemporalOrdered {
			o := st.ordered[g]
			if o == nil {
				o = &ordered{seq: correlate.NewSeq(co.nrules)}
				if st.ordered == nil {
					st.ordered = map[*group]*ordered{}
				}
				st.ordered[g] = o
			}
			if !o.done {
				if _, _, ok := o.seq.Observe(r.idx, ms, co.timespan.Milliseconds(), c.opts.MaxOrderedTimes); ok {
					o.done, o.seq = true, nil
				}
			}
		}
	}
}

// restoreOrdered rebuilds the sequence state of a decoded temporal_ordered
// group, and drops it from any other group. A state written before the
// sequence state existed (or by a version that does not write it) holds
// only each rule's first time: those are the group's times, and the group
// has fired if they are in order within the timespan, as that version
// decided. It reports false for a damaged record.
func (c *Correlator) restoreOrdered(st *state, g *group) bool {
	co := c.corrs[g.corr]
	o := st.ordered[g]
	if co.kind != correlate.TemporalOrdered {
		delete(st.ordered, g)
		return true
	}
	span := co.timespan.Milliseconds()
	if o == nil {
		if g.seen == nil {
			return true // no temporal_ordered event yet: built on the first
		}
		times := make([][]int64, co.nrules)
		for i, s := range g.seen {
			if s != 0 {
				times[i] = []int64{s}
			}
		}
		o = &ordered{seq: correlate.RestoreSeq(g.last, times, span, c.opts.MaxOrderedTimes)}
		if _, _, ok := o.seq.Pick(span); ok {
			o.done, o.seq = true, nil
		}
		if st.ordered == nil {
			st.ordered = map[*group]*ordered{}
		}
		st.ordered[g] = o
		return true
	}
	if o.done || o.seq != nil {
		return true
	}
	if len(o.times) != co.nrules {
		return false
	}
	o.seq = correlate.RestoreSeq(o.newest, o.times, span, c.opts.MaxOrderedTimes)
	o.times = nil
	return true
}

// progress is how far a group is towards its threshold (0..1+).
func (c *Correlator) progress(st *state, g *group) float64 {
	co := c.corrs[g.corr]
	switch co.kind {
	case correlate.ValueCount:
		return float64(len(g.values)) / float64(co.need)
	case correlate.Temporal, correlate.TemporalOrdered:
		n := 0
		for _, s := range g.seen {
			if s != 0 {
				n++
			}
		}
		if co.kind == correlate.TemporalOrdered {
			if o := st.ordered[g]; o != nil && o.done {
				return 1
			}
			if int64(n) >= co.need {
				return (float64(n) - 0.5) / float64(co.need) // every rule seen, not in order yet
			}
		}
		return float64(n) / float64(co.need)
	}
	return float64(g.count) / float64(co.need)
}

func (c *Correlator) fires(st *state, g *group) bool {
	co := c.corrs[g.corr]
	switch co.kind {
	case correlate.ValueCount:
		return int64(len(g.values)) >= co.need
	case correlate.TemporalOrdered:
		o := st.ordered[g]
		return o != nil && o.done
	case correlate.Temporal:
		for _, s := range g.seen {
			if s == 0 {
				return false
			}
		}
		return true
	}
	return g.count >= co.need
}

func (c *Correlator) alerts(st *state, winStart, winEnd time.Time, winLen time.Duration) []stream.Alert {
	var fired []*group
	for _, g := range st.groups {
		if c.fires(st, g) {
			fired = append(fired, g)
		}
	}
	sort.Slice(fired, func(i, j int) bool {
		a, b := fired[i], fired[j]
		if a.corr != b.corr {
			return a.corr < b.corr
		}
		if a.slice != b.slice {
			return a.slice < b.slice
		}
		return a.key < b.key
	})
	out := make([]stream.Alert, 0, len(fired))
	for _, g := range fired {
		co := c.corrs[g.corr]
		start := time.UnixMilli(g.slice).UTC()
		end := winEnd
		if co.timespan < winLen {
			end = start.Add(co.timespan)
		}
		r := co.rule
		count := g.count
		if co.kind == correlate.ValueCount {
			count = int64(len(g.values))
		}
		out = append(out, stream.Alert{
			ID: stream.AlertID(co.id, g.key, start), RuleID: co.id, RuleTitle: r.Title, Level: r.Level,
			Tags: r.Tags, Description: r.Description, Kind: "correlation", GroupKey: g.key,
			WindowStart: start, WindowEnd: end, FirstSeen: time.UnixMilli(g.first).UTC(),
			LastSeen: time.UnixMilli(g.last).UTC(), Count: count, Events: g.refs,
			Fields: map[string]string{"window.start": winStart.Format(time.RFC3339), "window.end": winEnd.Format(time.RFC3339)},
		})
	}
	return out
}

func stateJSONSize(m map[string]string) int {
	n := 2
	for k, v := range m {
		n += len(k) + len(v) + 6
	}
	return n
}

// ---------------------------------------------------------------- encoding

const encVersion = 1

func decodeState(m map[string]string, windowStart int64) (*state, error) {
	st := &state{windowStart: windowStart, groups: map[gkey]*group{}}
	s, ok := m[StateKey]
	if !ok || s == "" {
		return st, nil
	}
	z, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("window: state: %w", err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
	if err != nil {
		return nil, fmt.Errorf("window: state: %w", err)
	}
	d := decoder{b: raw}
	if v := d.uvarint(); v != encVersion {
		return nil, fmt.Errorf("window: state version %d, want %d", v, encVersion)
	}
	if ws := d.varint(); ws != windowStart {
		// A state of another window (should not happen): start afresh.
		return st, nil
	}
	st.droppedGroups, st.droppedEvents = int64(d.uvarint()), int64(d.uvarint())
	n := d.uvarint()
	var order []*group // in encoding order, for the sections
	for i := uint64(0); i < n && d.err == nil; i++ {
		g := &group{}
		g.corr = int(d.uvarint())
		g.slice = windowStart + d.varint()
		g.key = d.str()
		g.count = int64(d.uvarint())
		g.first = windowStart + d.varint()
		g.last = g.first + int64(d.uvarint())
		if nv := d.uvarint(); nv > 0 && d.err == nil {
			g.values = make([]uint32, 0, min(nv, 1<<16))
			for j := uint64(0); j < nv && d.err == nil; j++ {
				g.values = append(g.values, d.u32())
			}
		}
		if ns := d.uvarint(); ns > 0 && d.err == nil {
			g.seen = make([]int64, 0, min(ns, 64))
			for j := uint64(0); j < ns && d.err == nil; j++ {
				var v int64
				if f := d.bytes(1); f != nil && f[0] == 1 {
					v = windowStart + d.varint()
				}
				g.seen = append(g.seen, v)
			}
		}
		nr := d.uvarint()
		for j := uint64(0); j < nr && d.err == nil; j++ {
			g.refs = append(g.refs, d.ref())
		}
		st.groups[gkey{g.corr, g.slice, g.key}] = g
		order = append(order, g)
	}
	for len(d.b) > 0 && d.err == nil {
		tag := d.uvarint()
		body := d.bytes(d.uvarint())
		if d.err == nil && tag == sectionOrdered {
			d.err = decodeOrdered(st, body, order, windowStart)
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("window: state: %w", d.err)
	}
	return st, nil
}

// sectionOrdered tags the section of the temporal_ordered sequence
// states. Sections follow the groups, each as tag, length and body; a
// decoder skips the tags it does not know, and a decoder older than the
// sections stops after the groups, so it reads a newer state as it would
// its own (for temporal_ordered: each rule's first time, in g.seen).
const sectionOrdered = 1

var errOrdered = errors.New("bad temporal_ordered section")

// decodeOrdered reads the sequence states into st.ordered: count, then per
// group its index among the encoded groups, a done byte, and unless done
// the newest time and per rule the times (the first from the window start,
// the others from the previous one).
func decodeOrdered(st *state, body []byte, order []*group, windowStart int64) error {
	d := decoder{b: body}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		idx := d.uvarint()
		f := d.bytes(1)
		if d.err != nil {
			break
		}
		if idx >= uint64(len(order)) || f[0] > 1 {
			return errOrdered
		}
		o := &ordered{done: f[0] == 1}
		if !o.done {
			o.newest = windowStart + d.varint()
			nr := d.uvarint()
			if nr > 64 {
				return errOrdered
			}
			o.times = make([][]int64, 0, nr)
			for r := uint64(0); r < nr && d.err == nil; r++ {
				nt := d.uvarint()
				if nt > uint64(len(d.b)) {
					return errShort
				}
				l := make([]int64, 0, nt)
				t := windowStart
				for j := uint64(0); j < nt && d.err == nil; j++ {
					if j == 0 {
						t += d.varint()
					} else {
						t += int64(d.uvarint())
					}
					l = append(l, t)
				}
				o.times = append(o.times, l)
			}
		}
		if st.ordered == nil {
			st.ordered = map[*group]*ordered{}
		}
		st.ordered[order[idx]] = o
	}
	return d.err
}

// appendOrdered writes the section of the sequence states of gs, if any.
func appendOrdered(b []byte, st *state, gs []*group) []byte {
	var body []byte
	n := 0
	for i, g := range gs {
		o := st.ordered[g]
		if o == nil || !o.done && o.seq == nil {
			continue
		}
		n++
		body = binary.AppendUvarint(body, uint64(i))
		if o.done {
			body = append(body, 1)
			continue
		}
		body = append(body, 0)
		body = binary.AppendVarint(body, o.seq.Newest()-st.windowStart)
		body = binary.AppendUvarint(body, uint64(o.seq.Rules()))
		for r := range o.seq.Rules() {
			l := o.seq.Times(r)
			body = binary.AppendUvarint(body, uint64(len(l)))
			for j, t := range l {
				if j == 0 {
					body = binary.AppendVarint(body, t-st.windowStart)
				} else {
					body = binary.AppendUvarint(body, uint64(t-l[j-1]))
				}
			}
		}
	}
	if n == 0 {
		return b // a state without temporal_ordered groups is encoded as before
	}
	b = binary.AppendUvarint(b, sectionOrdered)
	b = binary.AppendUvarint(b, uint64(len(binary.AppendUvarint(nil, uint64(n)))+len(body)))
	b = binary.AppendUvarint(b, uint64(n))
	return append(b, body...)
}

// encode writes the state, dropping the groups furthest from their
// threshold until it fits MaxStateBytes.
func (c *Correlator) encode(st *state) (map[string]string, int, error) {
	gs := make([]*group, 0, len(st.groups))
	for _, g := range st.groups {
		if g.corr >= len(c.corrs) {
			continue
		}
		gs = append(gs, g)
	}
	prog := make(map[*group]float64, len(gs))
	for _, g := range gs {
		prog[g] = c.progress(st, g)
	}
	sort.Slice(gs, func(i, j int) bool {
		a, b := gs[i], gs[j]
		if prog[a] != prog[b] {
			return prog[a] > prog[b]
		}
		if a.last != b.last {
			return a.last > b.last
		}
		if a.corr != b.corr {
			return a.corr < b.corr
		}
		if a.slice != b.slice {
			return a.slice < b.slice
		}
		return a.key < b.key
	})
	keep := len(gs)
	budget := c.opts.MaxStateBytes - len(StateKey) - 16
	var zbuf bytes.Buffer
	zw, _ := flate.NewWriter(&zbuf, flate.DefaultCompression)
	for try := 0; ; try++ {
		var dropped, droppedEv int64
		for _, g := range gs[keep:] {
			dropped++
			droppedEv += g.count
		}
		raw := c.appendState(nil, st, gs[:keep], st.droppedGroups+dropped, st.droppedEvents+droppedEv)
		zbuf.Reset()
		zw.Reset(&zbuf)
		if _, err := zw.Write(raw); err != nil {
			return nil, 0, err
		}
		if err := zw.Close(); err != nil {
			return nil, 0, err
		}
		size := base64.StdEncoding.EncodedLen(zbuf.Len())
		if size <= budget {
			st.droppedGroups += dropped
			st.droppedEvents += droppedEv
			return map[string]string{StateKey: base64.StdEncoding.EncodeToString(zbuf.Bytes())}, keep, nil
		}
		if keep == 0 {
			return nil, 0, fmt.Errorf("window: empty state exceeds %d bytes", c.opts.MaxStateBytes)
		}
		next := int(float64(keep) * float64(budget) / float64(size) * 0.97)
		if try > 6 || next >= keep {
			next = keep * 3 / 4
		}
		keep = next
	}
}

func (c *Correlator) appendState(b []byte, st *state, gs []*group, dropped, droppedEv int64) []byte {
	b = binary.AppendUvarint(b, encVersion)
	b = binary.AppendVarint(b, st.windowStart)
	b = binary.AppendUvarint(b, uint64(dropped))
	b = binary.AppendUvarint(b, uint64(droppedEv))
	b = binary.AppendUvarint(b, uint64(len(gs)))
	for _, g := range gs {
		b = binary.AppendUvarint(b, uint64(g.corr))
		b = binary.AppendVarint(b, g.slice-st.windowStart)
		b = appendStr(b, g.key)
		b = binary.AppendUvarint(b, uint64(g.count))
		b = binary.AppendVarint(b, g.first-st.windowStart)
		b = binary.AppendUvarint(b, uint64(g.last-g.first))
		b = binary.AppendUvarint(b, uint64(len(g.values)))
		for _, v := range g.values {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		b = binary.AppendUvarint(b, uint64(len(g.seen)))
		for _, v := range g.seen {
			if v == 0 {
				b = append(b, 0)
				continue
			}
			b = append(b, 1)
			b = binary.AppendVarint(b, v-st.windowStart)
		}
		refs := g.refs
		if g.count < 2 {
			refs = nil // single-event groups are the bulk of the state; their reference is dropped
		}
		b = binary.AppendUvarint(b, uint64(len(refs)))
		for i := range refs {
			b = appendRef(b, &refs[i])
		}
	}
	return appendOrdered(b, st, gs)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendRef(b []byte, r *stream.AlertEvent) []byte {
	b = append(b, r.ID[:]...)
	l := &r.Lineage
	b = append(b, byte(l.Kind))
	b = appendStr(b, l.Source)
	b = appendStr(b, l.Shard)
	b = appendStr(b, l.Sequence)
	b = binary.AppendVarint(b, l.SubSequence)
	b = binary.AppendVarint(b, l.Offset)
	b = binary.AppendVarint(b, l.Index)
	b = binary.AppendVarint(b, l.Line)
	return appendStr(b, l.LogEventID)
}

type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated state")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = errShort
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) str() string { return strings.Clone(string(d.bytes(d.uvarint()))) }

func (d *decoder) u32() uint32 {
	b := d.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *decoder) ref() stream.AlertEvent {
	var r stream.AlertEvent
	copy(r.ID[:], d.bytes(16))
	k := d.bytes(1)
	if k != nil {
		r.Lineage.Kind = stream.OriginKind(k[0])
	}
	r.Lineage.Source = d.str()
	r.Lineage.Shard = d.str()
	r.Lineage.Sequence = d.str()
	r.Lineage.SubSequence = d.varint()
	r.Lineage.Offset = d.varint()
	r.Lineage.Index = d.varint()
	r.Lineage.Line = d.varint()
	r.Lineage.LogEventID = d.str()
	return r
}
