package kpl

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gannet-sec/gannet/stream"
)

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

type vectorFile struct {
	Vectors []struct {
		Name  string `json:"name"`
		Input struct {
			Data    []byte `json:"data"`
			Kinesis struct {
				Data []byte `json:"data"`
			} `json:"kinesis"`
		} `json:"input"`
		Expected []struct {
			PartitionKey    string  `json:"partitionKey"`
			ExplicitHashKey *string `json:"explicitHashKey"`
			Data            string  `json:"data"`
		} `json:"expected_user_records"`
	} `json:"vectors"`
}

type vector struct {
	name string
	data []byte
	want []UserRecord
}

func loadVectors(t testing.TB) []vector {
	dir := corpusDir(t, "kinesis-kpl")
	b, err := os.ReadFile(filepath.Join(dir, "kpl-deagg-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) != 4 {
		t.Fatalf("want 4 vectors, got %d", len(f.Vectors))
	}
	var out []vector
	for _, v := range f.Vectors {
		data := v.Input.Kinesis.Data
		if data == nil {
			data = v.Input.Data // Firehose-shaped input
		}
		vec := vector{name: v.Name, data: data}
		for _, e := range v.Expected {
			u := UserRecord{PartitionKey: []byte(e.PartitionKey), Data: []byte(e.Data)}
			if e.ExplicitHashKey != nil {
				u.ExplicitHashKey = []byte(*e.ExplicitHashKey)
			}
			vec.want = append(vec.want, u)
		}
		out = append(out, vec)
	}
	return out
}

func equalRecords(t *testing.T, got, want []UserRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d user records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if string(g.PartitionKey) != string(w.PartitionKey) || string(g.Data) != string(w.Data) ||
			(g.ExplicitHashKey == nil) != (w.ExplicitHashKey == nil) || string(g.ExplicitHashKey) != string(w.ExplicitHashKey) {
			t.Errorf("record %d:\n got pk=%q ehk=%q data=%q\nwant pk=%q ehk=%q data=%q", i,
				g.PartitionKey, g.ExplicitHashKey, g.Data, w.PartitionKey, w.ExplicitHashKey, w.Data)
		}
	}
}

func TestCorpusVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			if !IsAggregated(v.data) {
				// The non-aggregated vector: the record itself is the one user record.
				if len(v.want) != 1 || string(v.want[0].Data) != string(v.data) {
					t.Fatalf("non-aggregated vector does not match its expected record")
				}
				_, err := Deaggregate(v.data)
				assertCode(t, err, CodeNotAggregated)
				return
			}
			got, err := Deaggregate(v.data)
			if err != nil {
				t.Fatal(err)
			}
			equalRecords(t, got, v.want)
			for i := range got {
				if err := NestedError(i, &got[i]); err != nil {
					t.Errorf("record %d flagged nested: %v", i, err)
				}
			}

			// One flipped MD5 byte is a digest mismatch.
			bad := bytes.Clone(v.data)
			bad[len(bad)-3] ^= 0x40
			_, err = Deaggregate(bad)
			assertCode(t, err, CodeMD5Mismatch)
		})
	}
}

