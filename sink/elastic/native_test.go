package elastic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/format/vpcflow"
)

// customVPCFlow parses flow records of a custom format with every field of
// versions 2 to 8 (the generator writes the default format only).
func customVPCFlow(t testing.TB) []stream.Event {
	t.Helper()
	fields := strings.Fields("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status " +
		"vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id " +
		"pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path ecs-cluster-arn ecs-cluster-name " +
		"ecs-container-instance-arn ecs-container-instance-id ecs-container-id ecs-second-container-id ecs-service-name " +
		"ecs-task-definition-arn ecs-task-arn ecs-task-id reject-reason")
	lines := []string{
		"8 123456789012 eni-0a1b2c3d4e5f60718 10.0.1.5 52.95.128.10 49152 443 6 12 3400 1793491200 1793491260 ACCEPT OK " +
			"vpc-0a1b2c3d subnet-0a1b2c3d i-0123456789abcdef0 19 IPv4 10.0.1.5 52.95.128.10 eu-west-1 euw1-az1 - - " +
			"- S3 egress 8 arn:aws:ecs:eu-west-1:123456789012:cluster/prod prod " +
			"arn:aws:ecs:eu-west-1:123456789012:container-instance/prod/0a1b 0a1b 3f4e5d 6a7b8c web " +
			"arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7 arn:aws:ecs:eu-west-1:123456789012:task/prod/9c8d 9c8d -",
		"8 123456789012 eni-0a1b2c3d4e5f60718 185.220.101.34 10.0.1.5 40000 22 6 0 0 1793491200 1793491260 REJECT OK " +
			"vpc-0a1b2c3d subnet-0a1b2c3d i-0123456789abcdef0 2 IPv4 185.220.101.34 10.0.1.5 eu-west-1 euw1-az1 - - " +
			"- - ingress - - - - - - - - - - - BPA",
	}
	p := vpcflow.NewParser(fields)
	var evs []stream.Event
	for i, l := range lines {
		u := stream.Unit{Data: []byte(l), Format: stream.FormatVPCFlow,
			Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "custom-v8.log", Offset: int64(i * 1000), Line: int64(i + 1), SubSequence: -1}}
		evs = append(evs, stream.Event{Lineage: u.Lineage, ID: u.Lineage.ID(), Raw: u.Data,
			Ingested: time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)})
		if err := p.Parse(&u, &evs[i]); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	return evs
}

// goldenEvents picks the events each format's golden file pins: the first
// entries of a generated log (attacks included) and, for VPC flow, records
// of a custom format with every field.
func goldenEvents(t testing.TB, f stream.Format) []stream.Event {
	evs := parsedEvents(t, f, 40, 5)
	// Three clean-traffic entries and the first two attack entries (the
	// generators put attacks among clean traffic; an attack entry names
	// the attacker's address or user somewhere in its raw record).
	var out []stream.Event
	attacks := 0
	for i := range evs {
		hostile := bytes.Contains(evs[i].Raw, []byte("185.220.101.34")) || bytes.Contains(evs[i].Raw, []byte("45.155.205.233")) ||
			bytes.Contains(evs[i].Raw, []byte("evil-c2.example")) || bytes.Contains(evs[i].Raw, []byte("mallory"))
		switch {
		case i < 3:
			out = append(out, evs[i])
		case hostile && attacks < 2:
			out = append(out, evs[i])
			attacks++
		}
	}
	if f == stream.FormatVPCFlow {
		out = append(out, customVPCFlow(t)...)
	}
	return out
}

// TestGoldenFormats pins the bulk body of parsed events of every format,
// one golden file each (testdata/<format>.golden.ndjson, indented documents
// after their action line); rewrite with -update after an intended change.
// Beyond the bytes, it checks that each document of a format with a native
// record holds aws.<format>.
func TestGoldenFormats(t *testing.T) {
	for _, f := range format.Generatable() {
		t.Run(f.String(), func(t *testing.T) {
			var e Encoder
			var out bytes.Buffer
			for _, ev := range goldenEvents(t, f) {
				body := e.AppendBulkIndex(nil, &ev)
				lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
				if len(lines) != 2 {
					t.Fatalf("bulk item is %d lines: %s", len(lines), body)
				}
				doc := decodeLine(t, lines[1])
				if path(doc, "aws", f.String()) == nil {
					t.Errorf("document has no aws.%s: %s", f, lines[1])
				}
				out.Write(lines[0])
				out.WriteByte('\n')
				if err := json.Indent(&out, lines[1], "", "  "); err != nil {
					t.Fatal(err)
				}
				out.WriteByte('\n')
			}
			golden := filepath.Join("testdata", f.String()+".golden.ndjson")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("bulk body differs from %s (run with -update if intended):\n%s", golden, out.Bytes())
			}
		})
	}
}

