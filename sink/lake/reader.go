package lake

import (
	"fmt"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
)

// readBatch is the number of levels read at a time.
const readBatch = 4096

// readScratch holds reusable read buffers.
type readScratch struct {
	def, rep []int16
	ba       []parquet.ByteArray
	i64      []int64
	i32      []int32
	f64      []float64
	bl       []bool
}

func (s *readScratch) init() {
	if s.def == nil {
		s.def, s.rep = make([]int16, readBatch), make([]int16, readBatch)
		s.ba, s.i64, s.i32 = make([]parquet.ByteArray, readBatch), make([]int64, readBatch), make([]int32, readBatch)
		s.f64, s.bl = make([]float64, readBatch), make([]bool, readBatch)
	}
}

// appendLevel appends one level read from a file: def == maxDef carries the
// next value (appended by val), lower levels are nulls (or an empty list).
func (b *colBuf) appendLevel(def, rep, maxDef int16, val func()) {
	switch {
	case def == maxDef:
		b.level(def)
		if b.list {
			b.rep = append(b.rep, rep)
		}
		val()
	case b.list && def > 0: // an empty list
		b.level(def)
		b.rep = append(b.rep, rep)
	default:
		b.null()
	}
}

// readColumn appends column i of rg to b, as the put functions would have
// appended the same rows. b must be of the column's type.
func readColumn(rg *file.RowGroupReader, i int, b *colBuf, s *readScratch) (err error) {
	defer func() {
		// arrow-go's page reader panics on some damaged files (a dictionary
		// page without its header): a damaged file is an error, not a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("lake: column %d: damaged Parquet file: %v", i, r)
		}
	}()
	s.init()
	cr, err := rg.Column(i)
	if err != nil {
		return err
	}
	maxDef := cr.Descriptor().MaxDefinitionLevel()
	var rep []int16
	if cr.Descriptor().MaxRepetitionLevel() > 0 {
		rep = s.rep
	}
	for cr.HasNext() {
		var n int64
		var nv int
		switch r := cr.(type) {
		case *file.ByteArrayColumnChunkReader:
			n, nv, err = r.ReadBatchInPage(readBatch, s.ba, s.def, rep)
			v := 0
			for j := 0; j < int(n); j++ {
				b.appendLevel(s.def[j], s.rep[j], maxDef, func() { b.value(s.ba[v]); v++ })
			}
		case *file.Int64ColumnChunkReader:
			n, nv, err = r.ReadBatchInPage(readBatch, s.i64, s.def, rep)
			v := 0
			for j := 0; j < int(n); j++ {
				b.appendLevel(s.def[j], s.rep[j], maxDef, func() { b.i64 = append(b.i64, s.i64[v]); v++ })
			}
		case *file.Int32ColumnChunkReader:
			n, nv, err = r.ReadBatchInPage(readBatch, s.i32, s.def, rep)
			v := 0
			for j := 0; j < int(n); j++ {
				b.appendLevel(s.def[j], s.rep[j], maxDef, func() { b.i32 = append(b.i32, s.i32[v]); v++ })
			}
		case *file.Float64ColumnChunkReader:
			n, nv, err = r.ReadBatchInPage(readBatch, s.f64, s.def, rep)
			v := 0
			for j := 0; j < int(n); j++ {
				b.appendLevel(s.def[j], s.rep[j], maxDef, func() { b.f64 = append(b.f64, s.f64[v]); v++ })
			}
		case *file.BooleanColumnChunkReader:
			n, nv, err = r.ReadBatchInPage(readBatch, s.bl, s.def, rep)
			v := 0
			for j := 0; j < int(n); j++ {
				b.appendLevel(s.def[j], s.rep[j], maxDef, func() { b.bl = append(b.bl, s.bl[v]); v++ })
			}
		default:
			return fmt.Errorf("lake: unsupported column reader %T", cr)
		}
		_ = nv
		if err != nil {
			return err
		}
		if n == 0 && !cr.HasNext() {
			break
		}
	}
	return cr.Err()
}

// appendNulls appends n null rows to b.
func (b *colBuf) appendNulls(n int64) {
	for ; n > 0; n-- {
		b.null()
	}
}

// openParquet opens a Parquet file for reading; a file damaged so that
// arrow-go's reader panics is reported as an error.
func openParquet(obj Object) (pr *file.Reader, err error) {
	defer func() {
		if r := recover(); r != nil {
			pr, err = nil, fmt.Errorf("damaged Parquet file: %v", r)
		}
	}()
	return file.NewParquetReader(obj)
}
