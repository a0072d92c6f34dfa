package lake

import (
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/schema"
	"github.com/gannet-sec/gannet/stream"
)

// Type is a column's type. Each maps to one Parquet physical/logical type
// and one Glue/Athena type; the mapping is part of the lake's stable format.
type Type uint8

const (
	// String is BYTE_ARRAY (STRING), Glue "string". Empty strings are stored as null.
	String Type = iota + 1
	// JSON is BYTE_ARRAY (STRING) holding one JSON document, Glue "string"
	// (query it with json_extract). Used for nested sub-objects.
	JSON
	// Binary is BYTE_ARRAY without annotation, Glue "binary".
	Binary
	// Int32 is INT32 (INT(32, signed)), Glue "int".
	Int32
	// Int64 is INT64 (INT(64, signed)), Glue "bigint".
	Int64
	// Float64 is DOUBLE, Glue "double".
	Float64
	// Bool is BOOLEAN, Glue "boolean".
	Bool
	// Timestamp is INT64 TIMESTAMP(MILLIS, isAdjustedToUTC=true), Glue "timestamp".
	Timestamp
	// StringList is a 3-level LIST of required STRING elements, Glue "array<string>".
	// Nil and empty slices are stored as null.
	StringList
)

// Glue returns the Glue/Athena column type.
func (t Type) Glue() string {
	switch t {
	case String, JSON:
		return "string"
	case Binary:
		return "binary"
	case Int32:
		return "int"
	case Int64:
		return "bigint"
	case Float64:
		return "double"
	case Bool:
		return "boolean"
	case Timestamp:
		return "timestamp"
	case StringList:
		return "array<string>"
	}
	return "unknown"
}

// String returns the lake's name for the type (used in golden schema files).
func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case JSON:
		return "json"
	case Binary:
		return "binary"
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Float64:
		return "float64"
	case Bool:
		return "bool"
	case Timestamp:
		return "timestamp_millis_utc"
	case StringList:
		return "list<string>"
	}
	return "unknown"
}

// Column describes one column of a table.
type Column struct {
	Name string // lower snake_case
	Type Type
	// Dict asks for dictionary encoding; set only on low-cardinality columns.
	Dict bool
	// Since is the schema version that added the column.
	Since int
}

// node returns the Parquet schema node of the column (every column is optional).
func (c Column) node() schema.Node {
	opt := parquet.Repetitions.Optional
	var n schema.Node
	var err error
	switch c.Type {
	case String, JSON:
		n, err = schema.NewPrimitiveNodeLogical(c.Name, opt, schema.StringLogicalType{}, parquet.Types.ByteArray, -1, -1)
	case Binary:
		n, err = schema.NewPrimitiveNode(c.Name, opt, parquet.Types.ByteArray, -1, -1)
	case Int32:
		n, err = schema.NewPrimitiveNodeLogical(c.Name, opt, schema.NewIntLogicalType(32, true), parquet.Types.Int32, -1, -1)
	case Int64:
		n, err = schema.NewPrimitiveNodeLogical(c.Name, opt, schema.NewIntLogicalType(64, true), parquet.Types.Int64, -1, -1)
	case Float64:
		n, err = schema.NewPrimitiveNode(c.Name, opt, parquet.Types.Double, -1, -1)
	case Bool:
		n, err = schema.NewPrimitiveNode(c.Name, opt, parquet.Types.Boolean, -1, -1)
	case Timestamp:
		n, err = schema.NewPrimitiveNodeLogical(c.Name, opt, schema.NewTimestampLogicalType(true, schema.TimeUnitMillis), parquet.Types.Int64, -1, -1)
	case StringList:
		var el schema.Node
		el, err = schema.NewPrimitiveNodeLogical("element", parquet.Repetitions.Required, schema.StringLogicalType{}, parquet.Types.ByteArray, -1, -1)
		if err == nil {
			n, err = schema.ListOfWithName(c.Name, el, opt, -1)
		}
	default:
		err = fmt.Errorf("unknown column type %d", c.Type)
	}
	if err != nil {
		panic(fmt.Sprintf("lake: column %s: %v", c.Name, err))
	}
	return n
}

// col is a column with the function that appends a row's value to its buffer.
type col[T any] struct {
	Column
	put func(r *T, b *colBuf)
}

// colBuf holds one column's values for the row group being built. Slices are
// reused between row groups. Byte-array values are kept back to back in data
// with Arrow-style offsets (offs[0] == 0); a dictionary column keeps instead
// a per-row-group dictionary and one index per value slot.
type colBuf struct {
	def  []int16
	rep  []int16 // StringList only
	i64  []int64
	i32  []int32
	f64  []float64
	bl   []bool
	data []byte
	offs []int32
	list bool // StringList: no value slot for a null list
	// lead counts the row group's leading nulls not yet in def (and rep or
	// idx): a column that stays empty costs one increment per row and is
	// written from shared zero levels.
	lead int

	dictCol bool     // the column asks for dictionary encoding
	dict    bool     // values are being dictionary-encoded in this row group
	dtab    []int32  // open-addressing hash table of entry+1 (0: empty)
	dh      []uint64 // hash of each entry
	dvals   []byte   // entries back to back
	doffs   []int32  // entry offsets, doffs[0] == 0
	idx     []int32  // one entry index per value slot
	// bylen remembers, per value length (mod 32), the entry last seen with
	// that length (index+1, 0 when none): in a low-cardinality column the
	// values mostly differ in length, so most values are found with one
	// compare and no hashing.
	bylen   [32]int32
	scratch []byte
}

