package stream

import "time"

// Record is one input record before decoding: the data of a Kinesis record,
// an S3 object chunk, or a file chunk, with where it came from. For a file
// chunk, Lineage.Line may carry the line number of its first line.
type Record struct {
	Data         []byte
	Lineage      Lineage // SubSequence -1, Index 0 before decoding
	PartitionKey string
	ArrivalTime  time.Time // Kinesis approximateArrivalTimestamp, zero when unknown
	// Format is the configured format of the source, or FormatUnknown to sniff.
	Format Format
	// Decoded marks Data as one already-decoded unit whose Lineage is final
	// (a dead letter being replayed): it goes to the parser as it is, so the
	// event gets the id it would have had the first time.
	Decoded bool
}

// Unit is one decoded log unit: a text line or one JSON object, ready for a
// parser. Data aliases decoder buffers and is valid only during the callback
// that receives it.
type Unit struct {
	Data    []byte
	Lineage Lineage // SubSequence / Index / LogEventID / Line filled by the decoder
	// Format is the format implied by the container (e.g. a CloudTrail
	// "Records" file), else the record's configured format.
	Format Format
	// Timestamp is a container-supplied time (CloudWatch Logs event
	// timestamp), zero when none.
	Timestamp time.Time
	// Context carries container metadata parsers may use (CloudWatch Logs
	// group/stream/owner; VPC flow header fields).
	Context *UnitContext
}

// UnitContext is metadata shared by the units of one container.
type UnitContext struct {
	LogGroup  string
	LogStream string
	Owner     string
	// Header is a header line that defines the fields of following text
	// lines (custom VPC flow log formats, W3C-style files).
	Header string
}
