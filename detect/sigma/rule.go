// Package sigma loads Sigma detection and correlation rules and compiles
// them into matcher trees that evaluate stream.Events without maps,
// reflection or allocation on the hot path.
//
// Loading (Parse) keeps the rule as written; compiling (Set.Add) resolves
// every field name once to an accessor (a typed stream.Event field or a
// JSON path over Event.Raw, see detect/FIELDS.md), compiles every value
// into a matcher, and indexes the rule by log format and by its selecting
// equality field, so that an event meets only the rules that can match it.
package sigma

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Rule is one Sigma rule (detection or correlation) as written.
type Rule struct {
	ID             string
	Name           string // the rule's `name`, by which correlations may refer to it
	Title          string
	Status         string
	Description    string
	Author         string
	Level          string
	Tags           []string
	References     []string
	FalsePositives []string
	Logsource      Logsource
	Detection      *Detection   // nil for a correlation rule
	Correlation    *Correlation // nil for a detection rule
	// Source is where the rule came from (file path and document index),
	// used in error messages.
	Source string
}

// Logsource is the rule's logsource section.
type Logsource struct {
	Category, Product, Service string
}

// Detection is the detection section: named searches and the condition(s).
type Detection struct {
	Searches   []*Search // in file order
	Conditions []string  // one or more conditions (OR-ed)
}

// Search is one named search: either field matchers (a map, or a list of
// maps OR-ed together) or keywords.
type Search struct {
	Name     string
	Matchers [][]FieldMatcher // OR of ANDs
	Keywords []Value          // full-text values, OR-ed
}

// FieldMatcher is one "field|modifiers: values" entry.
type FieldMatcher struct {
	Field     string
	Modifiers []string
	Values    []Value
}

// Value is one scalar value of a rule: its text as written, or null.
type Value struct {
	S    string
	Null bool
}

// Correlation is the correlation section of a Sigma correlation rule.
type Correlation struct {
	Type      string // event_count, value_count, temporal, temporal_ordered
	Rules     []string
	GroupBy   []string
	Timespan  time.Duration
	Condition CorrelationCondition
	Generate  bool
	// Aliases maps an alias field name to, per referenced rule, the field it
	// stands for.
	Aliases map[string]map[string]string
}

// CorrelationCondition is the threshold of a correlation (gte: 20, …).
type CorrelationCondition struct {
	Op    string // gt, gte, lt, lte, eq, neq
	Count int64
	Field string // value_count only
}

// ParseError is a rule that could not be loaded, with where and why.
type ParseError struct {
	Source string
	Err    error
}

func (e *ParseError) Error() string { return e.Source + ": " + e.Err.Error() }
func (e *ParseError) Unwrap() error { return e.Err }

// Parse reads every rule in a YAML stream (one or more documents). source
// names the input in errors. A document that is not a rule (no detection or
// correlation) is an error.
func Parse(data []byte, source string) ([]*Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*Rule
	for doc := 0; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		src := source
		if doc > 0 {
			src = fmt.Sprintf("%s#%d", source, doc)
		}
		if err != nil {
			return out, &ParseError{src, err}
		}
		if len(n.Content) == 0 {
			continue
		}
		r, err := parseRule(n.Content[0])
		if err != nil {
			return out, &ParseError{src, err}
		}
		r.Source = src
		out = append(out, r)
	}
	return out, nil
}

func parseRule(n *yaml.Node) (*Rule, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: rule is not a mapping", n.Line)
	}
	r := &Rule{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		var err error
		switch k {
		case "id":
			r.ID, err = scalar(v)
		case "name":
			r.Name, err = scalar(v)
		case "title":
			r.Title, err = scalar(v)
		case "status":
			r.Status, err = scalar(v)
		case "description":
			r.Description, err = scalar(v)
		case "author":
			r.Author, err = scalar(v)
		case "level":
			r.Level, err = scalar(v)
		case "tags":
			r.Tags, err = stringList(v)
		case "references":
			r.References, err = stringList(v)
		case "falsepositives":
			r.FalsePositives, err = stringList(v)
		case "logsource":
			err = parseLogsource(v, &r.Logsource)
		case "detection":
			r.Detection, err = parseDetection(v)
		case "correlation":
			r.Correlation, err = parseCorrelation(v)
		case "action":
			s, _ := scalar(v)
			if s != "" {
				err = fmt.Errorf("line %d: rule collections (action: %s) are not supported", v.Line, s)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	switch {
	case r.Detection == nil && r.Correlation == nil:
		return nil, errors.New("rule has neither detection nor correlation")
	case r.Detection != nil && r.Correlation != nil:
		return nil, errors.New("rule has both detection and correlation")
	}
	if r.Title == "" {
		return nil, errors.New("rule has no title")
	}
	return r, nil
}

func scalar(v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("line %d: expected a scalar", v.Line)
	}
	return v.Value, nil
}

func stringList(v *yaml.Node) ([]string, error) {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil, nil
		}
		return []string{v.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for _, c := range v.Content {
			s, err := scalar(c)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: expected a list of strings", v.Line)
}

func parseLogsource(v *yaml.Node, ls *Logsource) error {
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: logsource is not a mapping", v.Line)
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		s, err := scalar(v.Content[i+1])
		if err != nil {
			return err
		}
		switch v.Content[i].Value {
		case "category":
			ls.Category = strings.ToLower(s)
		case "product":
			ls.Product = strings.ToLower(s)
		case "service":
			ls.Service = strings.ToLower(s)
		}
	}
	return nil
}

func parseDetection(v *yaml.Node) (*Detection, error) {
	if v.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: detection is not a mapping", v.Line)
	}
	d := &Detection{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i].Value, v.Content[i+1]
		switch k {
		case "condition":
			switch val.Kind {
			case yaml.ScalarNode:
				d.Conditions = []string{val.Value}
			case yaml.SequenceNode:
				cs, err := stringList(val)
				if err != nil {
					return nil, err
				}
				d.Conditions = cs
			default:
				return nil, fmt.Errorf("line %d: condition must be a string or a list", val.Line)
			}
		case "timeframe":
			return nil, fmt.Errorf("line %d: timeframe (Sigma v1 aggregation) is not supported; use a correlation rule", val.Line)
		default:
			s, err := parseSearch(k, val)
			if err != nil {
				return nil, fmt.Errorf("search %s: %w", k, err)
			}
			d.Searches = append(d.Searches, s)
		}
	}
	if len(d.Conditions) == 0 {
		return nil, errors.New("detection has no condition")
	}
	return d, nil
}

