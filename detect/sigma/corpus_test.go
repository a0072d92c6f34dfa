package sigma

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	sigmago "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
)

// corpusDir returns ../shared/corpus/<name> beside the repository root. When
// it is absent the test is skipped, except in CI (CI=true) where it fails.
func corpusDir(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("repository root not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "corpus", name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("corpus %s missing in CI: %v", p, err)
		}
		tb.Skipf("corpus %s not present", p)
	}
	return p
}

type corpusRule struct {
	file string
	data []byte
	rule *Rule
}

func loadCorpusRules(tb testing.TB) []corpusRule {
	dir := corpusDir(tb, "sigma-aws-cloudtrail")
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []corpusRule
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		rules, err := Parse(data, filepath.Base(f))
		if err != nil {
			tb.Fatalf("parse %s: %v", f, err)
		}
		if len(rules) != 1 {
			tb.Fatalf("%s: %d rules", f, len(rules))
		}
		out = append(out, corpusRule{filepath.Base(f), data, rules[0]})
	}
	return out
}

type corpusEvent struct {
	file  string
	index int
	raw   []byte // compact JSON of the element
	m     map[string]any
}

func (e corpusEvent) name() string {
	id, _ := e.m["eventID"].(string)
	return e.file + "[" + strings.TrimSpace(id) + "]"
}

func loadStratus(tb testing.TB) []corpusEvent {
	dir := corpusDir(tb, "cloudtrail-stratus")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []corpusEvent
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		for i, el := range elems {
			var m map[string]any
			if err := json.Unmarshal(el, &m); err != nil {
				tb.Fatalf("%s[%d]: %v", f, i, err)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, el); err != nil {
				tb.Fatal(err)
			}
			out = append(out, corpusEvent{filepath.Base(f), i, buf.Bytes(), m})
		}
	}
	if len(out) == 0 {
		tb.Fatal("no stratus events")
	}
	return out
}

// Event modes: how much of the event the parser filled.
const (
	modeRaw    = iota // Raw only
	modeTyped         // Raw and the common typed fields, no Native
	modeNative        // what stream/format/cloudtrail's parser produces
)

var modeNames = [...]string{"raw", "typed", "native"}

// eventOf builds the stream.Event detection sees in one of the modes.
func eventOf(tb testing.TB, raw []byte, m map[string]any, mode int) stream.Event {
	ev := stream.Event{Format: stream.FormatCloudTrail, Raw: raw}
	if mode == modeNative {
		if err := cloudtrail.NewParser().Parse(&stream.Unit{Data: raw, Format: stream.FormatCloudTrail}, &ev); err != nil {
			tb.Fatalf("cloudtrail parser: %v", err)
		}
		ev.Raw = raw
		return ev
	}
	if mode == modeTyped {
		s := func(k string) string { v, _ := m[k].(string); return v }
		ev.Provider = s("eventSource")
		ev.Action = s("eventName")
		ev.UserAgent = s("userAgent")
		ev.ErrorCode = s("errorCode")
		ev.ErrorMessage = s("errorMessage")
		ev.CloudRegion = s("awsRegion")
		ev.CloudAccountID = s("recipientAccountId")
	}
	return ev
}

// flatten presents a decoded event to sigma-go, which reads only top-level
// keys: every dotted path through objects becomes a key; arrays along a
// path are flattened into one list of the values they reach (Sigma's "any
// element" semantics, which sigma-go applies to list values). Objects stay
// in the map as values too, for rules that match a whole sub-object.
func flatten(m map[string]any) map[string]any {
	out := map[string]any{}
	var walk func(prefix string, v any)
	add := func(k string, v any) {
		old, ok := out[k]
		if !ok {
			out[k] = v
			return
		}
		l, isList := old.([]any)
		if !isList {
			l = []any{old}
		}
		if vl, ok := v.([]any); ok {
			l = append(l, vl...)
		} else {
			l = append(l, v)
		}
		out[k] = l
	}
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if prefix != "" {
				add(prefix, v)
			}
			for k, x := range v {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x)
			}
		case []any:
			var leaves []any
			var rec func(x any)
			rec = func(x any) {
				switch x := x.(type) {
				case []any:
					for _, y := range x {
						rec(y)
					}
				case map[string]any:
					walk(prefix, x)
				default:
					leaves = append(leaves, x)
				}
			}
			rec(v)
			if leaves != nil {
				add(prefix, leaves)
			} else if _, ok := out[prefix]; !ok {
				out[prefix] = []any{}
			}
		default:
			add(prefix, v)
		}
	}
	walk("", m)
	return out
}

// referenceFor builds sigma-go's evaluator for a rule. Two adaptations,
// both within sigma-go's own conventions: YAML null values become the
// string "null" (sigma-go's comparator treats "null" as "field absent" but
// refuses a nil value), and every field the rule names is mapped to itself
// so that list values are matched element by element.
func referenceFor(tb testing.TB, data []byte) *evaluator.RuleEvaluator {
	r, err := sigmago.ParseRule(data)
	if err != nil {
		tb.Fatalf("sigma-go parse: %v", err)
	}
	cfg := sigmago.Config{FieldMappings: map[string]sigmago.FieldMapping{}}
	for _, s := range r.Detection.Searches {
		for _, em := range s.EventMatchers {
			for i := range em {
				fm := &em[i]
				cfg.FieldMappings[fm.Field] = sigmago.FieldMapping{TargetNames: []string{fm.Field}}
				for j, v := range fm.Values {
					if v == nil {
						fm.Values[j] = "null"
					}
				}
			}
		}
	}
	return evaluator.ForRule(r, evaluator.WithConfig(cfg))
}

