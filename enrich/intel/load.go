package intel

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// MaxProblems caps the problems a loader keeps per feed; the rest are
// counted in a final summary problem.
const MaxProblems = 100

type problems struct {
	list    []Problem
	dropped int
}

func (p *problems) add(pr Problem) {
	if len(p.list) < MaxProblems {
		p.list = append(p.list, pr)
		return
	}
	p.dropped++
}

func (p *problems) done(feed string) []Problem {
	if p.dropped > 0 {
		p.list = append(p.list, Problem{Feed: feed, Reason: fmt.Sprintf("%d more problems not shown", p.dropped)})
	}
	return p.list
}

// ParseText reads a plain-text list: one indicator per line, its kind
// detected; blank lines and lines starting with '#' or ';' are skipped;
// text after the first space, tab or " #" is ignored (a comment); defanged
// values ("hxxp://", "[.]") are accepted. Every indicator gets the feed
// name and confidence given. Lines that are no indicator are returned as
// problems.
func ParseText(r io.Reader, feed string, confidence int32) ([]Indicator, []Problem, error) {
	var out []Indicator
	var probs problems
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if text == "" || text[0] == '#' || text[0] == ';' {
			continue
		}
		value := text
		if i := strings.IndexAny(value, " \t"); i >= 0 {
			value = value[:i]
		}
		k, _, err := Detect(value, KindInvalid)
		if err != nil {
			probs.add(problem(feed, line, text, err.Error()))
			continue
		}
		out = append(out, Indicator{Value: refang(value), Kind: k, Feed: feed, Confidence: confidence})
	}
	if err := sc.Err(); err != nil {
		return out, probs.done(feed), fmt.Errorf("intel: %s: line %d: %w", feed, line+1, err)
	}
	return out, probs.done(feed), nil
}

// CSVOptions says how to read a CSV feed.
type CSVOptions struct {
	// Column holds the indicator: a header name, or a 0-based index.
	// Empty means the first column.
	Column string
	// Kind is the kind every value must be; KindInvalid detects it.
	Kind Kind
	// ConfidenceColumn, ExpiryColumn (valid_until) and TypeColumn are
	// optional columns, by name or index. Confidence is an integer 0–100 or
	// a fraction 0–1; expiry is RFC 3339, "2006-01-02 15:04:05",
	// "2006-01-02" or unix seconds; type is a kind name (ParseKind).
	ConfidenceColumn, ExpiryColumn, TypeColumn string
	// Confidence is used when there is no confidence column or it is empty.
	Confidence int32
	// Header says the first row names the columns. It is implied when any
	// column is given by name; otherwise a first row whose indicator column
	// is no indicator is taken as a header.
	Header bool
	// Comma is the field separator; 0 means ','.
	Comma rune
}

