package stream

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"github.com/zeebo/xxh3"
)

// OriginKind says where a record came from.
type OriginKind uint8

const (
	OriginUnknown OriginKind = iota
	// OriginKinesis: a Kinesis data record (Source = stream ARN, Shard, Sequence).
	OriginKinesis
	// OriginS3: an S3 object (Source = bucket, Key, Offset of the record in the object).
	OriginS3
	// OriginFile: a local file or stdin (Source = path, "-" for stdin).
	OriginFile
)

func (k OriginKind) String() string {
	switch k {
	case OriginKinesis:
		return "kinesis"
	case OriginS3:
		return "s3"
	case OriginFile:
		return "file"
	}
	return "unknown"
}

// Lineage says exactly where an event came from. It is the identity of the
// event: the same lineage always gives the same event.id, so reprocessing a
// record overwrites instead of duplicating.
type Lineage struct {
	Kind OriginKind
	// Source is the stream ARN (Kinesis), the bucket (S3) or the file path.
	Source string
	// Shard is the shard id (Kinesis) or the object key (S3); empty for files.
	Shard string
	// Sequence is the Kinesis sequence number; empty otherwise.
	Sequence string
	// SubSequence is the KPL sub-sequence number of a de-aggregated user
	// record, or -1 when the record was not KPL-aggregated.
	SubSequence int64
	// Offset is the byte offset of the record in an S3 object or file
	// (0 for Kinesis).
	Offset int64
	// Index is the 0-based position of the event inside its (user) record:
	// the line of an NDJSON or text payload, the element of a CloudTrail
	// "Records" array, the log event of a CloudWatch Logs message.
	Index int64
	// Line is the 1-based line number within a file or object, when known (0 otherwise).
	Line int64
	// LogEventID is the CloudWatch Logs log event id, when the record was a
	// CloudWatch Logs subscription payload.
	LogEventID string
}

// EventID is the stable 128-bit identity of an event, derived from its lineage.
type EventID [16]byte

// String returns the id as 32 lower-case hex digits (the form used as
// Elasticsearch _id, Parquet column and alert reference).
func (id EventID) String() string { return hex.EncodeToString(id[:]) }

// AppendHex appends the 32 hex digits of the id to dst.
func (id EventID) AppendHex(dst []byte) []byte {
	const digits = "0123456789abcdef"
	for _, b := range id {
		dst = append(dst, digits[b>>4], digits[b&0x0f])
	}
	return dst
}

// IsZero reports whether the id was never set.
func (id EventID) IsZero() bool { return id == EventID{} }

// ParseEventID parses the 32-hex-digit form.
func ParseEventID(s string) (EventID, error) {
	var id EventID
	if len(s) != 32 {
		return id, &strconv.NumError{Func: "ParseEventID", Num: s, Err: strconv.ErrSyntax}
	}
	_, err := hex.Decode(id[:], []byte(s))
	return id, err
}

// ID derives the stable event id: XXH3-128 over a length-prefixed encoding
// of every lineage field. The encoding is part of Gannet's contract: changing
// it changes every id, so it is versioned by its first byte.
func (l *Lineage) ID() EventID {
	var buf [256]byte
	b := buf[:0]
	b = append(b, 1, byte(l.Kind)) // version 1
	b = appendField(b, l.Source)
	b = appendField(b, l.Shard)
	b = appendField(b, l.Sequence)
	b = binary.LittleEndian.AppendUint64(b, uint64(l.SubSequence))
	b = binary.LittleEndian.AppendUint64(b, uint64(l.Offset))
	b = binary.LittleEndian.AppendUint64(b, uint64(l.Index))
	b = appendField(b, l.LogEventID)
	h := xxh3.Hash128(b)
	var id EventID
	binary.BigEndian.PutUint64(id[:8], h.Hi)
	binary.BigEndian.PutUint64(id[8:], h.Lo)
	return id
}

func appendField(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// RecordKey identifies the input record (not the event) for acknowledgement:
// Kinesis sequence + sub-sequence, or S3/file offset.
func (l *Lineage) RecordKey() string {
	switch l.Kind {
	case OriginKinesis:
		if l.SubSequence >= 0 {
			return l.Shard + "/" + l.Sequence + "/" + strconv.FormatInt(l.SubSequence, 10)
		}
		return l.Shard + "/" + l.Sequence
	default:
		return l.Source + "/" + l.Shard + "@" + strconv.FormatInt(l.Offset, 10)
	}
}
