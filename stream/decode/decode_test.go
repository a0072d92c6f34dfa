package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/cwlogs"
	"github.com/gannet-sec/gannet/stream/kpl"
	"github.com/klauspost/compress/gzip"
)

// got is what a recording sink saw, in a form easy to compare.
type got struct {
	Data      string
	Index     int64
	Line      int64
	SubSeq    int64
	EventID   string
	Format    stream.Format
	Timestamp time.Time
	Group     string
}

type failure struct {
	Code   string
	Index  int64
	Line   int64
	SubSeq int64
	Raw    string
}

type recSink struct {
	units []got
	fails []failure
	stop  int // return errStop at this unit (1-based), 0 never
}

var errStop = errors.New("stop")

func (s *recSink) Unit(u *stream.Unit) error {
	g := got{Data: string(u.Data), Index: u.Lineage.Index, Line: u.Lineage.Line, SubSeq: u.Lineage.SubSequence,
		EventID: u.Lineage.LogEventID, Format: u.Format, Timestamp: u.Timestamp}
	if u.Context != nil {
		g.Group = u.Context.LogGroup
	}
	s.units = append(s.units, g)
	if s.stop > 0 && len(s.units) == s.stop {
		return errStop
	}
	return nil
}

func (s *recSink) Fail(l *stream.Lineage, raw []byte, err error) {
	var se *stream.Error
	if !errors.As(err, &se) || se.Class != stream.Permanent {
		panic(fmt.Sprintf("unclassified failure %T %v", err, err))
	}
	s.fails = append(s.fails, failure{Code: se.Reason.Code, Index: l.Index, Line: l.Line, SubSeq: l.SubSequence, Raw: string(raw)})
}

func (s *recSink) data() []string {
	out := make([]string, len(s.units))
	for i, u := range s.units {
		out[i] = u.Data
	}
	return out
}

func kinesisRec(data []byte) *stream.Record {
	return &stream.Record{Data: data, Lineage: stream.Lineage{Kind: stream.OriginKinesis, Source: "arn:aws:kinesis:eu-west-1:123456789012:stream/s",
		Shard: "shardId-000000000000", Sequence: "49", SubSequence: -1}}
}

func fileRec(data []byte) *stream.Record {
	return &stream.Record{Data: data, Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "x.log", SubSequence: -1}}
}

func run(t testing.TB, d *Decoder, rec *stream.Record) *recSink {
	t.Helper()
	var s recSink
	if err := d.Decode(rec, &s); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return &s
}

