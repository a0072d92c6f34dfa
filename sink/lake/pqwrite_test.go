package lake

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
)

// writeAll writes events of every format, alerts and dead letters to a new
// directory lake; arrow selects arrow-go's file writer.
func writeAll(t *testing.T, arrow bool, enc Encoding, evs map[stream.Format][]stream.Event, alerts []stream.Alert, letters []stream.DeadLetter) *DirStore {
	t.Helper()
	old := arrowFileWriter
	arrowFileWriter = arrow
	defer func() { arrowFileWriter = old }()
	ctx := context.Background()
	l, st := newDirLake(t, Options{Encoding: enc})
	for _, f := range stream.Formats() {
		if err := l.Write(ctx, evs[f]); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Alerts(ctx, alerts); err != nil {
		t.Fatal(err)
	}
	if err := l.DeadLetter(ctx, letters); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func testAlerts(evs []stream.Event) []stream.Alert {
	var out []stream.Alert
	for i := range 300 {
		w := time.Date(2026, 11, 1, 3, i%60, 0, 0, time.UTC)
		a := stream.Alert{ID: stream.AlertID(fmt.Sprintf("r%d", i%5), fmt.Sprintf("source.ip=1.2.3.%d", i), w),
			RuleID: fmt.Sprintf("r%d", i%5), RuleTitle: "Console brute force", Level: []string{"high", "low", ""}[i%3],
			Kind: "correlation", WindowStart: w, Count: int64(i), Format: stream.FormatCloudTrail}
		if i%4 != 0 {
			a.Tags = []string{"attack.t1110", fmt.Sprintf("attack.t%d", i%9)}[:1+i%2]
		}
		for j := 0; j < i%4 && j < len(evs); j++ {
			a.Events = append(a.Events, stream.AlertEvent{ID: evs[(i+j)%len(evs)].ID, Lineage: evs[(i+j)%len(evs)].Lineage})
		}
		out = append(out, a)
	}
	return out
}

func testLetters() []stream.DeadLetter {
	var out []stream.DeadLetter
	for i := range 200 {
		out = append(out, stream.DeadLetter{Time: time.Date(2026, 11, 1, 4, i%60, 0, 0, time.UTC), Stage: "parse",
			Reason: stream.Reason{Code: "alb_field_count", Detail: strings.Repeat("x", i*3)}, Format: stream.FormatALB,
			Raw:     []byte(fmt.Sprintf("garbage \x00 line %d", i)),
			Lineage: stream.Lineage{Kind: stream.OriginS3, Source: "b", Shard: "k", Offset: int64(77 + i), SubSequence: -1}})
	}
	return out
}

// TestWriterMatchesArrowGo writes the same rows with the lake's writer and
// with arrow-go's file writer and compares what arrow-go's reader reports:
// schema, key/value metadata, row groups, per-chunk encodings, dictionary
// pages, statistics and every value.
func TestWriterMatchesArrowGo(t *testing.T) {
	evs := map[stream.Format][]stream.Event{}
	for _, f := range stream.Formats() {
		if f == stream.FormatJSON {
			continue
		}
		evs[f] = parsedEvents(t, f, 500, 3)
	}
	// A dictionary column that overflows and falls back to plain.
	big := cloudTrailEvents(dictMaxEntries+3000, 5, t0)
	for i := range big {
		big[i].UserAgent = fmt.Sprintf("agent/%d", i)
		if i%7 == 3 {
			big[i].UserAgent = ""
		}
	}
	evs[stream.FormatCloudTrail] = append(evs[stream.FormatCloudTrail], big...)
	alerts, letters := testAlerts(evs[stream.FormatCloudTrail]), testLetters()
	for _, tc := range []struct {
		name string
		enc  Encoding
	}{
		{"default", Encoding{}},
		{"small-pages-snappy", Encoding{Codec: Snappy, PageBytes: 2048, RowGroupRows: 700}},
		{"none-zstd3", Encoding{Codec: Uncompressed, RowGroupRows: 5000}},
		{"zstd3", Encoding{ZstdLevel: 3, PageBytes: 10000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc := tc.enc.withDefaults()
			a := writeAll(t, true, enc, evs, alerts, letters)
			b := writeAll(t, false, enc, evs, alerts, letters)
			ka, kb := listKeys(t, a, ""), listKeys(t, b, "")
			if !reflect.DeepEqual(ka, kb) {
				t.Fatalf("keys differ:\n%v\n%v", ka, kb)
			}
			if len(ka) < 9 {
				t.Fatalf("only %d files", len(ka))
			}
			for _, k := range ka {
				compareFiles(t, k, a, b)
			}
		})
	}
}

func schemaString(pr *file.Reader) string {
	var buf bytes.Buffer
	schema.PrintSchema(pr.MetaData().Schema.Root(), &buf, 2)
	return buf.String()
}

func compareFiles(t *testing.T, key string, a, b Store) {
	t.Helper()
	ra, pa := readFile(t, a, key)
	rb, pb := readFile(t, b, key)
	if !reflect.DeepEqual(ra, rb) {
		for name := range ra {
			if !reflect.DeepEqual(ra[name], rb[name]) {
				t.Errorf("%s: column %s differs", key, name)
			}
		}
		t.Fatalf("%s: values differ", key)
	}
	if sa, sb := schemaString(pa), schemaString(pb); sa != sb {
		t.Fatalf("%s: schema\n%s\nvs\n%s", key, sa, sb)
	}
	ma, mb := pa.MetaData(), pb.MetaData()
	if ma.NumRows != mb.NumRows || ma.NumRowGroups() != mb.NumRowGroups() || ma.Version() != mb.Version() {
		t.Fatalf("%s: rows %d/%d, row groups %d/%d, version %v/%v", key, ma.NumRows, mb.NumRows, ma.NumRowGroups(), mb.NumRowGroups(), ma.Version(), mb.Version())
	}
	for _, k := range []string{"gannet.table", "gannet.schema_version"} {
		va, vb := ma.KeyValueMetadata().FindValue(k), mb.KeyValueMetadata().FindValue(k)
		if va == nil || vb == nil || *va != *vb {
			t.Fatalf("%s: metadata %s differs", key, k)
		}
	}
	for g := 0; g < ma.NumRowGroups(); g++ {
		ga, gb := ma.RowGroup(g), mb.RowGroup(g)
		if ga.NumRows() != gb.NumRows() {
			t.Fatalf("%s rg %d: rows %d/%d", key, g, ga.NumRows(), gb.NumRows())
		}
		for i := 0; i < ga.NumColumns(); i++ {
			ca, err := ga.ColumnChunk(i)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := gb.ColumnChunk(i)
			if err != nil {
				t.Fatal(err)
			}
			where := fmt.Sprintf("%s rg %d col %s", key, g, ca.PathInSchema())
			if ca.PathInSchema().String() != cb.PathInSchema().String() || ca.Type() != cb.Type() ||
				ca.Compression() != cb.Compression() || ca.NumValues() != cb.NumValues() {
				t.Fatalf("%s: path/type/codec/num values differ: %v %v %v %d / %v %v %v %d", where,
					ca.PathInSchema(), ca.Type(), ca.Compression(), ca.NumValues(), cb.PathInSchema(), cb.Type(), cb.Compression(), cb.NumValues())
			}
			if !reflect.DeepEqual(ca.Encodings(), cb.Encodings()) || ca.HasDictionaryPage() != cb.HasDictionaryPage() {
				t.Fatalf("%s: encodings %v dict %v / %v dict %v", where, ca.Encodings(), ca.HasDictionaryPage(), cb.Encodings(), cb.HasDictionaryPage())
			}
			sa, _ := ca.StatsSet()
			sb, _ := cb.StatsSet()
			if sa != sb {
				t.Fatalf("%s: stats set %v / %v", where, sa, sb)
			}
			if !sa {
				continue
			}
			ta, err := ca.Statistics()
			if err != nil {
				t.Fatal(err)
			}
			tb, err := cb.Statistics()
			if err != nil {
				t.Fatal(err)
			}
			if err := sameStats(ta, tb); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		}
	}
}

func sameStats(a, b metadata.TypedStatistics) error {
	if a.HasNullCount() != b.HasNullCount() || a.NullCount() != b.NullCount() {
		return fmt.Errorf("null count %v %d / %v %d", a.HasNullCount(), a.NullCount(), b.HasNullCount(), b.NullCount())
	}
	if a.HasMinMax() != b.HasMinMax() {
		return fmt.Errorf("has min/max %v / %v", a.HasMinMax(), b.HasMinMax())
	}
	if a.HasMinMax() && (!bytes.Equal(a.EncodeMin(), b.EncodeMin()) || !bytes.Equal(a.EncodeMax(), b.EncodeMax())) {
		return fmt.Errorf("min/max %q %q / %q %q", a.EncodeMin(), a.EncodeMax(), b.EncodeMin(), b.EncodeMax())
	}
	return nil
}

// fuzzTable has a column of every type, dictionary columns included.
var fuzzTable = Table{Name: "fuzz", Columns: []Column{
	{Name: "s", Type: String}, {Name: "sd", Type: String, Dict: true}, {Name: "j", Type: JSON},
	{Name: "bin", Type: Binary}, {Name: "i32", Type: Int32}, {Name: "i64", Type: Int64},
	{Name: "f", Type: Float64}, {Name: "b", Type: Bool}, {Name: "ts", Type: Timestamp},
	{Name: "l", Type: StringList}, {Name: "ld", Type: StringList, Dict: true},
}}

// fillRandom appends n random rows to bufs (one per fuzzTable column).
func fillRandom(r *rand.Rand, bufs []colBuf, n int, card int) {
	word := func() string {
		if r.IntN(5) == 0 {
			return ""
		}
		k := r.IntN(card)
		return strings.Repeat(string(rune('a'+k%26)), 1+k%300) + fmt.Sprint(k)
	}
	nullRate := r.IntN(4) // 0: no nulls … 3: mostly nulls
	isNull := func() bool { return nullRate > 0 && r.IntN(4) < nullRate }
	for range n {
		for i, c := range fuzzTable.Columns {
			b := &bufs[i]
			if isNull() {
				b.null()
				continue
			}
			switch c.Type {
			case String, JSON:
				b.str(word())
			case Binary:
				b.bytes([]byte(word()))
			case Int32:
				b.i32v(int32(r.Uint32()>>uint(r.IntN(32))), true)
			case Int64:
				b.i64v(int64(r.Uint64()>>uint(r.IntN(64))), true)
			case Float64:
				v := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), r.NormFloat64()}[r.IntN(5)]
				b.f64v(v, true)
			case Bool:
				b.boolv(r.IntN(2) == 0, true)
			case Timestamp:
				b.ts(time.UnixMilli(r.Int64N(1 << 42)))
			case StringList:
				var ss []string
				for range r.IntN(4) {
					if w := word(); w != "" {
						ss = append(ss, w)
					}
				}
				b.strList(ss)
			}
		}
	}
}

