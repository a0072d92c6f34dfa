package reliability_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/decode"
	"github.com/gannet-sec/gannet/stream/kpl"
	"github.com/gannet-sec/gannet/stream/reliability"
)

// hostileCase runs good records mixed with hostile ones through a pipeline
// built by setup.Build, asserts that every record is acknowledged, that the
// hostile units are dead-lettered with the wanted reason code and that
// every good unit landed in the lake and the NDJSON output.
func hostileCase(t *testing.T, mod func(*config.Config), hostile func(s *kstream) []stream.Record, wantReasons ...string) (*localRun, *reliability.Report) {
	t.Helper()
	r := newLocalRun(t, mod)
	s := newStream(t)
	good := goodRecords(t, s, 5)
	bad := hostile(s)
	// hostile records in the middle of the batch
	recs := append(append(append([]stream.Record(nil), good[:len(good)/2]...), bad...), good[len(good)/2:]...)
	r.process(t, recs)
	rep := r.account(t, t.Name(), recs)
	goodUnits := reliability.Expect(good, r.built.Decoder, nil)
	if rep.InLake < len(goodUnits) {
		t.Errorf("only %d events in the lake, want at least the %d good ones", rep.InLake, len(goodUnits))
	}
	for _, code := range wantReasons {
		if rep.ByReason[code] == 0 {
			t.Errorf("no dead letter with reason %q (got %v)", code, rep.ByReason)
		}
	}
	if n := len(r.ndjsonLines(t)); n < len(goodUnits) {
		t.Errorf("%d NDJSON events, want at least %d", n, len(goodUnits))
	}
	return r, rep
}

// ---------------------------------------------------------------- gzip bomb

var bomb struct {
	once sync.Once
	data []byte
	size int64
}

// gzipBomb is a gzip of a gzip of 128 MiB of zeros: under 1 KiB on the wire.
func gzipBomb(t testing.TB) ([]byte, int64) {
	bomb.once.Do(func() {
		var inner bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&inner, flate.BestCompression)
		zero := make([]byte, 1<<20)
		for range 128 {
			_, _ = zw.Write(zero)
		}
		_ = zw.Close()
		var outer bytes.Buffer
		zw, _ = gzip.NewWriterLevel(&outer, flate.BestCompression)
		_, _ = zw.Write(inner.Bytes())
		_ = zw.Close()
		bomb.data, bomb.size = outer.Bytes(), 128<<20+int64(inner.Len())
	})
	return bomb.data, bomb.size
}

func TestHostileGzipBomb(t *testing.T) {
	const limit = 16 << 20
	data, inflated := gzipBomb(t)
	t.Logf("bomb: %d bytes of gzip inflating to %d bytes (cap %d)", len(data), inflated, limit)
	if len(data) > 1024 {
		t.Fatalf("bomb is %d bytes, want about 1 KiB", len(data))
	}
	r := newLocalRun(t, func(c *config.Config) { c.MaxRecordBytes = limit; c.Detect = false })
	s := newStream(t)
	// Warm up so buffers and lake tables exist. Then compare the heap peak
	// of a batch with the bomb to the same batch with a small corrupt gzip
	// instead: both write one dead letter, so the difference is what the
	// bomb costs (the lake's per-file encoder state is in both).
	var corrupt bytes.Buffer
	zw := gzip.NewWriter(&corrupt)
	_, _ = zw.Write([]byte("not much"))
	_ = zw.Close()
	bad := corrupt.Bytes()
	bad[len(bad)-5] ^= 0xff // CRC mismatch: gzip_invalid
	warm := append(goodRecords(t, s, 5), s.record(bad))
	r.process(t, warm)
	ref := append(goodRecords(t, s, 5), s.record(bad))
	refPeak := heapPeak(func() { r.process(t, ref) })
	recs := append(goodRecords(t, s, 5), s.record(data))
	bombPeak := heapPeak(func() { r.process(t, recs) })
	t.Logf("heap growth during the batch: with a corrupt gzip %d KiB, with the bomb %d KiB (cap %d KiB)", refPeak>>10, bombPeak>>10, limit>>10)
	if d := bombPeak - refPeak; d >= 2*limit {
		t.Errorf("the bomb cost %d bytes of heap, want < 2×cap = %d", d, 2*limit)
	}
	// The decoder alone, deterministically: what it allocates for the bomb.
	dec := decode.New(decode.Options{MaxDecompressed: limit})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	units := reliability.Expect([]stream.Record{s.record(data)}, dec, nil)
	runtime.ReadMemStats(&after)
	t.Logf("decoder alone allocated %d KiB for the bomb", (after.TotalAlloc-before.TotalAlloc)>>10)
	if a := after.TotalAlloc - before.TotalAlloc; a >= 2*limit {
		t.Errorf("decoder allocated %d bytes for the bomb, want < 2×cap = %d", a, 2*limit)
	}
	if len(units) != 1 || units[0].Reason != "gzip_too_large" {
		t.Errorf("decoder: want one gzip_too_large failure, got %+v", units)
	}
	rep := r.account(t, "gzip bomb", append(append(warm, ref...), recs...))
	if rep.ByReason["gzip_too_large"] != 1 || rep.ByReason["gzip_invalid"] != 2 {
		t.Errorf("want one gzip_too_large and two gzip_invalid dead letters, got %v", rep.ByReason)
	}
}