var dictSeed = maphash.MakeSeed()

// Dictionary limits per column and row group: beyond them the column falls
// back to plain encoding for the rest of the row group.
const (
	dictMaxBytes   = 256 << 10
	dictMaxEntries = 16 << 10
)

func newColBuf(c Column) colBuf {
	b := colBuf{list: c.Type == StringList, dictCol: c.Dict, offs: []int32{0}, doffs: []int32{0}}
	if c.Dict {
		b.dict = true
		b.dtab = make([]int32, 64)
	}
	return b
}

func (b *colBuf) reset() {
	b.def, b.rep, b.i64, b.i32, b.f64, b.bl = b.def[:0], b.rep[:0], b.i64[:0], b.i32[:0], b.f64[:0], b.bl[:0]
	b.data, b.offs = b.data[:0], b.offs[:1]
	b.lead = 0
	if b.dictCol {
		b.dict = true
		clear(b.dtab)
		b.dh, b.dvals, b.doffs, b.idx = b.dh[:0], b.dvals[:0], b.doffs[:1], b.idx[:0]
		clear(b.bylen[:])
	}
}

// size estimates the buffered bytes.
func (b *colBuf) size() int {
	return 2*len(b.def) + 2*len(b.rep) + 8*len(b.i64) + 4*len(b.i32) + 8*len(b.f64) + len(b.bl) +
		len(b.data) + 4*len(b.offs) + len(b.dvals) + 4*len(b.idx)
}

// null appends a null value.
func (b *colBuf) null() {
	if len(b.def) == 0 {
		b.lead++
		return
	}
	b.def = append(b.def, 0)
	if b.list {
		b.rep = append(b.rep, 0)
	} else if b.dict {
		b.idx = append(b.idx, 0) // a slot for the null
	}
}

// level appends the definition level d of a value (or of an empty list),
// first materializing the leading nulls.
func (b *colBuf) level(d int16) {
	if b.lead != 0 {
		b.spill()
	}
	b.def = append(b.def, d)
}

// spill writes the leading nulls counted in lead into the level (and
// dictionary index) slices.
func (b *colBuf) spill() {
	n := b.lead
	b.lead = 0
	b.def = append(b.def, zeroLevels(n)...)
	if b.list {
		b.rep = append(b.rep, zeroLevels(n)...)
	} else if b.dict {
		b.idx = slices.Grow(b.idx, n)[:len(b.idx)+n]
		clear(b.idx[len(b.idx)-n:])
	}
}

// levels returns the definition levels (and repetition levels for lists) of
// the row group, the leading nulls included.
func (b *colBuf) levels() (def, rep []int16) {
	if b.lead != 0 { // nothing but nulls
		z := zeroLevels(b.lead)
		if b.list {
			return z, z
		}
		return z, nil
	}
	return b.def, b.rep
}

var zeros atomic.Pointer[[]int16]

// zeroLevels returns n zero levels; callers must not modify them.
func zeroLevels(n int) []int16 {
	z := zeros.Load()
	if z == nil || len(*z) < n {
		s := make([]int16, max(n, 1<<17))
		zeros.Store(&s)
		return s[:n]
	}
	return (*z)[:n]
}

// value appends the byte-array value p (def level already appended).
func (b *colBuf) value(p []byte) {
	if b.dict {
		b.dictAdd(p)
		return
	}
	b.data = append(b.data, p...)
	b.offs = append(b.offs, int32(len(b.data)))
}

// dictEntries is the number of dictionary entries.
func (b *colBuf) dictEntries() int { return len(b.dh) }

func (b *colBuf) entry(i int32) []byte { return b.dvals[b.doffs[i]:b.doffs[i+1]] }

// dictAdd appends the index of p, adding p to the dictionary if new.
func (b *colBuf) dictAdd(p []byte) {
	last := &b.bylen[len(p)&(len(b.bylen)-1)]
	if v := *last; v != 0 && string(b.entry(v-1)) == string(p) {
		b.idx = append(b.idx, v-1)
		return
	}
	h := maphash.Bytes(dictSeed, p)
	mask := uint64(len(b.dtab) - 1)
	slot := h & mask
	for {
		v := b.dtab[slot]
		if v == 0 {
			break
		}
		if i := v - 1; b.dh[i] == h && string(b.entry(i)) == string(p) {
			*last = v
			b.idx = append(b.idx, i)
			return
		}
		slot = (slot + 1) & mask
	}
	if len(b.dvals)+len(p) > dictMaxBytes || len(b.dh) >= dictMaxEntries {
		b.undict()
		b.data = append(b.data, p...)
		b.offs = append(b.offs, int32(len(b.data)))
		return
	}
	i := int32(len(b.dh))
	b.dh = append(b.dh, h)
	b.dvals = append(b.dvals, p...)
	b.doffs = append(b.doffs, int32(len(b.dvals)))
	b.dtab[slot] = i + 1
	if 2*len(b.dh) > len(b.dtab) {
		b.dictGrow()
	}
	*last = i + 1
	b.idx = append(b.idx, i)
}

