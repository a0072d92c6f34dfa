package lake

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// The lake's own Parquet file writer. The lake's schema is restricted (flat
// optional columns of seven physical/logical kinds plus one 3-level list of
// strings) and its column buffers (colBuf) already hold levels, values and
// per-row-group dictionaries, so a file is written directly from them:
// DataPageV1 pages (RLE/bit-packed levels, PLAIN values or RLE_DICTIONARY
// indices), a PLAIN dictionary page per dictionary chunk, chunk statistics
// as arrow-go computes them, and a Thrift compact footer. arrow-go remains
// the reader (reader.go, compaction, tests).

// createdBy is the footer's created_by.
const createdBy = "gannet lake (parquet writer 1)"

// hwCol is what the writer needs of one column.
type hwCol struct {
	name   string
	typ    Type
	ptype  int32 // physical type
	maxDef int16
	stats  bool
	signed bool // sort order SIGNED: legacy min/max are written too
	path   []string
}

// hwSchema is the per-table part of the writer, built once per encoder.
type hwSchema struct {
	cols []hwCol
	// footHead holds FileMetaData fields 1 (version) and 2 (schema);
	// footTail fields 5 (key/value metadata), 6 (created_by), 7 (column
	// orders) and the struct's end. Only num_rows and row_groups vary.
	footHead, footTail []byte
	codec              int32
}

func newHWSchema(t Table, enc Encoding) *hwSchema {
	s := &hwSchema{}
	switch enc.Codec {
	case Snappy:
		s.codec = codecSnappy
	case Uncompressed:
		s.codec = codecUncompressed
	default:
		s.codec = codecZstd
	}
	var t2 thriftW
	t2.i32(1, 2)
	n := len(t.Columns)
	leaves := n
	elems := 1 + n
	for _, c := range t.Columns {
		if c.Type == StringList {
			elems += 2
		}
	}
	t2.list(2, tcStruct, elems)
	t2.elem()
	t2.i32(3, repRequired)
	t2.str(4, "schema")
	t2.i32(5, int32(n))
	t2.end()
	for _, c := range t.Columns {
		hc := hwCol{name: c.Name, typ: c.Type, maxDef: 1, stats: statsUseful(c), path: []string{c.Name}}
		t2.elem()
		switch c.Type {
		case String, JSON:
			hc.ptype = ptByteArray
			t2.i32(1, ptByteArray)
			t2.i32(3, repOptional)
			t2.str(4, c.Name)
			t2.i32(6, ctUTF8)
			t2.begin(10)
			t2.begin(1)
			t2.end()
			t2.end()
		case Binary:
			hc.ptype = ptByteArray
			t2.i32(1, ptByteArray)
			t2.i32(3, repOptional)
			t2.str(4, c.Name)
		case Int32, Int64:
			hc.ptype, hc.signed = ptInt32, true
			ct, bw := int32(ctInt32), int8(32)
			if c.Type == Int64 {
				hc.ptype, ct, bw = ptInt64, ctInt64, 64
			}
			t2.i32(1, hc.ptype)
			t2.i32(3, repOptional)
			t2.str(4, c.Name)
			t2.i32(6, ct)
			t2.begin(10)
			t2.begin(10)
			t2.i8(1, bw)
			t2.boolean(2, true)
			t2.end()
			t2.end()
		case Float64:
			hc.ptype, hc.signed = ptDouble, true
			t2.i32(1, ptDouble)
			t2.i32(3, repOptional)
			t2.str(4, c.Name)
		case Bool:
			hc.ptype, hc.signed = ptBoolean, true
			t2.i32(1, ptBoolean)
			t2.i32(3, repOptional)
			t2.str(4, c.Name)
		case Timestamp:
			hc.ptype, hc.signed = ptInt64, true
			t2.i32(1, ptInt64)
			t2.i32(3, repOptional)
			t2.str(4, c.Name)
			t2.i32(6, ctTimestampMillis)
			t2.begin(10)
			t2.begin(8)
			t2.boolean(1, true)
			t2.begin(2)
			t2.begin(1)
			t2.end()
			t2.end()
			t2.end()
			t2.end()
		case StringList:
			hc.ptype, hc.maxDef = ptByteArray, 2
			hc.path = []string{c.Name, "list", "element"}
			t2.i32(3, repOptional)
			t2.str(4, c.Name)
			t2.i32(5, 1)
			t2.i32(6, ctList)
			t2.begin(10)
			t2.begin(3)
			t2.end()
			t2.end()
			t2.end()
			t2.elem()
			t2.i32(3, repRepeated)
			t2.str(4, "list")
			t2.i32(5, 1)
			t2.end()
			t2.elem()
			t2.i32(1, ptByteArray)
			t2.i32(3, repRequired)
			t2.str(4, "element")
			t2.i32(6, ctUTF8)
			t2.begin(10)
			t2.begin(1)
			t2.end()
			t2.end()
		default:
			panic(fmt.Sprintf("lake: column %s: unknown type %d", c.Name, c.Type))
		}
		t2.end()
		s.cols = append(s.cols, hc)
	}
	s.footHead = bytes.Clone(t2.b)

	t2.reset()
	t2.last = 4
	t2.list(5, tcStruct, 2)
	for _, kv := range [][2]string{{"gannet.table", t.Name}, {"gannet.schema_version", strconv.Itoa(t.Version())}} {
		t2.elem()
		t2.str(1, kv[0])
		t2.str(2, kv[1])
		t2.end()
	}
	t2.str(6, createdBy)
	t2.list(7, tcStruct, leaves)
	for range leaves {
		t2.elem()
		t2.begin(1)
		t2.end()
		t2.end()
	}
	t2.b = append(t2.b, 0) // end of FileMetaData
	s.footTail = bytes.Clone(t2.b)
	return s
}

