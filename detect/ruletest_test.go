package detect

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestBuiltinRuleTests runs detect/rules/tests: every built-in rule has
// cases and every case passes.
func TestBuiltinRuleTests(t *testing.T) {
	rep, err := RunTests("rules")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Cases {
		if !c.Pass {
			t.Errorf("%s: %s [%s]: %s", filepath.Base(c.File), c.Name, c.Rule, c.Reason)
		}
	}
	if len(rep.Untested) != 0 {
		t.Errorf("rules without test cases: %v", rep.Untested)
	}
	if rep.Files < 17 || rep.Passed < 40 || !rep.OK() {
		t.Errorf("files %d passed %d failed %d", rep.Files, rep.Passed, rep.Failed)
	}
	t.Logf("%d files, %d cases passed", rep.Files, rep.Passed)
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const testRule = `title: Delete trail
id: t-1
level: high
logsource: {product: aws, service: cloudtrail}
detection:
  s: {eventName: DeleteTrail}
  condition: s
`

func TestRunTestsReportsFailures(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"r.yml":     testRule,
		"other.yml": strings.ReplaceAll(testRule, "t-1", "t-2"),
		"tests/a.yml": `rule: t-1
cases:
  - name: right
    expect: match
    alerts: 1
    events: [{eventName: DeleteTrail, eventTime: "2026-11-01T00:00:00Z"}]
  - name: wrong expectation
    expect: no_match
    events: [{eventName: DeleteTrail, eventTime: "2026-11-01T00:00:00Z"}]
  - name: wrong count
    alerts: 2
    events: [{eventName: DeleteTrail, eventTime: "2026-11-01T00:00:00Z"}]
  - name: bad event
    expect: match
    events: ['not json']
`,
		"tests/b.yml": "rule: nope\ncases: []\n",
		"tests/c.yml": "rule: t-1\ncases:\n  - name: x\n    expect: maybe\n    unknown_key: 1\n",
	})
	rep, err := RunTests(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range rep.Cases {
		if !c.Pass {
			got[filepath.Base(c.File)+"/"+c.Name] = c.Reason
		}
	}
	want := map[string]string{
		"a.yml/wrong expectation": "expected no match",
		"a.yml/wrong count":       "expected 2 alerts, got 1",
		"a.yml/bad event":         "does not parse as cloudtrail",
		"b.yml/":                  `rule "nope" is not in`,
		"c.yml/":                  "does not parse",
	}
	for k, w := range want {
		if !strings.Contains(got[k], w) {
			t.Errorf("%s: reason %q, want it to contain %q", k, got[k], w)
		}
	}
	if rep.Passed != 1 || rep.Failed != len(want) || rep.OK() {
		t.Errorf("passed %d failed %d: %v", rep.Passed, rep.Failed, got)
	}
	if len(rep.Untested) != 1 || rep.Untested[0] != "t-2" {
		t.Errorf("untested %v", rep.Untested)
	}
}

func TestLintBuiltins(t *testing.T) {
	fs, err := Lint("rules")
	if err != nil {
		t.Fatal(err)
	}
	var warned []string
	for _, f := range fs {
		if f.Level == "error" {
			t.Errorf("built-in: %s", f)
			continue
		}
		if !strings.Contains(f.Reason, "never indexed") {
			t.Errorf("unexpected warning %s", f)
		}
		warned = append(warned, filepath.Base(f.File))
	}
	sort.Strings(warned)
	want := []string{"cloudtrail_api_outside_allowed_countries.yml", "vpcflow_port_scan.yml",
		"web_path_traversal.yml", "web_scanner_user_agent.yml", "web_sql_injection.yml", "web_xss.yml"}
	if strings.Join(warned, ",") != strings.Join(want, ",") {
		t.Errorf("never-indexed warnings for %v, want %v", warned, want)
	}
}

func TestLintFindings(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ok.yml":         testRule,
		"dup.yml":        strings.Replace(testRule, "Delete trail", "Delete trail again", 1),
		"noid.yml":       strings.Replace(testRule, "id: t-1\n", "", 1),
		"nolevel.yml":    strings.Replace(strings.Replace(testRule, "level: high\n", "", 1), "t-1", "t-3", 1),
		"modifier.yml":   strings.Replace(strings.Replace(testRule, "eventName:", "eventName|contians:", 1), "t-1", "t-4", 1),
		"unmapped.yml":   "title: u\nid: t-5\nlevel: low\nlogsource: {product: aws, service: alb}\ndetection:\n  s: {requestParameters.x: 1}\n  condition: s\n",
		"ctfield.yml":    strings.Replace(strings.Replace(testRule, "eventName:", "evntName:", 1), "t-1", "t-6", 1),
		"logsource.yml":  strings.Replace(strings.Replace(testRule, "service: cloudtrail", "service: mainframe", 1), "t-1", "t-7", 1),
		"regex.yml":      "title: r\nid: t-8\nlevel: low\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  s: {eventName: X, userAgent|re: '(?<=a)b'}\n  condition: s\n",
		"slow.yml":       "title: s\nid: t-9\nlevel: low\nlogsource: {category: webserver}\ndetection:\n  s: {url.original|contains: x}\n  condition: s\n",
		"corr.yml":       "title: c\nid: t-10\nlevel: low\ncorrelation: {type: event_count, rules: [missing], group-by: [source.ip], timespan: 5m, condition: {gte: 3}}\n",
		"broken.yml":     "title: [\n",
		"tests/skip.yml": "rule: t-1\ncases: []\n",
	})
	fs, err := Lint(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range fs {
		got[filepath.Base(f.File)] = append(got[filepath.Base(f.File)], f.Level+": "+f.Reason)
	}
	want := map[string]string{
		"dup.yml":       "error: duplicate id t-1",
		"ok.yml":        "error: duplicate id t-1",
		"noid.yml":      "error: missing id",
		"nolevel.yml":   "error: missing level",
		"modifier.yml":  `error: field eventName: unknown modifier "contians"`,
		"unmapped.yml":  "error: field requestParameters.x is not mapped for alb events",
		"ctfield.yml":   "error: field evntName is not mapped for cloudtrail events",
		"logsource.yml": "error: unknown logsource",
		"regex.yml":     "does not compile in Go",
		"slow.yml":      "warning: never indexed",
		"corr.yml":      `error: correlation refers to unknown rule "missing"`,
		"broken.yml":    "error: does not parse",
	}
	for file, w := range want {
		found := false
		for _, r := range got[file] {
			found = found || strings.Contains(r, w)
		}
		if !found {
			t.Errorf("%s: findings %v, want one containing %q", file, got[file], w)
		}
	}
	if _, ok := got["skip.yml"]; ok {
		t.Errorf("tests/ was linted as rules")
	}
	for _, f := range fs {
		if f.File == "" || f.Reason == "" {
			t.Errorf("finding without file or reason: %+v", f)
		}
	}
}

// TestLintCorpus lints the SigmaHQ CloudTrail rules: each finding is
// listed; none may be a mapping or parse error.
func TestLintCorpus(t *testing.T) {
	dir := corpusDir(t, "sigma-aws-cloudtrail")
	fs, err := Lint(dir)
	if err != nil {
		t.Fatal(err)
	}
	levels := map[string]int{}
	for _, f := range fs {
		levels[f.Level]++
		t.Logf("%s", f)
	}
	t.Logf("%v", levels)
}
