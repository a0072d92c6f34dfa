package templatetest

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gannet-sec/gannet/sink/lake"
)

var update = flag.Bool("update", false, "rewrite the generated Glue tables in deploy/template.yaml")

const (
	repoRoot     = "../.."
	templatePath = "../template.yaml"
)

func load(t *testing.T) *Template {
	t.Helper()
	tpl, err := Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// TestGlueTables: the Glue tables in the template are exactly those the lake
// writes, column for column (regenerate with -update after a schema change).
func TestGlueTables(t *testing.T) {
	tables, ok := lake.Tables()
	if !ok || len(tables) == 0 {
		t.Fatal("lake.Tables() returned no tables")
	}
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	gen := GlueTablesYAML(tables)
	out, old, err := ReplaceGenerated(string(data), gen)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if old != gen {
			if err := os.WriteFile(templatePath, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote the Glue tables of %s", templatePath)
		}
		data = []byte(out)
	} else if old != gen {
		t.Fatalf("the Glue tables in deploy/template.yaml differ from the lake schema; run: go test ./deploy/templatetest -run TestGlueTables -update")
	}

	tpl, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	glue := tpl.OfType("AWS::Glue::Table")
	if len(glue) != len(tables) {
		t.Errorf("template has %d Glue tables, the lake %d", len(glue), len(tables))
	}
	for _, lt := range tables {
		r, ok := tpl.Resources[GlueLogicalID(lt.Name)]
		if !ok {
			t.Errorf("no Glue table resource for lake table %s", lt.Name)
			continue
		}
		in := Get(r.Properties, "TableInput")
		if got := Get(in, "Name"); got == nil || got.Value != lt.Name {
			t.Errorf("%s: TableInput.Name is not %q", r.Name, lt.Name)
		}
		cols := Items(Get(in, "StorageDescriptor", "Columns"))
		if len(cols) != len(lt.Columns) {
			t.Errorf("%s: %d columns, lake has %d", r.Name, len(cols), len(lt.Columns))
			continue
		}
		for i, c := range cols {
			if Get(c, "Name").Value != lt.Columns[i].Name || Get(c, "Type").Value != lt.Columns[i].Type.Glue() {
				t.Errorf("%s column %d: %s %s, lake has %s %s", r.Name, i, Get(c, "Name").Value, Get(c, "Type").Value, lt.Columns[i].Name, lt.Columns[i].Type.Glue())
			}
		}
		var parts []string
		for _, p := range Items(Get(in, "PartitionKeys")) {
			parts = append(parts, Get(p, "Name").Value)
		}
		if !slices.Equal(parts, []string{"dt", "hr"}) {
			t.Errorf("%s: partition keys %v, want [dt hr] (the lake's default layout)", r.Name, parts)
		}
		if p := Get(in, "Parameters", "projection.enabled"); p == nil || p.Value != "true" {
			t.Errorf("%s: partition projection is not enabled", r.Name)
		}
		// The partition template must be a real directory of the lake's layout.
		tmpl := Items(Get(in, "Parameters", "storage.location.template"))
		if len(tmpl) == 0 {
			t.Errorf("%s: no storage.location.template", r.Name)
			continue
		}
		want := "lake/" + lake.Layout{}.Partition(lt.Name, mustTime(t), "", "")
		got := strings.NewReplacer("s3://${Bucket}/", "", "${!dt}", "2026-11-05", "${!hr}", "07").Replace(tmpl[0].Value)
		if got != want {
			t.Errorf("%s: projected location %q, lake writes %q", r.Name, got, want)
		}
	}
}

// TestKinesisEventSourceMappings: every Kinesis mapping retries a finite
// number of times over a bounded record age, bisects failing batches, sends
// what it gives up on to a destination and honours batchItemFailures.
func kinesisMappingProblems(tpl *Template) (problems []string) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	esms := tpl.OfType("AWS::Lambda::EventSourceMapping")
	var kinesis []Resource
	for _, r := range esms {
		switch kind := sourceKind(tpl, Get(r.Properties, "EventSourceArn")); kind {
		case "kinesis":
			kinesis = append(kinesis, r)
			if Get(r.Properties, "StartingPosition") == nil {
				bad("%s: Kinesis mapping without StartingPosition", r.Name)
			}
		case "sqs":
			if !hasScalar(Get(r.Properties, "FunctionResponseTypes"), "ReportBatchItemFailures") {
				bad("%s: SQS mapping without ReportBatchItemFailures: one bad message would redeliver the whole batch", r.Name)
			}
		default:
			bad("%s: cannot tell whether EventSourceArn is a Kinesis stream or an SQS queue (references %v)", r.Name, References(Get(r.Properties, "EventSourceArn")))
		}
	}
	if len(kinesis) < 2 {
		bad("found %d Kinesis event source mappings; expected ingest and window at least", len(kinesis))
		return problems
	}
	for _, r := range kinesis {
		p := r.Properties
		lo, hi, err := numberRange(tpl, Get(p, "MaximumRetryAttempts"))
		if err != nil {
			bad("%s: MaximumRetryAttempts: %v", r.Name, err)
		} else if lo < 0 || hi > 10000 {
			bad("%s: MaximumRetryAttempts may be %d..%d; want finite (0..10000, never -1)", r.Name, lo, hi)
		}
		lo, hi, err = numberRange(tpl, Get(p, "MaximumRecordAgeInSeconds"))
		if err != nil {
			bad("%s: MaximumRecordAgeInSeconds: %v", r.Name, err)
		} else if lo < 60 || hi > 604800 {
			bad("%s: MaximumRecordAgeInSeconds may be %d..%d; want finite (60..604800, never -1)", r.Name, lo, hi)
		}
		if b := Get(p, "BisectBatchOnFunctionError"); b == nil || b.Value != "true" || b.Tag != "!!bool" {
			bad("%s: BisectBatchOnFunctionError is not true", r.Name)
		}
		if !hasScalar(Get(p, "FunctionResponseTypes"), "ReportBatchItemFailures") {
			bad("%s: FunctionResponseTypes lacks ReportBatchItemFailures", r.Name)
		}
		dest := Get(p, "DestinationConfig", "OnFailure", "Destination")
		if dest == nil {
			bad("%s: no on-failure destination", r.Name)
		} else if k := destinationKind(tpl, dest); k == "" {
			bad("%s: on-failure destination %v is not an SQS queue, SNS topic or S3 bucket of the template", r.Name, References(dest))
		}
		if _, _, err := numberRange(tpl, Get(p, "ParallelizationFactor")); err != nil {
			bad("%s: ParallelizationFactor: %v", r.Name, err)
		}
		if _, _, err := numberRange(tpl, Get(p, "BatchSize")); err != nil {
			bad("%s: BatchSize: %v", r.Name, err)
		}
		if Get(p, "MaximumBatchingWindowInSeconds") == nil {
			bad("%s: no MaximumBatchingWindowInSeconds", r.Name)
		}
	}
	// The window function correlates over tumbling windows.
	found := false
	for _, r := range kinesis {
		if fn := References(Get(r.Properties, "FunctionName")); slices.Contains(fn, "WindowFunction") {
			found = true
			lo, hi, err := numberRange(tpl, Get(r.Properties, "TumblingWindowInSeconds"))
			if err != nil || lo < 1 || hi > 900 {
				bad("%s: TumblingWindowInSeconds must be 1..900 (got %d..%d, %v)", r.Name, lo, hi, err)
			}
		}
	}
	if !found {
		bad("no Kinesis event source mapping for WindowFunction")
	}
	// Mappings declared as SAM events would escape these checks and the kill switch.
	for _, f := range tpl.OfType("AWS::Serverless::Function") {
		for name, ev := range mapOf(Get(f.Properties, "Events")) {
			if ty := Get(ev, "Type"); ty != nil && (ty.Value == "Kinesis" || ty.Value == "SQS" || ty.Value == "DynamoDB") {
				bad("%s: event %s is a SAM %s event; declare an AWS::Lambda::EventSourceMapping instead", f.Name, name, ty.Value)
			}
		}
	}
	return problems
}

