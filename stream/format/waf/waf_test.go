package waf

import (
	"os"
	"strings"
	"testing"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/formattest"
	"github.com/gannet-sec/gannet/stream/gen"
)

func parseBytes(data []byte) (*stream.Event, error) { return formattest.Parse(NewParser(), data) }

func TestGolden(t *testing.T) { formattest.GoldenObjects(t, Sniff, parseBytes) }

func TestMalformed(t *testing.T) {
	for _, tc := range []struct{ name, in, code string }{
		{"empty", ``, "waf_invalid_json"},
		{"array", `[]`, "waf_not_object"},
		{"truncated", `{"timestamp":1576280412771,"webaclId":"arn`, "waf_invalid_json"},
		{"headers object", `{"timestamp":1,"httpRequest":{"headers":{"name":"a"}}}`, "waf_field_type"},
		{"timestamp object", `{"timestamp":{}}`, "waf_field_type"},
		{"timestamp text", `{"timestamp":"yesterday"}`, "waf_field_type"},
		{"missing timestamp", `{"webaclId":"x","httpRequest":{}}`, "waf_missing_field"},
		{"zero timestamp", `{"timestamp":0}`, "waf_missing_field"},
		{"too deep", `{"ruleGroupList":[{"customerConfig":` + strings.Repeat(`[`, 80) + strings.Repeat(`]`, 80) + `}]}`, "waf_too_deep"},
		{"bad unicode escape", `{"timestamp":1,"action":"\u12"}`, "waf_invalid_json"},
	} {
		t.Run(tc.name, func(t *testing.T) { formattest.Reject(t, parseBytes, tc.in, tc.code) })
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]bool{
		`{"timestamp":1,"webaclId":"arn:aws:wafv2:x","httpRequest":{}}`: true,
		`{"eventVersion":"1.08","eventSource":"s3.amazonaws.com"}`:      false,
		`{"version":"1.100000","query_name":"example.com."}`:            false,
		`{"detail-type":"GuardDuty Finding","detail":{"type":"x"}}`:     false,
		`{"webaclId":"x"}`: false,
		`h2 2024-01-01T00:00:00Z app/x "webaclId" "httpRequest" request`: false,
	} {
		if got := Sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%s) = %v, want %v", in, got, want)
		}
	}
}

func TestCommonFields(t *testing.T) {
	data, _ := os.ReadFile("testdata/rate_based_custom_response.json")
	ev, err := parseBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.CloudRegion != "us-east-1" || ev.CloudAccountID != "123456789012" || ev.HTTPStatusCode != 429 ||
		ev.URLOriginal != "/CanaryTest?a=1&b=2" || ev.URLDomain != "api.example.com" || ev.Source.Geo.CountryISOCode != "US" {
		t.Errorf("common fields: %+v", ev)
	}
	if r := ev.Native.(*Record); r.ClientASN != 64496 || r.RateBasedRuleList[0].EvaluationWindowSec != 120 {
		t.Errorf("native: %+v", r)
	}
}

func generate(t testing.TB, o gen.Options) []byte { return formattest.Generate(t, Generate, o) }

func TestGenerateDeterministic(t *testing.T) {
	formattest.Deterministic(t, Generate, gen.Options{Count: 300, Seed: 7, Attacks: true})
}

type attacks struct{ sqli, xss, traversal, scanner, blocked, fromAttacker int }

func scan(t *testing.T, data []byte) attacks {
	var a attacks
	formattest.EachLine(t, data, Sniff, NewParser(), func(line int, ev *stream.Event) {
		q := strings.ToLower(ev.URLQuery)
		switch {
		case strings.Contains(q, "union") || strings.Contains(q, "' or '") || strings.Contains(q, "sleep"):
			a.sqli++
		case strings.Contains(q, "<script") || strings.Contains(q, "%3cimg"):
			a.xss++
		case strings.Contains(ev.URLOriginal, "../"):
			a.traversal++
		}
		if ua := strings.ToLower(ev.UserAgent); strings.Contains(ua, "sqlmap") || strings.Contains(ua, "nikto") {
			a.scanner++
		}
		if ev.Outcome == "failure" {
			a.blocked++
		}
		if ip := ev.Source.IP.String(); ip == gen.AttackerIP || ip == gen.ScannerIP {
			a.fromAttacker++
		}
	})
	return a
}

func TestGenerateClean(t *testing.T) {
	if a := scan(t, generate(t, gen.Options{Count: 3000, Seed: 1})); a != (attacks{}) {
		t.Fatalf("clean traffic contains attacks: %+v", a)
	}
}

func TestGenerateAttacks(t *testing.T) {
	for _, count := range []int{10, 100, 3000} {
		a := scan(t, generate(t, gen.Options{Count: count, Seed: 2, Attacks: true}))
		if want := (attacks{sqli: 3, xss: 2, traversal: 2, scanner: 5, blocked: 10, fromAttacker: 10}); a != want {
			t.Errorf("count %d: %+v, want %+v", count, a, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, data := range formattest.Seeds("testdata/*.json", false) {
		f.Add(data)
	}
	f.Add([]byte(`{"timestamp":1,"httpRequest":{"headers":[null,{"name":"\ud83d\ude00"}]},"labels":[1]}`))
	formattest.FuzzParser(f, NewParser(), "waf", func(t *testing.T, ev *stream.Event) { _ = ev.Native.(*Record).Header("user-agent") })
}

func BenchmarkParse(b *testing.B) {
	data := generate(b, gen.Options{Count: 2000, Seed: 1, Attacks: true})
	formattest.BenchParse(b, "format=waf", NewParser(), data)
}