// ParseCSV reads a CSV feed. Rows without a usable indicator, confidence or
// expiry are returned as problems.
func ParseCSV(r io.Reader, feed string, opts CSVOptions) ([]Indicator, []Problem, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	cr.Comment = '#'
	if opts.Comma != 0 {
		cr.Comma = opts.Comma
	}
	named := func(c string) bool { _, err := strconv.Atoi(c); return c != "" && err != nil }
	header := opts.Header || named(opts.Column) || named(opts.ConfidenceColumn) || named(opts.ExpiryColumn) || named(opts.TypeColumn)
	col, confCol, expCol, typeCol := 0, -1, -1, -1
	index := func(c string) (int, error) {
		if c == "" {
			return -1, nil
		}
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			return -1, fmt.Errorf("intel: %s: column %q needs a header row", feed, c)
		}
		return n, nil
	}
	var err error
	if !header {
		if opts.Column != "" {
			if col, err = index(opts.Column); err != nil {
				return nil, nil, err
			}
		}
		if confCol, err = index(opts.ConfidenceColumn); err != nil {
			return nil, nil, err
		}
		if expCol, err = index(opts.ExpiryColumn); err != nil {
			return nil, nil, err
		}
		if typeCol, err = index(opts.TypeColumn); err != nil {
			return nil, nil, err
		}
	}
	var out []Indicator
	var probs problems
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// FieldPos is only valid after a successful Read (it panics when
			// no field was read, e.g. on a bad delimiter).
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				probs.add(problem(feed, pe.StartLine, "", pe.Err.Error()))
				continue
			}
			return out, probs.done(feed), fmt.Errorf("intel: %s: %w", feed, err)
		}
		line, _ := cr.FieldPos(0)
		if first && header {
			first = false
			find := func(c string, def int) (int, error) {
				if c == "" {
					return def, nil
				}
				if n, err := strconv.Atoi(c); err == nil && n >= 0 {
					return n, nil
				}
				for i, h := range rec {
					if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), c) {
						return i, nil
					}
				}
				return -1, fmt.Errorf("intel: %s: no column %q in header %q", feed, c, strings.Join(rec, ","))
			}
			if col, err = find(opts.Column, 0); err != nil {
				return nil, nil, err
			}
			if confCol, err = find(opts.ConfidenceColumn, -1); err != nil {
				return nil, nil, err
			}
			if expCol, err = find(opts.ExpiryColumn, -1); err != nil {
				return nil, nil, err
			}
			if typeCol, err = find(opts.TypeColumn, -1); err != nil {
				return nil, nil, err
			}
			continue
		}
		get := func(i int) string {
			if i < 0 || i >= len(rec) {
				return ""
			}
			return strings.TrimSpace(rec[i])
		}
		value := get(col)
		wasFirst := first
		first = false
		if value == "" {
			if col >= len(rec) {
				probs.add(problem(feed, line, strings.Join(rec, ","), fmt.Sprintf("no column %d", col)))
			}
			continue
		}
		kind := opts.Kind
		if t := get(typeCol); t != "" {
			k, ok := ParseKind(t)
			if !ok {
				probs.add(problem(feed, line, strings.Join(rec, ","), "unknown type "+strconv.Quote(t)))
				continue
			}
			kind = k
		}
		k, _, derr := Detect(value, kind)
		if derr != nil {
			if wasFirst && typeCol < 0 {
				continue // an unannounced header row
			}
			probs.add(problem(feed, line, strings.Join(rec, ","), derr.Error()))
			continue
		}
		ind := Indicator{Value: refang(value), Kind: k, Feed: feed, Confidence: opts.Confidence}
		if c := get(confCol); c != "" {
			conf, err := parseConfidence(c)
			if err != nil {
				probs.add(problem(feed, line, strings.Join(rec, ","), err.Error()))
				continue
			}
			ind.Confidence = conf
		}
		if e := get(expCol); e != "" {
			t, err := parseTime(e)
			if err != nil {
				probs.add(problem(feed, line, strings.Join(rec, ","), err.Error()))
				continue
			}
			ind.ValidUntil = t
		}
		out = append(out, ind)
	}
	return out, probs.done(feed), nil
}