func TestKinesisEventSourceMappings(t *testing.T) {
	for _, p := range kinesisMappingProblems(load(t)) {
		t.Error(p)
	}
}

// TestKinesisMappingChecksBite: the checks above reject a template whose
// mappings retry forever, keep records forever, do not bisect, have no
// destination or ignore batchItemFailures.
func TestKinesisMappingChecksBite(t *testing.T) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, c := range []struct{ name, old, new, want string }{
		{"infinite retries", "  StreamMaxRetryAttempts:\n    Type: Number\n    MinValue: 0", "  StreamMaxRetryAttempts:\n    Type: Number\n    MinValue: -1", "MaximumRetryAttempts may be -1"},
		{"infinite age", "  StreamMaxRecordAgeSeconds:\n    Type: Number\n    MinValue: 60\n    MaxValue: 604800", "  StreamMaxRecordAgeSeconds:\n    Type: Number\n    MinValue: -1\n    MaxValue: 604800", "MaximumRecordAgeInSeconds may be -1"},
		{"no bisect", "      BisectBatchOnFunctionError: true\n", "      BisectBatchOnFunctionError: false\n", "BisectBatchOnFunctionError is not true"},
		{"no destination", "      DestinationConfig:\n        OnFailure: {Destination: !GetAtt StreamFailureQueue.Arn}\n", "", "no on-failure destination"},
		{"no batch item failures", "      FunctionResponseTypes: [ReportBatchItemFailures]\n      DestinationConfig:", "      DestinationConfig:", "lacks ReportBatchItemFailures"},
		{"no tumbling window", "      TumblingWindowInSeconds: !Ref WindowSeconds\n", "", "TumblingWindowInSeconds must be"},
	} {
		if !strings.Contains(text, c.old) {
			t.Fatalf("%s: the template no longer contains %q; update this test", c.name, c.old)
		}
		tpl, err := Parse([]byte(strings.Replace(text, c.old, c.new, 1)))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		problems := kinesisMappingProblems(tpl)
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
			t.Errorf("%s: want a problem containing %q, got %q", c.name, c.want, problems)
		}
	}
}

