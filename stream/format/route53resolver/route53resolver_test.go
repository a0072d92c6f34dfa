package route53resolver

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
		{"empty", ``, "route53resolver_invalid_json"},
		{"array", `[{"query_name":"a."}]`, "route53resolver_not_object"},
		{"truncated", `{"query_timestamp":"2021-02-04T17:51:55Z","query_name":"a`, "route53resolver_invalid_json"},
		{"answers object", `{"query_timestamp":"2021-02-04T17:51:55Z","answers":{"Rdata":"x"}}`, "route53resolver_field_type"},
		{"srcids string", `{"query_timestamp":"2021-02-04T17:51:55Z","srcids":"i-1"}`, "route53resolver_field_type"},
		{"missing time", `{"query_name":"a."}`, "route53resolver_missing_field"},
		{"bad time", `{"query_timestamp":"04/02/2021","query_name":"a."}`, "route53resolver_invalid_time"},
		{"missing name", `{"query_timestamp":"2021-02-04T17:51:55Z"}`, "route53resolver_missing_field"},
		{"too deep", `{"x":` + strings.Repeat(`{"a":`, 65) + `1` + strings.Repeat(`}`, 65) + `}`, "route53resolver_too_deep"},
	} {
		t.Run(tc.name, func(t *testing.T) { formattest.Reject(t, parseBytes, tc.in, tc.code) })
	}
}
func TestSniff(t *testing.T) {
	for in, want := range map[string]bool{
		`{"version":"1.100000","query_timestamp":"2021-02-04T17:51:55Z","query_name":"a."}`: true,
		`{"eventVersion":"1.08","eventSource":"route53.amazonaws.com","query_name":"x"}`:    false,
		`{"timestamp":1,"webaclId":"x","httpRequest":{}}`:                                   false,
		`{"detail-type":"GuardDuty Finding","detail":{"type":"x"}}`:                         false,
		`query_name query_timestamp`:                                                        false,
	} {
		if got := Sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%s) = %v, want %v", in, got, want)
		}
	}
}
func TestCommonFields(t *testing.T) {
	data, _ := os.ReadFile("testdata/a_record_instance.json")
	ev, err := parseBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.DNSQuestionName != "amazonaws.com" || ev.Source.Port != 51010 || ev.NetworkTransport != "udp" || ev.Outcome != "success" {
		t.Errorf("common fields: %+v", ev)
	}
}
func generate(t testing.TB, o gen.Options) []byte { return formattest.Generate(t, Generate, o) }

func TestGenerateDeterministic(t *testing.T) {
	formattest.Deterministic(t, Generate, gen.Options{Count: 300, Seed: 7, Attacks: true})
}

type attacks struct{ bad, blocked, fromVictim int }

func scan(t *testing.T, data []byte) attacks {
	var a attacks
	victims := map[string]bool{}
	formattest.EachLine(t, data, Sniff, NewParser(), func(line int, ev *stream.Event) {
		if strings.HasSuffix(ev.DNSQuestionName, "."+gen.BadDomain) || ev.DNSQuestionName == gen.BadDomain {
			a.bad++
			victims[ev.Source.IP.String()] = true
		}
		if ev.Action == "block" {
			a.blocked++
		}
	})
	a.fromVictim = len(victims)
	return a
}

func TestGenerateClean(t *testing.T) {
	if a := scan(t, generate(t, gen.Options{Count: 3000, Seed: 1})); a != (attacks{}) {
		t.Fatalf("clean traffic contains attacks: %+v", a)
	}
}

func TestGenerateAttacks(t *testing.T) {
	for _, count := range []int{7, 100, 3000} {
		a := scan(t, generate(t, gen.Options{Count: count, Seed: 2, Attacks: true}))
		if want := (attacks{bad: 7, blocked: 1, fromVictim: 1}); a != want {
			t.Errorf("count %d: %+v, want %+v", count, a, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, data := range formattest.Seeds("testdata/*.json", false) {
		f.Add(data)
	}
	f.Add([]byte(`{"query_timestamp":"2021-02-04T17:51:55+01:00","query_name":"\u00e9.","answers":[null,1,{"Rdata":2}],"srcport":"x"}`))
	formattest.FuzzParser(f, NewParser(), "route53resolver", func(t *testing.T, ev *stream.Event) { _ = ev.Native.(*Record) })
}

func BenchmarkParse(b *testing.B) {
	data := generate(b, gen.Options{Count: 2000, Seed: 1, Attacks: true})
	formattest.BenchParse(b, "format=route53resolver", NewParser(), data)
}
