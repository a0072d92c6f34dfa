package kpl

import (
	"crypto/md5"
	"encoding/binary"

	"github.com/gannet-sec/gannet/stream"
)

const (
	// DefaultMaxSize is the Kinesis record limit (data plus partition key),
	// the default size of the aggregated records an Aggregator builds.
	DefaultMaxSize = 1 << 20
	// MaxPartitionKeyLen is the Kinesis limit on a partition key, in bytes.
	MaxPartitionKeyLen = 256
)

// Record is an aggregated record ready for PutRecord(s): its partition key
// and explicit hash key are those of its first user record.
type Record struct {
	PartitionKey    string
	ExplicitHashKey string // empty when the first user record had none
	Data            []byte
	UserRecords     int // how many user records it holds
}

// Aggregator packs user records into aggregated records that each fit
// MaxSize bytes counting the partition key, as Kinesis counts them. It is
// not safe for concurrent use.
type Aggregator struct {
	maxSize int

	pkIndex  map[string]uint64
	ehkIndex map[string]uint64
	pkTab    []byte // field 1 entries
	ehkTab   []byte // field 2 entries
	recs     []byte // field 3 entries
	n        int
	firstPK  string
	firstEHK string
}

// NewAggregator returns an Aggregator building records of at most maxSize
// bytes (data plus partition key); maxSize <= 0 means DefaultMaxSize.
func NewAggregator(maxSize int) *Aggregator {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	return &Aggregator{maxSize: maxSize, pkIndex: map[string]uint64{}, ehkIndex: map[string]uint64{}}
}

// Len returns the number of user records waiting in the record being built.
func (a *Aggregator) Len() int { return a.n }

// Size returns the size the record being built would have (data plus
// partition key); 0 when empty.
func (a *Aggregator) Size() int {
	if a.n == 0 {
		return 0
	}
	return len(a.firstPK) + len(Magic) + len(a.pkTab) + len(a.ehkTab) + len(a.recs) + DigestLen
}

// Add adds one user record. When it does not fit in the record being
// built, that record is finished and returned (out != nil) and the user
// record starts the next one. A user record that cannot fit even alone, an
// empty or over-long partition key, or an explicit hash key that is not a
// decimal number give a Permanent error and change nothing.
func (a *Aggregator) Add(partitionKey, explicitHashKey string, data []byte) (out *Record, err error) {
	if len(partitionKey) == 0 || len(partitionKey) > MaxPartitionKeyLen {
		return nil, stream.Permanentf(CodeBadPartitionKey, "partition key of %d bytes, want 1..%d", len(partitionKey), MaxPartitionKeyLen)
	}
	if explicitHashKey != "" && !decimal(explicitHashKey) {
		return nil, stream.Permanentf(CodeBadHashKey, "explicit hash key %q is not a decimal number", explicitHashKey)
	}
	// Alone, in an empty record, the user record costs:
	alone := len(partitionKey) + len(Magic) + DigestLen + a.cost(partitionKey, explicitHashKey, len(data), true)
	if alone > a.maxSize {
		return nil, stream.Permanentf(CodeRecordTooLarge, "user record of %d bytes needs %d bytes aggregated, limit %d", len(data), alone, a.maxSize)
	}
	if a.n > 0 && a.Size()+a.cost(partitionKey, explicitHashKey, len(data), false) > a.maxSize {
		out = a.Flush()
	}
	a.add(partitionKey, explicitHashKey, data)
	return out, nil
}

// cost is the bytes the user record adds to the protobuf body; empty says
// to price it as the first record of an empty aggregate.
func (a *Aggregator) cost(pk, ehk string, dataLen int, empty bool) int {
	c := 0
	pkIdx, ok := a.pkIndex[pk]
	if empty {
		pkIdx, ok = 0, false
	}
	if !ok {
		if !empty {
			pkIdx = uint64(len(a.pkIndex))
		}
		c += lenField(len(pk))
	}
	msg := 1 + varintLen(pkIdx) + lenField(dataLen)
	if ehk != "" {
		ehkIdx, ok := a.ehkIndex[ehk]
		if empty {
			ehkIdx, ok = 0, false
		}
		if !ok {
			if !empty {
				ehkIdx = uint64(len(a.ehkIndex))
			}
			c += lenField(len(ehk))
		}
		msg += 1 + varintLen(ehkIdx)
	}
	return c + lenField(msg)
}

func (a *Aggregator) add(pk, ehk string, data []byte) {
	if a.n == 0 {
		a.firstPK, a.firstEHK = pk, ehk
	}
	pkIdx, ok := a.pkIndex[pk]
	if !ok {
		pkIdx = uint64(len(a.pkIndex))
		a.pkIndex[pk] = pkIdx
		a.pkTab = appendBytesField(a.pkTab, 1, pk)
	}
	msg := 1 + varintLen(pkIdx) + lenField(len(data))
	var ehkIdx uint64
	if ehk != "" {
		ehkIdx, ok = a.ehkIndex[ehk]
		if !ok {
			ehkIdx = uint64(len(a.ehkIndex))
			a.ehkIndex[ehk] = ehkIdx
			a.ehkTab = appendBytesField(a.ehkTab, 2, ehk)
		}
		msg += 1 + varintLen(ehkIdx)
	}
	b := a.recs
	b = append(b, 3<<3|2)
	b = binary.AppendUvarint(b, uint64(msg))
	b = append(b, 1<<3) // field 1, wire type 0 (varint)
	b = binary.AppendUvarint(b, pkIdx)
	if ehk != "" {
		b = append(b, 2<<3) // field 2, wire type 0 (varint)
		b = binary.AppendUvarint(b, ehkIdx)
	}
	b = appendBytesField(b, 3, data)
	a.recs = b
	a.n++
}

// Flush finishes the record being built and returns it, or nil when no
// user record is waiting. The Aggregator starts empty again.
func (a *Aggregator) Flush() *Record {
	if a.n == 0 {
		return nil
	}
	bodyLen := len(a.pkTab) + len(a.ehkTab) + len(a.recs)
	out := make([]byte, 0, len(Magic)+bodyLen+DigestLen)
	out = append(out, Magic...)
	out = append(out, a.pkTab...)
	out = append(out, a.ehkTab...)
	out = append(out, a.recs...)
	sum := md5.Sum(out[len(Magic):])
	out = append(out, sum[:]...)
	r := &Record{PartitionKey: a.firstPK, ExplicitHashKey: a.firstEHK, Data: out, UserRecords: a.n}
	clear(a.pkIndex)
	clear(a.ehkIndex)
	a.pkTab, a.ehkTab, a.recs = a.pkTab[:0], a.ehkTab[:0], a.recs[:0]
	a.n, a.firstPK, a.firstEHK = 0, "", ""
	return r
}

func appendBytesField[T string | []byte](b []byte, field byte, v T) []byte {
	b = append(b, field<<3|2)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// lenField is the wire size of a length-delimited field with a one-byte tag.
func lenField(n int) int { return 1 + varintLen(uint64(n)) + n }

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func decimal(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}