// TestKillSwitch: IngestEnabled=false turns every event source mapping and
// the delivery-retry pipe off, and nothing else is needed.
func TestKillSwitch(t *testing.T) {
	tpl := load(t)
	p := tpl.Parameters["IngestEnabled"]
	if p == nil {
		t.Fatal("no IngestEnabled parameter")
	}
	if d := Get(p, "Default"); d == nil || d.Value != "true" {
		t.Error("IngestEnabled does not default to true")
	}
	cond := tpl.Conditions["IngestOn"]
	if fn, arg := Intrinsic(cond); fn != "Equals" || len(Items(arg)) != 2 ||
		!slices.Equal(References(Items(arg)[0]), []string{"IngestEnabled"}) || Items(arg)[1].Value != "true" {
		t.Fatal(`condition IngestOn is not !Equals [!Ref IngestEnabled, "true"]`)
	}
	isSwitch := func(n *yaml.Node, on, off string) bool {
		fn, arg := Intrinsic(n)
		items := Items(arg)
		return fn == "If" && len(items) == 3 && items[0].Value == "IngestOn" && items[1].Value == on && items[2].Value == off
	}
	esms := tpl.OfType("AWS::Lambda::EventSourceMapping")
	if len(esms) == 0 {
		t.Fatal("no event source mappings")
	}
	for _, r := range esms {
		if !isSwitch(Get(r.Properties, "Enabled"), "true", "false") {
			t.Errorf("%s: Enabled is not !If [IngestOn, true, false]", r.Name)
		}
	}
	for _, r := range tpl.OfType("AWS::Pipes::Pipe") {
		if slices.Contains(References(Get(r.Properties, "Source")), "StreamFailureQueue") &&
			!isSwitch(Get(r.Properties, "DesiredState"), "RUNNING", "STOPPED") {
			t.Errorf("%s: the delivery-retry pipe does not stop with the kill switch", r.Name)
		}
	}
	// Stopped records must outlive a pause: streams keep a day at least, queues 14 days.
	if lo, _, err := numberRange(tpl, Get(tpl.Resources["IngestStream"].Properties, "RetentionPeriodHours")); err != nil || lo < 24 {
		t.Errorf("IngestStream retention may be below 24 hours (%d, %v)", lo, err)
	}
	for _, q := range []string{"S3EventQueue", "StreamFailureQueue"} {
		if v := Get(tpl.Resources[q].Properties, "MessageRetentionPeriod"); v == nil || v.Value != "1209600" {
			t.Errorf("%s does not keep messages 14 days", q)
		}
	}
}

