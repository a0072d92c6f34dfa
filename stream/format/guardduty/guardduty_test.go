package guardduty

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/jsonlog/formattest"
	"github.com/gannet-sec/gannet/stream/gen"
)

func parseBytes(data []byte) (*stream.Event, error) {
	ev := &stream.Event{}
	err := NewParser().Parse(&stream.Unit{Data: data}, ev)
	return ev, err
}

func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !Sniff(data) {
				t.Errorf("Sniff rejects %s", f)
			}
			ev, err := parseBytes(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := formattest.Render(ev)
			if err != nil {
				t.Fatal(err)
			}
			formattest.Check(t, strings.TrimSuffix(f, ".json")+".golden", got)
		})
	}
}

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
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseBytes([]byte(tc.in))
			if err == nil {
				t.Fatalf("no error for %q", tc.in)
			}
			if c, _ := stream.ClassOf(err); c != stream.Permanent {
				t.Errorf("class %v, want permanent", c)
			}
			if r := stream.ReasonOf(err); r.Code != tc.code || r.Detail == "" {
				t.Errorf("reason %q, want code %q with a detail", r, tc.code)
			}
		})
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
func generate(t testing.TB, o gen.Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Generate(&b, o); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGenerateDeterministic(t *testing.T) {
	o := gen.Options{Count: 300, Seed: 7, Attacks: true}
	a, b := generate(t, o), generate(t, o)
	if !bytes.Equal(a, b) {
		t.Fatal("same options gave different bytes")
	}
	if bytes.Equal(a, generate(t, gen.Options{Count: 300, Seed: 8, Attacks: true})) {
		t.Fatal("different seeds gave the same bytes")
	}
	if n := bytes.Count(a, []byte("\n")); n != 300 {
		t.Fatalf("%d lines, want 300", n)
	}
}

type attacks struct{ ssh, probe, malicious, c2, namingAttacker, medium int }

func scan(t *testing.T, data []byte) attacks {
	var a attacks
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		raw := append([]byte(nil), sc.Bytes()...)
		if !Sniff(raw) {
			t.Fatalf("line %d: Sniff rejects it", line)
		}
		ev, err := parseBytes(raw)
		if err != nil {
			t.Fatalf("line %d: %v\n%s", line, err, raw)
		}
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
	}
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
	files, _ := filepath.Glob("testdata/*.json")
	for _, fn := range files {
		data, _ := os.ReadFile(fn)
		f.Add(data)
	}
	f.Add([]byte(`{"schemaVersion":"2.0","type":"x","severity":"7.5","updatedAt":"2024-01-01T00:00:00Z","service":{"action":{"portProbeAction":{"portProbeDetails":[null,{"remoteIpDetails":{"ipAddressV4":1}}]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := parseBytes(data)
		if err != nil {
			if c, _ := stream.ClassOf(err); c != stream.Permanent || !strings.HasPrefix(stream.ReasonOf(err).Code, "guardduty_") {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		_ = ev.Native.(*Record)
	})
}

func BenchmarkParse(b *testing.B) {
	data := generate(b, gen.Options{Count: 2000, Seed: 1, Attacks: true})
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	b.Run("format=guardduty", func(b *testing.B) {
		p := NewParser()
		var ev stream.Event
		var u stream.Unit
		formattest.CPULoop(b, len(data)/len(lines), func(i int) {
			ev.Reset()
			u.Data = lines[i%len(lines)]
			if err := p.Parse(&u, &ev); err != nil {
				b.Fatal(err)
			}
		})
	})
}
