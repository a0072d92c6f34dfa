package lake

import (
	"context"

	"fmt"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// Codec is the compression of data pages.
type Codec uint8

const (
	ZSTD   Codec = iota // the default
	Snappy              // faster, larger files
	Uncompressed
)

// String returns the codec's name as used in flags and TBLPROPERTIES.
func (c Codec) String() string {
	switch c {
	case Snappy:
		return "SNAPPY"
	case Uncompressed:
		return "UNCOMPRESSED"
	}
	return "ZSTD"
}

// ParseCodec maps "zstd", "snappy" or "none"/"uncompressed" to a Codec.
func ParseCodec(s string) (Codec, error) {
	switch strings.ToLower(s) {
	case "", "zstd":
		return ZSTD, nil
	case "snappy":
		return Snappy, nil
	case "none", "uncompressed":
		return Uncompressed, nil
	}
	return 0, fmt.Errorf("lake: unknown codec %q (zstd, snappy, none)", s)
}

func (c Codec) compression() compress.Compression {
	switch c {
	case Snappy:
		return compress.Codecs.Snappy
	case Uncompressed:
		return compress.Codecs.Uncompressed
	}
	return compress.Codecs.Zstd
}

// Encoding holds what shapes the Parquet files.
type Encoding struct {
	Codec Codec
	// ZstdLevel is the zstd level (1 fastest … 22); 0 means DefaultZstdLevel.
	ZstdLevel int
	// RowGroupRows closes a row group at this many rows (default 131072).
	RowGroupRows int
	// RowGroupBytes closes a row group when its buffered, uncompressed
	// values reach this size (default 64 MiB). With MaxOpenFiles it bounds
	// the writer's memory.
	RowGroupBytes int
	// PageBytes is the target size of a data page (default 256 KiB).
	PageBytes int64
}

// DefaultZstdLevel is the zstd level used when Encoding.ZstdLevel is 0.
const DefaultZstdLevel = 1

func (e Encoding) withDefaults() Encoding {
	if e.ZstdLevel == 0 {
		e.ZstdLevel = DefaultZstdLevel
	}
	if e.RowGroupRows <= 0 {
		e.RowGroupRows = 128 << 10
	}
	if e.RowGroupBytes <= 0 {
		e.RowGroupBytes = 64 << 20
	}
	if e.PageBytes <= 0 {
		e.PageBytes = 256 << 10
	}
	return e
}

// encoder holds a table's Parquet schema and writer properties.
type encoder struct {
	table  Table
	schema *schema.GroupNode
	props  *parquet.WriterProperties
	enc    Encoding
	hw     *hwSchema // the lake's own writer; nil: arrow-go's file writer
}

// arrowFileWriter makes new encoders write files with arrow-go's file
// writer instead of the lake's own (benchmarks and comparison tests).
var arrowFileWriter = false

func newEncoder(t Table, enc Encoding) *encoder {
	fields := make(schema.FieldList, len(t.Columns))
	for i, c := range t.Columns {
		fields[i] = c.node()
	}
	sc, err := schema.NewGroupNode("schema", parquet.Repetitions.Required, fields, -1)
	if err != nil {
		panic(fmt.Sprintf("lake: table %s: %v", t.Name, err))
	}
	opts := []parquet.WriterProperty{
		parquet.WithCompression(enc.Codec.compression()),
		parquet.WithDictionaryDefault(false),
		parquet.WithStats(true),
		parquet.WithMaxStatsSize(256),
		parquet.WithDataPageSize(enc.PageBytes),
		parquet.WithDataPageVersion(parquet.DataPageV1),
		parquet.WithVersion(parquet.V2_6),
		parquet.WithMaxRowGroupLength(int64(enc.RowGroupRows)),
		parquet.WithBatchSize(4096),
		parquet.WithCreatedBy("gannet lake (arrow-go v18)"),
		parquet.WithDictionaryPageSizeLimit(4 * dictMaxBytes), // never reached: colBuf falls back first
	}
	if enc.Codec == ZSTD {
		opts = append(opts, parquet.WithCompressionLevel(enc.ZstdLevel))
	}
	for _, c := range t.Columns {
		if !statsUseful(c) {
			opts = append(opts, parquet.WithStatsFor(c.Name, false))
		}
		if !c.Dict {
			continue
		}
		p := c.Name
		if c.Type == StringList {
			p = c.Name + ".list.element"
		}
		opts = append(opts, parquet.WithDictionaryFor(p, true), parquet.WithDictionaryCostFallbackFor(p, false))
	}
	e := &encoder{
		table:  t,
		schema: sc,
		props:  parquet.NewWriterProperties(opts...),
		enc:    enc,
	}
	if !arrowFileWriter {
		e.hw = newHWSchema(t, enc)
	}
	return e
}

// ctxWriter adapts an ObjectWriter to io.Writer for the Parquet writer,
// with the context of the call in progress.
type ctxWriter struct {
	ctx context.Context
	obj ObjectWriter
}

func (w *ctxWriter) Write(p []byte) (int, error) {
	if err := w.obj.Write(w.ctx, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// pqFile is one Parquet file being streamed to an object.
type pqFile struct {
	w   ctxWriter
	pq  *file.Writer
	hw  *hwFile
	enc *encoder
}

func (f *pqFile) write(p []byte) error {
	_, err := f.w.Write(p)
	return err
}

func (e *encoder) create(ctx context.Context, st Store) (f *pqFile, err error) {
	obj, err := st.Create(ctx)
	if err != nil {
		return nil, err
	}
	f = &pqFile{w: ctxWriter{ctx: ctx, obj: obj}, enc: e}
	if e.hw != nil {
		f.hw = newHWFile(e.hw, e.enc)
		return f, nil
	}
	meta := metadata.NewKeyValueMetadata()
	_ = meta.Append("gannet.table", e.table.Name)
	_ = meta.Append("gannet.schema_version", strconv.Itoa(e.table.Version()))
	defer recoverErr(&err)
	f.pq, err = file.NewParquetWriterWithError(&f.w, e.schema, file.WithWriterProps(e.props), file.WithWriteMetadata(meta))
	if err != nil {
		_ = obj.Abort(ctx)
		return nil, err
	}
	return f, nil
}

// recoverErr turns a panic of the Parquet library into an error.
func recoverErr(err *error) {
	if r := recover(); r != nil {
		if e, ok := r.(error); ok {
			*err = fmt.Errorf("lake: parquet: %w", e)
		} else {
			*err = fmt.Errorf("lake: parquet: %v", r)
		}
	}
}

// writeRowGroup encodes the buffered columns as one row group.
func (f *pqFile) writeRowGroup(ctx context.Context, bufs []colBuf) (err error) {
	defer recoverErr(&err)
	f.w.ctx = ctx
	if f.hw != nil {
		return f.hw.writeRowGroup(f.write, bufs)
	}
	rg, err := f.pq.AppendRowGroupChecked()
	if err != nil {
		return err
	}
	for i := range bufs {
		cw, err := rg.NextColumn()
		if err != nil {
			return err
		}
		if err := writeColumn(cw, &bufs[i]); err != nil {
			return fmt.Errorf("lake: column %s: %w", f.enc.table.Columns[i].Name, err)
		}
	}
	return rg.Close()
}

func writeColumn(cw file.ColumnChunkWriter, b *colBuf) error {
	def, rep := b.levels()
	if cw.Descr().MaxRepetitionLevel() == 0 {
		rep = nil
	}
	var err error
	switch w := cw.(type) {
	case *file.ByteArrayColumnChunkWriter:
		if b.dictCol {
			_, dictEnc := w.CurrentEncoder().(dictEncoder)
			if b.dict && b.dictEntries() > 0 && dictEnc {
				return writeDict(w, b, rep)
			}
			if b.dict {
				b.undict()
			}
			if dictEnc {
				w.FallbackToPlain()
			}
		}
		_, err = w.WriteBatchArrow(b.data, b.offs, def, rep)
	case *file.Int64ColumnChunkWriter:
		_, err = w.WriteBatch(b.i64, def, rep)
	case *file.Int32ColumnChunkWriter:
		_, err = w.WriteBatch(b.i32, def, rep)
	case *file.Float64ColumnChunkWriter:
		_, err = w.WriteBatch(b.f64, def, rep)
	case *file.BooleanColumnChunkWriter:
		_, err = w.WriteBatch(b.bl, def, rep)
	default:
		err = fmt.Errorf("unsupported column writer %T", cw)
	}
	return err
}

// dictEncoder is the part of arrow-go's dictionary encoder used to hand it
// a ready-made dictionary.
type dictEncoder interface {
	PutDictionary(arrow.Array) error
	NumEntries() int
}

// writeDict writes a dictionary column: the row group's dictionary once,
// then the indices, the way pqarrow writes Arrow dictionary arrays (no
// per-value hashing in the Parquet library).
func writeDict(w *file.ByteArrayColumnChunkWriter, b *colBuf, rep []int16) error {
	enc := w.CurrentEncoder().(dictEncoder)
	dict := array.NewBinaryData(array.NewData(arrow.BinaryTypes.Binary, b.dictEntries(),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(b.doffs)), memory.NewBufferBytes(b.dvals)}, nil, 0, 0))
	defer dict.Release()
	if err := enc.PutDictionary(dict); err != nil {
		return err
	}
	if enc.NumEntries() != b.dictEntries() {
		return fmt.Errorf("dictionary has %d entries, want %d", enc.NumEntries(), b.dictEntries())
	}
	nonNull := len(b.idx)
	if !b.list {
		nonNull = 0
		for _, d := range b.def {
			if d != 0 {
				nonNull++
			}
		}
	}
	if st := w.PageStatistics(); st != nil {
		st.IncNulls(int64(max(len(b.def)-nonNull, 0)))
		st.IncNumValues(int64(nonNull))
		if err := st.UpdateFromArrow(dict, false); err != nil {
			return err
		}
	}
	if !w.HasBitsBuffer() { // null slots are marked from the def levels
		w.SetBitsBuffer(memory.NewResizableBuffer(memory.DefaultAllocator))
	}
	idx := array.NewInt32Data(array.NewData(arrow.PrimitiveTypes.Int32, len(b.idx),
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(b.idx))}, nil, 0, 0))
	defer idx.Release()
	return w.WriteDictIndices(idx, b.def, rep)
}

// close writes the footer; the object is not committed yet.
func (f *pqFile) close(ctx context.Context) (err error) {
	defer recoverErr(&err)
	f.w.ctx = ctx
	if f.hw != nil {
		return f.hw.close(f.write)
	}
	return f.pq.Close()
}

// size is the number of bytes written so far.
func (f *pqFile) size() int64 {
	if f.hw != nil {
		return f.hw.size()
	}
	return f.pq.TotalBytesWritten()
}

// noStats lists columns whose min/max can never prune a row group (random
// ids, free text); statistics stay on for every other column.
var noStats = map[string]bool{
	"event_id": true, "alert_id": true, "lineage_sequence": true, "cloudtrail_event_id": true,
	"request_id": true, "shared_event_id": true, "trace_id": true, "conn_trace_id": true,
	"message": true, "error_message": true, "url_original": true, "url_query": true,
	"description": true, "reason_detail": true, "host_id": true,
}

// statsUseful reports whether the column gets statistics: not for JSON
// documents, binary payloads and the columns in noStats.
func statsUseful(c Column) bool {
	return c.Type != JSON && c.Type != Binary && !noStats[c.Name]
}
