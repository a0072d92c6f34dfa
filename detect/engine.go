// Package detect is Gannet's detection stage: Sigma rules (the built-ins
// in detect/rules and any rule directories) compiled and evaluated inline
// on every event, Sigma correlation rules over bounded in-memory windows,
// and the alerts they raise, deduplicated and identified so that a replay
// raises the same alert ids.
//
// Engine implements stream.Detector.
package detect

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/gannet-sec/gannet/detect/anomaly"
	"github.com/gannet-sec/gannet/detect/correlate"
	"github.com/gannet-sec/gannet/detect/sigma"
	"github.com/gannet-sec/gannet/stream"
)

//go:embed rules/*.yml
var builtinFS embed.FS

// Options configure an Engine. The zero value loads the built-in rules,
// suppresses repeats of an alert for an hour and keeps 16 events per alert.
type Options struct {
	// RuleDirs are directories of Sigma rules (*.yml, *.yaml, recursively)
	// loaded besides the built-ins.
	RuleDirs []string
	// NoBuiltins leaves out the rules in detect/rules.
	NoBuiltins bool
	// AllowedCountries are the ISO country codes API calls may come from;
	// they fill the %allowed_countries% placeholder. When empty, rules that
	// use it are skipped.
	AllowedCountries []string
	// Placeholders fill other %name% placeholders of the expand modifier.
	Placeholders map[string][]string
	// Suppress is the window within which repeated matches of one rule and
	// group key fold into one alert (default 1h; negative: every matching
	// event raises its own alert).
	Suppress time.Duration
	// MaxAlertEvents caps the matched events an alert lists (default 16).
	MaxAlertEvents int
	// MaxGroups caps the group keys each correlation keeps (default 100000).
	MaxGroups int
	// MaxSuppressed caps the alert ids remembered for suppression (default
	// 100000; the oldest are forgotten first).
	MaxSuppressed int
	// Strict makes New fail on a rule that cannot be loaded instead of
	// skipping it (Engine.Skipped lists skipped rules).
	Strict bool
	// Anomaly turns on anomaly detection (detect/anomaly) with this
	// configuration; nil leaves it off.
	Anomaly *anomaly.Config
}

// Skipped is a rule that was not loaded, and why.
type Skipped struct {
	Source string // file (and document)
	Title  string
	Reason string
}

// Stats are counters since the Engine was made.
type Stats struct {
	Events       int64
	Rules        int              // detection rules loaded
	Correlations int              // correlation rules loaded
	Matches      map[string]int64 // per rule id: events matched
	Alerts       map[string]int64 // per rule id: alerts emitted
	Suppressed   int64            // matches folded into an alert already emitted
	Evicted      int64            // correlation groups evicted by MaxGroups
}

// Engine evaluates the loaded rules on event batches. Detect may be called
// from several goroutines; calls are serialized (correlation windows and
// suppression are shared state).
type Engine struct {
	opts    Options
	set     *sigma.Set
	matcher *sigma.Matcher
	rules   []*ruleState // by compiled index
	corrs   []*corrState
	skipped []Skipped

	mu         sync.Mutex
	events     int64
	suppressed int64
	seen       *idLRU
	// single-event alerts by (rule, window, event) — no id hashing per match
	singles map[singleKey]*stream.Alert // pending in this batch
	seenSgl *keyLRU
	matched []*sigma.Compiled
	pendRs  []*ruleState // rules whose pend is set
	pending map[stream.EventID]*stream.Alert
	order   []*stream.Alert
	valBuf  []string
	keyBuf  []byte
	// anomaly baselines (nil when Options.Anomaly is nil)
	anom     *anomaly.Detector
	anomEmit func(*stream.Alert)
}

type ruleState struct {
	c        *sigma.Compiled
	id       string
	generate bool // raises its own alerts (false when only correlations use it)
	corrs    []corrRef
	matches  int64
	alerts   int64
	// The suppression window the rule's last single-event match fell in
	// (Suppress > 0): matches in it need no key hashing. pend is its alert
	// while it is pending in this batch; otherwise the alert was raised
	// earlier and stays suppressed while seenSgl still holds the window's
	// key (added as its addedAt-th key).
	win     bool
	winLo   time.Time
	winHi   time.Time
	pend    *stream.Alert
	addedAt uint64
}