// heapPeak runs fn and returns how far the heap grew above its level
// before (after a GC), sampled every millisecond. The GC runs eagerly
// meanwhile (GOGC=10) so that the figure is close to live memory.
func heapPeak(fn func()) int64 {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	peak.Store(base.HeapAlloc)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	return int64(peak.Load()) - int64(base.HeapAlloc)
}

// ---------------------------------------------------------------- KPL

// pb is a minimal protobuf writer for hand-made KPL records.
type pb []byte

func (b pb) varint(field int, v uint64) pb {
	b = binary.AppendUvarint(b, uint64(field<<3))
	return binary.AppendUvarint(b, v)
}

func (b pb) bytes(field int, v []byte) pb {
	b = binary.AppendUvarint(b, uint64(field<<3|2))
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// kplRecord wraps the AggregatedRecord protobuf body with magic and digest.
func kplRecord(body []byte) []byte {
	sum := md5.Sum(body)
	return append(append([]byte(kpl.Magic), body...), sum[:]...)
}

// kplBody aggregates user records under one partition key.
func kplBody(users ...[]byte) pb {
	b := pb(nil).bytes(1, []byte("pk"))
	for _, u := range users {
		b = b.bytes(3, pb(nil).varint(1, 0).bytes(3, u))
	}
	return b
}

func TestHostileKPL(t *testing.T) {
	line := genLines(t, stream.FormatCloudTrail, 1, 3)[0]
	cases := []struct {
		name   string
		record func() []byte
		reason string
	}{
		{"wrong md5", func() []byte {
			r := kplRecord(kplBody(line, line))
			r[len(r)-1] ^= 0xff
			return r
		}, kpl.CodeMD5Mismatch},
		{"absurd record count", func() []byte {
			// MaxRecords+1 empty user records: each is the fewest bytes a
			// user record can take.
			b := pb(nil).bytes(1, []byte("pk"))
			one := pb(nil).bytes(3, pb(nil).varint(1, 0).bytes(3, nil))
			b = append(b, bytes.Repeat(one, kpl.MaxRecords+1)...)
			return kplRecord(b)
		}, kpl.CodeTooManyRecords},
		{"absurd key index", func() []byte {
			b := pb(nil).bytes(1, []byte("pk"))
			b = b.bytes(3, pb(nil).varint(1, 1<<40).bytes(3, line))
			return kplRecord(b)
		}, kpl.CodeBadIndex},
		{"absurd field length", func() []byte {
			b := pb(nil).bytes(1, []byte("pk"))
			b = binary.AppendUvarint(b, 3<<3|2)
			b = binary.AppendUvarint(b, 1<<62) // a length far past the record
			b = append(b, line...)
			return kplRecord(b)
		}, kpl.CodeTruncated},
		{"nested aggregation", func() []byte {
			return kplRecord(kplBody(kplRecord(kplBody(line)), line))
		}, kpl.CodeNested},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			_, rep := hostileCase(t, func(c *config.Config) { c.Detect = false },
				func(s *kstream) []stream.Record { return []stream.Record{s.record(c.record())} }, c.reason)
			if c.name == "nested aggregation" && rep.InLake < 15+1 {
				t.Errorf("the plain user record beside the nested one did not land (%d in lake)", rep.InLake)
			}
		})
	}
}

// ---------------------------------------------------------------- JSON depth