// memStore is an in-memory Store of one object.
type memObj struct{ buf *bytes.Buffer }

func (o memObj) Write(_ context.Context, p []byte) error { o.buf.Write(p); return nil }
func (o memObj) Commit(context.Context, string) error    { return nil }
func (o memObj) Abort(context.Context) error             { return nil }

type memStore struct{ buf bytes.Buffer }

func (s *memStore) Create(context.Context) (ObjectWriter, error) { return memObj{&s.buf}, nil }
func (s *memStore) Open(context.Context, string) (Object, error) {
	return nil, fmt.Errorf("not supported")
}
func (s *memStore) List(context.Context, string) ([]ObjectInfo, error) { return nil, nil }
func (s *memStore) Delete(context.Context, string) error               { return nil }

// roundTrip writes row groups of random rows with the lake's writer and
// reads them back with arrow-go: every value equal.
func roundTrip(t *testing.T, seed uint64, rowGroups int, enc Encoding) {
	r := rand.New(rand.NewPCG(seed, seed>>32))
	// Always the lake's writer, also when GANNET_LAKE_ARROW_WRITER selects
	// arrow-go's for the benchmarks.
	prev := arrowFileWriter
	arrowFileWriter = false
	e := newEncoder(fuzzTable, enc.withDefaults())
	arrowFileWriter = prev
	if e.hw == nil {
		t.Fatal("the lake's writer was not selected")
	}
	st := &memStore{}
	f, err := e.create(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	// The same buffers written by arrow-go's file writer: statistics equal.
	old := arrowFileWriter
	arrowFileWriter = true
	ea := newEncoder(fuzzTable, enc.withDefaults())
	arrowFileWriter = old
	sta := &memStore{}
	fa, err := ea.create(context.Background(), sta)
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]any, len(fuzzTable.Columns))
	var rows int64
	for range rowGroups {
		bufs := make([]colBuf, len(fuzzTable.Columns))
		for i, c := range fuzzTable.Columns {
			bufs[i] = newColBuf(c)
		}
		n := r.IntN(3000)
		if rowGroups == 1 {
			n = max(n, 1)
		}
		fillRandom(r, bufs, n, 1+r.IntN(20000))
		for i, c := range fuzzTable.Columns {
			cp := cloneBuf(&bufs[i])
			if cp.dict {
				cp.undict()
			}
			want[i] = append(want[i], decodeBuf(&cp, c.Type)...)
		}
		if n == 0 {
			continue
		}
		rows += int64(n)
		abufs := make([]colBuf, len(bufs))
		for i := range bufs {
			abufs[i] = cloneBuf(&bufs[i])
		}
		if err := f.writeRowGroup(context.Background(), bufs); err != nil {
			t.Fatal(err)
		}
		if err := fa.writeRowGroup(context.Background(), abufs); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := fa.close(context.Background()); err != nil {
		t.Fatal(err)
	}
	pa, err := file.NewParquetReader(bytes.NewReader(sta.buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if f.size() != int64(st.buf.Len()) {
		t.Fatalf("size %d, wrote %d", f.size(), st.buf.Len())
	}
	pr, err := file.NewParquetReader(bytes.NewReader(st.buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if pr.NumRows() != rows || pa.NumRows() != rows {
		t.Fatalf("rows %d (arrow-go %d), want %d", pr.NumRows(), pa.NumRows(), rows)
	}
	if sa, sb := schemaString(pa), schemaString(pr); sa != sb {
		t.Fatalf("schema\n%s\nvs\n%s", sa, sb)
	}
	for g := 0; g < pr.NumRowGroups(); g++ {
		for i := range fuzzTable.Columns {
			ca, _ := pa.MetaData().RowGroup(g).ColumnChunk(i)
			cb, _ := pr.MetaData().RowGroup(g).ColumnChunk(i)
			if !reflect.DeepEqual(ca.Encodings(), cb.Encodings()) || ca.NumValues() != cb.NumValues() {
				t.Fatalf("rg %d col %d: encodings %v / %v, values %d / %d", g, i, ca.Encodings(), cb.Encodings(), ca.NumValues(), cb.NumValues())
			}
			sa, _ := ca.StatsSet()
			sb, _ := cb.StatsSet()
			if sa != sb {
				t.Fatalf("rg %d col %d: stats set %v / %v", g, i, sa, sb)
			}
			if sa {
				ta, _ := ca.Statistics()
				tb, _ := cb.Statistics()
				if err := sameStats(ta, tb); err != nil {
					t.Fatalf("rg %d col %s: %v", g, fuzzTable.Columns[i].Name, err)
				}
			}
		}
	}
	var s readScratch
	for i, c := range fuzzTable.Columns {
		var got []any
		for g := 0; g < pr.NumRowGroups(); g++ {
			b := newColBuf(Column{Type: c.Type})
			if err := readColumn(pr.RowGroup(g), i, &b, &s); err != nil {
				t.Fatal(err)
			}
			got = append(got, decodeBuf(&b, c.Type)...)
		}
		if len(got) != len(want[i]) {
			t.Fatalf("column %s: %d values, want %d", c.Name, len(got), len(want[i]))
		}
		for j := range got {
			if !sameValue(got[j], want[i][j]) {
				t.Fatalf("column %s row %d: %#v, want %#v", c.Name, j, got[j], want[i][j])
			}
		}
	}
}

func sameValue(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && math.Float64bits(fa) == math.Float64bits(fb)
	}
	return reflect.DeepEqual(a, b)
}

func TestWriterRoundTrip(t *testing.T) {
	for seed := range uint64(40) {
		enc := Encoding{Codec: Codec(seed % 3), PageBytes: int64(1 << (8 + seed%10))}
		roundTrip(t, seed, 1+int(seed%4), enc)
	}
}

// FuzzWriter: random column buffers → the lake's writer → arrow-go's reader.
func FuzzWriter(f *testing.F) {
	f.Add(uint64(1), uint8(1), uint8(0), uint8(12))
	f.Add(uint64(7), uint8(3), uint8(1), uint8(4))
	f.Fuzz(func(t *testing.T, seed uint64, rgs, codec, page uint8) {
		roundTrip(t, seed, 1+int(rgs%4), Encoding{Codec: Codec(codec % 3), PageBytes: int64(1 << (4 + page%16))})
	})
}

func cloneBuf(b *colBuf) colBuf {
	c := *b
	c.def, c.rep, c.i64, c.i32, c.f64, c.bl = slices.Clone(b.def), slices.Clone(b.rep), slices.Clone(b.i64), slices.Clone(b.i32), slices.Clone(b.f64), slices.Clone(b.bl)
	c.data, c.offs, c.dvals, c.doffs, c.idx, c.dh, c.dtab = slices.Clone(b.data), slices.Clone(b.offs), slices.Clone(b.dvals), slices.Clone(b.doffs), slices.Clone(b.idx), slices.Clone(b.dh), slices.Clone(b.dtab)
	return c
}

// GANNET_LAKE_ARROW_WRITER=1 selects arrow-go's file writer (benchmarks of
// the old writer against the new).
func init() {
	if os.Getenv("GANNET_LAKE_ARROW_WRITER") != "" {
		arrowFileWriter = true
	}
}

// BenchmarkLakeFileWriter measures the file writer alone: one row group of
// 131 072 buffered CloudTrail rows (the cloudtrail17 shape or all 108
// columns) → Parquet bytes, with the lake's writer and with arrow-go's.
// Metrics per row of CPU time of the process, as BenchmarkLakeEncode.
func BenchmarkLakeFileWriter(b *testing.B) {
	evs := streamTimes(parsedEvents(b, stream.FormatCloudTrail, 1<<17, 1))
	for _, shape := range []string{"cloudtrail17", "cloudtrail"} {
		l := New(&discardStore{}, Options{Encoding: Encoding{RowGroupRows: 1 << 20, RowGroupBytes: 1 << 30}})
		if shape == "cloudtrail17" {
			useCloudTrail17(l)
		}
		if err := l.Write(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
		tw := l.events[stream.FormatCloudTrail]
		if len(tw.open) != 1 {
			b.Fatalf("%d open files", len(tw.open))
		}
		var bufs []colBuf
		for _, fw := range tw.open {
			bufs = fw.bufs
			if fw.rows != len(evs) || fw.f != nil {
				b.Fatalf("%d rows buffered, want %d in one row group", fw.rows, len(evs))
			}
		}
		for _, w := range []string{"arrow-go", "lake"} {
			for _, codec := range []Codec{ZSTD, Uncompressed} {
				b.Run("table="+shape+"/writer="+w+"/codec="+strings.ToLower(codec.String()), func(b *testing.B) {
					old := arrowFileWriter
					arrowFileWriter = w == "arrow-go"
					tb := tw.enc.table
					e := newEncoder(tb, Encoding{Codec: codec}.withDefaults())
					arrowFileWriter = old
					st := &discardStore{}
					ctx := context.Background()
					one := func() {
						f, err := e.create(ctx, st)
						if err != nil {
							b.Fatal(err)
						}
						if err := f.writeRowGroup(ctx, bufs); err != nil {
							b.Fatal(err)
						}
						if err := f.close(ctx); err != nil {
							b.Fatal(err)
						}
					}
					cpuPerRow(b, len(evs), one)
					b.ReportMetric(float64(st.bytes)/(float64(b.N+1)*float64(len(evs))), "B/row")
				})
			}
		}
	}
}

// BenchmarkLakeFill measures filling the cloudtrail17 column buffers from
// 131 072 parsed CloudTrail events (no encoding), the other half of
// BenchmarkLakeEncode's cloudtrail17 case.
func BenchmarkLakeFill(b *testing.B) {
	for _, distinct := range []int{1 << 17, 1 << 11} {
		b.Run(fmt.Sprintf("distinct=%d", distinct), func(b *testing.B) { benchFill(b, distinct) })
	}
}

// benchFill fills from distinct parsed events repeated to 131 072 rows: with
// 2 048 the events' strings stay in cache, with 131 072 (~all of them)
// every op reads them from memory.
func benchFill(b *testing.B, distinct int) {
	evs := streamTimes(parsedEvents(b, stream.FormatCloudTrail, distinct, 1))
	for len(evs) < 1<<17 {
		evs = append(evs, evs[:min(distinct, 1<<17-len(evs))]...)
	}
	l := New(&discardStore{}, Options{Encoding: Encoding{RowGroupRows: 1 << 30, RowGroupBytes: 1 << 40}})
	useCloudTrail17(l)
	tw := l.events[stream.FormatCloudTrail]
	fill := func() {
		for _, fw := range tw.open {
			for i := range fw.bufs {
				fw.bufs[i].reset()
			}
			fw.rows = 0
		}
		if err := l.Write(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
	cpuPerRow(b, len(evs), fill)
}

// BenchmarkLakeEncodeHot measures cloudtrail17 ZSTD encoding the way the
// pipeline feeds it: each batch of 1 000 lines is parsed and then written
// at once (its events still in cache), a file per 131 072 rows. "parse"
// runs the same loop without the lake; the difference of the two cpu-ns/row
// is the lake's cost with events in cache.
func BenchmarkLakeEncodeHot(b *testing.B) {
	const rows, batch = 1 << 17, 1000
	var buf bytes.Buffer
	if err := format.Generate(stream.FormatCloudTrail, &buf, gen.Options{Count: rows, Seed: 1, Attacks: true}); err != nil {
		b.Fatal(err)
	}
	var lines [][]byte
	for line := range bytes.Lines(buf.Bytes()) {
		if line = bytes.TrimRight(line, "\r\n"); len(line) > 0 {
			lines = append(lines, line)
		}
	}
	set := format.NewSet(format.Options{})
	for _, withLake := range []bool{false, true} {
		name := "parse"
		if withLake {
			name = "parse+lake"
		}
		b.Run(name+"/table=cloudtrail17/codec=zstd", func(b *testing.B) {
			l := New(&discardStore{}, Options{})
			useCloudTrail17(l)
			evs := make([]stream.Event, batch)
			t := time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)
			ctx := context.Background()
			one := func() {
				for i := 0; i < len(lines); i += batch {
					n := min(batch, len(lines)-i)
					for j := range n {
						ev := &evs[j]
						*ev = stream.Event{}
						ln := lines[i+j]
						ev.Lineage = stream.Lineage{Kind: stream.OriginKinesis, Source: "s", Shard: "shardId-000000000003",
							Sequence: "49590338271490256608559692538361571095921575989130000000", SubSequence: int64(i + j)}
						ev.ID = ev.Lineage.ID()
						u := stream.Unit{Data: ln, Lineage: ev.Lineage, Format: stream.FormatCloudTrail}
						if err := set.For(stream.FormatCloudTrail, ln).Parse(&u, ev); err != nil && err != stream.ErrSkip {
							b.Fatal(err)
						}
						ev.Timestamp = t.Add(time.Duration(i+j) * 25 * time.Millisecond)
					}
					if withLake {
						if err := l.Write(ctx, evs[:n]); err != nil {
							b.Fatal(err)
						}
					}
				}
				if withLake {
					if err := l.Flush(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			cpuPerRow(b, len(lines), one)
		})
	}
}
