package lake

// A Thrift compact-protocol encoder for the few Parquet structures the
// lake's file writer emits (page headers and the footer). Numbers follow
// parquet.thrift (apache/parquet-format).

// Thrift compact type ids.
const (
	tcTrue   = 1
	tcFalse  = 2
	tcByte   = 3
	tcI32    = 5
	tcI64    = 6
	tcBinary = 8
	tcList   = 9
	tcStruct = 12
)

// Parquet enums (parquet.thrift).
const (
	ptBoolean   = 0 // Type
	ptInt32     = 1
	ptInt64     = 2
	ptDouble    = 5
	ptByteArray = 6

	ctUTF8            = 0 // ConvertedType
	ctList            = 3
	ctTimestampMillis = 9
	ctInt32           = 17
	ctInt64           = 18

	repRequired = 0 // FieldRepetitionType
	repOptional = 1
	repRepeated = 2

	encPlain          = 0 // Encoding
	encPlainDict      = 2
	encRLE            = 3
	encRLEDictionary  = 8
	codecUncompressed = 0 // CompressionCodec
	codecSnappy       = 1
	codecZstd         = 6

	pageData = 0 // PageType
	pageDict = 2
)

// thriftW appends compact-protocol fields to b.
type thriftW struct {
	b     []byte
	last  int16
	stack []int16
}

func (t *thriftW) reset() { t.b, t.last, t.stack = t.b[:0], 0, t.stack[:0] }

func (t *thriftW) uvarint(v uint64) {
	for v >= 0x80 {
		t.b = append(t.b, byte(v)|0x80)
		v >>= 7
	}
	t.b = append(t.b, byte(v))
}

func (t *thriftW) zigzag(v int64) { t.uvarint(uint64(v<<1) ^ uint64(v>>63)) }

func (t *thriftW) field(id int16, typ byte) {
	if d := id - t.last; d > 0 && d <= 15 {
		t.b = append(t.b, byte(d)<<4|typ)
	} else {
		t.b = append(t.b, typ)
		t.zigzag(int64(id))
	}
	t.last = id
}

func (t *thriftW) i32(id int16, v int32) { t.field(id, tcI32); t.zigzag(int64(v)) }
func (t *thriftW) i64(id int16, v int64) { t.field(id, tcI64); t.zigzag(v) }
func (t *thriftW) i8(id int16, v int8)   { t.field(id, tcByte); t.b = append(t.b, byte(v)) }
func (t *thriftW) boolean(id int16, v bool) {
	if v {
		t.field(id, tcTrue)
	} else {
		t.field(id, tcFalse)
	}
}
func (t *thriftW) bin(id int16, p []byte) { t.field(id, tcBinary); t.rawBin(p) }
func (t *thriftW) str(id int16, s string) { t.field(id, tcBinary); t.rawStr(s) }
func (t *thriftW) rawBin(p []byte) {
	t.uvarint(uint64(len(p)))
	t.b = append(t.b, p...)
}
func (t *thriftW) rawStr(s string) {
	t.uvarint(uint64(len(s)))
	t.b = append(t.b, s...)
}

// list writes a list header of n elements of type et (field id given).
func (t *thriftW) list(id int16, et byte, n int) {
	t.field(id, tcList)
	t.listHeader(et, n)
}

func (t *thriftW) listHeader(et byte, n int) {
	if n < 15 {
		t.b = append(t.b, byte(n)<<4|et)
		return
	}
	t.b = append(t.b, 0xf0|et)
	t.uvarint(uint64(n))
}

// begin opens a struct field; elem opens a struct list element.
func (t *thriftW) begin(id int16) { t.field(id, tcStruct); t.elem() }
func (t *thriftW) elem() {
	t.stack = append(t.stack, t.last)
	t.last = 0
}

// end closes the struct opened last.
func (t *thriftW) end() {
	t.b = append(t.b, 0)
	n := len(t.stack) - 1
	t.last, t.stack = t.stack[n], t.stack[:n]
}