func gz(t testing.TB, parts ...string) []byte {
	var b bytes.Buffer
	for _, p := range parts { // one member per part
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(p))
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func aggregate(t testing.TB, datas ...[]byte) []byte {
	a := kpl.NewAggregator(0)
	for i, d := range datas {
		if _, err := a.Add(fmt.Sprintf("pk-%d", i), "", d); err != nil {
			t.Fatal(err)
		}
	}
	return a.Flush().Data
}

func cwPayload(t testing.TB, typ string, msgs ...string) []byte {
	m := &cwlogs.Message{MessageType: typ, Owner: "123456789012", LogGroup: "/aws/vpc/flow", LogStream: "eni-1", SubscriptionFilters: []string{"f"}}
	for i, s := range msgs {
		m.LogEvents = append(m.LogEvents, cwlogs.LogEvent{ID: fmt.Sprint(3000 + i), Timestamp: 1700000000000 + int64(i), Message: s})
	}
	var b bytes.Buffer
	if err := cwlogs.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestContainers(t *testing.T) {
	pretty := "{\n  \"a\": 1,\n  \"b\": [1, 2]\n}\n"
	prettyArray := "[\n  {\n    \"eventName\": \"A\"\n  },\n  {\n    \"eventName\": \"B\"\n  }\n]\n"
	records := "{\"Records\": [\n{\"eventName\":\"A\"},\n{\"eventName\":\"B\"}\n]}"
	tests := []struct {
		name  string
		rec   *stream.Record
		want  []string
		index []int64
		lines []int64 // nil: don't check
		fmt   stream.Format
	}{
		{name: "text lines", rec: fileRec([]byte("a b c\r\n\n  \nd e\nlast")), want: []string{"a b c", "d e", "last"}, index: []int64{0, 3, 4}, lines: []int64{1, 4, 5}},
		{name: "text with BOM", rec: fileRec([]byte("\xef\xbb\xbfx\ny\n")), want: []string{"x", "y"}, index: []int64{0, 1}, lines: []int64{1, 2}},
		{name: "text starting with bracket", rec: fileRec([]byte("[2026-11-01 12:00] ERROR x\n[INFO] y\n")), want: []string{"[2026-11-01 12:00] ERROR x", "[INFO] y"}, index: []int64{0, 1}},
		{name: "bracket then text", rec: fileRec([]byte("[1] foo\n")), want: []string{"[1] foo"}, index: []int64{0}},
		{name: "ndjson", rec: fileRec([]byte("{\"a\":1}\n{\"a\":2}\r\n\n{\"a\":3}")), want: []string{`{"a":1}`, `{"a":2}`, `{"a":3}`}, index: []int64{0, 1, 3}, lines: []int64{1, 2, 4}},
		{name: "ndjson bad first line", rec: fileRec([]byte("{\"a\" 1}\n{\"a\":2}\n")), want: []string{`{"a" 1}`, `{"a":2}`}, index: []int64{0, 1}},
		{name: "one object", rec: kinesisRec([]byte(`  {"x":"y"}  `)), want: []string{`{"x":"y"}`}, index: []int64{0}, lines: []int64{0}},
		{name: "pretty object", rec: fileRec([]byte("\n" + pretty)), want: []string{strings.TrimSpace(pretty)}, index: []int64{0}, lines: []int64{2}},
		{name: "concatenated pretty objects", rec: fileRec([]byte(pretty + pretty)), want: []string{strings.TrimSpace(pretty), strings.TrimSpace(pretty)}, index: []int64{0, 1}, lines: []int64{1, 5}},
		{name: "json array", rec: fileRec([]byte(prettyArray)), want: []string{"{\n    \"eventName\": \"A\"\n  }", "{\n    \"eventName\": \"B\"\n  }"}, index: []int64{0, 1}, lines: []int64{2, 5}},
		{name: "empty array", rec: fileRec([]byte(" [ ] ")), want: nil},
		{name: "records file", rec: fileRec([]byte(records)), want: []string{`{"eventName":"A"}`, `{"eventName":"B"}`}, index: []int64{0, 1}, lines: []int64{2, 3}, fmt: stream.FormatCloudTrail},
		{name: "records not array", rec: kinesisRec([]byte(`{"Records":"x"}`)), want: []string{`{"Records":"x"}`}, index: []int64{0}},
		{name: "gzip ndjson", rec: kinesisRec(gz(t, "{\"a\":1}\n{\"a\":2}\n")), want: []string{`{"a":1}`, `{"a":2}`}, index: []int64{0, 1}, lines: []int64{0, 0}},
		{name: "multi-member gzip", rec: fileRec(gz(t, "l1\nl2\n", "l3\n")), want: []string{"l1", "l2", "l3"}, index: []int64{0, 1, 2}, lines: []int64{1, 2, 3}},
		{name: "gzip of gzip", rec: kinesisRec(gz(t, string(gz(t, "inner")))), want: []string{"inner"}, index: []int64{0}},
		{name: "empty", rec: kinesisRec(nil), want: nil},
		{name: "whitespace", rec: kinesisRec([]byte(" \n\t\r\n")), want: nil},
		{name: "messageType in a normal log", rec: kinesisRec([]byte(`{"messageType":"order","n":1}`)), want: []string{`{"messageType":"order","n":1}`}, index: []int64{0}},
	}
	d := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := run(t, d, tt.rec)
			if len(s.fails) > 0 {
				t.Fatalf("failures: %+v", s.fails)
			}
			if !reflect.DeepEqual(s.data(), tt.want) && !(len(tt.want) == 0 && len(s.units) == 0) {
				t.Fatalf("units:\n got %q\nwant %q", s.data(), tt.want)
			}
			for i, u := range s.units {
				if u.Index != tt.index[i] {
					t.Errorf("unit %d: index %d, want %d", i, u.Index, tt.index[i])
				}
				if tt.lines != nil && u.Line != tt.lines[i] {
					t.Errorf("unit %d: line %d, want %d", i, u.Line, tt.lines[i])
				}
				if u.SubSeq != -1 {
					t.Errorf("unit %d: subsequence %d", i, u.SubSeq)
				}
				if u.Format != tt.fmt {
					t.Errorf("unit %d: format %v, want %v", i, u.Format, tt.fmt)
				}
			}
		})
	}
}

