package lake

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/gannet-sec/gannet/stream"
)

var t0 = time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)

// readFile reads every row of a Parquet object of st: column name → one
// value per row (nil for null; string, []byte, int32, int64 (timestamps in
// ms), float64, bool, []string).
func readFile(t *testing.T, st Store, key string) (map[string][]any, *file.Reader) {
	t.Helper()
	obj, err := st.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obj.Close() })
	pr, err := file.NewParquetReader(obj)
	if err != nil {
		t.Fatal(err)
	}
	tb, ok := TableFor(*pr.MetaData().KeyValueMetadata().FindValue("gannet.table"))
	if !ok {
		t.Fatal("unknown table")
	}
	out := map[string][]any{}
	var s readScratch
	for g := 0; g < pr.NumRowGroups(); g++ {
		rg := pr.RowGroup(g)
		for i := 0; i < pr.MetaData().Schema.NumColumns(); i++ {
			c := tb.Columns[i]
			b := newColBuf(Column{Type: c.Type})
			if err := readColumn(rg, i, &b, &s); err != nil {
				t.Fatal(err)
			}
			out[c.Name] = append(out[c.Name], decodeBuf(&b, c.Type)...)
		}
	}
	return out, pr
}

func decodeBuf(b *colBuf, typ Type) []any {
	var out []any
	v := 0
	str := func() string { s := string(b.data[b.offs[v]:b.offs[v+1]]); v++; return s }
	def, rep := b.levels()
	for j, d := range def {
		if typ == StringList {
			if rep[j] == 0 {
				if d == 0 {
					out = append(out, nil)
					continue
				}
				out = append(out, []string{})
			}
			if d == 2 {
				out[len(out)-1] = append(out[len(out)-1].([]string), str())
			}
			continue
		}
		if d == 0 {
			out = append(out, nil)
			continue
		}
		switch typ {
		case String, JSON:
			out = append(out, str())
		case Binary:
			out = append(out, []byte(str()))
		case Int32:
			out = append(out, b.i32[v])
			v++
		case Int64, Timestamp:
			out = append(out, b.i64[v])
			v++
		case Float64:
			out = append(out, b.f64[v])
			v++
		case Bool:
			out = append(out, b.bl[v])
			v++
		}
	}
	return out
}

func listKeys(t *testing.T, st Store, prefix string) []string {
	t.Helper()
	objs, err := st.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

func newDirLake(t *testing.T, opts Options) (*Lake, *DirStore) {
	t.Helper()
	st, err := NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(st, opts), st
}

func TestWriteReadBack(t *testing.T) {
	ctx := context.Background()
	// Small row groups and the dictionary limit force several row groups and a fallback.
	l, st := newDirLake(t, Options{Encoding: Encoding{RowGroupRows: 1000}})
	evs := cloudTrailEvents(2500, 3, t0)
	evs[5].Threat = []stream.ThreatEnrichment{{Indicator: "81.2.0.1", Type: "ipv4-addr", Feed: "demo \"feed\"", Confidence: 90, MatchedField: "source.ip", MatchedValue: "81.2.0.1"}}
	evs[6].Category, evs[6].Type = nil, nil
	evs[7].Source.Port = 443
	// A user agent per event: the dictionary of user_agent overflows and falls back to plain.
	for i := range evs {
		evs[i].UserAgent = strings.Repeat("x", 200) + string(rune('a'+i%26)) + time.Duration(i).String()
	}
	if err := l.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys := listKeys(t, st, "cloudtrail/")
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "cloudtrail/dt=2026-11-01/hr=05/") {
		t.Fatalf("keys = %v", keys)
	}
	rows, _ := readFile(t, st, keys[0])
	if len(rows["event_id"]) != len(evs) {
		t.Fatalf("rows = %d, want %d", len(rows["event_id"]), len(evs))
	}
	tb, _ := TableFor("cloudtrail")
	if len(rows) != len(tb.Columns) {
		t.Fatalf("cols = %d, want %d", len(rows), len(tb.Columns))
	}
	nilOr := func(ok bool, v any) any {
		if !ok {
			return nil
		}
		return v
	}
	for i := range evs {
		e := &evs[i]
		want := map[string]any{
			"event_id":             e.ID.String(),
			"timestamp":            e.Timestamp.UnixMilli(),
			"ingested":             e.Ingested.UnixMilli(),
			"dataset":              "aws.cloudtrail",
			"event_action":         e.Action,
			"user_agent":           e.UserAgent,
			"source_ip":            e.Source.IP.String(),
			"lineage_sequence":     e.Lineage.Sequence,
			"lineage_kind":         "kinesis",
			"lineage_sub_sequence": e.Lineage.SubSequence,
			"lineage_offset":       nil,
			"lineage_index":        int64(0),
			"error_code":           nilOr(e.ErrorCode != "", e.ErrorCode),
			"source_geo_lat":       nilOr(e.Source.Geo.Location.Valid, e.Source.Geo.Location.Lat),
			"source_port":          nilOr(e.Source.Port != 0, e.Source.Port),
			"destination_ip":       nil,
			"event_category":       nilOr(len(e.Category) > 0, e.Category),
			"event_type":           nilOr(len(e.Type) > 0, e.Type),
		}
		for name, w := range want {
			got := rows[name][i]
			if ws, ok := w.([]string); ok {
				if gs, _ := got.([]string); !slices.Equal(gs, ws) {
					t.Fatalf("row %d %s = %v, want %v", i, name, got, w)
				}
				continue
			}
			if got != w {
				t.Fatalf("row %d %s = %#v, want %#v", i, name, got, w)
			}
		}
		if (len(e.Threat) == 0) != (rows["threat_enrichments"][i] == nil) {
			t.Fatalf("row %d: threat = %v", i, rows["threat_enrichments"][i])
		}
	}
	if got := rows["threat_enrichments"][5]; got != `[{"indicator":"81.2.0.1","type":"ipv4-addr","feed":"demo \"feed\"","confidence":90,"matched_field":"source.ip","matched_value":"81.2.0.1"}]` {
		t.Errorf("threat json = %s", got)
	}
}

