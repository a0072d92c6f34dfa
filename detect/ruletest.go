package detect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"gopkg.in/yaml.v3"
)

// Rule test cases live beside the rules they test, in DIR/tests/*.yml
// (or *.yaml); the format is documented in detect/rules/tests/README.md:
//
//	rule: 6f1f4a5e-0d1b-4d0e-9c57-1b8f0c2a7e15   # rule id, name, or rule file name
//	format: cloudtrail                            # format of the events (default cloudtrail)
//	allowed_countries: [FR, DE]                   # optional, fills %allowed_countries%
//	cases:
//	  - name: 20 failures within 5 minutes
//	    expect: match                             # match | no_match
//	    alerts: 1                                 # optional: exact number of alerts of the rule
//	    events:
//	      - {"eventSource": "signin.amazonaws.com", …}   # a JSON object (JSON formats)
//	      - '2 123456789010 eni-1 …'                      # a log line (text formats)
//	      - json: {…}                                     # or a wrapper: json: or line:, with
//	        repeat: 20                                    #   the event repeated,
//	        every: 10s                                    #   its time shifted by i×every,
//	        set: {source.geo.country_iso_code: CN}        #   fields set after parsing (enrichment)
//
// In a wrapper's text, {i} is replaced by the repetition index (from 0)
// and {n} by i+1.

// Report is the outcome of RunTests.
type Report struct {
	Files    int
	Cases    []CaseResult
	Passed   int
	Failed   int
	Untested []string // ids of rules in the directory that no test file names
}

// OK reports whether every case passed.
func (r *Report) OK() bool { return r.Failed == 0 }

// CaseResult is one test case's outcome.
type CaseResult struct {
	File   string
	Name   string
	Rule   string // the rule id the case tests
	Pass   bool
	Reason string // why it failed
	// Matches and Alerts are what the rule did: events matched and alerts raised.
	Matches, Alerts int64
}

type testFile struct {
	Rule             string     `yaml:"rule"`
	Format           string     `yaml:"format"`
	AllowedCountries []string   `yaml:"allowed_countries"`
	Cases            []testCase `yaml:"cases"`
}

type testCase struct {
	Name    string      `yaml:"name"`
	Expect  string      `yaml:"expect"`
	Alerts  *int64      `yaml:"alerts"`
	Matches *int64      `yaml:"matches"`
	Format  string      `yaml:"format"`
	Events  []yaml.Node `yaml:"events"`
}

type testEvent struct {
	JSON   *yaml.Node
	Line   *string
	Repeat int
	Every  string
	Set    map[string]string
}

// RunTests loads the Sigma rules of dir (not the built-ins) and runs the
// test cases of dir/tests/*.yml against them, each case on a fresh Engine.
// A malformed test file or case is reported as a failed case; the error is
// for a directory that cannot be read or rules that cannot be loaded.
func RunTests(dir string) (Report, error) {
	var rep Report
	files, err := filepath.Glob(filepath.Join(dir, "tests", "*.yml"))
	if err != nil {
		return rep, err
	}
	more, _ := filepath.Glob(filepath.Join(dir, "tests", "*.yaml"))
	files = append(files, more...)
	sort.Strings(files)
	rules, skipped, err := LoadDir(dir)
	if err != nil {
		return rep, err
	}
	if len(skipped) > 0 {
		return rep, fmt.Errorf("%s: %s", skipped[0].Source, skipped[0].Reason)
	}
	// How a test file may name a rule: id, name or file name.
	resolve := map[string]string{}
	tested := map[string]bool{}
	var ids []string
	for _, r := range rules {
		id := ruleID(r)
		ids = append(ids, id)
		resolve[id] = id
		if r.Name != "" {
			resolve[r.Name] = id
		}
		if base := filepath.Base(r.Source); !strings.Contains(base, "#") {
			if _, ok := resolve[base]; !ok {
				resolve[base] = id
			}
		}
	}
	parsers := format.NewSet(format.Options{})
	for _, f := range files {
		rep.Files++
		results := runTestFile(f, dir, resolve, parsers)
		for _, r := range results {
			if r.Rule != "" {
				tested[r.Rule] = true
			}
			if r.Pass {
				rep.Passed++
			} else {
				rep.Failed++
			}
		}
		rep.Cases = append(rep.Cases, results...)
	}
	for _, id := range ids {
		if !tested[id] {
			rep.Untested = append(rep.Untested, id)
		}
	}
	return rep, nil
}