func parseConfidence(s string) (int32, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 100 || f != f {
		return 0, fmt.Errorf("bad confidence %q (want 0–100 or 0–1)", s)
	}
	if f <= 1 && strings.Contains(s, ".") {
		f *= 100
	}
	return int32(f + 0.5), nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 && n < 1<<40 {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("bad time %q", s)
}

// stixObject holds the fields of a STIX 2.1 object that ParseSTIX reads.
type stixObject struct {
	Type        string          `json:"type"`
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Pattern     string          `json:"pattern"`
	PatternType string          `json:"pattern_type"`
	ValidFrom   string          `json:"valid_from"`
	ValidUntil  string          `json:"valid_until"`
	Confidence  *int            `json:"confidence"`
	Revoked     bool            `json:"revoked"`
	Objects     json.RawMessage `json:"objects"`
}

// ParseSTIX reads a STIX 2.1 bundle (or a single object, or a JSON array of
// objects) and turns each `indicator` object whose pattern is a simple
// equality, or an OR of equalities, on ipv4-addr:value, ipv6-addr:value,
// domain-name:value, url:value or file:hashes.(MD5|'SHA-1'|'SHA-256') into
// indicators carrying its confidence (or the default), valid_from and
// valid_until. Other patterns, revoked indicators and bad values are
// returned as problems; other object types are ignored.
func ParseSTIX(r io.Reader, feed string, confidence int32) ([]Indicator, []Problem, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("intel: %s: %w", feed, err)
	}
	var objs []json.RawMessage
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "[") {
		if err := json.Unmarshal(data, &objs); err != nil {
			return nil, nil, fmt.Errorf("intel: %s: not a STIX bundle: %w", feed, err)
		}
	} else {
		var top stixObject
		if err := json.Unmarshal(data, &top); err != nil {
			return nil, nil, fmt.Errorf("intel: %s: not a STIX bundle: %w", feed, err)
		}
		switch {
		case top.Type == "bundle":
			if len(top.Objects) > 0 && string(top.Objects) != "null" {
				if err := json.Unmarshal(top.Objects, &objs); err != nil {
					return nil, nil, fmt.Errorf("intel: %s: bad bundle objects: %w", feed, err)
				}
			}
		case top.Type != "":
			objs = []json.RawMessage{data}
		default:
			return nil, nil, fmt.Errorf("intel: %s: not a STIX bundle (no type)", feed)
		}
	}
	var out []Indicator
	var probs problems
	for n, raw := range objs {
		var o stixObject
		if err := json.Unmarshal(raw, &o); err != nil {
			probs.add(problem(feed, n+1, string(raw), "bad object: "+err.Error()))
			continue
		}
		if o.Type != "indicator" {
			continue
		}
		label := o.ID
		if label == "" {
			label = o.Pattern
		}
		if o.Revoked {
			probs.add(problem(feed, n+1, label, "revoked indicator"))
			continue
		}
		if o.PatternType != "" && o.PatternType != "stix" {
			probs.add(problem(feed, n+1, label, "unsupported pattern_type "+strconv.Quote(o.PatternType)))
			continue
		}
		conf := confidence
		if o.Confidence != nil {
			if *o.Confidence < 0 || *o.Confidence > 100 {
				probs.add(problem(feed, n+1, label, "confidence out of range"))
				continue
			}
			conf = int32(*o.Confidence)
		}
		var from, until time.Time
		if o.ValidFrom != "" {
			if from, err = time.Parse(time.RFC3339Nano, o.ValidFrom); err != nil {
				probs.add(problem(feed, n+1, label, "bad valid_from"))
				continue
			}
		}
		if o.ValidUntil != "" {
			if until, err = time.Parse(time.RFC3339Nano, o.ValidUntil); err != nil {
				probs.add(problem(feed, n+1, label, "bad valid_until"))
				continue
			}
		}
		terms, err := ParsePattern(o.Pattern)
		if err != nil {
			probs.add(problem(feed, n+1, o.Pattern, err.Error()))
			continue
		}
		for _, t := range terms {
			k, _, err := Detect(t.Value, t.Kind)
			if err != nil {
				probs.add(problem(feed, n+1, o.Pattern, fmt.Sprintf("%s: %v", t.Value, err)))
				continue
			}
			out = append(out, Indicator{Value: t.Value, Kind: k, Feed: feed, Confidence: conf, ValidFrom: from.UTC(), ValidUntil: until.UTC()})
		}
	}
	return out, probs.done(feed), nil
}

// Term is one equality of a STIX pattern: the kind its object path implies
// and the compared value.
type Term struct {
	Kind  Kind
	Value string
}

// ErrUnsupportedPattern is wrapped by ParsePattern errors about valid STIX
// patterns that go beyond simple equalities.
var ErrUnsupportedPattern = errors.New("unsupported pattern")

