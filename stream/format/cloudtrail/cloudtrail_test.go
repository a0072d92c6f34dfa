package cloudtrail

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/formattest"
	"github.com/gannet-sec/gannet/stream/gen"
	gojson "github.com/goccy/go-json"
)

func parseBytes(data []byte) (*stream.Event, error) { return formattest.Parse(NewParser(), data) }

func TestGolden(t *testing.T) { formattest.GoldenObjects(t, Sniff, parseBytes) }

func TestMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, in, code string
	}{
		{"empty", ``, "cloudtrail_invalid_json"},
		{"spaces", "  \n", "cloudtrail_invalid_json"},
		{"array", `[{"eventTime":"2024-01-01T00:00:00Z"}]`, "cloudtrail_not_object"},
		{"string", `"eventVersion"`, "cloudtrail_not_object"},
		{"truncated", `{"eventVersion":"1.08","eventTime":"2024-01-01T00:0`, "cloudtrail_invalid_json"},
		{"missing comma", `{"eventVersion":"1.08" "eventTime":"x"}`, "cloudtrail_invalid_json"},
		{"trailing comma", `{"eventVersion":"1.08",}`, "cloudtrail_invalid_json"},
		{"bad escape", `{"eventName":"a\qb"}`, "cloudtrail_invalid_json"},
		{"control char", "{\"eventName\":\"a\x01b\"}", "cloudtrail_invalid_json"},
		{"bad number", `{"eventName":"X","x":01}`, "cloudtrail_invalid_json"},
		{"bad literal", `{"readOnly":tru}`, "cloudtrail_invalid_json"},
		{"trailing data", `{"eventName":"X","eventTime":"2024-01-01T00:00:00Z"} {}`, "cloudtrail_invalid_json"},
		{"userIdentity string", `{"eventTime":"2024-01-01T00:00:00Z","eventName":"X","userIdentity":"alice"}`, "cloudtrail_field_type"},
		{"eventName object", `{"eventTime":"2024-01-01T00:00:00Z","eventName":{}}`, "cloudtrail_field_type"},
		{"too deep", `{"requestParameters":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70) + `}`, "cloudtrail_too_deep"},
		{"deep array", `{"x":` + strings.Repeat(`[`, 100000) + `}`, "cloudtrail_too_deep"},
		{"missing time", `{"eventVersion":"1.08","eventName":"X"}`, "cloudtrail_missing_field"},
		{"bad time", `{"eventTime":"yesterday","eventName":"X"}`, "cloudtrail_invalid_time"},
		{"bad date", `{"eventTime":"2024-02-31T00:00:00Z","eventName":"X"}`, "cloudtrail_invalid_time"},
		{"missing name", `{"eventTime":"2024-01-01T00:00:00Z"}`, "cloudtrail_missing_field"},
	} {
		t.Run(tc.name, func(t *testing.T) { formattest.Reject(t, parseBytes, tc.in, tc.code) })
	}
}

func TestByteOffsetInDetail(t *testing.T) {
	_, err := parseBytes([]byte(`{"eventVersion":"1.08",  "eventName" "X"}`))
	if r := stream.ReasonOf(err); !strings.Contains(r.Detail, "at byte 37") {
		t.Errorf("detail %q lacks the offset", r.Detail)
	}
}

func TestInvalidUTF8Replaced(t *testing.T) {
	ev, err := parseBytes([]byte("{\"eventTime\":\"2024-01-01T00:00:00Z\",\"eventName\":\"Get\xffObject\",\"userAgent\":\"ok\"}"))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != "Get\uFFFDObject" {
		t.Errorf("action %q, want the invalid byte replaced by U+FFFD", ev.Action)
	}
}

func TestValues(t *testing.T) {
	data, _ := os.ReadFile("testdata/assumed_role_s3_data.json")
	ev, err := parseBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	r := ev.Native.(*Record)
	for path, want := range map[string][]string{
		"eventName": {"GetObject"},
		"userIdentity.sessionContext.sessionIssuer.type": {"Role"},
		"requestParameters.bucketName":                   {"amzn-s3-demo-bucket"},
		"additionalEventData.bytesTransferredOut":        {"243"},
		"resources.type":                                 {"AWS::S3::Object", "AWS::S3::Bucket", "AWS::KMS::Key"},
		"eventContext.tagContext.resourceTags.tags.team": {"finance"},
		"responseElements.anything":                      nil,
	} {
		got := slices.Collect(r.Values(path))
		if !slices.Equal(got, want) {
			t.Errorf("Values(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]bool{
		`{"eventVersion":"1.08","eventSource":"s3.amazonaws.com"}`:                   true,
		`{"eventVersion":"1.08"}`:                                                    false,
		`{"webaclId":"arn:aws:wafv2:...","eventSource":"x"}`:                         false,
		`{"version":"1.100000","query_name":"example.com."}`:                         false,
		`{"detail-type":"GuardDuty Finding","detail":{"schemaVersion":"2.0"}}`:       false,
		`plain text line with "eventVersion" and "eventSource" but not an object`:    false,
		` {"eventSource":"ec2.amazonaws.com","eventName":"X","eventVersion":"1.10"}`: true,
	} {
		if got := Sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%s) = %v, want %v", in, got, want)
		}
	}
}

// corpusDir finds ../shared/corpus next to the repository root.
func corpusDir(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "..", "shared", "corpus", name)
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corpus %s missing in CI: %v", dir, err)
		}
		t.Skipf("corpus %s not present", dir)
	}
	return dir
}

func TestStratusCorpus(t *testing.T) {
	dir := corpusDir(t, "cloudtrail-stratus")
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) == 0 {
		t.Fatal("no corpus files")
	}
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(data, &raws); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i, raw := range raws {
			if !Sniff(raw) {
				t.Errorf("%s[%d]: Sniff rejects it", filepath.Base(f), i)
			}
			ev, err := parseBytes(raw)
			if err != nil {
				t.Errorf("%s[%d]: %v", filepath.Base(f), i, err)
				continue
			}
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			r := ev.Native.(*Record)
			if r.EventName != m["eventName"] || r.EventID != m["eventID"] || ev.Timestamp.IsZero() {
				t.Errorf("%s[%d]: parsed %q %q, want %v %v", filepath.Base(f), i, r.EventName, r.EventID, m["eventName"], m["eventID"])
			}
			n++
		}
	}
	t.Logf("%d events from %d files", n, len(files))
}

func generate(t testing.TB, o gen.Options) []byte { return formattest.Generate(t, Generate, o) }

func TestGenerateDeterministic(t *testing.T) {
	formattest.Deterministic(t, Generate, gen.Options{Count: 500, Seed: 7, Attacks: true})
}

// attacks counts what the detection rules of issue 4 look for.
type attacks struct {
	failedLogins, noMFA, root, world22, world3389, stop, del, selectors, publicPolicy, publicACL, keyForOther int
}

func scan(t *testing.T, data []byte) (attacks, []*stream.Event) {
	var a attacks
	var evs []*stream.Event
	var prev stream.Event
	formattest.EachLine(t, data, Sniff, NewParser(), func(line int, ev *stream.Event) {
		if ev.Timestamp.Before(prev.Timestamp) {
			t.Fatalf("line %d: time goes back", line)
		}
		prev = *ev
		evs = append(evs, ev)
		r := ev.Native.(*Record)
		has := func(path, v string) bool {
			for x := range r.Values(path) {
				if x == v {
					return true
				}
			}
			return false
		}
		switch {
		case r.EventName == "ConsoleLogin" && ev.Outcome == "failure":
			a.failedLogins++
		case r.EventName == "ConsoleLogin" && has("additionalEventData.MFAUsed", "No"):
			a.noMFA++
		case r.UserIdentity.Type == "Root":
			a.root++
		case r.EventName == "AuthorizeSecurityGroupIngress":
			if has("requestParameters.ipPermissions.items.ipRanges.items.cidrIp", "0.0.0.0/0") && has("requestParameters.ipPermissions.items.fromPort", "22") {
				a.world22++
			}
			if has("requestParameters.ipPermissions.items.ipv6Ranges.items.cidrIpv6", "::/0") && has("requestParameters.ipPermissions.items.fromPort", "3389") {
				a.world3389++
			}
		case r.EventName == "StopLogging":
			a.stop++
		case r.EventName == "DeleteTrail":
			a.del++
		case r.EventName == "PutEventSelectors":
			a.selectors++
		case r.EventName == "PutBucketPolicy" && has("requestParameters.bucketPolicy.Statement.Principal", "*"):
			a.publicPolicy++
		case r.EventName == "PutBucketAcl" && has("requestParameters.AccessControlPolicy.AccessControlList.Grant.Grantee.URI", "http://acs.amazonaws.com/groups/global/AllUsers"):
			a.publicACL++
		case r.EventName == "CreateAccessKey" && !has("requestParameters.userName", r.UserIdentity.UserName):
			a.keyForOther++
		}
	})
	return a, evs
}

func TestGenerateClean(t *testing.T) {
	a, evs := scan(t, generate(t, gen.Options{Count: 3000, Seed: 1}))
	if a != (attacks{}) {
		t.Fatalf("clean traffic contains attacks: %+v", a)
	}
	for _, ev := range evs {
		if ev.Source.IP.String() == gen.AttackerIP || ev.UserName == gen.AttackerUser {
			t.Fatalf("clean traffic names the attacker: %+v", ev.Native)
		}
	}
}

func TestGenerateAttacks(t *testing.T) {
	for _, count := range []int{34, 200, 5000} {
		a, evs := scan(t, generate(t, gen.Options{Count: count, Seed: 3, Attacks: true}))
		want := attacks{failedLogins: 24, noMFA: 1, root: 1, world22: 1, world3389: 1, stop: 1, del: 1, selectors: 1, publicPolicy: 1, publicACL: 1, keyForOther: 1}
		if a != want {
			t.Errorf("count %d: attacks %+v, want %+v", count, a, want)
		}
		// The failed logins come from AttackerIP within 5 minutes.
		var first, last *stream.Event
		for _, ev := range evs {
			if ev.Action == "ConsoleLogin" && ev.Outcome == "failure" {
				if ev.Source.IP.String() != gen.AttackerIP {
					t.Errorf("failed login from %v", ev.Source.IP)
				}
				if first == nil {
					first = ev
				}
				last = ev
			}
		}
		if d := last.Timestamp.Sub(first.Timestamp); d > 5*60e9 {
			t.Errorf("count %d: brute force spans %v", count, d)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, data := range formattest.Seeds("testdata/*.json", false) {
		f.Add(data)
	}
	f.Add([]byte(`{"eventTime":"2024-01-01T00:00:00Z","eventName":"X","userIdentity":{"sessionContext":{"webIdFederationData":{"attributes":{"a":[1,{"b":"\ud800"}]}}}}}`))
	f.Add([]byte(`{"resources":[{"ARN":"a"},null,{"type":"t"}],"eventTime":"2024-01-01T00:00:00.5+02:00","eventName":"\u0041"}`))
	f.Add([]byte(`[` + strings.Repeat(`{"a":[`, 40)))
	formattest.FuzzParser(f, NewParser(), "cloudtrail", func(t *testing.T, ev *stream.Event) {
		r := ev.Native.(*Record)
		for range r.Values("requestParameters.a.b") {
		}
		if ev.Timestamp.Location() != nil && ev.Timestamp.Location().String() != "UTC" {
			t.Fatalf("timestamp not UTC: %v", ev.Timestamp)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data := generate(b, gen.Options{Count: 2000, Seed: 1})
	formattest.BenchParse(b, "format=cloudtrail", NewParser(), data)
}

func BenchmarkGenerate(b *testing.B) {
	b.Run("format=cloudtrail", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			var w countWriter
			if err := Generate(&w, gen.Options{Count: 1000, Seed: 1, Attacks: true}); err != nil {
				b.Fatal(err)
			}
			n = int(w)
		}
		b.SetBytes(int64(n))
	})
}

type countWriter int

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }

// refRecord mirrors Record for encoding/json-compatible decoders, to compare
// their speed with the hand-written decoder on the same machine and load.
type refRecord struct {
	EventVersion string `json:"eventVersion"`
	EventTime    string `json:"eventTime"`
	UserIdentity struct {
		Type           string `json:"type"`
		PrincipalID    string `json:"principalId"`
		ARN            string `json:"arn"`
		AccountID      string `json:"accountId"`
		AccessKeyID    string `json:"accessKeyId"`
		UserName       string `json:"userName"`
		InvokedBy      string `json:"invokedBy"`
		SessionContext *struct {
			SessionIssuer   *SessionIssuer    `json:"sessionIssuer"`
			Attributes      SessionAttributes `json:"attributes"`
			EC2RoleDelivery string            `json:"ec2RoleDelivery"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	EventSource                  string          `json:"eventSource"`
	EventName                    string          `json:"eventName"`
	AWSRegion                    string          `json:"awsRegion"`
	SourceIPAddress              string          `json:"sourceIPAddress"`
	UserAgent                    string          `json:"userAgent"`
	ErrorCode                    string          `json:"errorCode"`
	ErrorMessage                 string          `json:"errorMessage"`
	RequestParameters            json.RawMessage `json:"requestParameters"`
	ResponseElements             json.RawMessage `json:"responseElements"`
	AdditionalEventData          json.RawMessage `json:"additionalEventData"`
	RequestID                    string          `json:"requestID"`
	EventID                      string          `json:"eventID"`
	EventType                    string          `json:"eventType"`
	ManagementEvent              bool            `json:"managementEvent"`
	ReadOnly                     bool            `json:"readOnly"`
	Resources                    []Resource      `json:"resources"`
	RecipientAccountID           string          `json:"recipientAccountId"`
	EventCategory                string          `json:"eventCategory"`
	SessionCredentialFromConsole string          `json:"sessionCredentialFromConsole"`
	TLSDetails                   *TLSDetails     `json:"tlsDetails"`
}

func BenchmarkReference(b *testing.B) {
	data := generate(b, gen.Options{Count: 2000, Seed: 1})
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	for _, d := range []struct {
		name string
		fn   func([]byte, any) error
	}{{"encoding-json", json.Unmarshal}, {"goccy-go-json", gojson.Unmarshal}} {
		b.Run("decoder="+d.name, func(b *testing.B) {
			formattest.CPULoop(b, len(data)/len(lines), func(i int) {
				var r refRecord
				if err := d.fn(lines[i%len(lines)], &r); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