func parseSearch(name string, v *yaml.Node) (*Search, error) {
	s := &Search{Name: name}
	switch v.Kind {
	case yaml.MappingNode:
		m, err := parseMap(v)
		if err != nil {
			return nil, err
		}
		s.Matchers = [][]FieldMatcher{m}
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, fmt.Errorf("line %d: empty search", v.Line)
		}
		for _, c := range v.Content {
			switch c.Kind {
			case yaml.MappingNode:
				m, err := parseMap(c)
				if err != nil {
					return nil, err
				}
				s.Matchers = append(s.Matchers, m)
			case yaml.ScalarNode:
				s.Keywords = append(s.Keywords, toValue(c))
			default:
				return nil, fmt.Errorf("line %d: a search list holds maps or keywords", c.Line)
			}
		}
		if len(s.Matchers) > 0 && len(s.Keywords) > 0 {
			return nil, fmt.Errorf("line %d: a search list mixes maps and keywords", v.Line)
		}
	case yaml.ScalarNode:
		s.Keywords = []Value{toValue(v)}
	default:
		return nil, fmt.Errorf("line %d: unexpected search", v.Line)
	}
	return s, nil
}

func parseMap(v *yaml.Node) ([]FieldMatcher, error) {
	var out []FieldMatcher
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, val := v.Content[i].Value, v.Content[i+1]
		parts := strings.Split(key, "|")
		fm := FieldMatcher{Field: parts[0], Modifiers: parts[1:]}
		if val.Kind == yaml.AliasNode {
			val = val.Alias
		}
		switch val.Kind {
		case yaml.ScalarNode:
			fm.Values = []Value{toValue(val)}
		case yaml.SequenceNode:
			for _, c := range val.Content {
				if c.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("line %d: field %s: values must be scalars", c.Line, key)
				}
				fm.Values = append(fm.Values, toValue(c))
			}
			if len(fm.Values) == 0 {
				return nil, fmt.Errorf("line %d: field %s: empty value list", val.Line, key)
			}
		default:
			return nil, fmt.Errorf("line %d: field %s: values must be scalars or a list", val.Line, key)
		}
		out = append(out, fm)
	}
	return out, nil
}

func toValue(n *yaml.Node) Value {
	if n.Tag == "!!null" {
		return Value{Null: true}
	}
	return Value{S: n.Value}
}

func parseCorrelation(v *yaml.Node) (*Correlation, error) {
	if v.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: correlation is not a mapping", v.Line)
	}
	c := &Correlation{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i].Value, v.Content[i+1]
		var err error
		switch k {
		case "type":
			c.Type, err = scalar(val)
		case "rules":
			c.Rules, err = stringList(val)
		case "group-by":
			c.GroupBy, err = stringList(val)
		case "timespan":
			var s string
			if s, err = scalar(val); err == nil {
				c.Timespan, err = ParseTimespan(s)
			}
		case "generate":
			c.Generate = val.Value == "true"
		case "condition":
			err = parseCorrCondition(val, &c.Condition)
		case "aliases":
			c.Aliases = map[string]map[string]string{}
			if val.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("line %d: aliases must be a mapping", val.Line)
			}
			for j := 0; j+1 < len(val.Content); j += 2 {
				m := map[string]string{}
				if err := val.Content[j+1].Decode(&m); err != nil {
					return nil, err
				}
				c.Aliases[val.Content[j].Value] = m
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	switch c.Type {
	case "event_count", "value_count", "temporal", "temporal_ordered":
	default:
		return nil, fmt.Errorf("unsupported correlation type %q", c.Type)
	}
	if len(c.Rules) == 0 {
		return nil, errors.New("correlation refers to no rules")
	}
	if c.Timespan <= 0 {
		return nil, errors.New("correlation needs a positive timespan")
	}
	if c.Type == "value_count" && c.Condition.Field == "" {
		return nil, errors.New("value_count needs condition.field")
	}
	if c.Type != "temporal" && c.Type != "temporal_ordered" && c.Condition.Op == "" {
		return nil, errors.New("correlation needs a condition (gte: N, …)")
	}
	return c, nil
}

func parseCorrCondition(v *yaml.Node, cc *CorrelationCondition) error {
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: correlation condition must be a mapping", v.Line)
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i].Value, v.Content[i+1]
		switch k {
		case "field":
			cc.Field = val.Value
		case "gt", "gte", "lt", "lte", "eq", "neq":
			if cc.Op != "" {
				return errors.New("one comparison per correlation condition is supported")
			}
			var n int64
			if err := val.Decode(&n); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			cc.Op, cc.Count = k, n
		default:
			return fmt.Errorf("unknown correlation condition key %q", k)
		}
	}
	return nil
}

// ParseTimespan parses a Sigma timespan: a number and a unit s, m, h, d
// (or anything time.ParseDuration accepts).
func ParseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		d, err := time.ParseDuration(strings.TrimSuffix(s, "d") + "h")
		return d * 24, err
	}
	return time.ParseDuration(s)
}