func TestCorpusLambdaEvent(t *testing.T) {
	dir := corpusDir(t, "kinesis-kpl")
	b, err := os.ReadFile(filepath.Join(dir, "kpl-aggregated-lambda-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Records []struct {
			Kinesis struct {
				Data []byte `json:"data"`
			} `json:"kinesis"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) == 0 {
		t.Fatal("no records")
	}
	for _, r := range ev.Records {
		got, err := Deaggregate(r.Kinesis.Data)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Fatal("no user records")
		}
		for i, u := range got {
			if string(u.PartitionKey) != "abc" || len(u.Data) == 0 {
				t.Errorf("user record %d: pk=%q data=%q", i, u.PartitionKey, u.Data)
			}
		}
	}
}

func assertCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %s, got nil", code)
	}
	var se *stream.Error
	if !errors.As(err, &se) || se.Class != stream.Permanent {
		t.Fatalf("want Permanent *stream.Error, got %T %v", err, err)
	}
	if se.Reason.Code != code {
		t.Fatalf("want reason %s, got %s (%v)", code, se.Reason.Code, err)
	}
}

// wrap builds an aggregated record around a raw protobuf body.
func wrap(body []byte) []byte {
	out := append([]byte(Magic), body...)
	sum := md5Sum(body)
	return append(out, sum...)
}

func pbBytes(field byte, v string) []byte {
	b := []byte{field<<3 | 2}
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func pbVarint(field byte, v uint64) []byte {
	return binary.AppendUvarint([]byte{field << 3}, v)
}

func pbRecord(parts ...[]byte) []byte {
	return pbBytes(3, string(bytes.Join(parts, nil)))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestMalformed(t *testing.T) {
	okRec := pbRecord(pbVarint(1, 0), pbBytes(3, "hello"))
	tests := []struct {
		name string
		data []byte
		code string
	}{
		{"not aggregated", []byte("hello world"), CodeNotAggregated},
		{"magic only", []byte(Magic), CodeTruncated},
		{"short digest", append([]byte(Magic), 1, 2, 3), CodeTruncated},
		{"md5 mismatch", func() []byte { b := wrap(cat(pbBytes(1, "k"), okRec)); b[5] ^= 1; return b }(), CodeMD5Mismatch},
		{"truncated length", wrap(cat(pbBytes(1, "k"), okRec[:len(okRec)-2])), CodeTruncated},
		{"truncated varint", wrap([]byte{0x0a, 0x80}), CodeTruncated},
		{"truncated tag", wrap([]byte{0x80}), CodeTruncated},
		{"overlong varint", wrap(cat([]byte{0x0a}, bytes.Repeat([]byte{0xff}, 11))), CodeMalformed},
		{"group wire type", wrap([]byte{0x0b}), CodeMalformed},
		{"bad pk index", wrap(cat(pbBytes(1, "k"), pbRecord(pbVarint(1, 1), pbBytes(3, "x")))), CodeBadIndex},
		{"pk index without table", wrap(pbRecord(pbVarint(1, 0), pbBytes(3, "x"))), CodeBadIndex},
		{"huge pk index", wrap(cat(pbBytes(1, "k"), pbRecord(pbVarint(1, 1<<63), pbBytes(3, "x")))), CodeBadIndex},
		{"bad ehk index", wrap(cat(pbBytes(1, "k"), pbRecord(pbVarint(1, 0), pbVarint(2, 0), pbBytes(3, "x")))), CodeBadIndex},
		{"missing pk index", wrap(cat(pbBytes(1, "k"), pbRecord(pbBytes(3, "x")))), CodeMalformed},
		{"missing data", wrap(cat(pbBytes(1, "k"), pbRecord(pbVarint(1, 0)))), CodeMalformed},
		{"record data truncated", wrap(cat(pbBytes(1, "k"), pbBytes(3, string(cat(pbVarint(1, 0), []byte{0x1a, 0x09, 'x'}))))), CodeTruncated},
		{"too many records", wrap(cat(pbBytes(1, "k"), bytes.Repeat(pbRecord(pbVarint(1, 0), pbBytes(3, "")), MaxRecords+1))), CodeTooManyRecords},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Reader
			dst := []UserRecord{{Data: []byte("keep")}}
			got, err := r.Deaggregate(dst, tt.data)
			assertCode(t, err, tt.code)
			if len(got) != 1 || string(got[0].Data) != "keep" {
				t.Fatalf("dst changed on error: %d records", len(got))
			}
		})
	}
}

func TestUnknownFieldsSkipped(t *testing.T) {
	// Tags (field 4 of Record) and unknown top-level fields of every wire type.
	tag := pbBytes(4, string(cat(pbBytes(1, "k"), pbBytes(2, "v"))))
	body := cat(
		pbVarint(9, 300),
		[]byte{10<<3 | 1, 1, 2, 3, 4, 5, 6, 7, 8},
		[]byte{11<<3 | 5, 1, 2, 3, 4},
		pbBytes(12, "zz"),
		pbBytes(1, "pk0"), pbBytes(1, "pk1"), pbBytes(2, "123"),
		pbRecord(pbVarint(1, 1), pbBytes(3, "a"), tag, pbVarint(7, 1)),
		pbRecord(pbVarint(1, 0), pbVarint(2, 0), pbBytes(3, "")),
	)
	got, err := Deaggregate(wrap(body))
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, []UserRecord{
		{PartitionKey: []byte("pk1"), Data: []byte("a")},
		{PartitionKey: []byte("pk0"), ExplicitHashKey: []byte("123"), Data: []byte{}},
	})
}

func TestNested(t *testing.T) {
	a := NewAggregator(0)
	if _, err := a.Add("inner", "", []byte("x")); err != nil {
		t.Fatal(err)
	}
	inner := a.Flush()
	if _, err := a.Add("outer", "", inner.Data); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add("outer", "", []byte("plain")); err != nil {
		t.Fatal(err)
	}
	got, err := Deaggregate(a.Flush().Data)
	if err != nil {
		t.Fatal(err)
	}
	assertCode(t, NestedError(0, &got[0]), CodeNested)
	if err := NestedError(1, &got[1]); err != nil {
		t.Fatal(err)
	}
}

func TestAggregatorRoundTrip(t *testing.T) {
	for _, maxSize := range []int{0, 4096, 300} {
		t.Run(fmt.Sprintf("max=%d", maxSize), func(t *testing.T) {
			a := NewAggregator(maxSize)
			limit := maxSize
			if limit == 0 {
				limit = DefaultMaxSize
			}
			var want []UserRecord
			var recs []*Record
			for i := range 2000 {
				pk := fmt.Sprintf("pk-%d", i%37)
				ehk := ""
				if i%3 == 0 {
					ehk = fmt.Sprint(uint64(i) * 1234567891011)
				}
				data := []byte(strings.Repeat(string(rune('a'+i%26)), i%97))
				out, err := a.Add(pk, ehk, data)
				if err != nil {
					t.Fatal(err)
				}
				if out != nil {
					recs = append(recs, out)
				}
				u := UserRecord{PartitionKey: []byte(pk), Data: data}
				if ehk != "" {
					u.ExplicitHashKey = []byte(ehk)
				}
				want = append(want, u)
			}
			recs = append(recs, a.Flush())
			if a.Flush() != nil {
				t.Fatal("second Flush returned a record")
			}
			var got []UserRecord
			total := 0
			var r Reader
			for _, rec := range recs {
				if size := len(rec.Data) + len(rec.PartitionKey); size > limit {
					t.Fatalf("record of %d bytes exceeds %d", size, limit)
				}
				n := len(got)
				var err error
				got, err = r.Deaggregate(got, rec.Data)
				if err != nil {
					t.Fatal(err)
				}
				if got := len(got) - n; got != rec.UserRecords {
					t.Fatalf("record says %d user records, holds %d", rec.UserRecords, got)
				}
				if rec.PartitionKey != string(got[n].PartitionKey) {
					t.Fatalf("outer pk %q, first user pk %q", rec.PartitionKey, got[n].PartitionKey)
				}
				total += rec.UserRecords
			}
			if total != len(want) {
				t.Fatalf("%d user records in, %d out", len(want), total)
			}
			for i := range want {
				if len(want[i].Data) == 0 {
					want[i].Data = got[i].Data // nil vs empty
				}
			}
			equalRecords(t, got, want)
			if maxSize == 300 && len(recs) < 100 {
				t.Fatalf("only %d records at max 300 bytes", len(recs))
			}
		})
	}
}

func TestAggregatorFillsExactly(t *testing.T) {
	// Records are packed up to the limit: adding one more byte-sized record
	// to a full aggregate must overflow.
	for _, limit := range []int{64, 100, 1000, DefaultMaxSize} {
		a := NewAggregator(limit)
		var recs []*Record
		for i := range 5000 {
			data := bytes.Repeat([]byte{'x'}, i%50)
			out, err := a.Add("p", "", data)
			if err != nil {
				var se *stream.Error
				if errors.As(err, &se) && se.Reason.Code == CodeRecordTooLarge {
					continue
				}
				t.Fatal(err)
			}
			if out != nil {
				// The new record (at most len+8 bytes on the wire) did not fit.
				if size := len(out.Data) + len(out.PartitionKey); size+len(data)+8 <= limit {
					t.Fatalf("limit %d: flushed at %d bytes although %d more would fit", limit, size, len(data)+8)
				}
				recs = append(recs, out)
			}
		}
		if r := a.Flush(); r != nil {
			recs = append(recs, r)
		}
		for _, r := range recs {
			if len(r.Data)+len(r.PartitionKey) > limit {
				t.Fatalf("limit %d: record of %d", limit, len(r.Data)+len(r.PartitionKey))
			}
			if _, err := Deaggregate(r.Data); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestAggregatorErrors(t *testing.T) {
	a := NewAggregator(100)
	_, err := a.Add("", "", []byte("x"))
	assertCode(t, err, CodeBadPartitionKey)
	_, err = a.Add(strings.Repeat("k", 257), "", []byte("x"))
	assertCode(t, err, CodeBadPartitionKey)
	_, err = a.Add("k", "12a", []byte("x"))
	assertCode(t, err, CodeBadHashKey)
	_, err = a.Add("k", "", make([]byte, 100))
	assertCode(t, err, CodeRecordTooLarge)
	if a.Len() != 0 || a.Flush() != nil {
		t.Fatal("failed Add changed the aggregator")
	}
	// The largest record that fits alone is accepted.
	for n := 0; n < 100; n++ {
		_, err := a.Add("k", "", make([]byte, n))
		if err != nil {
			r := a.Flush()
			if r != nil {
				t.Fatalf("n=%d: pending record after error", n)
			}
			break
		}
		r := a.Flush()
		if len(r.Data)+1 > 100 {
			t.Fatalf("n=%d: %d bytes", n, len(r.Data)+1)
		}
	}
}

func md5Sum(b []byte) []byte {
	s := md5Of(b)
	return s[:]
}

// Example vector decoded in a doc-test style for readers.
func ExampleDeaggregate() {
	a := NewAggregator(0)
	a.Add("user-1", "", []byte(`{"eventName":"ConsoleLogin"}`))
	a.Add("user-2", "", []byte(`{"eventName":"StopLogging"}`))
	recs, err := Deaggregate(a.Flush().Data)
	if err != nil {
		panic(err)
	}
	for i, r := range recs {
		fmt.Printf("%d %s %s\n", i, r.PartitionKey, r.Data)
	}
	// Output:
	// 0 user-1 {"eventName":"ConsoleLogin"}
	// 1 user-2 {"eventName":"StopLogging"}
}