func TestHostileJSONTooDeep(t *testing.T) {
	deep := func(n int) []byte {
		// A CloudTrail-looking record whose requestParameters nest n levels.
		return []byte(`{"eventVersion":"1.08","eventTime":"2026-11-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"eu-west-1","sourceIPAddress":"81.2.0.1","requestParameters":` +
			strings.Repeat(`{"a":`, n) + `1` + strings.Repeat(`}`, n) + `,"eventID":"x","eventType":"AwsApiCall","recipientAccountId":"123456789012"}`)
	}
	var r *localRun
	var rep *reliability.Report
	r, rep = hostileCase(t, func(c *config.Config) { c.Detect = false }, func(s *kstream) []stream.Record {
		return []stream.Record{s.record(deep(100)), s.record(deep(100_000)), s.record([]byte(strings.Repeat("[", 1000) + strings.Repeat("]", 1000)))}
	})
	_ = r
	deepReasons := 0
	for code, n := range rep.ByReason {
		if strings.HasSuffix(code, "_too_deep") {
			deepReasons += n
		}
	}
	if deepReasons < 2 {
		t.Errorf("want the two deep objects dead-lettered with a *_too_deep reason, got %v", rep.ByReason)
	}
	if rep.DeadLettered != 3 {
		t.Errorf("want 3 dead letters (two deep objects, one deep array), got %d: %v", rep.DeadLettered, rep.ByReason)
	}
}

// ---------------------------------------------------------------- invalid UTF-8

// Invalid UTF-8 inside a JSON string is replaced by U+FFFD (documented in
// stream/format/jsonlog.Text) so the event stays searchable; in a text log
// (ALB) the same holds. Either way every output must be valid UTF-8 JSON,
// and the record is accounted for (stored or dead-lettered with a reason).
func TestHostileInvalidUTF8(t *testing.T) {
	ct := genLines(t, stream.FormatCloudTrail, 1, 5)[0]
	badCT := bytes.Replace(ct, []byte(`"eventSource":"`), []byte("\"eventSource\":\"\xff\xfe\xc0\xaf"), 1)
	alb := genLines(t, stream.FormatALB, 1, 5)[0]
	badALB := bytes.Replace(alb, []byte(`"`), []byte("\"\xed\xa0\x80\xff"), 1)
	garbage := []byte("\xff\xfe\xfd\x00\x01 not a log at all \xc3\x28")
	r, rep := hostileCase(t, func(c *config.Config) { c.Detect = false }, func(s *kstream) []stream.Record {
		return []stream.Record{s.record(badCT), s.record(badALB), s.record(garbage)}
	}, "format_unrecognised")
	for i, l := range r.ndjsonLines(t) {
		if !utf8.Valid(l) || !json.Valid(l) {
			t.Errorf("NDJSON line %d is not valid UTF-8 JSON: %.200q", i, l)
		}
	}
	t.Logf("dead letters: %v (the rest were stored with U+FFFD replacements)", rep.ByReason)
}

// ---------------------------------------------------------------- 10 MiB records

func TestHostileTenMiBRecords(t *testing.T) {
	big := 10 << 20
	// A valid JSON application log event with a 10 MiB message, and 10 MiB of
	// text no parser recognises.
	msg := bytes.Repeat([]byte("A"), big)
	jsonRec := append(append([]byte(`{"time":"2026-11-01T00:00:00Z","level":"info","msg":"`), msg...), `"}`...)
	junk := bytes.Repeat([]byte("#junk "), big/6)
	r, rep := hostileCase(t, func(c *config.Config) { c.Detect = false }, func(s *kstream) []stream.Record {
		return []stream.Record{s.record(jsonRec), s.record(junk)}
	}, "format_unrecognised")
	t.Logf("10 MiB records: %d stored in the lake, dead letters %v", rep.InLake, rep.ByReason)
	_ = r

	// With a record cap below 10 MiB the same JSON event is refused where it
	// is read (`gannet run` input: record_too_large); inside a Kinesis
	// record only gzip output is capped, so it is stored (above) or
	// dead-lettered with a reason, never dropped.
}

// ---------------------------------------------------------------- control characters

