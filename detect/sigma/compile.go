package sigma

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gannet-sec/gannet/detect/jsonscan"
	"github.com/gannet-sec/gannet/stream"
)

// node is one node of a compiled rule's matcher tree.
type node interface {
	eval(m *Matcher) bool
}

type andNode []node

func (n andNode) eval(m *Matcher) bool {
	for _, c := range n {
		if !c.eval(m) {
			return false
		}
	}
	return true
}

type orNode []node

func (n orNode) eval(m *Matcher) bool {
	for _, c := range n {
		if c.eval(m) {
			return true
		}
	}
	return false
}

type notNode struct{ x node }

func (n notNode) eval(m *Matcher) bool { return !n.x.eval(m) }

type constNode bool

func (n constNode) eval(*Matcher) bool { return bool(n) }

// group is what one rule value compiles to: any of its patterns (the
// variants made by windash/base64offset) satisfies it; null means "the
// field has no non-null value".
type group struct {
	null bool
	pats []pattern
}

// fieldNode is one "field|modifiers: values" entry.
type fieldNode struct {
	f      *Field
	groups []group
	all    bool
	exists int8 // 0: not an exists test; 1: exists: true; -1: exists: false
	// fieldref: the other field and how its values compare.
	ref   *Field
	refOp string // eq, contains, startswith, endswith
	// eqKeys are the index keys when every group is a plain equality.
	eqKeys []string
}

func (n *fieldNode) eval(m *Matcher) bool {
	if n.ref == nil {
		if s, ok := n.f.one(m); ok {
			// A single string: no value list.
			vs := m.one[:0]
			if s != "" {
				m.one[0] = val{s: s, kind: jsonscan.String}
				vs = m.one[:1]
			}
			return n.test(m, vs, 0)
		}
	}
	lo := len(m.vals)
	m.lookup(n.f)
	ok := n.test(m, m.vals[lo:], lo)
	m.vals = m.vals[:lo]
	return ok
}

// test tests the field's values vs, which are m.vals[lo:] when the node
// is a fieldref.
func (n *fieldNode) test(m *Matcher, vs []val, lo int) bool {
	switch {
	case n.exists != 0:
		has := false
		for i := range vs {
			if vs[i].kind != jsonscan.Null {
				has = true
				break
			}
		}
		return has == (n.exists > 0)
	case n.ref != nil:
		return n.evalRef(m, lo)
	}
	if n.all {
		for gi := range n.groups {
			if !n.groups[gi].matchAny(m, vs) {
				return false
			}
		}
		return true
	}
	for gi := range n.groups {
		if n.groups[gi].matchAny(m, vs) {
			return true
		}
	}
	return false
}

func (g *group) matchAny(m *Matcher, vs []val) bool {
	if g.null {
		for i := range vs {
			if vs[i].kind != jsonscan.Null {
				return false
			}
		}
		return true
	}
	for i := range vs {
		for _, p := range g.pats {
			if p.match(m, &vs[i]) {
				return true
			}
		}
	}
	return false
}

func (n *fieldNode) evalRef(m *Matcher, lo int) bool {
	mid := len(m.vals)
	m.lookup(n.ref)
	for i := lo; i < mid; i++ {
		a := &m.vals[i]
		if !a.scalar() {
			continue
		}
		for j := mid; j < len(m.vals); j++ {
			b := &m.vals[j]
			if !b.scalar() {
				continue
			}
			var ok bool
			switch n.refOp {
			case "eq":
				ok = strings.EqualFold(a.s, b.s)
			case "contains":
				ok = strings.Contains(m.lower(a), m.lower(b))
			case "startswith":
				ok = strings.HasPrefix(m.lower(a), m.lower(b))
			default:
				ok = strings.HasSuffix(m.lower(a), m.lower(b))
			}
			if ok {
				return true
			}
		}
	}
	return false
}

// keywordNode matches full-text keywords against the event's raw text
// (Event.Raw, or Message when Raw is empty).
type keywordNode struct {
	pats []pattern
}