// hwScratch holds the buffers of one row group being written; pooled, so
// they are reused across columns, row groups, files and tables.
type hwScratch struct {
	out   []byte // the row group's bytes
	page  []byte // uncompressed page
	comp  []byte // compressed page
	hdr   thriftW
	gidx  []int32 // dictionary indices of one page's non-null slots
	zenc  *zstd.Encoder
	zlev  int
	huff  huff0.Scratch
	probe []byte
}

var hwPool = sync.Pool{New: func() any { return new(hwScratch) }}

// compress compresses page p with codec. For zstd, lit carries the column
// chunk's literal-only choice (litUnknown until its first page large enough
// to probe), so a chunk is probed once; nil probes p alone.
func (s *hwScratch) compress(codec int32, level int, p []byte, lit *int8) []byte {
	switch codec {
	case codecZstd:
		if s.zenc == nil || s.zlev != level {
			s.zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
				zstd.WithEncoderConcurrency(1), zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true),
				zstd.WithAllLitEntropyCompression(true))
			s.zlev = level
		}
		if s.literalsFor(p, lit) {
			literalPages.Add(1)
			s.comp = appendZstdLiterals(s.comp[:0], p, &s.huff)
			return s.comp
		}
		s.comp = s.zenc.EncodeAll(p, s.comp[:0])
		return s.comp
	case codecSnappy:
		if n := snappy.MaxEncodedLen(len(p)); cap(s.comp) < n {
			s.comp = make([]byte, n)
		}
		s.comp = snappy.Encode(s.comp[:cap(s.comp)], p)
		return s.comp
	}
	return p
}

// hwFile is one Parquet file written by the lake's writer.
type hwFile struct {
	sc    *hwSchema
	level int
	page  int // target uncompressed value bytes per page
	magic bool
	off   int64 // bytes handed to the object
	rows  int64
	nrg   int
	rgs   thriftW // the RowGroup structs written so far (footer list elements)
}