type corrRef struct {
	corr *corrState
	idx  int // index of the rule among the correlation's rules
}

type corrState struct {
	rule    *sigma.Rule
	id      string
	win     *correlate.Window
	groupBy []*sigma.Field
	names   []string
	value   *sigma.Field // value_count field
	alerts  int64
}

// New loads the rules and builds an Engine.
func New(opts Options) (*Engine, error) {
	if opts.Suppress == 0 {
		opts.Suppress = time.Hour
	}
	if opts.MaxAlertEvents <= 0 {
		opts.MaxAlertEvents = 16
	}
	if opts.MaxSuppressed <= 0 {
		opts.MaxSuppressed = 100000
	}
	e := &Engine{opts: opts, set: sigma.NewSet(), seen: newIDLRU(opts.MaxSuppressed),
		singles: map[singleKey]*stream.Alert{}, seenSgl: newKeyLRU(opts.MaxSuppressed)}
	e.set.Placeholders = map[string][]string{}
	for k, v := range opts.Placeholders {
		e.set.Placeholders[k] = v
	}
	if len(opts.AllowedCountries) > 0 {
		e.set.Placeholders["allowed_countries"] = opts.AllowedCountries
	}

	var all []*sigma.Rule
	if !opts.NoBuiltins {
		rs, err := loadFS(builtinFS, "rules")
		if err != nil {
			return nil, fmt.Errorf("built-in rules: %w", err)
		}
		all = append(all, rs...)
	}
	for _, dir := range opts.RuleDirs {
		rs, skipped, err := LoadDir(dir)
		if err != nil {
			return nil, err
		}
		if len(skipped) > 0 && opts.Strict {
			return nil, fmt.Errorf("%s: %s", skipped[0].Source, skipped[0].Reason)
		}
		e.skipped = append(e.skipped, skipped...)
		all = append(all, rs...)
	}
	if err := e.compile(all); err != nil {
		return nil, err
	}
	e.matcher = e.set.NewMatcher()
	if opts.Anomaly != nil {
		e.anom = anomaly.New(*opts.Anomaly)
		e.anomEmit = e.queueAnomaly
	}
	return e, nil
}

func (e *Engine) skip(r *sigma.Rule, err error) error {
	if e.opts.Strict {
		return fmt.Errorf("%s (%s): %w", r.Source, r.Title, err)
	}
	e.skipped = append(e.skipped, Skipped{Source: r.Source, Title: r.Title, Reason: err.Error()})
	return nil
}

func ruleID(r *sigma.Rule) string {
	if r.ID != "" {
		return r.ID
	}
	return r.Title
}

func (e *Engine) compile(all []*sigma.Rule) error {
	byName := map[string]*ruleState{}
	var corrRules []*sigma.Rule
	for _, r := range all {
		if r.Correlation != nil {
			corrRules = append(corrRules, r)
			continue
		}
		c, err := e.set.Add(r)
		if err != nil {
			if err := e.skip(r, err); err != nil {
				return err
			}
			continue
		}
		rs := &ruleState{c: c, id: ruleID(r), generate: true}
		e.rules = append(e.rules, rs)
		if r.Name != "" {
			byName[r.Name] = rs
		}
		if r.ID != "" {
			byName[r.ID] = rs
		}
	}
	for _, r := range corrRules {
		cr := r.Correlation
		kind, err := correlate.ParseKind(cr.Type)
		if err == nil && len(cr.Aliases) > 0 {
			err = errors.New("correlation aliases are not supported")
		}
		var refs []*ruleState
		for _, name := range cr.Rules {
			rs, ok := byName[name]
			if !ok && err == nil {
				err = fmt.Errorf("correlation refers to unknown or unloaded rule %q", name)
			}
			refs = append(refs, rs)
		}
		var win *correlate.Window
		if err == nil {
			win, err = correlate.New(correlate.Spec{
				Kind: kind, Timespan: cr.Timespan, Op: cr.Condition.Op, Threshold: cr.Condition.Count,
				Rules: len(cr.Rules), MaxGroups: e.opts.MaxGroups, MaxEvents: e.opts.MaxAlertEvents,
			})
		}
		if err != nil {
			if err := e.skip(r, err); err != nil {
				return err
			}
			continue
		}
		cs := &corrState{rule: r, id: ruleID(r), win: win, names: cr.GroupBy}
		for _, g := range cr.GroupBy {
			cs.groupBy = append(cs.groupBy, e.set.Field(g))
		}
		if kind == correlate.ValueCount {
			cs.value = e.set.Field(cr.Condition.Field)
		}
		for i, rs := range refs {
			rs.corrs = append(rs.corrs, corrRef{cs, i})
			if !cr.Generate {
				rs.generate = false
			}
		}
		e.corrs = append(e.corrs, cs)
	}
	// Fields shown in alerts.
	for _, name := range alertFields {
		e.set.Field(name)
	}
	return nil
}