// TestNativeFields checks values of the typed native objects against the
// parsed records they come from, including the absent-value rules.
func TestNativeFields(t *testing.T) {
	doc := func(ev *stream.Event) map[string]any {
		var e Encoder
		return decodeLine(t, e.AppendDocument(nil, ev))
	}
	t.Run("alb", func(t *testing.T) {
		evs := goldenEvents(t, stream.FormatALB)
		d := doc(&evs[0])
		a := path(d, "aws", "alb").(map[string]any)
		if a["name"] != "app/web-prod/50dc6c495c0c9188" || a["type"] != "https" {
			t.Errorf("name/type: %v", a)
		}
		if v, ok := path(a, "backend_processing_time", "sec").(float64); !ok || v <= 0 {
			t.Errorf("backend_processing_time.sec = %v", path(a, "backend_processing_time", "sec"))
		}
		for _, k := range []string{"trace_id", "ssl_cipher", "ssl_protocol", "domain_name", "matched_rule_priority", "request_creation_time"} {
			if a[k] == nil {
				t.Errorf("aws.alb.%s missing: %v", k, a)
			}
		}
		if path(a, "target_group", "arn") == nil || path(a, "chosen_cert", "arn") == nil {
			t.Errorf("target_group.arn / chosen_cert.arn missing: %v", a)
		}
		// A request that never reached a target: -1 processing times and
		// "-" status are left out, not written as -1 or 0.
		for i := range evs {
			r := evs[i].Raw
			if !bytes.Contains(r, []byte(" -1 -1 ")) {
				continue
			}
			a := path(doc(&evs[i]), "aws", "alb").(map[string]any)
			if a["backend_processing_time"] != nil || a["response_processing_time"] != nil || a["backend"] != nil {
				t.Errorf("absent values written: %v", a)
			}
			if a["request_processing_time"] == nil {
				t.Errorf("request_processing_time 0.000 left out: %v", a)
			}
			return
		}
		t.Error("no golden ALB entry without a target")
	})
	t.Run("vpcflow", func(t *testing.T) {
		evs := customVPCFlow(t)
		a := path(doc(&evs[0]), "aws", "vpcflow").(map[string]any)
		want := map[string]any{"version": 8.0, "interface_id": "eni-0a1b2c3d4e5f60718", "action": "ACCEPT", "log_status": "OK",
			"tcp_flags": 19.0, "pkt_srcaddr": "10.0.1.5", "pkt_dst_service": "S3", "traffic_path": 8.0,
			"start": "2026-11-01T00:00:00.000Z", "end": "2026-11-01T00:01:00.000Z", "ecs_task_id": "9c8d", "az_id": "euw1-az1"}
		for k, v := range want {
			if a[k] != v {
				t.Errorf("aws.vpcflow.%s = %v, want %v", k, a[k], v)
			}
		}
		if got := fmt.Sprint(a["tcp_flags_array"]); got != "[fin syn-ack]" {
			t.Errorf("tcp_flags_array %s, want [fin syn-ack] for 19 (FIN|SYN|ACK)", got)
		}
		if a["pkt_src_service"] != nil || a["sublocation_type"] != nil || a["reject_reason"] != nil {
			t.Errorf("absent values written: %v", a)
		}
		b := path(doc(&evs[1]), "aws", "vpcflow").(map[string]any)
		if b["reject_reason"] != "BPA" || b["traffic_path"] != nil || fmt.Sprint(b["tcp_flags_array"]) != "[syn]" {
			t.Errorf("second record: %v", b)
		}
	})
	t.Run("s3access", func(t *testing.T) {
		evs := goldenEvents(t, stream.FormatS3Access)
		for i := range evs {
			a := path(doc(&evs[i]), "aws", "s3access").(map[string]any)
			for _, k := range []string{"bucket", "bucket_owner", "operation", "request_id", "bytes_sent", "total_time", "turn_around_time", "http_status"} {
				if a[k] == nil {
					t.Errorf("event %d: aws.s3access.%s missing: %v", i, k, a)
				}
			}
		}
	})
	t.Run("guardduty", func(t *testing.T) {
		evs := goldenEvents(t, stream.FormatGuardDuty)
		d := path(doc(&evs[0]), "aws", "guardduty", "detail").(map[string]any)
		if _, ok := d["type"].(string); !ok {
			t.Errorf("detail.type is not a field: %v", d)
		}
		if _, ok := d["severity"].(float64); !ok {
			t.Errorf("detail.severity is not a number: %v", d)
		}
		for _, k := range []string{"service", "resource"} {
			s, ok := d[k].(string)
			if !ok || !json.Valid([]byte(s)) {
				t.Errorf("detail.%s is not a JSON string: %v", k, d[k])
			}
		}
	})
}

// mappingOf returns the mapping that applies to the dotted field path, or
// dynamic=true when the field falls under a dynamically mapped object.
func mappingOf(root map[string]any, fieldPath string) (leaf map[string]any, dynamic bool) {
	cur := root
	for _, k := range strings.Split(fieldPath, ".") {
		props, _ := cur["properties"].(map[string]any)
		next, ok := props[k].(map[string]any)
		if !ok {
			return nil, cur["dynamic"] == true
		}
		cur = next
	}
	return cur, false
}