// dictGrow doubles the hash table.
func (b *colBuf) dictGrow() {
	tab := make([]int32, 2*len(b.dtab))
	mask := uint64(len(tab) - 1)
	for i, h := range b.dh {
		slot := h & mask
		for tab[slot] != 0 {
			slot = (slot + 1) & mask
		}
		tab[slot] = int32(i) + 1
	}
	b.dtab = tab
}

// undict turns the row group's dictionary-encoded values into plain values.
func (b *colBuf) undict() {
	if b.list {
		for _, i := range b.idx {
			b.data = append(b.data, b.dvals[b.doffs[i]:b.doffs[i+1]]...)
			b.offs = append(b.offs, int32(len(b.data)))
		}
	} else {
		// Called from dictAdd, the value being added already has its
		// level but no index yet: it is appended as plain by the caller.
		for r, d := range b.def[:len(b.idx)] {
			if d == 0 {
				continue
			}
			i := b.idx[r]
			b.data = append(b.data, b.dvals[b.doffs[i]:b.doffs[i+1]]...)
			b.offs = append(b.offs, int32(len(b.data)))
		}
	}
	b.dict = false
	b.idx = b.idx[:0]
}

// str appends s, or null when s is empty.
func (b *colBuf) str(s string) {
	if s == "" {
		b.null()
		return
	}
	b.level(1)
	b.value(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// bytes appends p, or null when p is empty.
func (b *colBuf) bytes(p []byte) {
	if len(p) == 0 {
		b.null()
		return
	}
	b.level(1)
	b.value(p)
}

// id appends the 32 hex digits of id, or null when id is zero.
func (b *colBuf) id(id stream.EventID) {
	if id.IsZero() {
		b.null()
		return
	}
	b.scratch = id.AppendHex(b.scratch[:0])
	b.level(1)
	b.value(b.scratch)
}

// ip appends the text form of a, or null when a is invalid.
func (b *colBuf) ip(a netip.Addr) {
	if !a.IsValid() {
		b.null()
		return
	}
	b.scratch = a.AppendTo(b.scratch[:0])
	b.level(1)
	b.value(b.scratch)
}

// list appends a list of strings, or null when it is empty.
// Levels: def 0 = null list, 2 = element present; rep 1 continues the row's list.
func (b *colBuf) strList(ss []string) {
	if len(ss) == 0 {
		b.null()
		return
	}
	for i, s := range ss {
		b.level(2)
		if i == 0 {
			b.rep = append(b.rep, 0)
		} else {
			b.rep = append(b.rep, 1)
		}
		b.value(unsafe.Slice(unsafe.StringData(s), len(s)))
	}
}

// idList appends the ids of evs as a list of hex strings, or null when empty.
func (b *colBuf) idList(evs []stream.AlertEvent) {
	if len(evs) == 0 {
		b.null()
		return
	}
	for i := range evs {
		b.level(2)
		if i == 0 {
			b.rep = append(b.rep, 0)
		} else {
			b.rep = append(b.rep, 1)
		}
		b.scratch = evs[i].ID.AppendHex(b.scratch[:0])
		b.value(b.scratch)
	}
}

// i64v appends v; ok false stores null.
func (b *colBuf) i64v(v int64, ok bool) {
	if !ok {
		b.null()
		return
	}
	b.level(1)
	b.i64 = append(b.i64, v)
}

// nz64 appends v, or null when v is zero.
func (b *colBuf) nz64(v int64) { b.i64v(v, v != 0) }

// i32v appends v; ok false stores null.
func (b *colBuf) i32v(v int32, ok bool) {
	if !ok {
		b.null()
		return
	}
	b.level(1)
	b.i32 = append(b.i32, v)
}

// nz32 appends v, or null when v is zero.
func (b *colBuf) nz32(v int32) { b.i32v(v, v != 0) }

// f64v appends v; ok false stores null.
func (b *colBuf) f64v(v float64, ok bool) {
	if !ok {
		b.null()
		return
	}
	b.level(1)
	b.f64 = append(b.f64, v)
}

// boolv appends v; ok false stores null.
func (b *colBuf) boolv(v, ok bool) {
	if !ok {
		b.null()
		return
	}
	b.level(1)
	b.bl = append(b.bl, v)
}

// ts appends t in milliseconds since the epoch, or null when t is zero.
func (b *colBuf) ts(t time.Time) {
	if t.IsZero() {
		b.null()
		return
	}
	b.level(1)
	b.i64 = append(b.i64, t.UnixMilli())
}