func TestLineBase(t *testing.T) {
	rec := fileRec([]byte("a\nb\n"))
	rec.Lineage.Line = 101 // a chunk starting at line 101
	s := run(t, New(Options{}), rec)
	if s.units[0].Line != 101 || s.units[1].Line != 102 {
		t.Fatalf("lines %d %d", s.units[0].Line, s.units[1].Line)
	}
}

func TestTextFormatSkipsJSONSniffing(t *testing.T) {
	rec := fileRec([]byte("[x]\n{y\n"))
	rec.Format = stream.FormatALB
	s := run(t, New(Options{}), rec)
	if !reflect.DeepEqual(s.data(), []string{"[x]", "{y"}) || s.units[0].Format != stream.FormatALB {
		t.Fatalf("%q", s.data())
	}
}

func TestKPL(t *testing.T) {
	users := [][]byte{
		[]byte("line one\nline two\n"),
		gz(t, `{"a":1}`+"\n"+`{"a":2}`),
		cwPayload(t, cwlogs.DataMessage, "cw1", "cw2\n"),
		aggregate(t, []byte("nested")),
		[]byte(`{"Records":[{"eventName":"X"}]}`),
		gz(t, string(aggregate(t, []byte("nested in gzip")))),
	}
	rec := kinesisRec(aggregate(t, users...))
	d := New(Options{})
	s := run(t, d, rec)
	want := []got{
		{Data: "line one", Index: 0, SubSeq: 0},
		{Data: "line two", Index: 1, SubSeq: 0},
		{Data: `{"a":1}`, Index: 0, SubSeq: 1},
		{Data: `{"a":2}`, Index: 1, SubSeq: 1},
		{Data: "cw1", Index: 0, SubSeq: 2, EventID: "3000", Timestamp: time.UnixMilli(1700000000000).UTC(), Group: "/aws/vpc/flow"},
		{Data: "cw2", Index: 1, SubSeq: 2, EventID: "3001", Timestamp: time.UnixMilli(1700000000001).UTC(), Group: "/aws/vpc/flow"},
		{Data: `{"eventName":"X"}`, Index: 0, SubSeq: 4, Format: stream.FormatCloudTrail},
	}
	if !reflect.DeepEqual(s.units, want) {
		t.Fatalf("units:\n got %+v\nwant %+v", s.units, want)
	}
	wantFails := []failure{
		{Code: kpl.CodeNested, SubSeq: 3, Raw: string(users[3])},
		{Code: kpl.CodeNested, SubSeq: 5, Raw: string(aggregate(t, []byte("nested in gzip")))},
	}
	if !reflect.DeepEqual(s.fails, wantFails) {
		t.Fatalf("fails:\n got %+v\nwant %+v", s.fails, wantFails)
	}
	st := d.Stats()
	if st.KPLRecords != 1 || st.KPLUserRecords != 6 || st.CWLMessages != 1 || st.Units != 7 || st.Failures != 2 || st.FailuresByReason[kpl.CodeNested] != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCloudWatch(t *testing.T) {
	d := New(Options{})
	s := run(t, d, kinesisRec(cwPayload(t, cwlogs.ControlMessage, "CWL CONTROL MESSAGE: Checking health of destination")))
	if len(s.units) != 0 || len(s.fails) != 0 || d.Stats().ControlMessages != 1 {
		t.Fatalf("control: %+v %+v", s.units, s.fails)
	}
	// messageType first (as CloudWatch writes it), the other keys in another
	// order, a bad event in the middle, an empty message.
	payload := `{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":5,"message":"{\"k\":\"v\"}"},{"id":"2","timestamp":"x","message":"m"},{"id":"3","timestamp":7,"message":""},{"id":"4","timestamp":8,"message":"ok"}],` +
		`"logGroup":"g","logStream":"s","owner":"o","subscriptionFilters":[]}`
	s = run(t, d, kinesisRec(gz(t, payload)))
	if !reflect.DeepEqual(s.data(), []string{`{"k":"v"}`, "ok"}) {
		t.Fatalf("%q", s.data())
	}
	if s.units[1].Index != 3 || s.units[1].EventID != "4" || s.units[1].Group != "g" {
		t.Fatalf("%+v", s.units[1])
	}
	if len(s.fails) != 1 || s.fails[0].Code != cwlogs.CodeBadEvent || s.fails[0].Index != 1 {
		t.Fatalf("%+v", s.fails)
	}
	// The same group/stream/owner share one UnitContext.
	var ctxs []*stream.UnitContext
	sink := funcSink{unit: func(u *stream.Unit) error { ctxs = append(ctxs, u.Context); return nil }}
	for range 2 {
		if err := d.Decode(kinesisRec(cwPayload(t, cwlogs.DataMessage, "a", "b")), sink); err != nil {
			t.Fatal(err)
		}
	}
	if len(ctxs) != 4 || ctxs[0] != ctxs[3] || ctxs[0].Owner != "123456789012" || ctxs[0].LogStream != "eni-1" {
		t.Fatalf("contexts %v", ctxs)
	}
}

type funcSink struct {
	unit func(u *stream.Unit) error
	fail func(l *stream.Lineage, raw []byte, err error)
}

func (f funcSink) Unit(u *stream.Unit) error { return f.unit(u) }
func (f funcSink) Fail(l *stream.Lineage, raw []byte, err error) {
	if f.fail != nil {
		f.fail(l, raw, err)
	}
}

func TestMalformed(t *testing.T) {
	goodKPL := aggregate(t, []byte("x"))
	badMD5 := bytes.Clone(goodKPL)
	badMD5[len(badMD5)-1] ^= 1
	g := gz(t, "hello world, this is some text\n")
	deep := []byte("x")
	for range 6 {
		deep = gz(t, string(deep))
	}
	tests := []struct {
		name  string
		rec   *stream.Record
		code  string
		units []string
		raw   string // "" = don't check
		line  int64
		index int64
	}{
		{name: "gzip invalid header", rec: kinesisRec([]byte{0x1f, 0x8b, 0, 0, 0}), code: "gzip_invalid"},
		{name: "gzip truncated", rec: kinesisRec(g[:len(g)-6]), code: "gzip_invalid", raw: string(g[:len(g)-6])},
		{name: "gzip corrupt", rec: kinesisRec(append(bytes.Clone(g[:12]), bytes.Repeat([]byte{0xff}, 30)...)), code: "gzip_invalid"},
		{name: "gzip trailing garbage", rec: kinesisRec(append(bytes.Clone(g), "junk"...)), code: "gzip_invalid"},
		{name: "kpl md5", rec: kinesisRec(badMD5), code: kpl.CodeMD5Mismatch, raw: string(badMD5)},
		{name: "kpl truncated", rec: kinesisRec([]byte(kpl.Magic + "abc")), code: kpl.CodeTruncated},
		{name: "kpl inside gzip", rec: kinesisRec(gz(t, string(goodKPL))), code: kpl.CodeNested},
		{name: "too deep", rec: kinesisRec(deep), code: CodeTooDeep},
		{name: "cwlogs bad header", rec: kinesisRec(gz(t, `{"messageType":"DATA_MESSAGE","logGroup":5,"logEvents":[]}`)), code: cwlogs.CodeBadField},
		{name: "cwlogs truncated", rec: kinesisRec(gz(t, `{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1"`)), code: cwlogs.CodeInvalidJSON},
		{name: "broken pretty array", rec: fileRec([]byte("[\n{\"a\":1},\n{\"a\":2},\n{\"a\":\n")), code: CodeJSONInvalid,
			units: []string{`{"a":1}`, `{"a":2}`}, raw: "{\"a\":\n", line: 4, index: 2},
		{name: "broken pretty object", rec: fileRec([]byte("\n{\n\"a\": 1,\n\"b\"\n}")), code: CodeJSONInvalid, raw: "{\n\"a\": 1,\n\"b\"\n}", line: 2},
		{name: "broken records file", rec: fileRec([]byte("{\"Records\":[\n{\"a\":1},\n{\"a\"}\n]}")), code: CodeJSONInvalid, line: 1},
		{name: "broken stream of objects", rec: fileRec([]byte("{\n\"a\":1\n}\n{\n\"a\":\n")), code: CodeJSONInvalid, units: []string{"{\n\"a\":1\n}"}, raw: "{\n\"a\":\n", line: 4, index: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Options{})
			s := run(t, d, tt.rec)
			if len(s.fails) != 1 {
				t.Fatalf("want one failure, got %+v (units %q)", s.fails, s.data())
			}
			f := s.fails[0]
			if f.Code != tt.code {
				t.Fatalf("code %s, want %s", f.Code, tt.code)
			}
			if tt.raw != "" && f.Raw != tt.raw {
				t.Errorf("raw %q, want %q", f.Raw, tt.raw)
			}
			if f.Line != tt.line || f.Index != tt.index {
				t.Errorf("line %d index %d, want %d %d", f.Line, f.Index, tt.line, tt.index)
			}
			if !reflect.DeepEqual(s.data(), tt.units) && !(len(tt.units) == 0 && len(s.units) == 0) {
				t.Errorf("units %q, want %q", s.data(), tt.units)
			}
			if st := d.Stats(); st.FailuresByReason[tt.code] != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestSinkStop(t *testing.T) {
	d := New(Options{})
	s := &recSink{stop: 2}
	if err := d.Decode(fileRec([]byte("a\nb\nc\n")), s); err != errStop {
		t.Fatalf("err %v", err)
	}
	if len(s.units) != 2 {
		t.Fatalf("%d units", len(s.units))
	}
	s = &recSink{stop: 1}
	if err := d.Decode(kinesisRec(aggregate(t, []byte("a"), []byte("b"))), s); err != errStop || len(s.units) != 1 {
		t.Fatalf("kpl: err %v, %d units", err, len(s.units))
	}
}

// writeZeros streams n zero bytes through w.
func writeZeros(t testing.TB, w *gzip.Writer, n int64) {
	zeros := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			t.Fatal(err)
		}
		n -= k
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGzipBomb: a gzip of a few hundred bytes that inflates (through three
// gzip layers) to 1 GiB is failed with gzip_too_large, and the decoder's
// allocations stay under twice the cap; so does a plain 1 GiB bomb.
func TestGzipBomb(t *testing.T) {
	const capBytes = 8 << 20
	// 1 GiB of zeros, compressed by streaming (about 1 MiB) …
	var inner bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&inner, gzip.DefaultCompression)
	writeZeros(t, zw, 1<<30)
	// … and compressed twice more: a few hundred bytes on the wire.
	small := inner.Bytes()
	for range 2 {
		var b bytes.Buffer
		zw, _ = gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(small)
		zw.Close()
		small = b.Bytes()
	}
	// The 1 MiB bomb with a lying size trailer (no useful size hint).
	lying := bytes.Clone(inner.Bytes())
	copy(lying[len(lying)-4:], []byte{0, 0, 0, 0})
	t.Logf("bomb: 1 GiB → %d bytes → %d bytes", inner.Len(), len(small))
	if len(small) > 1<<10 {
		t.Fatalf("layered bomb is %d bytes, want at most 1 KiB", len(small))
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{{"layered", small}, {"single", inner.Bytes()}, {"single-lying-size", lying}} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			d := New(Options{MaxDecompressed: capBytes})
			s := run(t, d, kinesisRec(tc.data))
			runtime.ReadMemStats(&after)
			if len(s.fails) != 1 || s.fails[0].Code != "gzip_too_large" || len(s.units) != 0 {
				t.Fatalf("fails %+v, %d units", s.fails, len(s.units))
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %.1f MiB for a cap of %d MiB", float64(alloc)/(1<<20), capBytes>>20)
			if alloc >= 2*capBytes {
				t.Fatalf("allocated %d bytes, cap %d", alloc, capBytes)
			}
		})
	}
}

func TestDecompressedCapIsPerRecord(t *testing.T) {
	// Exactly at the cap is fine; one byte over is not.
	content := strings.Repeat("a", 999) + "\n"
	d := New(Options{MaxDecompressed: 1000})
	if s := run(t, d, kinesisRec(gz(t, content))); len(s.fails) != 0 || len(s.units) != 1 {
		t.Fatalf("%+v", s.fails)
	}
	if s := run(t, d, kinesisRec(gz(t, content+"b"))); len(s.fails) != 1 || s.fails[0].Code != "gzip_too_large" {
		t.Fatalf("%+v", s.fails)
	}
	// Nested layers share the budget.
	noise := make([]byte, 600)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	if s := run(t, d, kinesisRec(gz(t, string(gz(t, string(noise)))))); len(s.fails) != 1 || s.fails[0].Code != "gzip_too_large" {
		t.Fatalf("nested: %+v", s.fails)
	}
}

// corpusDir returns ../shared/corpus/<sub> beside the repository root. It
// skips the test when the corpus is absent, unless CI=true.
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

func TestStratusCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir(t, "cloudtrail-stratus"), "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	d := New(Options{})
	total := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var want []json.RawMessage
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rec := fileRec(data)
		rec.Lineage.Source = f
		s := run(t, d, rec)
		if len(s.fails) != 0 || len(s.units) != len(want) {
			t.Fatalf("%s: %d units (want %d), fails %+v", filepath.Base(f), len(s.units), len(want), s.fails)
		}
		lines := strings.Split(string(data), "\n")
		for i, u := range s.units {
			var a, b any
			json.Unmarshal([]byte(u.Data), &a)
			json.Unmarshal(want[i], &b)
			if !reflect.DeepEqual(a, b) || u.Index != int64(i) {
				t.Fatalf("%s: unit %d differs", filepath.Base(f), i)
			}
			if u.Line < 1 || !strings.HasPrefix(strings.TrimSpace(lines[u.Line-1]), "{") {
				t.Fatalf("%s: unit %d line %d does not start the element", filepath.Base(f), i, u.Line)
			}
		}
		total += len(s.units)
	}
	t.Logf("%d files, %d events", len(files), total)
}

