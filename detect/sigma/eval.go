package sigma

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"unsafe"

	"github.com/gannet-sec/gannet/detect/jsonscan"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
)

// val is one value of a field in the event being evaluated. s aliases the
// event or the Matcher's scratch buffers.
type val struct {
	s    string
	kind jsonscan.Kind // String, Number, Bool, Null; Object/Array for an empty container
	ip   netip.Addr    // set by typed IP fields
	// low is s folded to lower case, computed on first use.
	low     string
	lowDone bool
}

func (v *val) scalar() bool {
	return v.kind == jsonscan.String || v.kind == jsonscan.Number || v.kind == jsonscan.Bool
}

type span struct{ start, end int32 }

// Matcher evaluates a frozen Set on events. It holds per-event scratch
// space, so a Matcher is for one goroutine at a time; make one per
// goroutine with Set.NewMatcher.
type Matcher struct {
	set  *Set
	ev   *stream.Event
	rec  *cloudtrail.Record // ev.Native when it is one
	one  [1]val             // the value of a Record string field under test
	vals []val
	buf  []byte // decoded strings and formatted numbers, reset per event
	low  []byte // lower-cased strings, reset per event

	// top-level members of ev.Raw, found lazily: topState 0 = not scanned,
	// 1 = scanned (Raw is an object), 2 = Raw is not a JSON object.
	topState uint8
	top      []span
	keyBuf   []byte

	seen  []uint32 // per rule: generation in which it became a candidate
	gen   uint32
	cands []*Compiled
}

// NewMatcher freezes the set (no more rules can be added) and returns a
// Matcher for one goroutine.
func (s *Set) NewMatcher() *Matcher {
	s.freeze()
	return &Matcher{
		set:  s,
		vals: make([]val, 0, 32),
		buf:  make([]byte, 0, 512),
		low:  make([]byte, 0, 512),
		top:  make([]span, len(s.topNames)),
		seen: make([]uint32, len(s.rules)),
	}
}

// reset prepares the Matcher for a new event.
func (m *Matcher) reset(ev *stream.Event) {
	m.ev = ev
	m.rec, _ = ev.Native.(*cloudtrail.Record)
	m.vals = m.vals[:0]
	m.buf = m.buf[:0]
	m.low = m.low[:0]
	m.topState = 0
}

// Match appends to dst the rules of the set that match ev and returns it.
// It does not allocate unless a rule needs to lower-case non-ASCII text.
func (m *Matcher) Match(ev *stream.Event, dst []*Compiled) []*Compiled {
	m.reset(ev)
	if int(ev.Format) >= len(m.set.byFormat) {
		return dst
	}
	ix := &m.set.byFormat[ev.Format]
	for _, r := range ix.always {
		if r.root.eval(m) {
			dst = append(dst, r)
		}
		m.vals = m.vals[:0]
	}
	if len(ix.fields) == 0 {
		return dst
	}
	m.gen++
	if m.gen == 0 { // wrapped: clear stamps
		clear(m.seen)
		m.gen = 1
	}
	m.cands = m.cands[:0]
	for fi := range ix.fields {
		f := &ix.fields[fi]
		if s, ok := f.field.one(m); ok {
			if s != "" {
				m.candidates(f.table.get(s))
			}
			continue
		}
		m.vals = m.vals[:0]
		m.lookup(f.field)
		for i := range m.vals {
			if !m.vals[i].scalar() {
				continue
			}
			m.candidates(f.table.get(m.vals[i].s))
		}
	}
	for _, r := range m.cands {
		m.vals = m.vals[:0]
		if r.root.eval(m) {
			dst = append(dst, r)
		}
	}
	m.vals = m.vals[:0]
	return dst
}

// candidates adds the rules of rs not yet candidates for this event.
func (m *Matcher) candidates(rs []*Compiled) {
	for _, r := range rs {
		if m.seen[r.index] != m.gen {
			m.seen[r.index] = m.gen
			m.cands = append(m.cands, r)
		}
	}
}

// Matches reports whether rule r matches ev, bypassing the index (tests
// use it to check the index against full evaluation).
func (m *Matcher) Matches(r *Compiled, ev *stream.Event) bool {
	m.reset(ev)
	if int(ev.Format) >= len(m.set.byFormat) || !r.formats[ev.Format] {
		return false
	}
	ok := r.root.eval(m)
	m.vals = m.vals[:0]
	return ok
}