// alertFields are shown in Alert.Fields when the event has them.
var alertFields = []string{"eventName", "eventSource", "sourceIPAddress", "userIdentity.arn",
	"source.ip", "destination.ip", "destination.port", "user.name", "url.original", "user_agent.original", "dns.question.name"}

// Skipped lists the rules that were not loaded and why.
func (e *Engine) Skipped() []Skipped { return e.skipped }

// Rules lists the loaded detection and correlation rules' ids.
func (e *Engine) Rules() []string {
	var out []string
	for _, r := range e.rules {
		out = append(out, r.id)
	}
	for _, c := range e.corrs {
		out = append(out, c.id)
	}
	return out
}

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{Events: e.events, Rules: len(e.rules), Correlations: len(e.corrs),
		Matches: map[string]int64{}, Alerts: map[string]int64{}, Suppressed: e.suppressed}
	for _, r := range e.rules {
		if r.matches > 0 {
			s.Matches[r.id] += r.matches
		}
		if r.alerts > 0 {
			s.Alerts[r.id] += r.alerts
		}
	}
	for _, c := range e.corrs {
		if c.alerts > 0 {
			s.Alerts[c.id] += c.alerts
		}
		s.Evicted += c.win.Evicted
	}
	if e.anom != nil {
		for id, n := range e.anom.Stats().Alerts {
			if n > 0 {
				s.Alerts[id] += n
			}
		}
	}
	return s
}

// Detect evaluates every loaded rule on events and emits the alerts raised
// by this batch once it has been evaluated. The batch is owned by the
// callee until Detect returns; emitted alerts are owned by the receiver.
// An event that matches no rule costs no allocation.
func (e *Engine) Detect(ctx context.Context, events []stream.Event, emit func(*stream.Alert)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range events {
		if i&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				e.flush(emit)
				return err
			}
		}
		ev := &events[i]
		e.events++
		e.matched = e.matcher.Match(ev, e.matched[:0])
		for _, c := range e.matched {
			rs := e.rules[c.Index()]
			rs.matches++
			for _, cr := range rs.corrs {
				e.correlate(cr, ev)
			}
			if rs.generate {
				e.single(rs, ev)
			}
		}
		if e.anom != nil {
			e.anom.Observe(ev, e.anomEmit)
		}
	}
	e.flush(emit)
	return nil
}

func eventTime(ev *stream.Event) time.Time {
	if !ev.Timestamp.IsZero() {
		return ev.Timestamp
	}
	return ev.Ingested
}

// singleKey identifies a single-event alert before its id is hashed.
type singleKey struct {
	rule  int
	start int64
	event stream.EventID // zero unless every event has its own alert
}

