package guardduty

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
		{"empty", ``, "guardduty_invalid_json"},
		{"number", `42`, "guardduty_not_object"},
		{"truncated", `{"detail-type":"GuardDuty Finding","detail":{"type":"x"`, "guardduty_invalid_json"},
		{"detail string", `{"detail-type":"GuardDuty Finding","detail":"x"}`, "guardduty_field_type"},
		{"severity object", `{"detail-type":"GuardDuty Finding","detail":{"type":"x","severity":{}}}`, "guardduty_field_type"},
		{"service broken", `{"detail-type":"GuardDuty Finding","detail":{"type":"x","updatedAt":"2024-01-01T00:00:00Z","service":{"count":{}}}}`, "guardduty_field_type"},
		{"no type", `{"detail-type":"GuardDuty Finding","time":"2024-01-01T00:00:00Z","detail":{"severity":2}}`, "guardduty_missing_field"},
		{"not a finding", `{"hello":"world"}`, "guardduty_missing_field"},
		{"no time", `{"detail-type":"GuardDuty Finding","detail":{"type":"x"}}`, "guardduty_missing_field"},
		{"bad time", `{"detail-type":"GuardDuty Finding","detail":{"type":"x","updatedAt":"soon"}}`, "guardduty_invalid_time"},
		{"bad envelope time", `{"detail-type":"GuardDuty Finding","time":"x","detail":{"type":"x"}}`, "guardduty_invalid_time"},
		{"too deep", `{"detail":{"resource":` + strings.Repeat(`[`, 64) + strings.Repeat(`]`, 64) + `}}`, "guardduty_too_deep"},
	} {
		t.Run(tc.name, func(t *testing.T) { formattest.Reject(t, parseBytes, tc.in, tc.code) })
	}
}
func TestSniff(t *testing.T) {
	for in, want := range map[string]bool{
		`{"version":"0","detail-type":"GuardDuty Finding","detail":{}}`:                  true,
		`{"schemaVersion":"2.0","type":"Recon:EC2/Portscan","severity":5}`:               true,
		`{"detail-type":"AWS API Call via CloudTrail","detail":{"eventVersion":"1.08"}}`: false,
		`{"eventVersion":"1.08","eventSource":"guardduty.amazonaws.com","type":"x"}`:     false,
		`{"timestamp":1,"webaclId":"x","httpRequest":{}}`:                                false,
		`{"version":"1.1","query_timestamp":"x","query_name":"a."}`:                      false,
	} {
		if got := Sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%s) = %v, want %v", in, got, want)
		}
	}
}
func TestCommonFields(t *testing.T) {
	data, _ := os.ReadFile("testdata/eventbridge_ssh_bruteforce.json")
	ev, err := parseBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Source.IP.String() != "198.51.100.0" || ev.Destination.Port != 22 || ev.Severity != 2 || ev.Kind != "alert" ||
		ev.Action != "UnauthorizedAccess:EC2/SSHBruteForce" || ev.NetworkDirection != "ingress" {
		t.Errorf("common fields: %+v", ev)
	}
	r := ev.Native.(*Record)
	if r.Detail.Resource.InstanceID != "i-99999999" || r.Detail.Service.Count != 20 || r.Detail.Service.RemoteCountry != "GeneratedFindingCountryName" {
		t.Errorf("native: %+v", r.Detail)
	}
}
func generate(t testing.TB, o gen.Options) []byte { return formattest.Generate(t, Generate, o) }

func TestGenerateDeterministic(t *testing.T) {
	formattest.Deterministic(t, Generate, gen.Options{Count: 300, Seed: 7, Attacks: true})
}

type attacks struct{ ssh, probe, malicious, c2, namingAttacker, medium int }

func scan(t *testing.T, data []byte) attacks {
	var a attacks
	formattest.EachLine(t, data, Sniff, NewParser(), func(line int, ev *stream.Event) {
		switch ev.Action {
		case "UnauthorizedAccess:EC2/SSHBruteForce":
			a.ssh++
		case "Recon:EC2/PortProbeUnprotectedPort":
			a.probe++
		case "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom":
			a.malicious++
		case "Backdoor:EC2/C&CActivity.B!DNS":
			a.c2++
		}
		if ev.Source.IP.String() == gen.AttackerIP || ev.Destination.IP.String() == gen.AttackerIP || strings.HasSuffix(ev.DNSQuestionName, gen.BadDomain) {
			a.namingAttacker++
		}
		if ev.Severity >= 4 {
			a.medium++
		}
	})
	return a
}

func TestGenerateClean(t *testing.T) {
	if a := scan(t, generate(t, gen.Options{Count: 2000, Seed: 1})); a != (attacks{}) {
		t.Fatalf("clean output contains attacks: %+v", a)
	}
}

func TestGenerateAttacks(t *testing.T) {
	for _, count := range []int{4, 50, 2000} {
		a := scan(t, generate(t, gen.Options{Count: count, Seed: 2, Attacks: true}))
		if want := (attacks{ssh: 1, probe: 1, malicious: 1, c2: 1, namingAttacker: 4, medium: 2}); a != want {
			t.Errorf("count %d: %+v, want %+v", count, a, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, data := range formattest.Seeds("testdata/*.json", false) {
		f.Add(data)
	}
	f.Add([]byte(`{"schemaVersion":"2.0","type":"x","severity":"7.5","updatedAt":"2024-01-01T00:00:00Z","service":{"action":{"portProbeAction":{"portProbeDetails":[null,{"remoteIpDetails":{"ipAddressV4":1}}]}}}}`))
	formattest.FuzzParser(f, NewParser(), "guardduty", func(t *testing.T, ev *stream.Event) { _ = ev.Native.(*Record) })
}

func BenchmarkParse(b *testing.B) {
	data := generate(b, gen.Options{Count: 2000, Seed: 1, Attacks: true})
	formattest.BenchParse(b, "format=guardduty", NewParser(), data)
}
