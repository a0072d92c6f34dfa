package elastic

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gannet-sec/gannet/stream"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func decodeLine(t testing.TB, line []byte) map[string]any {
	t.Helper()
	if !json.Valid(line) {
		t.Fatalf("invalid JSON: %s", line)
	}
	var v map[string]any
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// path walks a decoded document: path(doc, "source", "geo", "location", "lat").
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestAppendStringEscaping(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\r\nb", "a\r\nb"},
		{"q\"uote\\slash/", "q\"uote\\slash/"},
		{"ctl\x00\x01\x1f\x7f", "ctl\x00\x01\x1f\x7f"},
		{"tab\there", "tab\there"},
		{"bad\xffutf8\xc3", "bad\ufffdutf8\ufffd"},
		{"ünïcödé 日本 😀", "ünïcödé 日本 😀"},
		{"long run of safe ascii text longer than eight bytes\n", "long run of safe ascii text longer than eight bytes\n"},
		{"\xed\xa0\x80 surrogate half", "\ufffd\ufffd\ufffd surrogate half"},
	}
	for _, c := range cases {
		out := appendString(nil, c.in)
		if !json.Valid(out) {
			t.Fatalf("%q: invalid JSON %s", c.in, out)
		}
		if bytes.ContainsAny(out, "\r\n") {
			t.Errorf("%q: raw CR/LF in output %s", c.in, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("appendString(%q) decodes to %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\r\n", "\xff\xfe", "\"\\", "日本語", "\x00\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q: %v (%s)", s, err, out)
		}
		// Each invalid byte becomes one U+FFFD, as in a Go []rune conversion.
		if want := string([]rune(s)); got != want {
			t.Fatalf("%q decodes to %q, want %q", s, got, want)
		}
	})
}

func TestNativeObjectCompactsAndStringifies(t *testing.T) {
	raw := []byte("{ \"a\" : 1 ,\n\t\"requestParameters\" : { \"k\" : [1, 2, {\"x\":\"y\\n\"}] },\r\n \"s\":\"t\\u00e9\xff\", \"n\":null, \"e\":-1.5e+3, \"responseElements\": null, \"z\":[]}")
	out, ok := appendNativeObject(nil, raw, nativeSpecs[stream.FormatCloudTrail])
	if !ok {
		t.Fatalf("not accepted: %s", out)
	}
	want := `{"a":1,"requestParameters":"{\"k\":[1,2,{\"x\":\"y\\n\"}]}","s":"t\u00e9` + "\ufffd" + `","n":null,"e":-1.5e+3,"responseElements":null,"z":[]}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	for _, bad := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":tru}`, `{"a":01}`, `{"a":"\x"}`, `{"a":1} x`, `{"a":"unterminated}`, `{"a":-}`, `{"a":1.}`} {
		if out, ok := appendNativeObject(nil, []byte(bad), nil); ok {
			t.Errorf("%q accepted as %s", bad, out)
		}
	}
}

func FuzzNativeObject(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,true,null,"x\ny"]},"requestParameters":{"q":1}}`))
	f.Add([]byte("{\"a\":\"\xff\"}"))
	f.Add([]byte(`{"a":1e5,"b":-0.0}`))
	f.Add([]byte(`{"requestParameters":{"k\"":"a\\b\n\u00e9\"/","x":[1,"y",{"z":null}]},"b":"\"q\""}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, ok := appendNativeObject(nil, raw, &nativeSpec{stringify: []string{"requestParameters"}})
		if ok {
			if !json.Valid(out) || bytes.ContainsAny(out, "\r\n") {
				t.Fatalf("accepted %q but wrote %q", raw, out)
			}
			// UseNumber: numbers beyond float64 (1e700) are valid JSON.
			var v map[string]any
			d := json.NewDecoder(bytes.NewReader(out))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				t.Fatalf("output is not an object: %q: %v", out, err)
			}
			// A stringified member is the JSON text of the member.
			if str, isStr := v["requestParameters"].(string); isStr {
				var in map[string]json.RawMessage
				if json.Unmarshal(raw, &in) == nil && len(in["requestParameters"]) > 0 && in["requestParameters"][0] != '"' {
					if !json.Valid([]byte(str)) {
						t.Fatalf("stringified member is not JSON: %q (from %q)", str, raw)
					}
					var a, b bytes.Buffer
					if json.Compact(&a, in["requestParameters"]) == nil && json.Compact(&b, []byte(str)) == nil && utf8.Valid(raw) && !bytes.Contains(raw, []byte(`\u`)) && a.String() != b.String() {
						t.Fatalf("stringified member %s, want %s", b.Bytes(), a.Bytes())
					}
				}
			}
		}
		// Every valid JSON object with valid UTF-8 is accepted and means the
		// same thing after copying (when nothing is stringified).
		var in map[string]any
		if json.Valid(raw) && json.Unmarshal(raw, &in) == nil && in != nil && !bytes.Contains(raw, []byte("requestParameters")) && depth(raw) < maxRawDepth {
			if !ok {
				t.Fatalf("valid object %q rejected", raw)
			}
			var got map[string]any
			_ = json.Unmarshal(out, &got)
			a, _ := json.Marshal(in)
			b, _ := json.Marshal(got)
			if !bytes.Equal(a, b) {
				t.Fatalf("meaning changed: %s vs %s", a, b)
			}
		}
	})
}

