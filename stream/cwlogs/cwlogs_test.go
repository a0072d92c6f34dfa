package cwlogs

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/gannet-sec/gannet/stream"
	"github.com/klauspost/compress/gzip"
)

// sample is a DATA_MESSAGE as documented for subscription filters
// (docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html).
const sample = `{
    "messageType": "DATA_MESSAGE",
    "owner": "123456789012",
    "logGroup": "CloudTrail/logs",
    "logStream": "123456789012_CloudTrail_us-east-1",
    "subscriptionFilters": [
        "Destination"
    ],
    "logEvents": [
        {
            "id": "31953106606966983378809025079804211143289615424298221568",
            "timestamp": 1432826855000,
            "message": "{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}}"
        },
        {
            "id": "31953106606966983378809025079804211143289615424298221569",
            "timestamp": 1432826855000,
            "message": "{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}}"
        },
        {
            "id": "31953106606966983378809025079804211143289615424298221570",
            "timestamp": 1432826855000,
            "message": "{\"eventVersion\":\"1.03\",\"userIdentity\":{\"type\":\"Root\"}}"
        }
    ]
}`

const control = `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"",` +
	`"subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1432826855000,` +
	`"message":"CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}`

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeSample(t *testing.T) {
	m, err := Decode(gz(t, sample), 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageType != DataMessage || m.Owner != "123456789012" || m.LogGroup != "CloudTrail/logs" ||
		m.LogStream != "123456789012_CloudTrail_us-east-1" || !reflect.DeepEqual(m.SubscriptionFilters, []string{"Destination"}) {
		t.Fatalf("header: %+v", m)
	}
	if len(m.LogEvents) != 3 {
		t.Fatalf("%d events", len(m.LogEvents))
	}
	e := m.LogEvents[2]
	if e.ID != "31953106606966983378809025079804211143289615424298221570" || e.Timestamp != 1432826855000 ||
		e.Message != `{"eventVersion":"1.03","userIdentity":{"type":"Root"}}` {
		t.Fatalf("event: %+v", e)
	}
}

func TestControlMessage(t *testing.T) {
	var r Reader
	if err := r.Reset([]byte(control)); err != nil {
		t.Fatal(err)
	}
	if r.Header().IsData() || string(r.Header().MessageType) != ControlMessage {
		t.Fatalf("type %q", r.Header().MessageType)
	}
	if !Detect([]byte(control)) || !Detect([]byte(" \n"+sample)) || Detect([]byte(`{"Records":[]}`)) {
		t.Fatal("Detect")
	}
}

func TestRoundTrip(t *testing.T) {
	m := &Message{
		MessageType:         DataMessage,
		Owner:               "123456789012",
		LogGroup:            "/aws/vpc/flow",
		LogStream:           "eni-0123",
		SubscriptionFilters: []string{"a", "b"},
		PolicyLevel:         "ACCOUNT_LEVEL_POLICY",
	}
	msgs := []string{"plain", `{"json":"with \"quotes\" and \\ backslash"}`, "tab\tnew\nline", "<html>&amp;", "unicode é ✓ 😀", "\x01ctl", ""}
	for i, s := range msgs {
		m.LogEvents = append(m.LogEvents, LogEvent{ID: fmt.Sprint(1000 + i), Timestamp: int64(1700000000000 + i), Message: s})
	}
	var b bytes.Buffer
	if err := Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b.Bytes(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
	}
	raw, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !Detect(raw) {
		t.Fatal("Marshal output not detected")
	}
}

func assertCode(t *testing.T, err error, code string) {
	t.Helper()
	var se *stream.Error
	if !errors.As(err, &se) || se.Class != stream.Permanent {
		t.Fatalf("want Permanent %s, got %T %v", code, err, err)
	}
	if se.Reason.Code != code {
		t.Fatalf("want %s, got %s (%v)", code, se.Reason.Code, err)
	}
}

func TestMalformed(t *testing.T) {
	tests := []struct {
		name, json, code string
	}{
		{"not json", `hello`, CodeInvalidJSON},
		{"array", `[]`, CodeInvalidJSON},
		{"truncated", sample[:200], CodeInvalidJSON},
		{"trailing", `{"messageType":"CONTROL_MESSAGE"} x`, CodeInvalidJSON},
		{"no type", `{"owner":"1","logEvents":[]}`, CodeBadField},
		{"type not string", `{"messageType":1,"logEvents":[]}`, CodeBadField},
		{"unknown type", `{"messageType":"OTHER","logEvents":[]}`, CodeUnknownType},
		{"data without events", `{"messageType":"DATA_MESSAGE"}`, CodeBadField},
		{"events not array", `{"messageType":"DATA_MESSAGE","logEvents":{}}`, CodeBadField},
		{"filters not array", `{"messageType":"DATA_MESSAGE","subscriptionFilters":"x","logEvents":[]}`, CodeBadField},
		{"owner number", `{"messageType":"DATA_MESSAGE","owner":12,"logEvents":[]}`, CodeBadField},
		{"bad escape in group", `{"messageType":"DATA_MESSAGE","logGroup":"\q","logEvents":[]}`, CodeBadField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			assertCode(t, Unmarshal([]byte(tt.json), &m), tt.code)
		})
	}
}

