package input

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/kinesisevent"
)

type rejected struct {
	l    stream.Lineage
	code string
}

func readAll(t *testing.T, r *Reader, inputs ...string) ([]stream.Record, []rejected) {
	t.Helper()
	var got []stream.Record
	var rej []rejected
	r.Reject = func(l stream.Lineage, raw []byte, err error) {
		rej = append(rej, rejected{l, stream.ReasonOf(err).Code})
	}
	err := r.Read(context.Background(), inputs, func(recs []stream.Record) error {
		for _, rec := range recs {
			rec.Data = append([]byte(nil), rec.Data...) // batches are reused
			got = append(got, rec)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, rej
}

func write(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func TestLinesWithLineageAcrossBatches(t *testing.T) {
	dir := t.TempDir()
	p := write(t, filepath.Join(dir, "a.log"), []byte("one\r\ntwo\n\n  \nthree"))
	got, rej := readAll(t, &Reader{BatchSize: 2}, p)
	if len(rej) != 0 || len(got) != 3 {
		t.Fatalf("got %d records, %d rejects", len(got), len(rej))
	}
	want := []struct {
		data      string
		off, line int64
	}{{"one", 0, 1}, {"two", 5, 2}, {"three", 13, 5}}
	for i, w := range want {
		g := got[i]
		if string(g.Data) != w.data || g.Lineage.Offset != w.off || g.Lineage.Line != w.line || g.Lineage.Kind != stream.OriginFile || g.Lineage.Source != p {
			t.Errorf("record %d = %q %+v, want %q offset %d line %d", i, g.Data, g.Lineage, w.data, w.off, w.line)
		}
	}
}

func TestGzipFilesAndDirectoriesInOrder(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "b", "2.log.gz"), gz([]byte("b2-1\nb2-2\n")))
	write(t, filepath.Join(dir, "a.log"), []byte("a-1\n"))
	got, _ := readAll(t, &Reader{}, dir)
	var names []string
	for _, g := range got {
		names = append(names, string(g.Data))
	}
	if strings.Join(names, ",") != "a-1,b2-1,b2-2" {
		t.Fatalf("records = %v", names)
	}
}

func TestOversizedLineIsRejectedAndTheRestGoesOn(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 600<<10) // longer than the read buffer and the cap
	p := write(t, filepath.Join(dir, "a.log"), []byte("before\n"+long+"\nafter\n"))
	got, rej := readAll(t, &Reader{MaxRecord: 100 << 10}, p)
	if len(got) != 2 || string(got[0].Data) != "before" || string(got[1].Data) != "after" {
		t.Fatalf("records = %d", len(got))
	}
	if got[1].Lineage.Line != 3 || got[1].Lineage.Offset != int64(7+len(long)+1) {
		t.Errorf("lineage after the long line = %+v", got[1].Lineage)
	}
	if len(rej) != 1 || rej[0].code != "record_too_large" || rej[0].l.Line != 2 {
		t.Fatalf("rejects = %+v", rej)
	}
	// A long line under the cap is kept whole.
	got, rej = readAll(t, &Reader{MaxRecord: 1 << 20}, p)
	if len(got) != 3 || len(got[1].Data) != len(long) || len(rej) != 0 {
		t.Fatalf("long line under the cap: %d records, %d rejects", len(got), len(rej))
	}
}

func TestWholeDocuments(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"array.json":   "[\n {\"a\": 1},\n {\"a\": 2}\n]\n",
		"records.json": `{"Records":[{"eventVersion":"1.08"},{"eventVersion":"1.08"}]}`,
		"pretty.json":  "{\n  \"a\": 1\n}\n",
	}
	for name, body := range cases {
		p := write(t, filepath.Join(dir, name), []byte(body))
		got, _ := readAll(t, &Reader{}, p)
		if len(got) != 1 || string(got[0].Data) != body {
			t.Errorf("%s: %d records, want the whole document as one", name, len(got))
		}
	}
	p := write(t, filepath.Join(dir, "nd.json"), []byte("{\"a\":1}\n{\"a\":2}\n"))
	if got, _ := readAll(t, &Reader{}, p); len(got) != 2 {
		t.Errorf("NDJSON: %d records, want 2", len(got))
	}
}

func TestKinesisEventFiles(t *testing.T) {
	var b bytes.Buffer
	lines := [][]byte{[]byte("l1"), []byte("l2"), []byte("l3")}
	if err := kinesisevent.Build(&b, lines, kinesisevent.Options{Wrap: kinesisevent.WrapRaw}); err != nil {
		t.Fatal(err)
	}
	p := write(t, filepath.Join(t.TempDir(), "event.json"), b.Bytes())
	got, _ := readAll(t, &Reader{FormatFor: func(s string) stream.Format {
		if strings.Contains(s, "kinesis") {
			return stream.FormatALB
		}
		return stream.FormatUnknown
	}}, p)
	if len(got) != 3 {
		t.Fatalf("%d records", len(got))
	}
	for i, g := range got {
		if g.Lineage.Kind != stream.OriginKinesis || g.Lineage.Sequence == "" || string(g.Data) != string(lines[i]) || g.Format != stream.FormatALB {
			t.Errorf("record %d = %q %+v format %s", i, g.Data, g.Lineage, g.Format)
		}
	}
}

func TestStdinAndMissingFiles(t *testing.T) {
	got, _ := readAll(t, &Reader{Stdin: strings.NewReader("x\ny\n")}, "-")
	if len(got) != 2 || got[0].Lineage.Source != "-" {
		t.Fatalf("stdin records = %+v", got)
	}
	err := (&Reader{}).Read(context.Background(), []string{"/does/not/exist"}, func([]stream.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "/does/not/exist") {
		t.Fatalf("missing input error = %v", err)
	}
}

func TestCorruptGzipIsRejected(t *testing.T) {
	p := write(t, filepath.Join(t.TempDir(), "bad.gz"), []byte{0x1f, 0x8b, 0, 0, 1, 2, 3})
	_, rej := readAll(t, &Reader{}, p)
	if len(rej) != 1 || rej[0].code != "gzip_invalid" {
		t.Fatalf("rejects = %+v", rej)
	}
}

// FuzzReadLines: any bytes on stdin split into records whose data, together
// with the rejected lines, account for every non-blank line.
func FuzzReadLines(f *testing.F) {
	f.Add([]byte("a\nb\r\n\n c \n"))
	f.Add([]byte{0x1f, 0x8b, 1, 2})
	f.Add([]byte("[{\"a\":1}]"))
	f.Add([]byte("{\"Records\":[]}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &Reader{Stdin: bytes.NewReader(data), MaxRecord: 64, BatchSize: 3}
		var n int
		r.Reject = func(stream.Lineage, []byte, error) { n++ }
		err := r.Read(context.Background(), []string{"-"}, func(recs []stream.Record) error {
			for _, rec := range recs {
				if len(rec.Data) > 64 && rec.Lineage.Kind == stream.OriginFile {
					t.Fatalf("record of %d bytes passed a 64-byte cap", len(rec.Data))
				}
				n++
			}
			return nil
		})
		if err != nil && n == 0 && len(bytes.TrimSpace(data)) > 0 && !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Fatalf("error %v with no record or reject", err)
		}
	})
}