func runTestFile(path, dir string, resolve map[string]string, parsers *format.Set) []CaseResult {
	fail := func(name, rule, format string, args ...any) []CaseResult {
		return []CaseResult{{File: path, Name: name, Rule: rule, Reason: fmt.Sprintf(format, args...)}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fail("", "", "%v", err)
	}
	var tf testFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&tf); err != nil {
		return fail("", "", "test file does not parse: %v", err)
	}
	id, ok := resolve[tf.Rule]
	if !ok {
		return fail("", "", "rule %q is not in %s", tf.Rule, dir)
	}
	if len(tf.Cases) == 0 {
		return fail("", id, "no cases")
	}
	var out []CaseResult
	for i, tc := range tf.Cases {
		name := tc.Name
		if name == "" {
			name = "case " + strconv.Itoa(i+1)
		}
		res := CaseResult{File: path, Name: name, Rule: id}
		if err := runCase(&res, &tf, &tc, dir, parsers, path); err != nil {
			res.Reason = err.Error()
		} else {
			res.Pass = true
		}
		out = append(out, res)
	}
	return out
}

func runCase(res *CaseResult, tf *testFile, tc *testCase, dir string, parsers *format.Set, path string) error {
	fname := tc.Format
	if fname == "" {
		fname = tf.Format
	}
	if fname == "" {
		fname = "cloudtrail"
	}
	f, ok := stream.ParseFormat(fname)
	if !ok {
		return fmt.Errorf("unknown format %q", fname)
	}
	if tc.Expect != "match" && tc.Expect != "no_match" && tc.Alerts == nil && tc.Matches == nil {
		return errors.New("case expects nothing (expect: match|no_match, alerts: N or matches: N)")
	}
	evs, err := testEvents(tc.Events, f, parsers, path)
	if err != nil {
		return err
	}
	e, err := New(Options{NoBuiltins: true, RuleDirs: []string{dir}, AllowedCountries: tf.AllowedCountries})
	if err != nil {
		return err
	}
	for _, sk := range e.Skipped() {
		if rs, _, err := LoadDir(dir); err == nil {
			for _, r := range rs {
				if r.Source == sk.Source && ruleID(r) == res.Rule {
					return fmt.Errorf("rule not loaded: %s", sk.Reason)
				}
			}
		}
	}
	if err := e.Detect(context.Background(), evs, func(a *stream.Alert) {
		if a.RuleID == res.Rule {
			res.Alerts++
		}
	}); err != nil {
		return err
	}
	res.Matches = e.Stats().Matches[res.Rule]
	isCorr := false
	for _, c := range e.corrs {
		isCorr = isCorr || c.id == res.Rule
	}
	matched := res.Matches > 0
	if isCorr {
		matched = res.Alerts > 0
	}
	switch {
	case tc.Expect == "match" && !matched:
		return fmt.Errorf("expected a match, got none (%d events)", len(evs))
	case tc.Expect == "no_match" && matched:
		return fmt.Errorf("expected no match, got %d matched events and %d alerts", res.Matches, res.Alerts)
	case tc.Alerts != nil && *tc.Alerts != res.Alerts:
		return fmt.Errorf("expected %d alerts, got %d", *tc.Alerts, res.Alerts)
	case tc.Matches != nil && *tc.Matches != res.Matches:
		return fmt.Errorf("expected %d matched events, got %d", *tc.Matches, res.Matches)
	}
	return nil
}

