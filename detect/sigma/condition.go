package sigma

import (
	"fmt"
	"path"
	"strings"
)

// Cond is a parsed Sigma condition expression.
type Cond interface{ cond() }

// CondAnd is true when every operand is.
type CondAnd []Cond

// CondOr is true when any operand is.
type CondOr []Cond

// CondNot negates its operand.
type CondNot struct{ X Cond }

// CondRef names one search.
type CondRef struct{ Name string }

// CondOf is "1 of pattern", "all of pattern", "1 of them", "all of them".
type CondOf struct {
	All     bool
	Pattern string // a search name glob, or "them"
}

func (CondAnd) cond() {}
func (CondOr) cond()  {}
func (CondNot) cond() {}
func (CondRef) cond() {}
func (CondOf) cond()  {}

// ParseCondition parses a Sigma condition ("selection and not 1 of
// filter_*"). Aggregations ("| count() > 5", Sigma v1) are rejected:
// correlation rules replace them.
func ParseCondition(s string) (Cond, error) {
	p := &condParser{toks: tokenize(s)}
	if len(p.toks) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		if p.toks[p.i] == "|" {
			return nil, fmt.Errorf("aggregation in condition %q is not supported; use a correlation rule", s)
		}
		return nil, fmt.Errorf("condition %q: unexpected %q", s, p.toks[p.i])
	}
	return c, nil
}

func tokenize(s string) []string {
	var toks []string
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '|':
			toks = append(toks, s[i:i+1])
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()|", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

type condParser struct {
	toks []string
	i    int
}

func (p *condParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *condParser) or() (Cond, error) {
	var out CondOr
	for {
		c, err := p.and()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		if !strings.EqualFold(p.peek(), "or") {
			break
		}
		p.i++
	}
	if len(out) == 1 {
		return out[0], nil
	}
	return out, nil
}

func (p *condParser) and() (Cond, error) {
	var out CondAnd
	for {
		c, err := p.unary()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		if !strings.EqualFold(p.peek(), "and") {
			break
		}
		p.i++
	}
	if len(out) == 1 {
		return out[0], nil
	}
	return out, nil
}

func (p *condParser) unary() (Cond, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, fmt.Errorf("condition ends early")
	case strings.EqualFold(t, "not"):
		p.i++
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return CondNot{x}, nil
	case t == "(":
		p.i++
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.i++
		return x, nil
	case t == ")" || t == "|" || strings.EqualFold(t, "and") || strings.EqualFold(t, "or"):
		return nil, fmt.Errorf("unexpected %q", t)
	case (t == "1" || strings.EqualFold(t, "all") || strings.EqualFold(t, "any")) && p.i+1 < len(p.toks) && strings.EqualFold(p.toks[p.i+1], "of"):
		if p.i+2 >= len(p.toks) {
			return nil, fmt.Errorf("%s of: missing pattern", t)
		}
		pat := p.toks[p.i+2]
		if pat == "(" || pat == ")" || pat == "|" {
			return nil, fmt.Errorf("%s of: bad pattern %q", t, pat)
		}
		if _, err := path.Match(pat, ""); err != nil {
			return nil, fmt.Errorf("bad pattern %q: %w", pat, err)
		}
		p.i += 3
		return CondOf{All: strings.EqualFold(t, "all"), Pattern: pat}, nil
	}
	p.i++
	return CondRef{t}, nil
}

// searchesFor returns the indexes of the searches an "of" pattern names.
func searchesFor(d *Detection, pattern string) []int {
	var out []int
	for i, s := range d.Searches {
		if pattern == "them" {
			if !strings.HasPrefix(s.Name, "_") {
				out = append(out, i)
			}
			continue
		}
		if ok, _ := path.Match(pattern, s.Name); ok {
			out = append(out, i)
		}
	}
	return out
}