// leaves yields the dotted paths of the scalar values of a decoded document,
// with their values (array elements under the array's path).
func leaves(prefix string, v any, yield func(string, any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			leaves(p, x, yield)
		}
	case []any:
		for _, x := range v {
			leaves(prefix, x, yield)
		}
	default:
		yield(prefix, v)
	}
}

// TestNativeFieldsMapped encodes 1,000 parsed events of every format and
// checks every field of every document against the index template: outside
// the embedded JSON records each one must be mapped explicitly (no dynamic
// mapping decides a type), with a JSON value its type accepts.
func TestNativeFieldsMapped(t *testing.T) {
	for _, f := range format.Generatable() {
		t.Run(f.String(), func(t *testing.T) {
			evs := parsedEvents(t, f, 1000, 3)
			if f == stream.FormatVPCFlow {
				evs = append(evs, customVPCFlow(t)...)
			}
			checkMapped(t, f, evs)
		})
	}
}

// checkMapped encodes evs and checks every field of every document against
// format f's template.
func checkMapped(t *testing.T, f stream.Format, evs []stream.Event) {
	t.Helper()
	js, err := json.Marshal(EventMapping(f))
	if err != nil {
		t.Fatal(err)
	}
	var mapping map[string]any
	if err := json.Unmarshal(js, &mapping); err != nil {
		t.Fatal(err)
	}
	var e Encoder
	seen := map[string]bool{}
	dynamicSeen := 0
	for i := range evs {
		leaves("", decodeLine(t, e.AppendDocument(nil, &evs[i])), func(p string, v any) {
			if v == nil { // null: no value, whatever the type
				return
			}
			m, dyn := mappingOf(mapping, p)
			if dyn {
				if !strings.HasPrefix(p, "aws."+f.String()+".") || !embedsNative(f) {
					t.Errorf("%s falls to dynamic mapping", p)
				}
				dynamicSeen++
				return
			}
			if m == nil {
				t.Errorf("%s is not mapped (and would be dropped)", p)
				return
			}
			seen[p] = true
			typ, _ := m["type"].(string)
			if idx, ok := m["index"].(bool); ok && !idx && p != "event.original" {
				t.Errorf("%s is not indexed", p)
			}
			switch typ {
			case "long", "double":
				if _, ok := v.(float64); !ok {
					t.Errorf("%s (%s) holds %T %v", p, typ, v, v)
				}
			case "boolean":
				if _, ok := v.(bool); !ok {
					t.Errorf("%s (boolean) holds %T %v", p, v, v)
				}
			case "keyword", "text", "ip", "date":
				s, ok := v.(string)
				if !ok {
					t.Errorf("%s (%s) holds %T %v", p, typ, v, v)
				}
				if typ == "date" {
					if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
						t.Errorf("%s: %v", p, err)
					}
				}
			case "geo_point":
			default:
				t.Errorf("%s has mapping %v", p, m)
			}
		})
	}
	var native []string
	for p := range seen {
		if strings.HasPrefix(p, "aws.") {
			native = append(native, p)
		}
	}
	sort.Strings(native)
	t.Logf("%d explicitly mapped fields seen, %d native: %v; %d dynamic leaf values", len(seen), len(native), native, dynamicSeen)
	if !embedsNative(f) && f != stream.FormatJSON && len(native) == 0 {
		t.Errorf("no aws.%s field written", f)
	}
}

// TestGenericJSON checks the generic JSON format's document: log.level and
// gannet.json.time_key from its record, the object in event.original (the
// one place its fields are, indexed as text for that format).
func TestGenericJSON(t *testing.T) {
	lines := []string{
		`{"@timestamp":"2026-11-01T10:00:00Z","level":"warn","msg":"disk full","client_ip":"81.2.69.160","user":"bob"}`,
		`{"time":1793527200,"severity":"error","message":"x\ny","status":503}`,
		`{"no":"time"}`,
	}
	p := format.NewSet(format.Options{}).For(stream.FormatJSON, nil)
	var evs []stream.Event
	for i, l := range lines {
		u := stream.Unit{Data: []byte(l), Format: stream.FormatJSON,
			Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "app.log", Offset: int64(i * 100), SubSequence: -1}}
		evs = append(evs, stream.Event{Lineage: u.Lineage, ID: u.Lineage.ID(), Raw: u.Data, Ingested: fixtureStart})
		if err := p.Parse(&u, &evs[i]); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
	}
	var e Encoder
	for i, want := range []struct{ level, timeKey string }{{"warn", "@timestamp"}, {"error", "time"}, {"", ""}} {
		d := decodeLine(t, e.AppendDocument(nil, &evs[i]))
		if got, _ := path(d, "log", "level").(string); got != want.level {
			t.Errorf("line %d: log.level %q, want %q", i+1, got, want.level)
		}
		if got, _ := path(d, "gannet", "json", "time_key").(string); got != want.timeKey {
			t.Errorf("line %d: gannet.json.time_key %q, want %q", i+1, got, want.timeKey)
		}
		if path(d, "event", "original") != lines[i] {
			t.Errorf("line %d: event.original %v", i+1, path(d, "event", "original"))
		}
	}
	checkMapped(t, stream.FormatJSON, evs)
}