func newHWFile(sc *hwSchema, enc Encoding) *hwFile {
	return &hwFile{sc: sc, level: enc.ZstdLevel, page: int(enc.PageBytes)}
}

// size is the number of bytes written so far (the magic counts from the start).
func (f *hwFile) size() int64 {
	if !f.magic {
		return 4
	}
	return f.off
}

// flushBytes is the output a row group buffers before writing it.
const flushBytes = 1 << 20

// chunkInfo is the metadata of one column chunk.
type chunkInfo struct {
	start, dataOff, dictOff int64
	unc, comp               int64
	dataPages               int32
	dict                    bool
	levels                  int64
	nulls                   int64
	min, max                []byte // valid until the column buffer is reset
	lit                     int8   // literal-only choice of the chunk's data pages (zlit.go)
	hasMin, hasMax          bool
	mnb, mxb                [8]byte
}

// writeRowGroup encodes bufs as a row group and writes it with w.
func (f *hwFile) writeRowGroup(w func([]byte) error, bufs []colBuf) error {
	if len(bufs) != len(f.sc.cols) {
		return fmt.Errorf("lake: %d column buffers for %d columns", len(bufs), len(f.sc.cols))
	}
	s := hwPool.Get().(*hwScratch)
	defer hwPool.Put(s)
	s.out = s.out[:0]
	base := f.off
	if !f.magic {
		s.out = append(s.out, "PAR1"...)
	}
	rows := int64(-1)
	rg := &f.rgs
	rg.elem()
	rg.list(1, tcStruct, len(bufs))
	var totUnc, totComp int64
	var rgStart int64
	for i := range bufs {
		c := &f.sc.cols[i]
		b := &bufs[i]
		var ci chunkInfo
		ci.start = base + int64(len(s.out))
		if i == 0 {
			rgStart = ci.start
		}
		n, err := f.writeChunk(s, c, b, base, &ci)
		if err != nil {
			rg.end()
			return fmt.Errorf("lake: column %s: %w", c.name, err)
		}
		if rows < 0 {
			rows = n
		} else if n != rows {
			return fmt.Errorf("lake: column %s has %d rows, want %d", c.name, n, rows)
		}
		totUnc += ci.unc
		totComp += ci.comp
		// ColumnChunk
		rg.elem()
		rg.i64(2, ci.start)
		rg.begin(3)
		rg.i32(1, c.ptype)
		if ci.dict {
			rg.list(2, tcI32, 3) // arrow-go's order
			rg.zigzag(encRLEDictionary)
			rg.zigzag(encPlain)
			rg.zigzag(encRLE)
		} else {
			rg.list(2, tcI32, 2)
			rg.zigzag(encPlain)
			rg.zigzag(encRLE)
		}
		rg.list(3, tcBinary, len(c.path))
		for _, p := range c.path {
			rg.rawStr(p)
		}
		rg.i32(4, f.sc.codec)
		rg.i64(5, ci.levels)
		rg.i64(6, ci.unc)
		rg.i64(7, ci.comp)
		rg.i64(9, ci.dataOff)
		if ci.dict {
			rg.i64(11, ci.dictOff)
		}
		if c.stats && ci.levels > 0 {
			rg.begin(12)
			if c.signed && ci.hasMax {
				rg.bin(1, ci.max)
			}
			if c.signed && ci.hasMin {
				rg.bin(2, ci.min)
			}
			rg.i64(3, ci.nulls)
			if ci.hasMax {
				rg.bin(5, ci.max)
			}
			if ci.hasMin {
				rg.bin(6, ci.min)
			}
			rg.end()
		}
		// encoding_stats
		if ci.dict {
			rg.list(13, tcStruct, 2)
			rg.elem()
			rg.i32(1, pageDict)
			rg.i32(2, encPlain)
			rg.i32(3, 1)
			rg.end()
			rg.elem()
			rg.i32(1, pageData)
			rg.i32(2, encRLEDictionary)
			rg.i32(3, ci.dataPages)
			rg.end()
		} else {
			rg.list(13, tcStruct, 1)
			rg.elem()
			rg.i32(1, pageData)
			rg.i32(2, encPlain)
			rg.i32(3, ci.dataPages)
			rg.end()
		}
		rg.end() // ColumnMetaData
		rg.end() // ColumnChunk
		// Hand finished chunks to the object once they make 1 MiB, so the
		// scratch holds about one column chunk, not the whole row group.
		if len(s.out) >= flushBytes {
			if err := w(s.out); err != nil {
				return err
			}
			f.magic = true
			f.off += int64(len(s.out))
			base = f.off
			s.out = s.out[:0]
		}
	}
	rg.i64(2, totUnc)
	rg.i64(3, max(rows, 0))
	rg.i64(5, rgStart)
	rg.i64(6, totComp)
	rg.end()
	if err := w(s.out); err != nil {
		return err
	}
	f.magic = true
	f.off += int64(len(s.out))
	f.rows += max(rows, 0)
	f.nrg++
	return nil
}