func TestBadEvents(t *testing.T) {
	events := []string{
		`{"id":"1","timestamp":1,"message":"ok"}`,
		`"not an object"`,
		`{"timestamp":1,"message":"x"}`,
		`{"id":"3","message":"x"}`,
		`{"id":"4","timestamp":1}`,
		`{"id":5,"timestamp":1,"message":"x"}`,
		`{"id":"6","timestamp":"1","message":"x"}`,
		`{"id":"7","timestamp":1,"message":7}`,
		`{"id":"8","timestamp":1,"message":"\x"}`,
		`{"id":"9","timestamp":1.5e3,"message":"ok","extractedFields":{"a":"b"}}`,
	}
	payload := `{"messageType":"DATA_MESSAGE","logEvents":[` + strings.Join(events, ",") + `]}`
	var r Reader
	if err := r.Reset([]byte(payload)); err != nil {
		t.Fatal(err)
	}
	var ok []string
	bad := 0
	for r.Next() {
		ev := r.Event()
		if ev.Err != nil {
			assertCode(t, ev.Err, CodeBadEvent)
			if string(ev.Raw) != events[ev.Index] {
				t.Errorf("raw %q, want %q", ev.Raw, events[ev.Index])
			}
			bad++
			continue
		}
		ok = append(ok, fmt.Sprintf("%s/%d/%s", ev.ID, ev.Timestamp, ev.Message))
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	if want := []string{"1/1/ok", "9/1500/ok"}; !reflect.DeepEqual(ok, want) || bad != 8 {
		t.Fatalf("ok=%v bad=%d", ok, bad)
	}
	var m Message
	assertCode(t, Unmarshal([]byte(payload), &m), CodeBadEvent)
}

func TestDecodeGzipErrors(t *testing.T) {
	_, err := Decode([]byte("not gzip"), 0)
	assertCode(t, err, "gzip_invalid")
	big := gz(t, `{"messageType":"CONTROL_MESSAGE","owner":"`+strings.Repeat("x", 5000)+`"}`)
	_, err = Decode(big, 1000)
	assertCode(t, err, "gzip_too_large")
	g := gz(t, sample)
	_, err = Decode(g[:len(g)-10], 0)
	assertCode(t, err, "gzip_invalid")
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(control))
	f.Add([]byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":-1,"message":"\ud83d\ude00"}]}`))
	f.Add(gz(f, sample))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Message
		if err := Unmarshal(data, &m); err != nil {
			var se *stream.Error
			if !errors.As(err, &se) || se.Class != stream.Permanent {
				t.Fatalf("unclassified error %v", err)
			}
		} else {
			// What was read re-encodes and reads back the same (strings
			// that are valid UTF-8 survive exactly).
			raw, err := Marshal(&m)
			if err != nil {
				t.Fatal(err)
			}
			var again Message
			if err := Unmarshal(raw, &again); err != nil {
				t.Fatalf("re-read: %v\n%s", err, raw)
			}
			if len(again.LogEvents) != len(m.LogEvents) || again.MessageType != m.MessageType {
				t.Fatalf("re-read differs")
			}
		}
		if _, err := Decode(data, 1<<20); err == nil && !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Fatal("Decode accepted non-gzip input")
		}
		var r Reader
		if r.Reset(data) == nil {
			for r.Next() {
				_ = r.Event()
			}
		}
	})
}

func BenchmarkReader(b *testing.B) {
	for _, n := range []int{10, 1000} {
		var m Message
		m.MessageType, m.LogGroup, m.LogStream, m.Owner = DataMessage, "/aws/cloudtrail", "s", "123456789012"
		for i := range n {
			m.LogEvents = append(m.LogEvents, LogEvent{ID: fmt.Sprintf("%056d", i), Timestamp: int64(i), Message: fmt.Sprintf(`{"eventVersion":"1.08","eventName":"DescribeInstances","n":%d,"userAgent":"aws-cli/2.0 \"quoted\""}`, i)})
		}
		raw, _ := Marshal(&m)
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			var r Reader
			for b.Loop() {
				if err := r.Reset(raw); err != nil {
					b.Fatal(err)
				}
				for r.Next() {
					if r.Event().Err != nil {
						b.Fatal(r.Event().Err)
					}
				}
			}
		})
	}
}