func depth(b []byte) int {
	d, maxd := 0, 0
	for _, c := range b {
		switch c {
		case '{', '[':
			d++
			maxd = max(maxd, d)
		case '}', ']':
			d--
		}
	}
	return maxd
}

func TestEncodeEventAllFields(t *testing.T) {
	ev := fixtureEvents(stream.FormatCloudTrail, 1, 1)[0]
	ev.Message = "line1\r\nline2\x00\xff"
	ev.Destination.IP = netip.MustParseAddr("::ffff:10.1.2.3")
	ev.Destination.Port = 443
	ev.Severity = 8
	ev.ErrorCode, ev.ErrorMessage = "AccessDenied", "denied"
	ev.Threat = []stream.ThreatEnrichment{{Indicator: "185.220.101.0/24", Type: "cidr", Feed: "demo", Confidence: 90, MatchedField: "source.ip", MatchedValue: "185.220.101.34"}}
	ev.Lineage.LogEventID = "36577"
	var e Encoder
	out := e.AppendBulkIndex(nil, &ev)
	lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %d:\n%s", len(lines), out)
	}
	action := decodeLine(t, lines[0])
	if got := path(action, "index", "_index"); got != "gannet-cloudtrail-2026.11.01" {
		t.Errorf("_index = %v", got)
	}
	if got := path(action, "index", "_id"); got != ev.ID.String() {
		t.Errorf("_id = %v, want %s", got, ev.ID)
	}
	doc := decodeLine(t, lines[1])
	checks := map[string]any{
		"@timestamp":                      "2026-11-01T00:00:00.000Z",
		"message":                         "line1\r\nline2\x00\ufffd",
		"event.id":                        ev.ID.String(),
		"event.dataset":                   "aws.cloudtrail",
		"event.action":                    "GetObject",
		"event.severity":                  8.0,
		"event.ingested":                  "2026-11-01T00:01:30.000Z",
		"source.ip":                       ev.Source.IP.String(),
		"source.geo.location.lat":         52.52,
		"source.geo.location.lon":         13.4,
		"source.as.number":                3320.0,
		"source.as.organization.name":     "Deutsche Telekom AG",
		"destination.ip":                  "10.1.2.3",
		"destination.port":                443.0,
		"cloud.account.id":                "123456789012",
		"error.code":                      "AccessDenied",
		"gannet.lineage.kind":             "kinesis",
		"gannet.lineage.shard":            "shardId-000000000001",
		"gannet.lineage.log_event_id":     "36577",
		"aws.cloudtrail.eventName":        "GetObject",
		"aws.cloudtrail.userIdentity.arn": "arn:aws:iam::123456789012:user/alice0",
		"user_agent.original":             ev.UserAgent,
	}
	for p, want := range checks {
		if got := path(doc, strings.Split(p, ".")...); got != want {
			t.Errorf("%s = %#v, want %#v", p, got, want)
		}
	}
	if _, ok := path(doc, "aws", "cloudtrail", "requestParameters").(string); !ok {
		t.Errorf("requestParameters should be a JSON string, got %#v", path(doc, "aws", "cloudtrail", "requestParameters"))
	}
	if path(doc, "event", "original") != nil {
		t.Errorf("event.original written although the record is embedded")
	}
	enr, _ := path(doc, "threat", "enrichments").([]any)
	if len(enr) != 1 || path(enr[0], "matched", "atomic") != "185.220.101.34" || path(enr[0], "indicator", "confidence") != "90" {
		t.Errorf("threat.enrichments = %#v", enr)
	}
	if path(doc, "dns") != nil || path(doc, "url") != nil {
		t.Errorf("empty objects must be left out: %s", lines[1])
	}
}