func (e *Engine) single(rs *ruleState, ev *stream.Event) {
	t := eventTime(ev)
	if rs.win && !t.Before(rs.winLo) && t.Before(rs.winHi) {
		// Same window as the rule's last match (Suppress > 0 only).
		if rs.pend != nil {
			e.addEvent(rs.pend, ev, t)
			return
		}
		if e.seenSgl.holds(rs.addedAt) {
			e.suppressed++
			return
		}
	}
	start := t
	k := singleKey{rule: rs.c.Index()}
	if e.opts.Suppress > 0 {
		start = t.Truncate(e.opts.Suppress)
	} else {
		k.event = ev.ID
	}
	k.start = start.UnixNano()
	if a, ok := e.singles[k]; ok {
		e.addEvent(a, ev, t)
		e.cacheWindow(rs, start, a, 0)
		return
	}
	if at, ok := e.seenSgl.get(k); ok {
		e.suppressed++
		e.cacheWindow(rs, start, nil, at)
		return
	}
	at := e.seenSgl.add(k)
	group := ""
	if e.opts.Suppress <= 0 {
		group = "event.id=" + ev.ID.String()
	}
	id := stream.AlertID(rs.id, group, start)
	r := rs.c.Rule
	a := &stream.Alert{
		ID: id, RuleID: rs.id, RuleTitle: r.Title, Level: r.Level, Tags: r.Tags, Description: r.Description,
		Kind: "rule", GroupKey: group, WindowStart: start, WindowEnd: start.Add(max(e.opts.Suppress, 0)),
		FirstSeen: t, LastSeen: t, Format: ev.Format, Fields: e.fields(ev),
	}
	e.addEvent(a, ev, t)
	rs.alerts++
	e.singles[k] = a
	e.queue(a)
	e.cacheWindow(rs, start, a, at)
}

// cacheWindow remembers the window [start, start+Suppress) as rs's last
// one, with its pending alert (nil once emitted).
func (e *Engine) cacheWindow(rs *ruleState, start time.Time, pend *stream.Alert, addedAt uint64) {
	if e.opts.Suppress <= 0 {
		return
	}
	rs.win, rs.winLo, rs.winHi, rs.addedAt = true, start, start.Add(e.opts.Suppress), addedAt
	if pend != nil && rs.pend == nil {
		e.pendRs = append(e.pendRs, rs)
	}
	rs.pend = pend
}

func (e *Engine) addEvent(a *stream.Alert, ev *stream.Event, t time.Time) {
	a.Count++
	if t.Before(a.FirstSeen) {
		a.FirstSeen = t
	}
	if t.After(a.LastSeen) {
		a.LastSeen = t
	}
	if len(a.Events) < e.opts.MaxAlertEvents {
		a.Events = append(a.Events, alertEvent(ev))
	}
}

func alertEvent(ev *stream.Event) stream.AlertEvent { return correlate.EventRef(ev) }

func (e *Engine) fields(ev *stream.Event) map[string]string {
	out := map[string]string{}
	for _, name := range alertFields {
		e.valBuf = e.matcher.Values(e.set.Field(name), ev, e.valBuf[:0])
		if len(e.valBuf) > 0 {
			out[name] = strings.Clone(e.valBuf[0])
		}
	}
	return out
}

func (e *Engine) correlate(cr corrRef, ev *stream.Event) {
	cs := cr.corr
	b := e.keyBuf[:0]
	for i, f := range cs.groupBy {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, cs.names[i]...)
		b = append(b, '=')
		e.valBuf = e.matcher.Values(f, ev, e.valBuf[:0])
		for j, v := range e.valBuf {
			if j > 0 {
				b = append(b, '|')
			}
			b = append(b, v...)
		}
	}
	e.keyBuf = b
	value := ""
	if cs.value != nil {
		e.valBuf = e.matcher.Values(cs.value, ev, e.valBuf[:0])
		if len(e.valBuf) == 0 {
			return // value_count counts events that have the field
		}
		value = e.valBuf[0]
	}
	t := eventTime(ev)
	// The window copies the key when the group is new.
	f, ok := cs.win.Observe(unsafe.String(unsafe.SliceData(b), len(b)), t, cr.idx, value, ev)
	if !ok {
		return
	}
	key := string(b)
	id := stream.AlertID(cs.id, key, f.WindowStart)
	if e.seen.has(id) {
		e.suppressed++
		return
	}
	r := cs.rule
	a := &stream.Alert{
		ID: id, RuleID: cs.id, RuleTitle: r.Title, Level: r.Level, Tags: r.Tags, Description: r.Description,
		Kind: "correlation", GroupKey: key, WindowStart: f.WindowStart, WindowEnd: f.WindowEnd,
		FirstSeen: f.First, LastSeen: f.Last, Count: f.Count, Format: ev.Format, Events: f.Events, Fields: e.fields(ev),
	}
	cs.alerts++
	e.queue(a)
}