// pendingHandlers are the functions issue 5 is building in lambdas/; while one
// has no main.go yet the consistency test names it and skips instead of failing.
var pendingHandlers = map[string]bool{
	"ingest": true, "partition": true, "aggregate": true, "s3event": true,
	"window": true, "scheduled": true, "respond": true,
}

var codeURI = regexp.MustCompile(`^\.\./dist/([a-z0-9]+)-arm64\.zip$`)

// TestFunctionsHaveHandlers: every function of the template is built from
// lambdas/<name>/main.go (CodeUri ../dist/<name>-arm64.zip, the zip `make
// lambdas` writes), and every lambdas/<name>/main.go is deployed.
func TestFunctionsHaveHandlers(t *testing.T) {
	tpl := load(t)
	g := tpl.Globals
	for k, want := range map[string]string{"Runtime": "provided.al2023", "Handler": "bootstrap"} {
		if v := Get(g, k); v == nil || v.Value != want {
			t.Errorf("Globals.Function.%s is not %s", k, want)
		}
	}
	if a := Items(Get(g, "Architectures")); len(a) != 1 || a[0].Value != "arm64" {
		t.Error("Globals.Function.Architectures is not [arm64]")
	}

	deployed := map[string]string{}
	var missing []string
	for _, f := range tpl.OfType("AWS::Serverless::Function", "AWS::Lambda::Function") {
		for _, k := range []string{"Runtime", "Handler", "Architectures"} {
			if Get(f.Properties, k) != nil {
				t.Errorf("%s overrides Globals %s", f.Name, k)
			}
		}
		uri := Get(f.Properties, "CodeUri")
		if uri == nil {
			t.Errorf("%s: no CodeUri", f.Name)
			continue
		}
		m := codeURI.FindStringSubmatch(uri.Value)
		if m == nil {
			t.Errorf("%s: CodeUri %q is not ../dist/<name>-arm64.zip", f.Name, uri.Value)
			continue
		}
		name := m[1]
		if want := strings.ToLower(strings.TrimSuffix(f.Name, "Function")); name != want {
			t.Errorf("%s: CodeUri names %q, the logical id says %q", f.Name, name, want)
		}
		deployed[name] = f.Name
		src, err := os.ReadFile(filepath.Join(repoRoot, "lambdas", name, "main.go"))
		switch {
		case os.IsNotExist(err):
			missing = append(missing, name)
			if !pendingHandlers[name] {
				t.Errorf("%s: lambdas/%s/main.go does not exist", f.Name, name)
			}
		case err != nil:
			t.Error(err)
		case !regexp.MustCompile(`(?m)^package main\b`).Match(src) || !strings.Contains(string(src), "lambda.Start"):
			t.Errorf("lambdas/%s/main.go is not a package main calling lambda.Start", name)
		}
	}
	if len(deployed) == 0 {
		t.Fatal("template has no functions")
	}
	mains, _ := filepath.Glob(filepath.Join(repoRoot, "lambdas", "*", "main.go"))
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		if _, ok := deployed[name]; !ok {
			t.Errorf("lambdas/%s/main.go is not deployed by the template (add a function with CodeUri ../dist/%s-arm64.zip)", name, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("functions in the template without a handler in lambdas/: %s", strings.Join(missing, ", "))
	}
}

// localOnlyEnv are names the code reads that no deployed component needs.
var localOnlyEnv = map[string]string{
	"GANNET_OUT":                       "gannet run's NDJSON copy of the events (stdout or a file); deployed components write the lake, search and alerts",
	"GANNET_BATCH_SIZE":                "records per pipeline batch of gannet run and gannet dlq replay; Lambdas get their batches from the event source mapping, gannet consume per GetRecords call",
	"GANNET_ANOMALY_STATE":             "a local directory for anomaly baselines across restarts of gannet run / gannet consume on a host with a persistent disk; the deployed Fargate consumer task has no persistent volume and Lambdas none at all",
	"GANNET_ANOMALY_SNAPSHOT_INTERVAL": "how often gannet run / gannet consume also snapshot their anomaly baselines to GANNET_ANOMALY_STATE while running (so a killed consumer does not restart from its last graceful stop); needs GANNET_ANOMALY_STATE, which no deployed component has",
}

// pendingEnv are names the template defines for code that is being written
// (deploy/README.md lists them with their meaning).
var pendingEnv = map[string]string{
	"GANNET_OUTPUT_STREAMS":    "partition/aggregate routes: format=stream ARN pairs, * as default",
	"GANNET_S3EVENT_QUEUE_URL": "queue for s3event's continuation messages (byte offset reached)",
}

var envName = regexp.MustCompile(`\bGANNET_[A-Z0-9_]*[A-Z0-9]\b`)

// codeEnvNames returns the GANNET_* names in string literals (struct tags
// included) of the module's non-test Go files, with a file that has each.
// deploy/ (the local stack harness and these checks) and benchmarks/ are tooling, not deployed code.
func codeEnvNames(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	skip := map[string]bool{".git": true, "deploy": true, "benchmarks": true, "testdata": true, "vendor": true, "node_modules": true, "bin": true, "out": true, "dist": true,
		"harness": true} // stream/reliability/harness: test processes configured by the fault-matrix tests, never deployed
	fset := token.NewFileSet()
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != repoRoot && (skip[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil // a file being edited by someone else; its names come back when it parses
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				for _, name := range envName.FindAllString(lit.Value, -1) {
					if _, seen := out[name]; !seen {
						rel, _ := filepath.Rel(repoRoot, path)
						out[name] = rel
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEnvironmentContract: every GANNET_* setting the code reads is defined
// in the template, and every one the template defines is read by the code
// (or listed in pendingEnv for code being written).
func TestEnvironmentContract(t *testing.T) {
	tpl := load(t)
	inTemplate := tpl.EnvNames()
	inCode := codeEnvNames(t)
	if len(inCode) < 10 {
		t.Fatalf("found only %d GANNET_* names in the code; is the walk broken?", len(inCode))
	}
	for _, must := range []string{"GANNET_LAKE", "GANNET_DLQ", "GANNET_ES_URL", "GANNET_DEADLINE_MARGIN"} {
		if _, ok := inCode[must]; !ok {
			t.Errorf("the walk did not find %s in the code (stream/config reads it)", must)
		}
	}
	var names []string
	for n := range inCode {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := inTemplate[n]; ok {
			continue
		}
		if _, ok := localOnlyEnv[n]; ok {
			continue
		}
		t.Errorf("%s (read in %s) is not defined in deploy/template.yaml (Globals, a function or the consumer task)", n, inCode[n])
	}
	names = names[:0]
	for n := range inTemplate {
		names = append(names, n)
	}
	sort.Strings(names)
	var pending []string
	for _, n := range names {
		if !envName.MatchString(n) || envName.FindString(n) != n {
			t.Errorf("template sets %s in %v: not a GANNET_* name", n, inTemplate[n])
			continue
		}
		if _, ok := inCode[n]; ok {
			continue
		}
		if _, ok := pendingEnv[n]; ok {
			pending = append(pending, n)
			continue
		}
		t.Errorf("template sets %s in %v but no code reads it", n, inTemplate[n])
	}
	for n := range localOnlyEnv {
		if _, ok := inTemplate[n]; ok {
			t.Errorf("%s is listed as local-only but the template sets it", n)
		}
	}
	if len(pending) > 0 {
		t.Logf("defined in the template for code still being written: %s", strings.Join(pending, ", "))
	}
	// Secrets are referenced, never given as values.
	for _, n := range []string{"GANNET_ES_PASSWORD", "GANNET_ES_USERNAME", "GANNET_ALERT_WEBHOOK_URL"} {
		v := Get(tpl.Globals, "Environment", "Variables", n)
		if v == nil {
			t.Errorf("%s not in Globals", n)
			continue
		}
		if fn, arg := Intrinsic(v); fn != "If" || len(Items(arg)) != 3 || !strings.Contains(Items(arg)[1].Value, "{{resolve:secretsmanager:") {
			t.Errorf("%s is not a Secrets Manager dynamic reference", n)
		}
	}
}

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`)

// TestStateMachines: each definition exists, is JSON, uses exactly the
// substitutions the template passes, and gives every task a timeout and
// retries; delivery retry catches by error type, incident response waits for
// a human through a task token.
func TestStateMachines(t *testing.T) {
	tpl := load(t)
	sms := tpl.OfType("AWS::Serverless::StateMachine")
	if len(sms) != 2 {
		t.Fatalf("want 2 state machines (delivery retry, incident response), got %d", len(sms))
	}
	defs := map[string]map[string]any{}
	for _, r := range sms {
		uri := Get(r.Properties, "DefinitionUri")
		if uri == nil {
			t.Errorf("%s: no DefinitionUri", r.Name)
			continue
		}
		text, err := os.ReadFile(filepath.Join(filepath.Dir(templatePath), uri.Value))
		if err != nil {
			t.Error(err)
			continue
		}
		subs := Keys(Get(r.Properties, "DefinitionSubstitutions"))
		used := map[string]bool{}
		for _, m := range placeholder.FindAllStringSubmatch(string(text), -1) {
			used[m[1]] = true
			if !slices.Contains(subs, m[1]) {
				t.Errorf("%s uses ${%s}, which %s does not substitute", uri.Value, m[1], r.Name)
			}
		}
		for _, s := range subs {
			if !used[s] {
				t.Errorf("%s substitutes %s, which %s does not use", r.Name, s, uri.Value)
			}
		}
		var def map[string]any
		if err := json.Unmarshal(text, &def); err != nil {
			t.Errorf("%s: %v", uri.Value, err)
			continue
		}
		states, _ := def["States"].(map[string]any)
		if len(states) == 0 {
			t.Errorf("%s: no states", uri.Value)
		}
		for name, s := range states {
			st := s.(map[string]any)
			if st["Type"] != "Task" {
				continue
			}
			if _, ok := st["TimeoutSeconds"]; !ok {
				if _, ok := st["TimeoutSecondsPath"]; !ok {
					t.Errorf("%s: task %s has no timeout", uri.Value, name)
				}
			}
			if r, _ := st["Retry"].([]any); len(r) == 0 {
				t.Errorf("%s: task %s has no Retry", uri.Value, name)
			}
		}
		defs[filepath.Base(uri.Value)] = states
	}

	dr := defs["delivery-retry.asl.json"]
	if dr == nil {
		t.Fatal("no delivery-retry.asl.json")
	}
	catches := map[string]string{}
	red, _ := dr["Redeliver"].(map[string]any)
	for _, c := range asSlice(red["Catch"]) {
		cm := c.(map[string]any)
		for _, e := range asSlice(cm["ErrorEquals"]) {
			catches[e.(string)] = cm["Next"].(string)
		}
	}
	for _, e := range []string{"Gannet.Permanent", "Gannet.Throttled", "Gannet.Retryable", "Gannet.RecordsExpired", "States.ALL"} {
		if catches[e] == "" {
			t.Errorf("delivery retry: Redeliver does not catch %s", e)
		}
	}
	if catches["Gannet.Permanent"] == catches["Gannet.Throttled"] {
		t.Error("delivery retry: permanent and throttled failures take the same branch; Figure 5 branches by reason")
	}
	ir := defs["incident-response.asl.json"]
	if ir == nil {
		t.Fatal("no incident-response.asl.json")
	}
	order := []string{"Quarantine", "Snapshot", "MemoryCapture"}
	for i, s := range order {
		st, ok := ir[s].(map[string]any)
		if !ok {
			t.Errorf("incident response: no %s state", s)
			continue
		}
		if i+1 < len(order) && st["Next"] != order[i+1] {
			t.Errorf("incident response: %s is followed by %v, want %s", s, st["Next"], order[i+1])
		}
	}
	approval := false
	for name, s := range ir {
		st := s.(map[string]any)
		if res, _ := st["Resource"].(string); strings.HasSuffix(res, ".waitForTaskToken") {
			approval = true
			if st["Next"] != "Approved" {
				t.Errorf("incident response: approval state %s does not lead to the Approved choice", name)
			}
		}
	}
	if !approval {
		t.Error("incident response: no human approval (waitForTaskToken) step")
	}
	if ir["Approved"] == nil || !strings.Contains(mustJSON(ir["Approved"]), `"Quarantine"`) {
		t.Error("incident response: approval does not gate Quarantine")
	}
}

// TestHighSeverityTrigger: high and critical alerts, and only those, start
// incident response.
func TestHighSeverityTrigger(t *testing.T) {
	tpl := load(t)
	sub := tpl.Resources["HighSeveritySubscription"]
	if sub.Node == nil {
		t.Fatal("no HighSeveritySubscription")
	}
	var levels []string
	for _, l := range Items(Get(sub.Properties, "FilterPolicy", "level")) {
		levels = append(levels, l.Value)
	}
	if !slices.Equal(levels, []string{"high", "critical"}) {
		t.Errorf("filter policy levels %v, want [high critical]", levels)
	}
	if v := Get(sub.Properties, "FilterPolicyScope"); v == nil || v.Value != "MessageBody" {
		t.Error("filter policy does not apply to the alert body")
	}
	pipe := tpl.Resources["IncidentResponsePipe"]
	if !slices.Contains(References(Get(pipe.Properties, "Source")), "HighSeverityQueue") ||
		!slices.Contains(References(Get(pipe.Properties, "Target")), "IncidentResponseStateMachine") {
		t.Error("IncidentResponsePipe does not connect HighSeverityQueue to IncidentResponseStateMachine")
	}
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

// mustTime is a fixed event time for partition paths: 2026-11-05 07:30 UTC.
func mustTime(t *testing.T) time.Time {
	t.Helper()
	return time.Date(2026, 11, 5, 7, 30, 0, 0, time.UTC)
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func hasScalar(seq *yaml.Node, want string) bool {
	for _, n := range Items(seq) {
		if n.Value == want {
			return true
		}
	}
	return false
}

// sourceKind tells whether an EventSourceArn expression names a Kinesis
// stream or an SQS queue: a referenced resource's type, or a parameter whose
// AllowedPattern is for Kinesis stream ARNs.
func sourceKind(tpl *Template, n *yaml.Node) string {
	kinds := map[string]bool{}
	for _, ref := range References(n) {
		if r, ok := tpl.Resources[ref]; ok {
			switch r.Type {
			case "AWS::Kinesis::Stream":
				kinds["kinesis"] = true
			case "AWS::SQS::Queue":
				kinds["sqs"] = true
			default:
				kinds["other"] = true
			}
		} else if p, ok := tpl.Parameters[ref]; ok {
			if ap := Get(p, "AllowedPattern"); ap != nil && strings.Contains(ap.Value, ":kinesis:") {
				kinds["kinesis"] = true
			} else {
				kinds["other"] = true
			}
		}
	}
	if len(kinds) != 1 {
		return ""
	}
	for k := range kinds {
		if k != "other" {
			return k
		}
	}
	return ""
}

func destinationKind(tpl *Template, n *yaml.Node) string {
	refs := References(n)
	if len(refs) == 0 {
		return ""
	}
	for _, ref := range refs {
		r, ok := tpl.Resources[ref]
		if !ok || (r.Type != "AWS::SQS::Queue" && r.Type != "AWS::SNS::Topic" && r.Type != "AWS::S3::Bucket") {
			return ""
		}
	}
	return "ok"
}

// numberRange returns the values a numeric property can take: a literal, or
// a parameter's MinValue..MaxValue (its Default must lie within).
func numberRange(tpl *Template, n *yaml.Node) (lo, hi int64, err error) {
	if n == nil {
		return 0, 0, errorf("missing")
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		v, err := strconv.ParseInt(n.Value, 10, 64)
		return v, v, err
	}
	fn, arg := Intrinsic(n)
	if fn != "Ref" || arg.Kind != yaml.ScalarNode {
		return 0, 0, errorf("neither a number nor a parameter reference")
	}
	p, ok := tpl.Parameters[arg.Value]
	if !ok {
		return 0, 0, errorf("parameter %s not defined", arg.Value)
	}
	get := func(k string) (int64, error) {
		v := Get(p, k)
		if v == nil {
			return 0, errorf("parameter %s has no %s: any number would be accepted", arg.Value, k)
		}
		return strconv.ParseInt(v.Value, 10, 64)
	}
	if lo, err = get("MinValue"); err != nil {
		return
	}
	if hi, err = get("MaxValue"); err != nil {
		return
	}
	d, err := get("Default")
	if err != nil {
		return
	}
	if d < lo || d > hi {
		return lo, hi, errorf("parameter %s default %d outside %d..%d", arg.Value, d, lo, hi)
	}
	return lo, hi, nil
}