// referenceDisagreements lists, per rule file, where sigma-go's reference
// evaluator is wrong about Sigma semantics, and so where the compiled
// evaluator is expected to disagree with it. Every disagreement found must
// be in a listed rule and of the listed kind.
var referenceDisagreements = map[string]struct {
	reason string
	// events expected to disagree (file[eventID]); nil with
	// referenceCannotEvaluate.
	events []string
}{
	// sigma-go v0.6.6 has no fieldref modifier ("unknown modifier
	// fieldref"): it cannot evaluate the rule at all. The compiled rule is
	// checked in TestFieldref instead.
	"aws_update_login_profile.yml": {reason: referenceCannotEvaluate},
	// sigma-go does not implement Sigma wildcards: it looks for a literal
	// "*" in requestParameters.layers, where Sigma's `contains: '*'` means
	// "any value". The Stratus lambda-layer-extension technique attaches a
	// layer, which the rule exists to catch.
	"aws_new_lambda_layer_attached.yml": {
		reason: "sigma-go treats * as a literal, not a wildcard",
		events: []string{"aws.persistence.lambda-layer-extension.json[da929d96-8e20-475c-a810-973addd64769]"},
	},
}

const referenceCannotEvaluate = "sigma-go cannot evaluate this rule"

// TestCorpusRulesLoad: every SigmaHQ AWS CloudTrail rule loads and
// compiles, except those listed with their reason.
func TestCorpusRulesLoad(t *testing.T) {
	rules := loadCorpusRules(t)
	if len(rules) != 57 {
		t.Errorf("corpus has %d rules, want 57", len(rules))
	}
	cannotLoad := map[string]string{} // none: every rule loads
	set := NewSet()
	for _, cr := range rules {
		_, err := set.Add(cr.rule)
		reason, expectFail := cannotLoad[cr.file]
		switch {
		case err != nil && !expectFail:
			t.Errorf("%s: %v", cr.file, err)
		case err == nil && expectFail:
			t.Errorf("%s loaded, but is listed as failing: %s", cr.file, reason)
		}
	}
	indexed := 0
	for _, c := range set.Rules() {
		if c.IndexField != "" {
			indexed++
		}
	}
	t.Logf("%d rules compiled, %d indexed by an equality field", len(set.Rules()), indexed)
}

// TestDifferentialStratus compares the compiled evaluator with sigma-go's
// reference evaluator for every corpus rule × every Stratus event, with and
// without typed fields, and the index against full evaluation.
func TestDifferentialStratus(t *testing.T) {
	rules := loadCorpusRules(t)
	events := loadStratus(t)
	set := NewSet()
	refs := make([]*evaluator.RuleEvaluator, len(rules))
	comp := make([]*Compiled, len(rules))
	for i, cr := range rules {
		c, err := set.Add(cr.rule)
		if err != nil {
			t.Fatalf("%s: %v", cr.file, err)
		}
		comp[i] = c
		refs[i] = referenceFor(t, cr.data)
	}
	m := set.NewMatcher()
	ctx := context.Background()
	agree, matches := 0, 0
	fired := map[string]map[string]bool{}
	disagreed := map[string]bool{}
	for _, ev := range events {
		flat := flatten(ev.m)
		rawResult := make([]bool, len(rules))
		for mode := range modeNames {
			sev := eventOf(t, ev.raw, ev.m, mode)
			indexed := map[*Compiled]bool{}
			for _, c := range m.Match(&sev, nil) {
				indexed[c] = true
			}
			for i, cr := range rules {
				got := m.Matches(comp[i], &sev)
				if got != indexed[comp[i]] {
					t.Errorf("%s on %s (%s): full evaluation %v, indexed %v", cr.file, ev.name(), modeNames[mode], got, indexed[comp[i]])
				}
				if mode != modeRaw {
					if got != rawResult[i] {
						t.Errorf("%s on %s: %s event gives %v, raw-only event %v", cr.file, ev.name(), modeNames[mode], got, rawResult[i])
					}
					continue
				}
				rawResult[i] = got
				if got {
					matches++
					if fired[cr.file] == nil {
						fired[cr.file] = map[string]bool{}
					}
					fired[cr.file][ev.file] = true
				}
				res, err := refs[i].Matches(ctx, flat)
				want := res.Match
				known, listed := referenceDisagreements[cr.file]
				switch {
				case err != nil && listed && known.reason == referenceCannotEvaluate:
					continue
				case err != nil:
					t.Errorf("%s on %s: reference error: %v", cr.file, ev.name(), err)
				case got != want && listed && slices.Contains(known.events, ev.name()):
					disagreed[cr.file+" "+ev.name()] = true
				case got != want:
					t.Errorf("%s on %s: compiled %v, reference %v", cr.file, ev.name(), got, want)
				default:
					agree++
				}
			}
		}
	}
	for file, known := range referenceDisagreements {
		for _, e := range known.events {
			if !disagreed[file+" "+e] {
				t.Errorf("%s on %s: listed as a known disagreement (%s) but both agree", file, e, known.reason)
			}
		}
	}
	t.Logf("%d rules × %d events: %d agreements, %d explained disagreements, %d matches", len(rules), len(events), agree, len(disagreed), matches)
	var lines []string
	for r, fs := range fired {
		var l []string
		for f := range fs {
			l = append(l, f)
		}
		sort.Strings(l)
		lines = append(lines, r+": "+strings.Join(l, ", "))
	}
	sort.Strings(lines)
	t.Logf("fired:\n%s", strings.Join(lines, "\n"))
}