// close writes the footer.
func (f *hwFile) close(w func([]byte) error) error {
	s := hwPool.Get().(*hwScratch)
	defer hwPool.Put(s)
	s.out = s.out[:0]
	if !f.magic {
		s.out = append(s.out, "PAR1"...)
	}
	start := len(s.out)
	var t thriftW
	t.b = append(s.out, f.sc.footHead...)
	t.last = 2
	t.i64(3, f.rows)
	t.list(4, tcStruct, f.nrg)
	t.b = append(t.b, f.rgs.b...)
	t.b = append(t.b, f.sc.footTail...)
	t.b = binary.LittleEndian.AppendUint32(t.b, uint32(len(t.b)-start))
	t.b = append(t.b, "PAR1"...)
	s.out = t.b
	if err := w(s.out); err != nil {
		return err
	}
	f.magic = true
	f.off += int64(len(s.out))
	return nil
}

// value kinds of a chunk's pages.
const (
	kBytes = iota
	kDict
	kFixed
	kBool
)

// writeChunk appends the pages of one column chunk to s.out and fills ci;
// it returns the chunk's row count.
func (f *hwFile) writeChunk(s *hwScratch, c *hwCol, b *colBuf, base int64, ci *chunkInfo) (int64, error) {
	def, rep := b.levels()
	if c.maxDef < 2 {
		rep = nil
	}
	maxDef := c.maxDef
	nl := len(def)
	if rep != nil && len(rep) != nl {
		return 0, fmt.Errorf("%d repetition levels for %d definition levels", len(rep), nl)
	}
	kind, width := kFixed, 0
	var nv int
	switch c.typ {
	case Int32:
		width, nv = 4, len(b.i32)
	case Int64, Timestamp:
		width, nv = 8, len(b.i64)
	case Float64:
		width, nv = 8, len(b.f64)
	case Bool:
		kind, nv = kBool, len(b.bl)
	default:
		kind = kBytes
		if b.dictCol && b.dict {
			if b.dictEntries() > 0 {
				kind = kDict
			} else {
				b.undict()
			}
		}
		if kind == kBytes {
			nv = len(b.offs) - 1
		} else if b.list {
			nv = len(b.idx)
		}
	}
	// Count values and rows.
	var present, rows int
	if maxDef == 1 { // levels are 0 or 1
		for _, d := range def {
			present += int(d)
		}
	} else {
		for _, d := range def {
			if d == maxDef {
				present++
			}
		}
	}
	if rep == nil {
		rows = nl
	} else {
		for _, r := range rep {
			if r == 0 {
				rows++
			}
		}
	}
	if kind == kDict && !b.list {
		if len(b.idx) != nl {
			return 0, fmt.Errorf("%d dictionary indices for %d levels", len(b.idx), nl)
		}
	} else if nv != present {
		return 0, fmt.Errorf("%d values for %d present levels", nv, present)
	}
	ci.levels = int64(nl)
	ci.nulls = int64(nl - present)
	if c.stats {
		f.stats(c, b, kind, ci)
	}

	bw := 0 // dictionary index bit width
	if kind == kDict {
		ci.dict = true
		ci.dictOff = base + int64(len(s.out))
		ne := b.dictEntries()
		bw = bits.Len(uint(ne - 1))
		p := s.page[:0]
		for i := range ne {
			e := b.entry(int32(i))
			p = binary.LittleEndian.AppendUint32(p, uint32(len(e)))
			p = append(p, e...)
		}
		s.page = p
		f.putPage(s, c, ci, pageDict, p, ne, 0)
	}
	ci.dataOff = base + int64(len(s.out))

	target := f.page
	defW := bits.Len(uint(maxDef))
	l0, v0 := 0, 0
	for first := true; first || l0 < nl; first = false {
		l1, v1 := l0, v0
		if rep == nil {
			l1, v1 = pageEnd(b, def, kind, width, bw, target, l0, v0, present)
		}
		for rep != nil && l1 < nl {
			if rep == nil || rep[l1] == 0 {
				var sz int
				switch kind {
				case kBytes:
					sz = int(b.offs[v1]-b.offs[v0]) + 4*(v1-v0)
				case kDict:
					sz = (v1 - v0) * bw / 8
				case kFixed:
					sz = (v1 - v0) * width
				default:
					sz = (v1 - v0) / 8
				}
				if sz >= target {
					break
				}
			}
			if def[l1] == maxDef {
				v1++
			}
			l1++
		}
		p := s.page[:0]
		if rep != nil {
			p = appendLevels(p, rep[l0:l1], 1)
		}
		p = appendLevels(p, def[l0:l1], defW)
		enc := int32(encPlain)
		switch kind {
		case kBytes:
			offs := b.offs
			for v := v0; v < v1; v++ {
				p = binary.LittleEndian.AppendUint32(p, uint32(offs[v+1]-offs[v]))
				p = append(p, b.data[offs[v]:offs[v+1]]...)
			}
		case kDict:
			enc = encRLEDictionary
			var ix []int32
			if b.list {
				ix = b.idx[v0:v1]
			} else {
				g := slices.Grow(s.gidx[:0], l1-l0)[:l1-l0]
				k := 0
				for l, d := range def[l0:l1] { // d is 0 or 1
					g[k] = b.idx[l0+l]
					k += int(d)
				}
				s.gidx = g
				ix = g[:k]
			}
			p = append(p, byte(bw))
			p = rleAppend(p, ix, bw)
		case kFixed:
			switch c.typ {
			case Int32:
				p = appendLE(p, b.i32[v0:v1])
			case Float64:
				p = appendLE(p, b.f64[v0:v1])
			default:
				p = appendLE(p, b.i64[v0:v1])
			}
		default:
			p = appendBools(p, b.bl[v0:v1])
		}
		s.page = p
		f.putPage(s, c, ci, pageData, p, l1-l0, enc)
		ci.dataPages++
		l0, v0 = l1, v1
	}
	return int64(rows), nil
}