func (n keywordNode) eval(m *Matcher) bool {
	text := m.ev.Raw
	var v val
	if len(text) > 0 {
		v = val{s: bufString(text, 0), kind: jsonscan.String}
	} else if m.ev.Message != "" {
		v = val{s: m.ev.Message, kind: jsonscan.String}
	} else {
		return false
	}
	for _, p := range n.pats {
		if p.match(m, &v) {
			return true
		}
	}
	return false
}

// Compiled is a detection rule compiled for a Set.
type Compiled struct {
	Rule    *Rule
	Formats []stream.Format
	// IndexField and IndexValues are the selecting equality field the rule
	// is indexed by (empty when the rule is evaluated on every event of its
	// formats).
	IndexField  string
	IndexValues []string

	root    node
	index   int
	formats []bool
}

// Index is the rule's position in its Set (the order rules were added).
func (c *Compiled) Index() int { return c.index }

// Set is a collection of compiled detection rules with their index. Add
// rules, then make Matchers; a Set is read-only (and safe to share between
// goroutines) once the first Matcher exists.
type Set struct {
	rules    []*Compiled
	fields   map[string]*Field
	topKeys  map[string]int
	topNames []string
	byFormat []formatIndex
	frozen   bool
	// Placeholders are the values of %name% placeholders used with the
	// expand modifier; set them before adding rules.
	Placeholders map[string][]string
}

type formatIndex struct {
	always []*Compiled
	fields []indexField
}

type indexField struct {
	field   *Field
	buckets map[string][]*Compiled // built at freeze, then turned into table
	table   foldTable
}

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{
		fields:  map[string]*Field{},
		topKeys: map[string]int{},
	}
}

// Rules returns the compiled rules in the order they were added.
func (s *Set) Rules() []*Compiled { return s.rules }

// ErrFrozen is returned by Add once Matchers exist.
var ErrFrozen = errors.New("sigma: rule set is frozen")

// Add compiles a detection rule into the set. It fails (and leaves the set
// unchanged) when the rule uses a modifier, condition or logsource this
// package does not support.
func (s *Set) Add(r *Rule) (*Compiled, error) {
	if s.frozen {
		return nil, ErrFrozen
	}
	if r.Detection == nil {
		return nil, errors.New("not a detection rule")
	}
	formats := LogsourceFormats(r.Logsource)
	if len(formats) == 0 {
		return nil, fmt.Errorf("logsource %+v maps to no Gannet format", r.Logsource)
	}
	c := &Compiled{Rule: r, Formats: formats, index: len(s.rules)}
	// A failing rule may leave resolved fields in the registry; they are
	// harmless (a top-level key nobody reads costs one map probe per key).
	root, err := s.compileDetection(r.Detection)
	if err != nil {
		return nil, err
	}
	c.root = root
	c.formats = make([]bool, len(stream.Formats())+1)
	for _, f := range formats {
		c.formats[f] = true
	}
	if sel := selectorOf(root); len(sel) > 0 {
		c.IndexField, c.IndexValues = bestSelector(sel)
	}
	s.rules = append(s.rules, c)
	return c, nil
}

func (s *Set) compileDetection(d *Detection) (node, error) {
	searches := make([]node, len(d.Searches))
	byName := map[string]int{}
	for i, se := range d.Searches {
		n, err := s.compileSearch(se)
		if err != nil {
			return nil, fmt.Errorf("search %s: %w", se.Name, err)
		}
		searches[i] = n
		byName[se.Name] = i
	}
	var conds orNode
	for _, cs := range d.Conditions {
		c, err := ParseCondition(cs)
		if err != nil {
			return nil, err
		}
		n, err := s.compileCond(c, d, searches, byName)
		if err != nil {
			return nil, err
		}
		conds = append(conds, n)
	}
	if len(conds) == 1 {
		return conds[0], nil
	}
	return conds, nil
}