// Values appends the values of field f in ev to dst, as strings valid only
// until the next call on m. It is for group-by keys and alert fields.
func (m *Matcher) Values(f *Field, ev *stream.Event, dst []string) []string {
	if m.ev != ev {
		m.reset(ev)
	}
	lo := len(m.vals)
	m.lookup(f)
	for i := lo; i < len(m.vals); i++ {
		if m.vals[i].scalar() {
			dst = append(dst, m.vals[i].s)
		}
	}
	m.vals = m.vals[:lo]
	return dst
}

// lookup appends the values of f in the current event to m.vals.
func (m *Matcher) lookup(f *Field) {
	if f.ct != nil && m.rec != nil {
		if s := f.ct(m.rec); s != "" {
			m.vals = append(m.vals, val{s: s, kind: jsonscan.String})
		}
		return
	}
	if f.native != nil && m.ev.Native != nil && f.native(m) {
		return
	}
	if f.typed != nil && (f.onlyFormat == stream.FormatUnknown || f.onlyFormat == m.ev.Format) {
		if f.typed(m) {
			return
		}
	}
	if f.noRaw || (f.rawJSONOnly && m.ev.Format != stream.FormatJSON) {
		return
	}
	if m.topState == 0 {
		m.scanTop()
	}
	if m.topState != 1 {
		return
	}
	sp := m.top[f.rawTop]
	if sp.end == 0 {
		return
	}
	jsonscan.Walk(m.ev.Raw, int(sp.start), f.rawRest, m)
}

// scanTop records where each top-level key that some rule reads starts.
func (m *Matcher) scanTop() {
	clear(m.top)
	raw := m.ev.Raw
	i := jsonscan.SkipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' || len(raw) > 1<<31-1 {
		m.topState = 2
		return
	}
	m.topState = 1
	keys := m.set.topKeys
	it := jsonscan.NewMembers(raw, i)
	for {
		mb, ok := it.Next()
		if !ok {
			return
		}
		key := mb.Key
		if mb.KeyEscaped {
			m.keyBuf = jsonscan.AppendUnescaped(m.keyBuf[:0], key)
			key = m.keyBuf
		}
		if id, ok := keys[string(key)]; ok {
			m.top[id] = span{int32(mb.VStart), int32(mb.VEnd)} // last one wins, as in encoding/json
		}
	}
}

// Visit receives one value reached by a JSON path (jsonscan.Visitor).
func (m *Matcher) Visit(b []byte, start, end int) {
	k := jsonscan.KindAt(b, start)
	switch k {
	case jsonscan.String:
		c := b[start+1 : end-1]
		var s string
		if len(c) > 0 {
			if jsonscan.HasEscape(c) {
				lo := len(m.buf)
				m.buf = jsonscan.AppendUnescaped(m.buf, c)
				s = bufString(m.buf, lo)
			} else {
				s = unsafe.String(&c[0], len(c))
			}
		}
		m.vals = append(m.vals, val{s: s, kind: k})
	case jsonscan.Number, jsonscan.Bool, jsonscan.Null:
		m.vals = append(m.vals, val{s: unsafe.String(&b[start], end-start), kind: k})
	case jsonscan.Object, jsonscan.Array:
		m.vals = append(m.vals, val{kind: k})
	}
}

// lower returns v.s in lower case (cached in v).
func (m *Matcher) lower(v *val) string {
	if v.lowDone {
		return v.low
	}
	v.lowDone = true
	s := v.s
	if !isASCII(s) {
		v.low = strings.ToLower(s)
		return v.low
	}
	upper := false
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := word(s, i)
		if lowerWord(w) != w {
			upper = true
			break
		}
	}
	for j := i; !upper && j < len(s); j++ {
		upper = 'A' <= s[j] && s[j] <= 'Z'
	}
	if !upper {
		v.low = s
		return s
	}
	lo := len(m.low)
	m.low = slices.Grow(m.low, len(s))[:lo+len(s)]
	b := m.low[lo:]
	i = 0
	for ; i+8 <= len(s); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], lowerWord(word(s, i)))
	}
	for ; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	v.low = bufString(m.low, lo)
	return v.low
}