func (e *Engine) queue(a *stream.Alert) {
	if e.pending == nil {
		e.pending = map[stream.EventID]*stream.Alert{}
	}
	e.pending[a.ID] = a
	e.order = append(e.order, a)
}

// flush emits the batch's alerts in the order they were raised and
// remembers their ids for suppression.
func (e *Engine) flush(emit func(*stream.Alert)) {
	for _, a := range e.order {
		e.seen.add(a.ID)
		emit(a)
	}
	clear(e.order)
	e.order = e.order[:0]
	clear(e.pending)
	clear(e.singles)
	for _, rs := range e.pendRs {
		rs.pend = nil // emitted: further matches in its window are suppressed
	}
	clear(e.pendRs)
	e.pendRs = e.pendRs[:0]
}

// LoadDir parses every Sigma rule under dir (*.yml, *.yaml), except under
// sub-directories named tests (rule test cases, see RunTests). Files that do
// not parse are returned as skipped; an unreadable directory is an error.
func LoadDir(dir string) ([]*sigma.Rule, []Skipped, error) {
	var rules []*sigma.Rule
	var skipped []Skipped
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != dir && d.Name() == "tests" {
			return filepath.SkipDir // rule test cases (RunTests), not rules
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rs, err := sigma.Parse(data, p)
		if err != nil {
			skipped = append(skipped, Skipped{Source: p, Reason: err.Error()})
			return nil
		}
		rules = append(rules, rs...)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("rules %s: %w", dir, err)
	}
	return rules, skipped, nil
}

func loadFS(fsys fs.FS, dir string) ([]*sigma.Rule, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var out []*sigma.Rule
	for _, en := range entries {
		data, err := fs.ReadFile(fsys, dir+"/"+en.Name())
		if err != nil {
			return nil, err
		}
		rs, err := sigma.Parse(data, "builtin:"+en.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	return out, nil
}

// idLRU remembers the most recent alert ids.
type idLRU struct {
	max  int
	set  map[stream.EventID]struct{}
	ring []stream.EventID
	next int
}

func newIDLRU(n int) *idLRU {
	return &idLRU{max: n, set: map[stream.EventID]struct{}{}}
}

func (l *idLRU) has(id stream.EventID) bool { _, ok := l.set[id]; return ok }

func (l *idLRU) add(id stream.EventID) {
	if l.has(id) {
		return
	}
	if len(l.ring) < l.max {
		l.ring = append(l.ring, id)
	} else {
		delete(l.set, l.ring[l.next])
		l.ring[l.next] = id
		l.next = (l.next + 1) % l.max
	}
	l.set[id] = struct{}{}
}

// keyLRU remembers the most recent single-alert keys (first in, first
// out). Each key is numbered by the order it was added in.
type keyLRU struct {
	max  int
	set  map[singleKey]uint64 // key → its number
	ring []singleKey
	next int
	adds uint64 // keys added so far
}

func newKeyLRU(n int) *keyLRU { return &keyLRU{max: n, set: map[singleKey]uint64{}} }

func (l *keyLRU) get(k singleKey) (uint64, bool) { at, ok := l.set[k]; return at, ok }

// holds reports whether the key numbered at is still remembered.
func (l *keyLRU) holds(at uint64) bool { return l.adds-at <= uint64(l.max) }

// add remembers k (not already held) and returns its number.
func (l *keyLRU) add(k singleKey) uint64 {
	if len(l.ring) < l.max {
		l.ring = append(l.ring, k)
	} else {
		delete(l.set, l.ring[l.next])
		l.ring[l.next] = k
		l.next = (l.next + 1) % l.max
	}
	at := l.adds
	l.set[k] = at
	l.adds++
	return at
}

var _ stream.Detector = (*Engine)(nil)
