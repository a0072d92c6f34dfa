package sigma

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gannet-sec/gannet/detect/jsonscan"
)

// pattern matches one value of a field.
type pattern interface {
	match(m *Matcher, v *val) bool
}

// eqFold: equality, case-insensitive (Sigma's default). low is s
// lower-cased when s is ASCII, else "".
type eqFold struct {
	s     string
	low   string
	ascii bool
}

func newEqFold(s string) *eqFold {
	if isASCII(s) {
		return &eqFold{s: s, low: strings.ToLower(s), ascii: true}
	}
	return &eqFold{s: s}
}

func (p *eqFold) match(_ *Matcher, v *val) bool {
	if !v.scalar() {
		return false
	}
	if p.ascii {
		// A string EqualFold to an ASCII one is as long, and ASCII, or
		// longer (Kelvin sign, long s), and at most 3× as long.
		n := len(v.s)
		if n == len(p.low) {
			return asciiFoldEqual(v.s, p.low)
		}
		if n < len(p.low) || n > 3*len(p.low) {
			return false
		}
	}
	return strings.EqualFold(v.s, p.s)
}

// asciiFoldEqual reports whether s is ASCII and lower-cases to low (an
// ASCII lower-case string of the same length).
func asciiFoldEqual(s, low string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := word(s, i)
		if w&hiBits != 0 || lowerWord(w) != word(low, i) {
			return false
		}
	}
	if i < len(s) {
		w := tail(s, i)
		return w&hiBits == 0 && lowerWord(w) == tail(low, i)
	}
	return true
}

// eqCase: equality, case-sensitive (cased, or an encoded value).
type eqCase struct{ s string }

func (p eqCase) match(_ *Matcher, v *val) bool { return v.scalar() && v.s == p.s }

// strOp is contains / startswith / endswith; s is lower-cased unless cased.
type strOp struct {
	op    byte // 'c', 'p' (prefix), 's' (suffix)
	s     string
	cased bool
	find  *finder // for 'c'
}

func (p *strOp) match(m *Matcher, v *val) bool {
	if !v.scalar() {
		return false
	}
	h := v.s
	if !p.cased {
		h = m.lower(v)
	}
	switch p.op {
	case 'c':
		return p.find.in(h)
	case 'p':
		return strings.HasPrefix(h, p.s)
	default:
		return strings.HasSuffix(h, p.s)
	}
}

// anyValue is a lone "*": any scalar value.
type anyValue struct{}

func (anyValue) match(_ *Matcher, v *val) bool { return v.scalar() }

// glob is a value with wildcards that is not a plain contains/prefix/suffix.
type glob struct {
	toks  []globTok
	cased bool
}

type globTok struct {
	lit  string
	star bool
	one  bool // '?'
}

func (p glob) match(m *Matcher, v *val) bool {
	if !v.scalar() {
		return false
	}
	h := v.s
	if !p.cased {
		h = m.lower(v)
	}
	return globMatch(p.toks, h)
}

func globMatch(toks []globTok, s string) bool {
	// Backtracking over the last star, as in path.Match.
	type state struct{ t, s int }
	var star state
	haveStar := false
	ti, si := 0, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch {
			case t.star:
				star, haveStar = state{ti, si}, true
				ti++
				continue
			case t.one:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					ti++
					si += n
					continue
				}
			default:
				if strings.HasPrefix(s[si:], t.lit) {
					ti++
					si += len(t.lit)
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if !haveStar || star.s >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[star.s:])
		star.s += n
		ti, si = star.t+1, star.s
	}
}

// reMatch is the re modifier. need is a literal every match contains,
// checked first (a substring search is far cheaper than the regexp).
type reMatch struct {
	re   *regexp.Regexp
	need *finder // nil when there is no such literal
}

func (p *reMatch) match(_ *Matcher, v *val) bool {
	if !v.scalar() || (p.need != nil && !p.need.in(v.s)) {
		return false
	}
	return p.re.MatchString(v.s)
}

// requiredLiteral returns the longest case-sensitive literal that every
// match of expr contains, or "".
func requiredLiteral(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	lit := func(r *syntax.Regexp) string {
		if r.Op == syntax.OpLiteral && r.Flags&syntax.FoldCase == 0 {
			return string(r.Rune)
		}
		return ""
	}
	for re.Op == syntax.OpCapture && len(re.Sub) == 1 {
		re = re.Sub[0]
	}
	if l := lit(re); l != "" {
		return l
	}
	best := ""
	if re.Op == syntax.OpConcat {
		for _, sub := range re.Sub {
			for sub.Op == syntax.OpCapture && len(sub.Sub) == 1 {
				sub = sub.Sub[0]
			}
			if l := lit(sub); len(l) > len(best) {
				best = l
			}
		}
	}
	return best
}

