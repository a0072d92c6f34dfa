package reliability

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/gannet-sec/gannet/sink/lake"
)

// nonEventTables are the lake tables that do not hold events.
var nonEventTables = map[string]bool{"alerts": true, "dead_letter": true}

// LakeEventIDs counts the event_id values of every event table of the lake
// (any lake.Store: a directory or S3), reading the Parquet files with
// arrow-go's own reader, independently of the lake's writer.
func LakeEventIDs(ctx context.Context, st lake.Store) (map[string]int, error) {
	ids := map[string]int{}
	for _, table := range lake.TableNames() {
		if nonEventTables[table] {
			continue
		}
		err := LakeScan(ctx, st, table, []string{"event_id"}, func(row []*string) {
			if row[0] != nil {
				ids[*row[0]]++
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// LakeScan calls fn with the values of the named byte-array columns (string
// or binary; nil for null) of every row of every committed file of table.
func LakeScan(ctx context.Context, st lake.Store, table string, cols []string, fn func(row []*string)) error {
	objs, err := st.List(ctx, table+"/")
	if err != nil {
		return err
	}
	for _, o := range objs {
		if !strings.HasSuffix(o.Key, ".parquet") {
			continue
		}
		if err := scanFile(ctx, st, o.Key, cols, fn); err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
	}
	return nil
}

func scanFile(ctx context.Context, st lake.Store, key string, cols []string, fn func([]*string)) error {
	obj, err := st.Open(ctx, key)
	if err != nil {
		return err
	}
	defer obj.Close()
	rdr, err := file.NewParquetReader(obj)
	if err != nil {
		return err
	}
	defer rdr.Close()
	idx := make([]int, len(cols))
	for i, c := range cols {
		if idx[i] = rdr.MetaData().Schema.ColumnIndexByName(c); idx[i] < 0 {
			return fmt.Errorf("no column %q", c)
		}
	}
	for g := 0; g < rdr.NumRowGroups(); g++ {
		rg := rdr.RowGroup(g)
		n := int(rg.NumRows())
		vals := make([][]*string, len(cols))
		for i := range cols {
			v, err := readStrings(rg, idx[i], n)
			if err != nil {
				return fmt.Errorf("column %s: %w", cols[i], err)
			}
			vals[i] = v
		}
		row := make([]*string, len(cols))
		for r := 0; r < n; r++ {
			for i := range cols {
				row[i] = vals[i][r]
			}
			fn(row)
		}
	}
	return nil
}

func readStrings(rg *file.RowGroupReader, col, n int) ([]*string, error) {
	cr, err := rg.Column(col)
	if err != nil {
		return nil, err
	}
	br, ok := cr.(*file.ByteArrayColumnChunkReader)
	if !ok {
		return nil, fmt.Errorf("not a byte-array column (%T)", cr)
	}
	maxDef := cr.Descriptor().MaxDefinitionLevel()
	out := make([]*string, 0, n)
	const batch = 1024
	vals := make([]parquet.ByteArray, batch)
	def := make([]int16, batch)
	for br.HasNext() && len(out) < n {
		levels, nv, err := br.ReadBatch(batch, vals, def, nil)
		if err != nil {
			return nil, err
		}
		v := 0
		for j := 0; j < int(levels); j++ {
			if maxDef == 0 || def[j] == maxDef {
				s := string(vals[v])
				v++
				out = append(out, &s)
			} else {
				out = append(out, nil)
			}
		}
		_ = nv
		if levels == 0 {
			break
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("read %d values for %d rows", len(out), n)
	}
	return out, nil
}