func TestEncodeDropsValuesESWouldReject(t *testing.T) {
	ev := fixtureEvents(stream.FormatVPCFlow, 1, 3)[0]
	ev.Source.IP = netip.MustParseAddr("fe80::1%eth0")
	ev.Source.Geo.Location = stream.GeoPoint{Lat: 95, Lon: 10, Valid: true}
	var e Encoder
	doc := decodeLine(t, e.AppendDocument(nil, &ev))
	if got := path(doc, "source", "ip"); got != "fe80::1" {
		t.Errorf("source.ip = %v, want the address without its zone", got)
	}
	if got := path(doc, "source", "geo", "location"); got != nil {
		t.Errorf("out-of-range location written: %v", got)
	}
}

func TestEncodeFallsBackToOriginal(t *testing.T) {
	for _, f := range []stream.Format{stream.FormatCloudTrail, stream.FormatALB} {
		ev := fixtureEvents(f, 1, 2)[0]
		if f == stream.FormatCloudTrail {
			ev.Raw = []byte("{\"eventName\":\"x\", broken\r\n\xff")
		}
		var e Encoder
		doc := decodeLine(t, e.AppendDocument(nil, &ev))
		if got := path(doc, "event", "original"); got != string([]rune(string(ev.Raw))) {
			t.Errorf("%v: event.original = %q, want the raw record", f, got)
		}
		if path(doc, "aws") != nil {
			t.Errorf("%v: aws object written for a non-embedded record", f)
		}
	}
}

func TestEncodeEmptyEvent(t *testing.T) {
	var e Encoder
	ev := stream.Event{}
	doc := decodeLine(t, e.AppendDocument(nil, &ev))
	if path(doc, "event", "id") != strings.Repeat("0", 32) || path(doc, "gannet", "lineage", "kind") != "unknown" {
		t.Errorf("minimal document: %v", doc)
	}
	if idx := string(e.AppendIndexName(nil, stream.FormatVPCFlow, time.Date(2026, 1, 2, 23, 59, 0, 0, time.FixedZone("x", -3600)))); idx != "gannet-vpcflow-2026.01.03" {
		t.Errorf("index name %q must use the UTC day", idx)
	}
}

func TestEncodeAlert(t *testing.T) {
	ws := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	a := stream.Alert{
		ID: stream.AlertID("r1", "source.ip=1.2.3.4", ws), RuleID: "r1", RuleTitle: "Brute force", Level: "high",
		Tags: []string{"attack.t1110"}, Kind: "correlation", GroupKey: "source.ip=1.2.3.4", WindowStart: ws,
		WindowEnd: ws.Add(5 * time.Minute), FirstSeen: ws.Add(time.Second), LastSeen: ws.Add(time.Minute), Count: 12,
		Format: stream.FormatCloudTrail,
		Events: []stream.AlertEvent{{ID: stream.EventID{1}, Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "x.json", Line: 3}}},
		Fields: map[string]string{"source.ip": "1.2.3.4", "user.name": "mallory"},
	}
	var e Encoder
	out := e.AppendBulkAlert(nil, &a)
	lines := bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n"))
	action := decodeLine(t, lines[0])
	if path(action, "index", "_index") != "gannet-alerts-2026.11.01" || path(action, "index", "_id") != a.ID.String() {
		t.Errorf("action %s", lines[0])
	}
	doc := decodeLine(t, lines[1])
	if path(doc, "event", "kind") != "alert" || path(doc, "event", "severity") != 73.0 || path(doc, "gannet", "alert", "count") != 12.0 {
		t.Errorf("doc %s", lines[1])
	}
	fields, _ := path(doc, "gannet", "alert", "fields").([]any)
	if len(fields) != 2 || path(fields[0], "name") != "source.ip" {
		t.Errorf("fields %v", fields)
	}
}

// TestGolden pins the exact bulk body for one event of each fixture shape
// and an alert; rewrite with -update after an intended change.
func TestGolden(t *testing.T) {
	var e Encoder
	var out []byte
	for _, f := range []stream.Format{stream.FormatCloudTrail, stream.FormatALB, stream.FormatVPCFlow, stream.FormatRoute53Resolver} {
		evs := fixtureEvents(f, 1, 7)
		out = e.AppendBulkIndex(out, &evs[0])
	}
	golden := filepath.Join("testdata", "bulk.golden.ndjson")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("bulk body differs from %s (run with -update if intended):\n%s", golden, out)
	}
}

func TestMappingsAreJSON(t *testing.T) {
	for _, f := range stream.Formats() {
		b, err := json.Marshal(EventMapping(f))
		if err != nil || !bytes.Contains(b, []byte(`"geo_point"`)) || !bytes.Contains(b, []byte(`"ip"`)) {
			t.Fatalf("%v mapping: %v %s", f, err, b)
		}
	}
}
