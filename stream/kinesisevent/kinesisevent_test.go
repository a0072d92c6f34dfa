package kinesisevent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/decode"
)

func corpusDir(t testing.TB, sub string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod) not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "corpus", sub)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corpus missing in CI: %v", err)
		}
		t.Skipf("corpus not present: %v", err)
	}
	return p
}

type unit struct {
	data    string
	lineage stream.Lineage
	ts      time.Time
	group   string
}

type sink struct {
	units []unit
	fails []string
}

func (s *sink) Unit(u *stream.Unit) error {
	g := ""
	if u.Context != nil {
		g = u.Context.LogGroup
	}
	s.units = append(s.units, unit{string(u.Data), u.Lineage, u.Timestamp, g})
	return nil
}

func (s *sink) Fail(l *stream.Lineage, raw []byte, err error) {
	s.fails = append(s.fails, stream.ReasonOf(err).Code)
}

func decodeAll(t *testing.T, recs []stream.Record) *sink {
	t.Helper()
	d := decode.New(decode.Options{})
	var s sink
	for i := range recs {
		if err := d.Decode(&recs[i], &s); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.fails) > 0 {
		t.Fatalf("failures: %v", s.fails)
	}
	return &s
}

func testLines(n int) [][]byte {
	var out [][]byte
	for i := range n {
		switch i % 4 {
		case 0:
			out = append(out, fmt.Appendf(nil, `{"eventVersion":"1.08","eventName":"ConsoleLogin","n":%d,"note":"<b>\"q\" & é ✓"}`, i))
		case 1:
			out = append(out, fmt.Appendf(nil, `2 123456789012 eni-0a1b2c3d 10.0.0.%d 10.0.1.5 443 49152 6 10 840 1761955200 1761955260 ACCEPT OK`, i%250))
		case 2:
			out = append(out, fmt.Appendf(nil, `https 2026-11-01T00:00:00.%06dZ app/lb/1 1.2.3.4:5 - -1 -1 -1 400 - 0 0 "GET https://x:443/?q=' OR 1=1-- HTTP/1.1" "-" - -`, i))
		default:
			out = append(out, fmt.Appendf(nil, "[2026-11-01T00:00:00Z] text line %d\r\n", i))
		}
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	lines := testLines(2500)
	for _, wrap := range []Wrap{WrapRaw, WrapKPL, WrapCWLogs} {
		t.Run(wrap.String(), func(t *testing.T) {
			opts := Options{Wrap: wrap}
			if wrap == WrapKPL {
				opts.MaxRecordSize = 64 << 10 // several aggregated records
			}
			var buf bytes.Buffer
			if err := Build(&buf, lines, opts); err != nil {
				t.Fatal(err)
			}
			// Deterministic.
			var again bytes.Buffer
			Build(&again, lines, opts)
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Fatal("Build is not deterministic")
			}
			if !IsKinesisEvent(buf.Bytes()[:min(buf.Len(), 512)]) {
				t.Fatal("Build output not recognised by IsKinesisEvent")
			}
			recs, err := Read(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			switch wrap {
			case WrapRaw:
				if len(recs) != len(lines) {
					t.Fatalf("%d records", len(recs))
				}
			case WrapKPL, WrapCWLogs:
				if len(recs) < 3 || len(recs) > len(lines)/100 {
					t.Fatalf("%d records for %d lines", len(recs), len(lines))
				}
			}
			for i, r := range recs {
				if len(r.Data)+len(r.PartitionKey) > 1<<20 {
					t.Fatalf("record %d: %d bytes", i, len(r.Data))
				}
				l := r.Lineage
				if l.Kind != stream.OriginKinesis || l.Source != DefaultStreamARN || l.Shard != DefaultShardID || l.SubSequence != -1 || r.PartitionKey == "" {
					t.Fatalf("record %d lineage %+v pk %q", i, l, r.PartitionKey)
				}
				if i > 0 && l.Sequence <= recs[i-1].Lineage.Sequence {
					t.Fatalf("sequence numbers not increasing: %s after %s", l.Sequence, recs[i-1].Lineage.Sequence)
				}
				if want := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond); !r.ArrivalTime.Equal(want) {
					t.Fatalf("record %d arrival %v", i, r.ArrivalTime)
				}
			}
			s := decodeAll(t, recs)
			if len(s.units) != len(lines) {
				t.Fatalf("%d units for %d lines", len(s.units), len(lines))
			}
			ids := map[stream.EventID]bool{}
			for i, u := range s.units {
				if want := strings.TrimRight(string(lines[i]), "\r\n"); u.data != want {
					t.Fatalf("unit %d:\n got %q\nwant %q", i, u.data, want)
				}
				id := u.lineage.ID()
				if ids[id] {
					t.Fatalf("unit %d: duplicate event id", i)
				}
				ids[id] = true
				switch wrap {
				case WrapKPL:
					if u.lineage.SubSequence < 0 {
						t.Fatalf("unit %d: no sub-sequence", i)
					}
				case WrapCWLogs:
					if u.lineage.LogEventID == "" || u.group != DefaultLogGroup || !u.ts.Equal(time.UnixMilli(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli()+int64(i))) {
						t.Fatalf("unit %d: %+v", i, u)
					}
				}
			}
		})
	}
}

