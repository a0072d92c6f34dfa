package lake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/zeebo/xxh3"
)

// CompactResult reports what Compact did.
type CompactResult struct {
	Inputs  int   // files merged (and deleted)
	Outputs int   // files written
	Rows    int64 // rows in the written files
	// Recovered counts unfinished compactions of an earlier run that were completed.
	Recovered int
}

// compactionDir holds the manifests of compactions in progress, beside the
// tables (never inside a table location, so Athena never reads them).
const compactionDir = "_compaction"

// manifest records one compaction before it changes anything, so a rerun
// after a crash can finish it.
type manifest struct {
	Table   string        `json:"table"`
	Outputs []compactUnit `json:"outputs"`
}

type compactUnit struct {
	Key    string   `json:"key"`
	Inputs []string `json:"inputs"`
}

// Compact merges the small Parquet files of one partition of table
// (partition is the path below the table, "dt=2026-11-01/hr=05") into files
// of about targetBytes, without losing or duplicating rows.
//
// Protocol, safe to rerun after a crash at any point: (1) a manifest naming
// every output and its inputs is written under _compaction/; (2) each output,
// named after a hash of its inputs, is written unless it already exists, and
// its row count is checked against its inputs'; (3) the inputs are deleted;
// (4) the manifest is deleted. A rerun first finishes the manifests it finds.
// Readers listing the partition between (2) and the end of (3) see some rows
// twice (old and new file); rows keep their event_id, so queries that must
// be exact deduplicate on it. Files are never visible partially written.
// Run it on partitions that writers have left (hours in the past): a file
// rewritten by a retried batch after compaction duplicates rows the same way.
func Compact(ctx context.Context, st Store, table, partition string, targetBytes int64) (CompactResult, error) {
	var res CompactResult
	tb, ok := TableFor(table)
	if !ok {
		return res, fmt.Errorf("lake: unknown table %q", table)
	}
	partition = strings.Trim(partition, "/")
	prefix := table + "/" + partition + "/"
	mprefix := compactionDir + "/" + prefix

	// Finish what an earlier run started.
	mans, err := st.List(ctx, mprefix)
	if err != nil {
		return res, err
	}
	for _, m := range mans {
		man, err := readManifest(ctx, st, m.Key)
		if err != nil {
			return res, err
		}
		r, err := finishCompaction(ctx, st, tb, m.Key, man)
		if err != nil {
			return res, err
		}
		res.Inputs += r.Inputs
		res.Outputs += r.Outputs
		res.Rows += r.Rows
		res.Recovered++
	}

	objs, err := st.List(ctx, prefix)
	if err != nil {
		return res, err
	}
	var small []ObjectInfo
	for _, o := range objs {
		name := o.Key[len(prefix):]
		if strings.Contains(name, "/") || !strings.HasSuffix(name, ".parquet") || strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") {
			continue
		}
		if o.Size < targetBytes {
			small = append(small, o)
		}
	}
	var man manifest
	man.Table = table
	for i := 0; i < len(small); {
		j, size := i, int64(0)
		for j < len(small) && (j == i || size+small[j].Size <= targetBytes) {
			size += small[j].Size
			j++
		}
		if j-i >= 2 {
			u := compactUnit{}
			h := xxh3.New()
			for _, o := range small[i:j] {
				u.Inputs = append(u.Inputs, o.Key)
				_, _ = io.WriteString(h, o.Key)
				_, _ = h.Write([]byte{0})
			}
			u.Key = fmt.Sprintf("%sc-%016x.parquet", prefix, h.Sum64())
			man.Outputs = append(man.Outputs, u)
		}
		i = j
	}
	if len(man.Outputs) == 0 {
		return res, nil
	}
	h := xxh3.New()
	for _, u := range man.Outputs {
		_, _ = io.WriteString(h, u.Key)
	}
	mkey := fmt.Sprintf("%s%016x.json", mprefix, h.Sum64())
	data, err := json.Marshal(man)
	if err != nil {
		return res, err
	}
	if err := putObject(ctx, st, mkey, data); err != nil {
		return res, err
	}
	r, err := finishCompaction(ctx, st, tb, mkey, man)
	res.Inputs += r.Inputs
	res.Outputs += r.Outputs
	res.Rows += r.Rows
	return res, err
}

func putObject(ctx context.Context, st Store, key string, data []byte) error {
	w, err := st.Create(ctx)
	if err != nil {
		return err
	}
	if err := w.Write(ctx, data); err != nil {
		_ = w.Abort(ctx)
		return err
	}
	if err := w.Commit(ctx, key); err != nil {
		_ = w.Abort(ctx)
		return err
	}
	return nil
}

