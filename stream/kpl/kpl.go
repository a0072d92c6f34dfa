// Package kpl reads and writes Kinesis Producer Library (KPL) aggregated
// records: a 4-byte magic, a protobuf AggregatedRecord and the MD5 digest of
// the protobuf bytes. Reading is hand-written protobuf decoding: user record
// fields alias the input and nothing is allocated per user record.
package kpl

import (
	"bytes"
	"crypto/md5"

	"github.com/gannet-sec/gannet/stream"
)

// Magic is the prefix of every aggregated record.
const Magic = "\xf3\x89\x9a\xc2"

const (
	// DigestLen is the length of the trailing MD5 digest.
	DigestLen = md5.Size
	// MaxRecords caps the user records (and table entries) accepted in one
	// aggregated record; a Kinesis record of at most 1 MiB holds far fewer.
	MaxRecords = 1 << 20
	// minRecordLen is the fewest bytes one user record occupies on the wire:
	// field tag + length + partition_key_index (2) + data (2).
	minRecordLen = 6
)

// Reason codes of the Permanent errors this package returns.
const (
	CodeMD5Mismatch     = "kpl_md5_mismatch"     // the trailing digest does not match the protobuf bytes
	CodeTruncated       = "kpl_truncated"        // the record or a protobuf field ends early
	CodeBadIndex        = "kpl_bad_index"        // a key-table index points past its table
	CodeTooManyRecords  = "kpl_too_many_records" // more than MaxRecords user records or table entries
	CodeNested          = "kpl_nested"           // a user record is itself KPL-aggregated
	CodeMalformed       = "kpl_malformed"        // invalid wire type, varint or missing required field
	CodeNotAggregated   = "kpl_not_aggregated"   // the data does not start with Magic
	CodeRecordTooLarge  = "kpl_record_too_large" // a user record cannot fit in one aggregated record
	CodeBadPartitionKey = "kpl_bad_partition_key"
	CodeBadHashKey      = "kpl_bad_explicit_hash_key"
)

// UserRecord is one de-aggregated user record. Its slices alias the
// aggregated record given to Deaggregate.
type UserRecord struct {
	PartitionKey    []byte
	ExplicitHashKey []byte // nil when the user record has none
	Data            []byte
}

// IsAggregated reports whether data starts with the KPL magic. It does not
// check the digest; Deaggregate does.
func IsAggregated(data []byte) bool {
	return len(data) >= len(Magic) && string(data[:len(Magic)]) == Magic
}

// NestedError returns the Permanent kpl_nested error for user record i when
// its data is itself an aggregated record, and nil otherwise. Decoders
// dead-letter such user records instead of recursing into them.
func NestedError(i int, r *UserRecord) error {
	if IsAggregated(r.Data) {
		return stream.Permanentf(CodeNested, "user record %d is itself a KPL aggregated record", i)
	}
	return nil
}

// Reader de-aggregates records, reusing its key tables across calls. A
// Reader is not safe for concurrent use; the zero value is ready.
type Reader struct {
	pk  [][]byte
	ehk [][]byte
	idx []recIndex
}

type recIndex struct {
	pk, ehk uint64
	hasEHK  bool
}

// Deaggregate verifies and decodes one aggregated record and returns its
// user records in order (sub-sequence number = position). It is a
// convenience over Reader.Deaggregate that allocates the result.
func Deaggregate(data []byte) ([]UserRecord, error) {
	var r Reader
	return r.Deaggregate(nil, data)
}

// Deaggregate verifies the digest of one aggregated record, decodes it and
// appends its user records to dst in order. On error dst is returned
// unchanged (length) and the error is a Permanent *stream.Error whose
// reason code is one of this package's codes.
func (r *Reader) Deaggregate(dst []UserRecord, data []byte) ([]UserRecord, error) {
	if !IsAggregated(data) {
		return dst, stream.Permanentf(CodeNotAggregated, "data does not start with the KPL magic")
	}
	if len(data) < len(Magic)+DigestLen {
		return dst, stream.Permanentf(CodeTruncated, "aggregated record of %d bytes is shorter than magic and digest", len(data))
	}
	body := data[len(Magic) : len(data)-DigestLen]
	sum := md5.Sum(body)
	if !bytes.Equal(sum[:], data[len(data)-DigestLen:]) {
		return dst, stream.Permanentf(CodeMD5Mismatch, "MD5 of the %d-byte protobuf body does not match the trailing digest", len(body))
	}
	return r.parse(dst, body)
}