// ParsePattern parses a STIX pattern made of equality comparisons joined by
// OR, inside one or more observation brackets joined by OR:
// "[ipv4-addr:value = '1.2.3.4' OR domain-name:value = 'x.example']".
func ParsePattern(p string) ([]Term, error) {
	ps := patternScanner{s: p}
	var terms []Term
	for {
		ps.space()
		if !ps.eat('[') {
			return nil, ps.fail("expected '['")
		}
		for {
			t, err := ps.comparison()
			if err != nil {
				return nil, err
			}
			terms = append(terms, t)
			ps.space()
			if ps.keyword("OR") {
				continue
			}
			if ps.eat(']') {
				break
			}
			if ps.keyword("AND") {
				return nil, fmt.Errorf("%w: AND", ErrUnsupportedPattern)
			}
			return nil, ps.fail("expected OR or ']'")
		}
		ps.space()
		if ps.done() {
			return terms, nil
		}
		if !ps.keyword("OR") {
			return nil, fmt.Errorf("%w: observation operator or qualifier at %q", ErrUnsupportedPattern, ps.rest())
		}
	}
}

type patternScanner struct {
	s string
	i int
}

func (p *patternScanner) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}
func (p *patternScanner) done() bool { return p.i >= len(p.s) }
func (p *patternScanner) rest() string {
	r := p.s[p.i:]
	if len(r) > 40 {
		r = r[:40]
	}
	return r
}
func (p *patternScanner) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}
func (p *patternScanner) keyword(k string) bool {
	if len(p.s)-p.i >= len(k) && strings.EqualFold(p.s[p.i:p.i+len(k)], k) {
		end := p.i + len(k)
		if end == len(p.s) || p.s[end] == ' ' || p.s[end] == '[' || p.s[end] == '\t' || p.s[end] == '\n' {
			p.i = end
			return true
		}
	}
	return false
}
func (p *patternScanner) fail(msg string) error {
	return fmt.Errorf("bad pattern: %s at %q", msg, p.rest())
}

// comparison parses "object-path = 'value'".
func (p *patternScanner) comparison() (Term, error) {
	p.space()
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == ' ' || c == '=' || c == '!' || c == '<' || c == '>' || c == ']' {
			break
		}
		if c == '\'' { // quoted path component: hashes.'SHA-256'
			p.i++
			for p.i < len(p.s) && p.s[p.i] != '\'' {
				p.i++
			}
		}
		p.i++
	}
	if p.i > len(p.s) {
		p.i = len(p.s)
	}
	path := p.s[start:p.i]
	if path == "" {
		return Term{}, p.fail("expected object path")
	}
	p.space()
	if !p.eat('=') {
		return Term{}, fmt.Errorf("%w: operator other than '=' at %q", ErrUnsupportedPattern, p.rest())
	}
	p.space()
	if !p.eat('\'') {
		return Term{}, fmt.Errorf("%w: non-string value at %q", ErrUnsupportedPattern, p.rest())
	}
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return Term{}, p.fail("unterminated string")
		}
		c := p.s[p.i]
		p.i++
		if c == '\\' && p.i < len(p.s) {
			b.WriteByte(p.s[p.i])
			p.i++
			continue
		}
		if c == '\'' {
			break
		}
		b.WriteByte(c)
	}
	k, err := pathKind(path)
	if err != nil {
		return Term{}, err
	}
	return Term{Kind: k, Value: b.String()}, nil
}

func pathKind(path string) (Kind, error) {
	obj, prop, ok := strings.Cut(path, ":")
	if !ok {
		return KindInvalid, fmt.Errorf("bad pattern: object path %q has no ':'", path)
	}
	switch obj {
	case "ipv4-addr", "ipv6-addr":
		if prop == "value" {
			if obj == "ipv4-addr" {
				return KindIPv4, nil
			}
			return KindIPv6, nil
		}
	case "domain-name", "url":
		if prop == "value" {
			if obj == "url" {
				return KindURL, nil
			}
			return KindDomain, nil
		}
	case "file":
		if h, ok := strings.CutPrefix(prop, "hashes."); ok {
			switch strings.ToUpper(strings.Trim(h, "'")) {
			case "MD5":
				return KindMD5, nil
			case "SHA-1", "SHA1":
				return KindSHA1, nil
			case "SHA-256", "SHA256":
				return KindSHA256, nil
			}
		}
	}
	return KindInvalid, fmt.Errorf("%w: object path %q", ErrUnsupportedPattern, path)
}