// testEvents parses a case's events.
func testEvents(nodes []yaml.Node, f stream.Format, parsers *format.Set, path string) ([]stream.Event, error) {
	var out []stream.Event
	for i := range nodes {
		n := &nodes[i]
		var te testEvent
		switch {
		case n.Kind == yaml.ScalarNode:
			s := n.Value
			te.Line = &s
		case n.Kind == yaml.MappingNode && isWrapper(n):
			if err := decodeWrapper(n, &te); err != nil {
				return nil, fmt.Errorf("event %d: %v", i+1, err)
			}
		case n.Kind == yaml.MappingNode:
			te.JSON = n
		default:
			return nil, fmt.Errorf("event %d (line %d): expected a JSON object, a log line or a json:/line: wrapper", i+1, n.Line)
		}
		var text string
		if te.JSON != nil {
			var v any
			if err := te.JSON.Decode(&v); err != nil {
				return nil, fmt.Errorf("event %d: %v", i+1, err)
			}
			data, err := json.Marshal(jsonable(v))
			if err != nil {
				return nil, fmt.Errorf("event %d: %v", i+1, err)
			}
			text = string(data)
		} else if te.Line != nil {
			text = *te.Line
		} else {
			return nil, fmt.Errorf("event %d: the wrapper has neither a json nor a line key", i+1)
		}
		every := time.Duration(0)
		if te.Every != "" {
			d, err := time.ParseDuration(te.Every)
			if err != nil {
				return nil, fmt.Errorf("event %d: every: %v", i+1, err)
			}
			every = d
		}
		reps := max(te.Repeat, 1)
		for r := 0; r < reps; r++ {
			data := []byte(strings.NewReplacer("{i}", strconv.Itoa(r), "{n}", strconv.Itoa(r+1)).Replace(text))
			var ev stream.Event
			ev.Lineage = stream.Lineage{Kind: stream.OriginFile, Source: path, SubSequence: -1, Line: int64(n.Line), Index: int64(len(out))}
			ev.ID = ev.Lineage.ID()
			ev.Raw = data
			p := parsers.For(f, data)
			if p == nil {
				return nil, fmt.Errorf("event %d: no parser for %s", i+1, f)
			}
			if err := p.Parse(&stream.Unit{Data: data, Lineage: ev.Lineage, Format: f}, &ev); err != nil {
				return nil, fmt.Errorf("event %d does not parse as %s: %v", i+1, f, err)
			}
			ev.Raw = data
			ev.Timestamp = ev.Timestamp.Add(time.Duration(r) * every)
			for k, v := range te.Set {
				if err := setField(&ev, k, v); err != nil {
					return nil, fmt.Errorf("event %d: set %s: %v", i+1, k, err)
				}
			}
			out = append(out, ev)
		}
	}
	return out, nil
}

// decodeWrapper reads a json:/line: wrapper, keeping json: as a node.
func decodeWrapper(n *yaml.Node, te *testEvent) error {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		var err error
		switch k {
		case "json":
			if v.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: json: must be an object", v.Line)
			}
			te.JSON = v
		case "line":
			var s string
			err = v.Decode(&s)
			te.Line = &s
		case "repeat":
			err = v.Decode(&te.Repeat)
		case "every":
			err = v.Decode(&te.Every)
		case "set":
			err = v.Decode(&te.Set)
		default:
			return fmt.Errorf("line %d: unknown key %q (json, line, repeat, every, set)", n.Content[i].Line, k)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", k, err)
		}
	}
	return nil
}

func isWrapper(n *yaml.Node) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k == "json" || k == "line" {
			return true
		}
	}
	return false
}

// jsonable turns YAML-decoded maps (map[string]any, possibly with
// non-string keys) into values encoding/json accepts.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// setField sets the fields enrichment would set, for test events.
func setField(ev *stream.Event, name, v string) error {
	ip := func(dst *netip.Addr) error {
		a, err := netip.ParseAddr(v)
		*dst = a
		return err
	}
	threat := func() *stream.ThreatEnrichment {
		if len(ev.Threat) == 0 {
			ev.Threat = append(ev.Threat, stream.ThreatEnrichment{Feed: "test", Indicator: v})
		}
		return &ev.Threat[0]
	}
	switch name {
	case "source.ip":
		return ip(&ev.Source.IP)
	case "destination.ip":
		return ip(&ev.Destination.IP)
	case "source.geo.country_iso_code":
		ev.Source.Geo.CountryISOCode = v
	case "destination.geo.country_iso_code":
		ev.Destination.Geo.CountryISOCode = v
	case "source.as.organization.name":
		ev.Source.AS.OrganizationName = v
	case "user.name":
		ev.UserName = v
	case "threat.enrichments.indicator.type":
		threat().Type = v
	case "threat.enrichments.indicator.name":
		threat().Indicator = v
	case "threat.enrichments.feed.name":
		threat().Feed = v
	case "threat.enrichments.matched.field":
		threat().MatchedField = v
	case "threat.enrichments.matched.atomic":
		threat().MatchedValue = v
	default:
		return errors.New("not a settable field (source/destination.ip, *.geo.country_iso_code, source.as.organization.name, user.name, threat.enrichments.*)")
	}
	return nil
}