// putPage compresses p and appends its header and data to s.out.
func (f *hwFile) putPage(s *hwScratch, c *hwCol, ci *chunkInfo, typ int32, p []byte, n int, enc int32) {
	lit := &ci.lit
	if typ == pageDict {
		lit = nil // a dictionary page is probed on its own
	}
	cp := s.compress(f.sc.codec, f.level, p, lit)
	h := &s.hdr
	h.reset()
	h.i32(1, typ)
	h.i32(2, int32(len(p)))
	h.i32(3, int32(len(cp)))
	if typ == pageDict {
		h.begin(7)
		h.i32(1, int32(n))
		h.i32(2, encPlain)
		h.boolean(3, false)
		h.end()
	} else {
		h.begin(5)
		h.i32(1, int32(n))
		h.i32(2, enc)
		h.i32(3, encRLE)
		h.i32(4, encRLE)
		h.end()
	}
	h.b = append(h.b, 0)
	s.out = append(s.out, h.b...)
	s.out = append(s.out, cp...)
	ci.unc += int64(len(h.b) + len(p))
	ci.comp += int64(len(h.b) + len(cp))
}

// appendLE appends the little-endian bytes of v (the machine is little-endian,
// as every platform Gannet builds for).
func appendLE[T int32 | int64 | float64](p []byte, v []T) []byte {
	if len(v) == 0 {
		return p
	}
	return append(p, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(v[0])))...)
}