func (s *Set) compileCond(c Cond, d *Detection, searches []node, byName map[string]int) (node, error) {
	switch c := c.(type) {
	case CondAnd:
		out := make(andNode, 0, len(c))
		for _, x := range c {
			n, err := s.compileCond(x, d, searches, byName)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	case CondOr:
		out := make(orNode, 0, len(c))
		for _, x := range c {
			n, err := s.compileCond(x, d, searches, byName)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	case CondNot:
		n, err := s.compileCond(c.X, d, searches, byName)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case CondRef:
		i, ok := byName[c.Name]
		if !ok {
			return nil, fmt.Errorf("condition names undefined search %q", c.Name)
		}
		return searches[i], nil
	case CondOf:
		idx := searchesFor(d, c.Pattern)
		if len(idx) == 0 {
			return nil, fmt.Errorf("%q matches no search", c.Pattern)
		}
		if len(idx) == 1 {
			return searches[idx[0]], nil
		}
		if c.All {
			out := make(andNode, 0, len(idx))
			for _, i := range idx {
				out = append(out, searches[i])
			}
			return out, nil
		}
		out := make(orNode, 0, len(idx))
		for _, i := range idx {
			out = append(out, searches[i])
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown condition node %T", c)
}

func (s *Set) compileSearch(se *Search) (node, error) {
	if len(se.Keywords) > 0 {
		var kn keywordNode
		for _, kw := range se.Keywords {
			if kw.Null {
				return nil, errors.New("null keyword")
			}
			p, err := compileValue(kw.S, mods{cmp: "contains"}, false)
			if err != nil {
				return nil, err
			}
			kn.pats = append(kn.pats, p)
		}
		return kn, nil
	}
	var or orNode
	for _, fms := range se.Matchers {
		and := make(andNode, 0, len(fms))
		for i := range fms {
			n, err := s.compileField(&fms[i])
			if err != nil {
				return nil, err
			}
			and = append(and, n)
		}
		if len(and) == 1 {
			or = append(or, and[0])
		} else if len(and) == 0 {
			or = append(or, constNode(true))
		} else {
			or = append(or, and)
		}
	}
	if len(or) == 1 {
		return or[0], nil
	}
	return or, nil
}

func (s *Set) compileField(fm *FieldMatcher) (node, error) {
	if fm.Field == "" {
		return nil, errors.New("empty field name")
	}
	md, err := parseMods(fm.Modifiers)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fm.Field, err)
	}
	n := &fieldNode{f: s.field(fm.Field), all: md.all}
	switch {
	case md.cmp == "exists":
		if len(fm.Values) != 1 || (fm.Values[0].S != "true" && fm.Values[0].S != "false") {
			return nil, fmt.Errorf("%s|exists needs true or false", fm.Field)
		}
		n.exists = -1
		if fm.Values[0].S == "true" {
			n.exists = 1
		}
		return n, nil
	case strings.HasPrefix(md.cmp, "fieldref"):
		if len(fm.Values) != 1 || fm.Values[0].Null {
			return nil, fmt.Errorf("%s|fieldref needs one field name", fm.Field)
		}
		n.ref = s.field(fm.Values[0].S)
		n.refOp = "eq"
		if op, ok := strings.CutPrefix(md.cmp, "fieldref|"); ok {
			n.refOp = op
		}
		return n, nil
	}
	values := fm.Values
	if md.expand {
		values = nil
		for _, v := range fm.Values {
			name := strings.Trim(v.S, "%")
			if v.Null || len(v.S) < 3 || v.S[0] != '%' || v.S[len(v.S)-1] != '%' {
				return nil, fmt.Errorf("%s|expand: %q is not a %%placeholder%%", fm.Field, v.S)
			}
			list, ok := s.Placeholders[name]
			if !ok {
				return nil, fmt.Errorf("%s|expand: placeholder %%%s%% is not defined", fm.Field, name)
			}
			for _, x := range list {
				values = append(values, Value{S: x})
			}
		}
		if len(values) == 0 {
			return nil, fmt.Errorf("%s|expand: placeholders expand to no value", fm.Field)
		}
	}
	plainEq := md.cmp == "" && !md.windash && !md.hasEncoded
	for _, v := range values {
		if v.Null {
			if md.cmp != "" || md.hasEncoded {
				return nil, fmt.Errorf("%s: null value with modifier %s", fm.Field, md.cmp)
			}
			n.groups = append(n.groups, group{null: true})
			plainEq = false
			continue
		}
		var g group
		for _, vs := range valueVariants(v.S, md) {
			p, err := compileValue(vs, md, md.hasEncoded)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", fm.Field, err)
			}
			g.pats = append(g.pats, p)
			if plainEq {
				if e, ok := p.(*eqFold); ok {
					n.eqKeys = append(n.eqKeys, foldString(e.s))
				} else {
					plainEq = false
				}
			}
		}
		n.groups = append(n.groups, g)
	}
	if !plainEq || md.cased {
		n.eqKeys = nil
	}
	return n, nil
}

// selectorOf returns, per field, a set of index keys such that the node can
// be true only when the field has one of those keys.
func selectorOf(n node) map[string][]string {
	switch n := n.(type) {
	case *fieldNode:
		if len(n.eqKeys) > 0 {
			return map[string][]string{n.f.Name: n.eqKeys}
		}
	case andNode:
		out := map[string][]string{}
		for _, c := range n {
			for f, ks := range selectorOf(c) {
				if old, ok := out[f]; !ok || len(ks) < len(old) {
					out[f] = ks
				}
			}
		}
		return out
	case orNode:
		var out map[string][]string
		for i, c := range n {
			sel := selectorOf(c)
			if i == 0 {
				out = sel
				continue
			}
			for f, ks := range out {
				more, ok := sel[f]
				if !ok {
					delete(out, f)
					continue
				}
				out[f] = append(append([]string(nil), ks...), more...)
			}
		}
		return out
	}
	return nil
}

// bestSelector prefers eventName, then eventSource, then the field with the
// fewest keys, then the one with the fewest path segments (cheapest to read:
// userIdentity.type before userIdentity.sessionContext.sessionIssuer.type).
func bestSelector(sel map[string][]string) (string, []string) {
	for _, f := range []string{"eventName", "eventSource", "event.action"} {
		if ks, ok := sel[f]; ok {
			return f, ks
		}
	}
	names := make([]string, 0, len(sel))
	for f := range sel {
		names = append(names, f)
	}
	sort.Slice(names, func(i, j int) bool {
		if len(sel[names[i]]) != len(sel[names[j]]) {
			return len(sel[names[i]]) < len(sel[names[j]])
		}
		if di, dj := strings.Count(names[i], "."), strings.Count(names[j], "."); di != dj {
			return di < dj
		}
		return names[i] < names[j]
	})
	return names[0], sel[names[0]]
}

// freeze builds the per-format index.
func (s *Set) freeze() {
	if s.frozen {
		return
	}
	s.frozen = true
	s.byFormat = make([]formatIndex, len(stream.Formats())+1)
	for _, r := range s.rules {
		for _, f := range r.Formats {
			ix := &s.byFormat[f]
			if r.IndexField == "" {
				ix.always = append(ix.always, r)
				continue
			}
			var inf *indexField
			for i := range ix.fields {
				if ix.fields[i].field.Name == r.IndexField {
					inf = &ix.fields[i]
				}
			}
			if inf == nil {
				ix.fields = append(ix.fields, indexField{field: s.fields[r.IndexField], buckets: map[string][]*Compiled{}})
				inf = &ix.fields[len(ix.fields)-1]
			}
			seen := map[string]bool{}
			for _, k := range r.IndexValues {
				if !seen[k] {
					seen[k] = true
					inf.buckets[k] = append(inf.buckets[k], r)
				}
			}
		}
	}
	for fi := range s.byFormat {
		for i := range s.byFormat[fi].fields {
			f := &s.byFormat[fi].fields[i]
			f.table = newFoldTable(f.buckets)
		}
	}
}