// cidrMatch is the cidr modifier.
type cidrMatch struct{ p netip.Prefix }

func (p cidrMatch) match(_ *Matcher, v *val) bool {
	a := v.ip
	if !a.IsValid() {
		if v.kind != jsonscan.String {
			return false
		}
		var err error
		if a, err = netip.ParseAddr(v.s); err != nil {
			return false
		}
	}
	return p.p.Contains(a.Unmap())
}

// numCmp is gt / gte / lt / lte.
type numCmp struct {
	op string
	n  float64
}

func (p numCmp) match(_ *Matcher, v *val) bool {
	if v.kind != jsonscan.Number && v.kind != jsonscan.String {
		return false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
	if err != nil {
		return false
	}
	switch p.op {
	case "gt":
		return f > p.n
	case "gte":
		return f >= p.n
	case "lt":
		return f < p.n
	default:
		return f <= p.n
	}
}

// modifiers a field matcher may carry.
type mods struct {
	cmp        string // "", contains, startswith, endswith, re, cidr, gt, gte, lt, lte, exists, fieldref
	all        bool
	cased      bool
	windash    bool
	encoding   string // "", utf16le, utf16be, utf16 (BOM + le)
	b64        string // "", base64, base64offset
	reI, reM   bool
	reS        bool
	hasEncoded bool
	expand     bool
}

func parseMods(list []string) (mods, error) {
	var md mods
	for i, x := range list {
		switch x {
		case "contains", "startswith", "endswith", "re", "cidr", "gt", "gte", "lt", "lte", "exists", "fieldref":
			if md.cmp != "" && !(md.cmp == "fieldref" && (x == "contains" || x == "startswith" || x == "endswith")) {
				return md, fmt.Errorf("modifiers %s and %s cannot be combined", md.cmp, x)
			}
			if md.cmp == "fieldref" {
				md.cmp = "fieldref|" + x
			} else {
				md.cmp = x
			}
		case "all":
			md.all = true
		case "cased":
			md.cased = true
		case "windash":
			md.windash = true
		case "wide", "utf16le":
			md.encoding = "utf16le"
		case "utf16be", "utf16":
			md.encoding = x
		case "base64", "base64offset":
			md.b64 = x
		case "i", "ignorecase":
			md.reI = true
		case "m", "multiline":
			md.reM = true
		case "s", "dotall":
			md.reS = true
		case "expand":
			md.expand = true
		default:
			return md, fmt.Errorf("unknown modifier %q", x)
		}
		_ = i
	}
	if (md.reI || md.reM || md.reS) && md.cmp != "re" {
		return md, fmt.Errorf("modifiers i, m, s apply to re only")
	}
	if md.encoding != "" && md.b64 == "" {
		return md, fmt.Errorf("modifier %s needs base64 or base64offset", md.encoding)
	}
	md.hasEncoded = md.b64 != ""
	return md, nil
}

// valueVariants applies windash, encodings and base64 to one rule value,
// giving the strings any of which satisfies it.
func valueVariants(s string, md mods) []string {
	vs := []string{s}
	if md.windash {
		vs = windash(s)
	}
	if md.encoding != "" {
		for i, v := range vs {
			vs[i] = encode(v, md.encoding)
		}
	}
	switch md.b64 {
	case "base64":
		for i, v := range vs {
			vs[i] = base64.StdEncoding.EncodeToString([]byte(v))
		}
	case "base64offset":
		var out []string
		for _, v := range vs {
			out = append(out, base64Offsets(v)...)
		}
		vs = out
	}
	return vs
}

// windash returns s with every dash or slash that starts a word replaced,
// all alike, by each of -, /, en dash, em dash and horizontal bar.
func windash(s string) []string {
	var pos []int
	for i, r := range s {
		if (r == '-' || r == '/') && (i == 0 || s[i-1] == ' ') {
			pos = append(pos, i)
		}
	}
	if len(pos) == 0 {
		return []string{s}
	}
	var out []string
	for _, d := range []string{"-", "/", "\u2013", "\u2014", "\u2015"} {
		var b strings.Builder
		last := 0
		for _, p := range pos {
			b.WriteString(s[last:p])
			b.WriteString(d)
			last = p + 1
		}
		b.WriteString(s[last:])
		out = append(out, b.String())
	}
	return out
}

func encode(s, enc string) string {
	u := utf16.Encode([]rune(s))
	var b []byte
	if enc == "utf16" {
		b = append(b, 0xff, 0xfe)
	}
	for _, c := range u {
		if enc == "utf16be" {
			b = binary.BigEndian.AppendUint16(b, c)
		} else {
			b = binary.LittleEndian.AppendUint16(b, c)
		}
	}
	return string(b)
}

// base64Offsets is Sigma's base64offset: the three encodings of s at each
// byte offset, trimmed to the characters that do not depend on neighbours.
func base64Offsets(s string) []string {
	start := [3]int{0, 2, 3}
	end := [3]int{0, 3, 2}
	out := make([]string, 0, 3)
	for i := 0; i < 3; i++ {
		e := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(" ", i) + s))
		lo, hi := start[i], len(e)-end[(len(s)+i)%3]
		if lo > hi {
			lo = hi
		}
		out = append(out, e[lo:hi])
	}
	return out
}