func TestParquetFooter(t *testing.T) {
	ctx := context.Background()
	l, st := newDirLake(t, Options{Encoding: Encoding{RowGroupRows: 500}})
	if err := l.Write(ctx, cloudTrailEvents(1200, 1, t0)); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys := listKeys(t, st, "cloudtrail/")
	f, err := os.Open(filepath.Join(st.Root(), keys[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, err := file.NewParquetReader(f)
	if err != nil {
		t.Fatal(err)
	}
	md := pr.MetaData()
	if md.NumRowGroups() != 3 {
		t.Errorf("row groups = %d, want 3", md.NumRowGroups())
	}
	sc := md.Schema
	nts := 0
	for i := 0; i < sc.NumColumns(); i++ {
		c := sc.Column(i)
		if ts, ok := c.LogicalType().(schema.TimestampLogicalType); ok {
			nts++
			if !ts.IsAdjustedToUTC() || ts.TimeUnit() != schema.TimeUnitMillis {
				t.Errorf("%s: %v", c.Name(), ts)
			}
		}
		if c.PhysicalType().String() == "INT96" {
			t.Errorf("%s is INT96", c.Name())
		}
		if it, ok := c.LogicalType().(schema.IntLogicalType); ok && !it.IsSigned() {
			t.Errorf("%s is unsigned", c.Name())
		}
	}
	if nts != 2 {
		t.Errorf("%d timestamp columns, want 2", nts)
	}
	rg := md.RowGroup(0)
	for _, name := range []string{"event_id", "event_action", "timestamp", "source_ip", "threat_enrichments"} {
		idx := sc.ColumnIndexByName(name)
		cc, err := rg.ColumnChunk(idx)
		if err != nil {
			t.Fatal(err)
		}
		if cc.Compression().String() != "ZSTD" {
			t.Errorf("%s: compression %s", name, cc.Compression())
		}
		ok, err := cc.StatsSet()
		if wantStats := name != "event_id" && name != "threat_enrichments"; err != nil || ok != wantStats {
			t.Errorf("%s: statistics %v, want %v (%v)", name, ok, wantStats, err)
		}
		dict := cc.HasDictionaryPage()
		if wantDict := name == "event_action" || name == "source_ip"; dict != wantDict {
			t.Errorf("%s: dictionary page %v, want %v", name, dict, wantDict)
		}
	}
	if v := md.KeyValueMetadata().FindValue("gannet.table"); v == nil || *v != "cloudtrail" {
		t.Errorf("gannet.table = %v", v)
	}
}