// Control characters, CR/LF and terminal escapes inside log fields must be
// stored safely: the NDJSON document is valid JSON on one line that
// round-trips the exact string, and the Parquet value reads back exactly.
func TestHostileControlCharacters(t *testing.T) {
	hostile := "line one\r\nFAKE 2026-11-01T00:00:00Z level=error msg=\"injected\"\n\x00\x01\x07\x08\x0b\x0c\x1b[31mred\x1b[0m\t\x7f end"
	msgJSON, _ := json.Marshal(hostile)
	rec := []byte(`{"time":"2026-11-01T00:00:00Z","level":"info","msg":` + string(msgJSON) + `,"client":{"ip":"10.0.0.1"}}`)
	var lin stream.Lineage
	r, _ := hostileCase(t, func(c *config.Config) { c.Detect = false }, func(s *kstream) []stream.Record {
		rr := s.record(rec)
		lin = rr.Lineage
		return []stream.Record{rr}
	})
	id := lin.ID().String()
	found := false
	for i, l := range r.ndjsonLines(t) {
		if !json.Valid(l) {
			t.Fatalf("NDJSON line %d is not valid JSON: %.200q", i, l)
		}
		if !bytes.Contains(l, []byte(id)) {
			continue
		}
		found = true
		var doc map[string]any
		if err := json.Unmarshal(l, &doc); err != nil {
			t.Fatal(err)
		}
		if m, _ := doc["message"].(string); m != hostile {
			t.Errorf("NDJSON message = %q, want the exact bytes %q", m, hostile)
		}
	}
	if !found {
		t.Fatalf("event %s not in the NDJSON output", id)
	}
	st, err := lake.NewDirStore(r.lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	var got *string
	err = reliability.LakeScan(context.Background(), st, "json", []string{"event_id", "message"}, func(row []*string) {
		if row[0] != nil && *row[0] == id {
			got = row[1]
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || *got != hostile {
		t.Errorf("Parquet message = %q, want %q", deref(got), hostile)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// ---------------------------------------------------------------- IP addresses

// IP addresses in odd forms are either parsed to a canonical form or left
// out of source.ip (kept in the raw record) or dead-lettered with a reason
// — never a panic, never a non-canonical value in the ip field.
func TestHostileIPAddresses(t *testing.T) {
	odd := []string{
		"::ffff:192.0.2.1", "010.001.002.003", "1.2.3.04", "fe80::1%eth0", "fe80::1%25eth0", "256.1.1.1", "1.2.3",
		"0x7f.0.0.1", "2130706433", "[::1]", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4:443", "::", "0.0.0.0", "255.255.255.255",
		"2001:DB8::1", "2001:0db8:0000:0000:0000:0000:0000:0001", "1::2::3", "::ffff:1.2.3", strings.Repeat("1", 300),
		"1.2.3.4\x00", "1.2.3.4/24", "-1.2.3.4", "٣.٣.٣.٣", "1.2.3.4\r\n",
	}
	ct := genLines(t, stream.FormatCloudTrail, 1, 9)[0]
	var doc map[string]any
	if err := json.Unmarshal(ct, &doc); err != nil {
		t.Fatal(err)
	}
	alb := string(genLines(t, stream.FormatALB, 1, 9)[0])
	albFields := strings.Fields(alb)
	var ids []string
	r, rep := hostileCase(t, func(c *config.Config) { c.Detect = false }, func(s *kstream) []stream.Record {
		var recs []stream.Record
		for _, ip := range odd {
			doc["sourceIPAddress"] = ip
			b, _ := json.Marshal(doc)
			rr := s.record(b)
			ids = append(ids, rr.Lineage.ID().String())
			recs = append(recs, rr)
			if !strings.ContainsAny(ip, " \r\n\x00") {
				f := append([]string(nil), albFields...)
				f[3] = ip + ":443" // client:port
				recs = append(recs, s.record([]byte(strings.Join(f, " "))))
			}
		}
		return recs
	})
	byID := map[string]map[string]any{}
	for _, l := range r.ndjsonLines(t) {
		var d map[string]any
		if err := json.Unmarshal(l, &d); err != nil {
			t.Fatalf("invalid NDJSON: %v", err)
		}
		ev, _ := d["event"].(map[string]any)
		id, _ := ev["id"].(string)
		byID[id] = d
		src, _ := d["source"].(map[string]any)
		if ipv, ok := src["ip"].(string); ok {
			a, err := netip.ParseAddr(ipv)
			if err != nil || a.String() != ipv || a.Zone() != "" {
				t.Errorf("source.ip %q is not a canonical address (event %s)", ipv, id)
			}
		}
	}
	var table strings.Builder
	for i, ip := range odd {
		d := byID[ids[i]]
		src, _ := d["source"].(map[string]any)
		fmt.Fprintf(&table, "%-45q → source.ip=%v source.address=%v\n", ip, src["ip"], src["address"])
	}
	t.Logf("CloudTrail sourceIPAddress handling:\n%s", table.String())
	t.Logf("dead letters: %v", rep.ByReason)
}