// appendBools appends v bit-packed, least significant bit first.
func appendBools(p []byte, v []bool) []byte {
	var acc byte
	for i, x := range v {
		if x {
			acc |= 1 << (i & 7)
		}
		if i&7 == 7 {
			p = append(p, acc)
			acc = 0
		}
	}
	if len(v)&7 != 0 {
		p = append(p, acc)
	}
	return p
}

// appendLevels appends levels RLE/bit-packed with a 4-byte length prefix.
func appendLevels(p []byte, lv []int16, w int) []byte {
	at := len(p)
	p = append(p, 0, 0, 0, 0)
	p = rleAppend(p, lv, w)
	binary.LittleEndian.PutUint32(p[at:], uint32(len(p)-at-4))
	return p
}

func appendUvarint(p []byte, v uint64) []byte {
	for v >= 0x80 {
		p = append(p, byte(v)|0x80)
		v >>= 7
	}
	return append(p, byte(v))
}

// rleAppend appends v in the RLE/bit-packed hybrid encoding with bit width
// w: runs of 8 or more equal values as RLE runs, the rest bit-packed in
// groups of 8 (the last group padded with zeros).
func rleAppend[T int16 | int32](p []byte, v []T, w int) []byte {
	n := len(v)
	bw := (w + 7) / 8
	for i := 0; i < n; {
		x := v[i]
		j := i + 1
		for j < n && v[j] == x {
			j++
		}
		if j-i >= 8 {
			p = appendUvarint(p, uint64(j-i)<<1)
			u := uint32(x)
			for k := 0; k < bw; k++ {
				p = append(p, byte(u>>(8*k)))
			}
			i = j
			continue
		}
		// Bit-packed groups until a run of 8 starts at a group boundary.
		e := i + 8
		for e < n {
			y := v[e]
			q := e + 1
			for q < n && q-e < 8 && v[q] == y {
				q++
			}
			if q-e >= 8 {
				break
			}
			e += 8
		}
		e = min(e, n)
		groups := (e - i + 7) / 8
		p = appendUvarint(p, uint64(groups)<<1|1)
		p = bitPack(p, v[i:e], w, groups*8)
		i = e
	}
	return p
}

// bitPack appends total values of w bits (v padded with zeros), LSB first.
func bitPack[T int16 | int32](p []byte, v []T, w, total int) []byte {
	if w == 0 {
		return p
	}
	var acc uint64
	nb := 0
	for k := 0; k < total; k++ {
		var x uint64
		if k < len(v) {
			x = uint64(uint32(v[k]))
		}
		acc |= x << nb
		nb += w
		for nb >= 8 {
			p = append(p, byte(acc))
			acc >>= 8
			nb -= 8
		}
	}
	return p
}

// maxStatsSize drops a min or max longer than this, as arrow-go's
// WithMaxStatsSize(256) did.
const maxStatsSize = 256