// parse decodes the protobuf body of an aggregated record (no digest check).
func (r *Reader) parse(dst []UserRecord, body []byte) ([]UserRecord, error) {
	base := len(dst)
	pk, ehk, idx := r.pk[:0], r.ehk[:0], r.idx[:0]
	defer func() {
		// Keep capacity, drop references to the caller's bytes.
		clear(pk)
		clear(ehk)
		r.pk, r.ehk, r.idx = pk[:0], ehk[:0], idx[:0]
	}()
	fail := func(err error) ([]UserRecord, error) {
		clear(dst[base:])
		return dst[:base], err
	}
	if est := len(body) / minRecordLen; cap(dst)-base < est && est <= 4096 {
		// Small records: one allocation sized to the most records that fit.
		dst = append(make([]UserRecord, 0, base+est), dst...)
	}
	for i := 0; i < len(body); {
		tag, n := uvarint(body[i:])
		if n <= 0 {
			return fail(varintErr(n, "field tag"))
		}
		i += n
		field, wt := tag>>3, tag&7
		if wt != 2 || field < 1 || field > 3 {
			if i, n = skipField(body, i, wt); n < 0 {
				return fail(fieldErr(n, field))
			}
			continue
		}
		l, n := uvarint(body[i:])
		if n <= 0 {
			return fail(varintErr(n, "field length"))
		}
		i += n
		if l > uint64(len(body)-i) {
			return fail(stream.Permanentf(CodeTruncated, "field %d declares %d bytes, %d remain", field, l, len(body)-i))
		}
		v := body[i : i+int(l)]
		i += int(l)
		switch field {
		case 1:
			if len(pk) >= MaxRecords {
				return fail(stream.Permanentf(CodeTooManyRecords, "more than %d partition keys", MaxRecords))
			}
			pk = append(pk, v)
		case 2:
			if len(ehk) >= MaxRecords {
				return fail(stream.Permanentf(CodeTooManyRecords, "more than %d explicit hash keys", MaxRecords))
			}
			ehk = append(ehk, v)
		case 3:
			if len(idx) >= MaxRecords {
				return fail(stream.Permanentf(CodeTooManyRecords, "more than %d user records", MaxRecords))
			}
			ri, data, err := parseRecord(v, len(idx))
			if err != nil {
				return fail(err)
			}
			idx = append(idx, ri)
			dst = append(dst, UserRecord{Data: data})
		}
	}
	for k, ri := range idx {
		u := &dst[base+k]
		if ri.pk >= uint64(len(pk)) {
			return fail(stream.Permanentf(CodeBadIndex, "user record %d: partition_key_index %d, table has %d", k, ri.pk, len(pk)))
		}
		u.PartitionKey = pk[ri.pk]
		if ri.hasEHK {
			if ri.ehk >= uint64(len(ehk)) {
				return fail(stream.Permanentf(CodeBadIndex, "user record %d: explicit_hash_key_index %d, table has %d", k, ri.ehk, len(ehk)))
			}
			u.ExplicitHashKey = ehk[ri.ehk]
		}
	}
	return dst, nil
}

// parseRecord decodes one Record message: partition_key_index (1),
// explicit_hash_key_index (2), data (3), tags (4, skipped).
func parseRecord(b []byte, k int) (ri recIndex, data []byte, err error) {
	var hasPK, hasData bool
	for i := 0; i < len(b); {
		tag, n := uvarint(b[i:])
		if n <= 0 {
			return ri, nil, varintErr(n, "user record field tag")
		}
		i += n
		field, wt := tag>>3, tag&7
		switch {
		case (field == 1 || field == 2) && wt == 0:
			v, n := uvarint(b[i:])
			if n <= 0 {
				return ri, nil, varintErr(n, "key index")
			}
			i += n
			if field == 1 {
				ri.pk, hasPK = v, true
			} else {
				ri.ehk, ri.hasEHK = v, true
			}
		case field == 3 && wt == 2:
			l, n := uvarint(b[i:])
			if n <= 0 {
				return ri, nil, varintErr(n, "data length")
			}
			i += n
			if l > uint64(len(b)-i) {
				return ri, nil, stream.Permanentf(CodeTruncated, "user record %d: data declares %d bytes, %d remain", k, l, len(b)-i)
			}
			data, hasData = b[i:i+int(l)], true
			i += int(l)
		default:
			if i, n = skipField(b, i, wt); n < 0 {
				return ri, nil, fieldErr(n, field)
			}
		}
	}
	if !hasPK {
		return ri, nil, stream.Permanentf(CodeMalformed, "user record %d has no partition_key_index", k)
	}
	if !hasData {
		return ri, nil, stream.Permanentf(CodeMalformed, "user record %d has no data", k)
	}
	if data == nil {
		data = b[:0:0]
	}
	return ri, data, nil
}

// uvarint decodes a protobuf varint. n is the bytes read; 0 means the
// input ended early, -1 that the varint is longer than 10 bytes.
func uvarint(b []byte) (v uint64, n int) {
	if len(b) > 0 && b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	var s uint
	for i, c := range b {
		if i == 10 {
			return 0, -1
		}
		if c < 0x80 {
			if i == 9 && c > 1 {
				return 0, -1
			}
			return v | uint64(c)<<s, i + 1
		}
		v |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, 0
}

func varintErr(n int, what string) error {
	if n == 0 {
		return stream.Permanentf(CodeTruncated, "protobuf ends inside a varint (%s)", what)
	}
	return stream.Permanentf(CodeMalformed, "overlong varint (%s)", what)
}

// skipField skips a field value of wire type wt at b[i:]. It returns the
// new index and n = 0 on success, -1 when truncated, -2 for a bad wire type.
func skipField(b []byte, i int, wt uint64) (int, int) {
	switch wt {
	case 0:
		_, n := uvarint(b[i:])
		if n <= 0 {
			return i, -1 - boolInt(n < 0)
		}
		return i + n, 0
	case 1:
		if len(b)-i < 8 {
			return i, -1
		}
		return i + 8, 0
	case 2:
		l, n := uvarint(b[i:])
		if n <= 0 {
			return i, -1 - boolInt(n < 0)
		}
		i += n
		if l > uint64(len(b)-i) {
			return i, -1
		}
		return i + int(l), 0
	case 5:
		if len(b)-i < 4 {
			return i, -1
		}
		return i + 4, 0
	}
	return i, -2
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fieldErr(n int, field uint64) error {
	if n == -1 {
		return stream.Permanentf(CodeTruncated, "protobuf ends inside field %d", field)
	}
	return stream.Permanentf(CodeMalformed, "field %d has an invalid wire type or varint", field)
}