func TestKPLCorpus(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(corpusDir(t, "kinesis-kpl"), "kpl-deagg-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []struct {
			Name  string
			Input struct {
				Data    []byte
				Kinesis struct{ Data []byte }
			}
			Expected []struct{ Data string } `json:"expected_user_records"`
		}
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	d := New(Options{})
	for _, v := range f.Vectors {
		data := v.Input.Kinesis.Data
		if data == nil {
			data = v.Input.Data
		}
		s := run(t, d, kinesisRec(data))
		if len(s.fails) != 0 || len(s.units) != len(v.Expected) {
			t.Fatalf("%s: %d units, fails %+v", v.Name, len(s.units), s.fails)
		}
		aggregated := kpl.IsAggregated(data)
		for i, u := range s.units {
			if u.Data != strings.TrimRight(v.Expected[i].Data, "\n") {
				t.Errorf("%s: unit %d = %q", v.Name, i, u.Data)
			}
			if want := int64(i); aggregated && u.SubSeq != want || !aggregated && u.SubSeq != -1 {
				t.Errorf("%s: unit %d subsequence %d", v.Name, i, u.SubSeq)
			}
		}
		bad := bytes.Clone(data)
		if aggregated {
			bad[len(bad)-5] ^= 0x10
			s := run(t, d, kinesisRec(bad))
			if len(s.units) != 0 || len(s.fails) != 1 || s.fails[0].Code != kpl.CodeMD5Mismatch || s.fails[0].SubSeq != -1 {
				t.Fatalf("%s flipped: %+v", v.Name, s.fails)
			}
		}
	}
}

func TestNoAllocsPerUnit(t *testing.T) {
	var nd bytes.Buffer
	for i := range 1000 {
		fmt.Fprintf(&nd, `{"eventName":"E%d"}`+"\n", i)
	}
	var arr bytes.Buffer
	arr.WriteString(`{"Records":[`)
	for i := range 1000 {
		if i > 0 {
			arr.WriteByte(',')
		}
		fmt.Fprintf(&arr, `{"eventName":"E%d"}`, i)
	}
	arr.WriteString("]}")
	kplRec := aggregate(t, nd.Bytes(), nd.Bytes(), nd.Bytes())
	gzRec := gz(t, nd.String())
	d := New(Options{})
	sink := funcSink{unit: func(*stream.Unit) error { return nil }}
	for name, data := range map[string][]byte{"ndjson": nd.Bytes(), "records": arr.Bytes(), "kpl": kplRec, "gzip": gzRec} {
		rec := fileRec(data)
		d.Decode(rec, sink) // warm buffers
		allocs := testing.AllocsPerRun(20, func() { d.Decode(rec, sink) })
		if allocs > 2 {
			t.Errorf("%s: %.0f allocations per record", name, allocs)
		}
	}
}