// stats computes the chunk statistics of a column: min/max in the
// column's sort order (byte arrays unsigned, numbers signed, NaN skipped).
func (f *hwFile) stats(c *hwCol, b *colBuf, kind int, ci *chunkInfo) {
	switch c.typ {
	case Int32:
		if len(b.i32) == 0 {
			return
		}
		mn, mx := b.i32[0], b.i32[0]
		for _, v := range b.i32[1:] {
			mn, mx = min(mn, v), max(mx, v)
		}
		ci.min = binary.LittleEndian.AppendUint32(ci.mnb[:0], uint32(mn))
		ci.max = binary.LittleEndian.AppendUint32(ci.mxb[:0], uint32(mx))
	case Int64, Timestamp:
		if len(b.i64) == 0 {
			return
		}
		mn, mx := b.i64[0], b.i64[0]
		for _, v := range b.i64[1:] {
			mn, mx = min(mn, v), max(mx, v)
		}
		ci.min = binary.LittleEndian.AppendUint64(ci.mnb[:0], uint64(mn))
		ci.max = binary.LittleEndian.AppendUint64(ci.mxb[:0], uint64(mx))
	case Float64:
		ok := false
		var mn, mx float64
		for _, v := range b.f64 {
			if math.IsNaN(v) {
				continue
			}
			if !ok {
				mn, mx, ok = v, v, true
				continue
			}
			if v < mn {
				mn = v
			}
			if v > mx {
				mx = v
			}
		}
		if !ok {
			return
		}
		if mn == 0 {
			mn = math.Copysign(0, -1)
		}
		if mx == 0 {
			mx = 0
		}
		ci.min = binary.LittleEndian.AppendUint64(ci.mnb[:0], math.Float64bits(mn))
		ci.max = binary.LittleEndian.AppendUint64(ci.mxb[:0], math.Float64bits(mx))
	case Bool:
		if len(b.bl) == 0 {
			return
		}
		var hasF, hasT bool
		for _, v := range b.bl {
			if v {
				hasT = true
			} else {
				hasF = true
			}
			if hasT && hasF {
				break
			}
		}
		ci.mnb[0], ci.mxb[0] = 1, 0
		if hasF {
			ci.mnb[0] = 0
		}
		if hasT {
			ci.mxb[0] = 1
		}
		ci.min, ci.max = ci.mnb[:1], ci.mxb[:1]
	default:
		var mn, mx []byte
		ok := false
		if kind == kDict {
			for i := range b.dictEntries() {
				e := b.entry(int32(i))
				if !ok {
					mn, mx, ok = e, e, true
					continue
				}
				if bytes.Compare(e, mn) < 0 {
					mn = e
				} else if bytes.Compare(e, mx) > 0 {
					mx = e
				}
			}
		} else {
			offs := b.offs
			for v := 0; v+1 < len(offs); v++ {
				e := b.data[offs[v]:offs[v+1]]
				if !ok {
					mn, mx, ok = e, e, true
					continue
				}
				if string(e) < string(mn) {
					mn = e
				} else if string(e) > string(mx) {
					mx = e
				}
			}
		}
		if !ok {
			return
		}
		ci.min, ci.max = mn, mx
	}
	ci.hasMin = len(ci.min) <= maxStatsSize
	ci.hasMax = len(ci.max) <= maxStatsSize
	if !ci.hasMin {
		ci.min = nil
	}
	if !ci.hasMax {
		ci.max = nil
	}
}

// pageEnd returns the end (levels, values) of the page of a flat column
// starting at levels l0 and values v0: values up to the page size target
// (the last one crossing it), and the levels up to the last of them, or to
// the chunk's end when its values are all in.
func pageEnd(b *colBuf, def []int16, kind, width, bw, target, l0, v0, nv int) (l1, v1 int) {
	switch kind {
	case kBytes:
		base := b.offs[v0]
		v1 = v0
		for v1 < nv && int(b.offs[v1]-base)+4*(v1-v0) < target {
			v1++
		}
	case kDict:
		v1 = v0 + max(1, target*8/max(bw, 1))
	case kFixed:
		v1 = v0 + max(1, target/width)
	default:
		v1 = v0 + target*8
	}
	if v1 >= nv {
		return len(def), nv
	}
	l1 = l0
	for n := v1 - v0; n > 0; l1++ {
		n -= int(def[l1])
	}
	return l1, v1
}