func readManifest(ctx context.Context, st Store, key string) (manifest, error) {
	var m manifest
	o, err := st.Open(ctx, key)
	if err != nil {
		return m, err
	}
	defer o.Close()
	data, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(data, &m)
	return m, err
}

// finishCompaction carries out steps 2–4 of a manifest.
func finishCompaction(ctx context.Context, st Store, tb Table, mkey string, man manifest) (CompactResult, error) {
	var res CompactResult
	for _, u := range man.Outputs {
		existing, err := st.List(ctx, u.Key)
		if err != nil {
			return res, err
		}
		if len(existing) > 0 && existing[0].Key == u.Key {
			continue // written before a crash; its inputs were checked then
		}
		n, err := mergeFiles(ctx, st, tb, u)
		if err != nil {
			return res, fmt.Errorf("lake: compact %s: %w", u.Key, err)
		}
		res.Outputs++
		res.Rows += n
	}
	for _, u := range man.Outputs {
		for _, in := range u.Inputs {
			if err := st.Delete(ctx, in); err != nil {
				return res, err
			}
			res.Inputs++
		}
	}
	return res, st.Delete(ctx, mkey)
}

// mergeFiles writes u.Key from the rows of u.Inputs, in order, with the
// table's current schema (columns missing from older files become null).
func mergeFiles(ctx context.Context, st Store, tb Table, u compactUnit) (int64, error) {
	enc := newEncoder(tb, Encoding{}.withDefaults())
	bufs := make([]colBuf, len(tb.Columns))
	for i, c := range tb.Columns {
		bufs[i] = newColBuf(c)
	}
	index := map[string]int{}
	for i, c := range tb.Columns {
		index[c.Name] = i
	}
	var (
		out     *pqFile
		want    int64
		rows    int64
		pending int64
		scratch readScratch
	)
	defer func() {
		if out != nil {
			_ = out.w.obj.Abort(ctx)
		}
	}()
	flushRG := func() error {
		if pending == 0 {
			return nil
		}
		if out == nil {
			var err error
			if out, err = enc.create(ctx, st); err != nil {
				return err
			}
		}
		if err := out.writeRowGroup(ctx, bufs); err != nil {
			return err
		}
		for i := range bufs {
			bufs[i].reset()
		}
		rows += pending
		pending = 0
		return nil
	}
	for _, in := range u.Inputs {
		obj, err := st.Open(ctx, in)
		if err != nil {
			return 0, err
		}
		pr, err := openParquet(obj)
		if err != nil {
			obj.Close()
			return 0, fmt.Errorf("%s: %w", in, err)
		}
		sc := pr.MetaData().Schema
		cols := make([]int, sc.NumColumns()) // input column → table column
		for i := range cols {
			name := sc.Column(i).ColumnPath()[0]
			j, ok := index[name]
			if !ok {
				obj.Close()
				return 0, fmt.Errorf("%s: column %s is not in table %s", in, name, tb.Name)
			}
			if sc.Column(i).PhysicalType() != physicalType(tb.Columns[j].Type) {
				obj.Close()
				return 0, fmt.Errorf("%s: column %s has another type", in, name)
			}
			cols[i] = j
		}
		for g := 0; g < pr.NumRowGroups(); g++ {
			rg := pr.RowGroup(g)
			n := rg.NumRows()
			want += n
			seen := make([]bool, len(bufs))
			for i, j := range cols {
				if err := readColumn(rg, i, &bufs[j], &scratch); err != nil {
					obj.Close()
					return 0, fmt.Errorf("%s: %w", in, err)
				}
				seen[j] = true
			}
			for j := range bufs {
				if !seen[j] {
					bufs[j].appendNulls(n)
				}
			}
			pending += n
			if pending >= int64(enc.props.MaxRowGroupLength()) || bufSize(bufs) >= (Encoding{}).withDefaults().RowGroupBytes {
				if err := flushRG(); err != nil {
					obj.Close()
					return 0, err
				}
			}
		}
		obj.Close()
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	if err := flushRG(); err != nil {
		return 0, err
	}
	if out == nil {
		return 0, errors.New("no rows")
	}
	if rows != want {
		return 0, fmt.Errorf("wrote %d rows, inputs hold %d", rows, want)
	}
	if err := out.close(ctx); err != nil {
		return 0, err
	}
	if err := out.w.obj.Commit(ctx, u.Key); err != nil {
		return 0, err
	}
	out = nil
	return rows, nil
}

// physicalType is the Parquet physical type of a column type's leaf.
func physicalType(t Type) parquet.Type {
	switch t {
	case Int32:
		return parquet.Types.Int32
	case Int64, Timestamp:
		return parquet.Types.Int64
	case Float64:
		return parquet.Types.Double
	case Bool:
		return parquet.Types.Boolean
	}
	return parquet.Types.ByteArray
}