func TestCWLogsPayloadLimits(t *testing.T) {
	lines := testLines(2500)
	var buf bytes.Buffer
	if err := Build(&buf, lines, Options{Wrap: WrapCWLogs}); err != nil {
		t.Fatal(err)
	}
	recs, _ := Read(buf.Bytes())
	if len(recs) != 3 { // 1000 + 1000 + 500 events
		t.Fatalf("%d payloads", len(recs))
	}
	big := [][]byte{bytes.Repeat([]byte("a"), 600<<10), bytes.Repeat([]byte("b"), 600<<10)}
	buf.Reset()
	if err := Build(&buf, big, Options{Wrap: WrapCWLogs}); err != nil {
		t.Fatal(err)
	}
	if recs, _ := Read(buf.Bytes()); len(recs) != 2 {
		t.Fatalf("%d payloads for two 600 KiB events", len(recs))
	}
	if err := Build(&buf, [][]byte{make([]byte, 1<<20)}, Options{}); err == nil {
		t.Fatal("raw line of 1 MiB accepted")
	}
	if err := Build(&buf, [][]byte{make([]byte, 1<<20)}, Options{Wrap: WrapKPL}); err == nil {
		t.Fatal("KPL user record of 1 MiB accepted")
	}
}

func TestCorpusLambdaEvent(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corpusDir(t, "kinesis-kpl"), "kpl-aggregated-lambda-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !IsKinesisEvent(data[:512]) {
		t.Fatal("corpus event not recognised")
	}
	recs, err := Read(data)
	if err != nil {
		t.Fatal(err)
	}
	r := recs[0]
	if r.Lineage.Shard != "shardId-000000000000" || r.Lineage.Sequence != "49545115243490985018280067714973144582180062593244200961" ||
		r.Lineage.Source != "arn:aws:kinesis:EXAMPLE" || r.PartitionKey != "partitionKey-03" || !r.ArrivalTime.Equal(time.Unix(1428537600, 0)) {
		t.Fatalf("%+v", r.Lineage)
	}
	s := decodeAll(t, recs)
	if len(s.units) == 0 {
		t.Fatal("no units")
	}
	for i, u := range s.units {
		if u.lineage.SubSequence != int64(i) || (u.data != "abcdefghijklmnopqrstuvwxyz" && u.data != "zyxwvutsrqponmlkjihgfedcba") {
			t.Fatalf("unit %d: %+v", i, u)
		}
	}
}

func TestIsKinesisEvent(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"Records":[{"kinesis":{"data":"eA=="}}]}`, true},
		{"\ufeff{\n  \"Records\" : [\n {\"eventSource\":\"aws:kinesis\"", true},
		{`{"Records":[{"eventVersion":"1.08","eventSource":"kinesis.amazonaws.com","requestParameters":{"kinesis":"x"}}]}`, false},
		{`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3"}]}`, false},
		{`[{"eventVersion":"1.08"}]`, false},
		{`{"messageType":"DATA_MESSAGE"}`, false},
		{``, false},
		{`{"Records":[`, false},
	}
	for _, tt := range tests {
		if got := IsKinesisEvent([]byte(tt.in)); got != tt.want {
			t.Errorf("IsKinesisEvent(%q) = %v", tt.in, got)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(corpusDir(t, "cloudtrail-stratus"), "*.json")); len(files) > 0 {
		data, _ := os.ReadFile(files[0])
		if IsKinesisEvent(data) {
			t.Error("Stratus file recognised as a Kinesis event")
		}
	}
}

func TestReadErrors(t *testing.T) {
	for _, in := range []string{`not json`, `{"Records":[{"eventSource":"aws:sqs"}]}`, `{"Records":[{"kinesis":{"data":"%%%"}}]}`} {
		_, err := Read([]byte(in))
		var se *stream.Error
		if !errors.As(err, &se) || se.Reason.Code != CodeInvalid || se.Class != stream.Permanent {
			t.Errorf("Read(%q) = %v", in, err)
		}
	}
	// Without eventID the shard is unknown but the sequence number stays.
	recs, err := Read([]byte(`{"Records":[{"kinesis":{"sequenceNumber":"42","data":"eA=="}}]}`))
	if err != nil || recs[0].Lineage.Sequence != "42" || recs[0].Lineage.Shard != "" || string(recs[0].Data) != "x" {
		t.Fatalf("%v %+v", err, recs)
	}
}

func TestParseWrap(t *testing.T) {
	for _, s := range []string{"raw", "kinesis", "kpl", "cwlogs"} {
		if _, ok := ParseWrap(s); !ok {
			t.Error(s)
		}
	}
	if _, ok := ParseWrap("zip"); ok {
		t.Error("zip")
	}
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	Build(&buf, testLines(3), Options{Wrap: WrapKPL})
	f.Add(buf.Bytes())
	f.Add([]byte(`{"Records":[{"eventID":"shardId-1:2","kinesis":{"data":"eA==","approximateArrivalTimestamp":1e300}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		IsKinesisEvent(data)
		recs, err := Read(data)
		if err != nil {
			return
		}
		d := decode.New(decode.Options{MaxDecompressed: 1 << 20})
		var s sink
		for i := range recs {
			if err := d.Decode(&recs[i], &s); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func BenchmarkBuild(b *testing.B) {
	lines := testLines(1000)
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	for _, wrap := range []Wrap{WrapRaw, WrapKPL, WrapCWLogs} {
		b.Run("wrap="+wrap.String(), func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := Build(&bytes.Buffer{}, lines, Options{Wrap: wrap}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