// compileValue builds the pattern for one (already transformed) value
// string under string-comparison modifiers. literal disables wildcard
// parsing (encoded values).
func compileValue(s string, md mods, literal bool) (pattern, error) {
	switch md.cmp {
	case "re":
		flags := ""
		if md.reI {
			flags += "i"
		}
		if md.reM {
			flags += "m"
		}
		if md.reS {
			flags += "s"
		}
		expr := s
		if flags != "" {
			expr = "(?" + flags + ")" + s
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("re %q: %w", s, err)
		}
		var need *finder
		if l := requiredLiteral(expr); l != "" {
			need = newFinder(l)
		}
		return &reMatch{re: re, need: need}, nil
	case "cidr":
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("cidr %q: %w", s, err)
		}
		return cidrMatch{p.Masked()}, nil
	case "gt", "gte", "lt", "lte":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("%s %q: not a number", md.cmp, s)
		}
		return numCmp{md.cmp, f}, nil
	}
	var toks []globTok
	if literal {
		toks = []globTok{{lit: s}}
	} else {
		toks = parseWildcards(s)
	}
	switch md.cmp {
	case "contains":
		toks = append(append([]globTok{{star: true}}, toks...), globTok{star: true})
	case "startswith":
		toks = append(toks, globTok{star: true})
	case "endswith":
		toks = append([]globTok{{star: true}}, toks...)
	}
	toks = normalizeGlob(toks)
	cased := md.cased || md.hasEncoded
	if !cased {
		for i := range toks {
			toks[i].lit = strings.ToLower(toks[i].lit)
		}
	}
	isLit := func(t globTok) bool { return !t.star && !t.one }
	switch {
	case len(toks) == 0:
		if cased {
			return eqCase{""}, nil
		}
		return newEqFold(""), nil
	case len(toks) == 1 && isLit(toks[0]):
		if cased {
			return eqCase{toks[0].lit}, nil
		}
		// Keep the rule's own spelling for EqualFold (lower-casing first
		// would differ from EqualFold on a few non-ASCII runes).
		return newEqFold(unlowered(s, literal)), nil
	case len(toks) == 1 && toks[0].star:
		return anyValue{}, nil
	case len(toks) == 2 && isLit(toks[0]) && toks[1].star:
		return &strOp{op: 'p', s: toks[0].lit, cased: cased}, nil
	case len(toks) == 2 && toks[0].star && isLit(toks[1]):
		return &strOp{op: 's', s: toks[1].lit, cased: cased}, nil
	case len(toks) == 3 && toks[0].star && isLit(toks[1]) && toks[2].star:
		return &strOp{'c', toks[1].lit, cased, newFinder(toks[1].lit)}, nil
	}
	return glob{toks, cased}, nil
}

func unlowered(s string, literal bool) string {
	if literal {
		return s
	}
	t := parseWildcards(s)
	if len(t) == 0 {
		return ""
	}
	return t[0].lit
}

// parseWildcards splits a Sigma string into literals and wildcards: * and ?
// are wildcards, \*, \? and \\ are the literal characters, and any other
// backslash is itself.
func parseWildcards(s string) []globTok {
	var toks []globTok
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, globTok{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
				lit.WriteByte(s[i+1])
				i++
			} else {
				lit.WriteByte(c)
			}
		case '*':
			flush()
			toks = append(toks, globTok{star: true})
		case '?':
			flush()
			toks = append(toks, globTok{one: true})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return toks
}

// normalizeGlob merges adjacent stars and adjacent literals.
func normalizeGlob(toks []globTok) []globTok {
	var out []globTok
	for _, t := range toks {
		if n := len(out); n > 0 {
			if t.star && out[n-1].star {
				continue
			}
			if !t.star && !t.one && !out[n-1].star && !out[n-1].one {
				out[n-1].lit += t.lit
				continue
			}
		}
		out = append(out, t)
	}
	return out
}

// foldString maps s to a key such that foldString(a) == foldString(b)
// exactly when strings.EqualFold(a, b): every rune becomes the ASCII
// lower-case letter of its case-folding orbit if there is one, else the
// smallest rune of the orbit.
func foldString(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if 'a' <= f && f <= 'z' {
			return f
		}
		if f < min {
			min = f
		}
	}
	return min
}
