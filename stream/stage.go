package stream

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// UnitSink receives what a Decoder finds in a record.
type UnitSink interface {
	// Unit receives one decoded unit. u and u.Data are valid only during the
	// call. A non-nil error stops decoding of the record and is returned by
	// Decode.
	Unit(u *Unit) error
	// Fail reports a part of the record that could not be decoded (a KPL
	// record with a wrong MD5, a gzip bomb inside a CloudWatch Logs payload…).
	// err is classified (normally Permanent); raw is the undecodable bytes,
	// valid only during the call. Decoding goes on with the next part.
	Fail(l *Lineage, raw []byte, err error)
}

// Decoder splits one record into units (de-aggregating KPL, unwrapping
// CloudWatch Logs, gunzipping, splitting NDJSON, CloudTrail "Records" arrays
// and text lines). The record is owned by the caller; the decoder keeps
// nothing after Decode returns.
type Decoder interface {
	Decode(rec *Record, sink UnitSink) error
}

// Parser turns one unit into an event. The caller has reset ev and set its
// Lineage, ID, Ingested and Raw; the parser sets Format, Timestamp, the common
// fields and Native. Bad input returns a Permanent *Error whose reason code
// starts with the format name ("alb_field_count"). Parsers may keep state
// (a VPC flow header) and are not safe for concurrent use.
type Parser interface {
	Format() Format
	Parse(u *Unit, ev *Event) error
}

// ParserFunc adapts a function to Parser.
type ParserFunc struct {
	F  Format
	Fn func(u *Unit, ev *Event) error
}

func (p ParserFunc) Format() Format                 { return p.F }
func (p ParserFunc) Parse(u *Unit, ev *Event) error { return p.Fn(u, ev) }

// Enricher adds data to events in place (GeoIP/ASN, threat intel). The batch
// is owned by the callee until Enrich returns. Enrichment never rejects an
// event; an error is for the whole batch and is classified.
type Enricher interface {
	Enrich(ctx context.Context, events []Event) error
}

// EnricherFunc adapts a function to Enricher.
type EnricherFunc func(ctx context.Context, events []Event) error

func (f EnricherFunc) Enrich(ctx context.Context, events []Event) error { return f(ctx, events) }

// Detector evaluates rules on events and emits alerts. The batch is owned by
// the callee until Detect returns; emitted alerts are owned by the receiver.
type Detector interface {
	Detect(ctx context.Context, events []Event, emit func(*Alert)) error
}

// DetectorFunc adapts a function to Detector.
type DetectorFunc func(ctx context.Context, events []Event, emit func(*Alert)) error

func (f DetectorFunc) Detect(ctx context.Context, events []Event, emit func(*Alert)) error {
	return f(ctx, events, emit)
}

// Sink stores events (Parquet lake, Elasticsearch, NDJSON). The batch is
// owned by the callee until Write returns; a sink copies what it keeps.
type Sink interface {
	// Name is a short stable name used in counters and dead-letter stages.
	Name() string
	// Write accepts events. It returns nil when every event was accepted,
	// ItemErrors naming the events it rejected (each classified), or another
	// error for the whole batch (classified with ClassOf).
	Write(ctx context.Context, events []Event) error
	// Flush makes every accepted event durable. Records may be acknowledged
	// only after Flush returns nil.
	Flush(ctx context.Context) error
	// Close flushes and releases resources.
	Close(ctx context.Context) error
}

// ItemError is the failure of one event of a batch given to Write.
type ItemError struct {
	Index int // index in the events slice given to Write
	Err   error
}

// ItemErrors is returned by Sink.Write when some events failed and the rest
// were accepted.
type ItemErrors []ItemError

func (e ItemErrors) Error() string {
	if len(e) == 0 {
		return "no item errors"
	}
	var b strings.Builder
	b.WriteString(strconv.Itoa(len(e)))
	b.WriteString(" items failed; first: ")
	b.WriteString(e[0].Err.Error())
	return b.String()
}

// DeadLetter is one record or event that could not be processed, kept with
// the stage and reason so it can be inspected and replayed.
type DeadLetter struct {
	Time    time.Time
	Stage   string // decode, parse, enrich, detect, sink:<name>
	Reason  Reason
	Lineage Lineage
	EventID EventID // zero when the failure came before an event existed
	Format  Format
	Raw     []byte
}

// DeadLetterSink stores dead letters durably. Batches are owned by the
// callee until DeadLetter returns.
type DeadLetterSink interface {
	DeadLetter(ctx context.Context, letters []DeadLetter) error
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}

// AlertSink delivers alerts (stdout, Elasticsearch, lake, SNS, webhook) at
// least once; receivers deduplicate by Alert.ID.
type AlertSink interface {
	Name() string
	Alerts(ctx context.Context, alerts []Alert) error
	Flush(ctx context.Context) error
	Close(ctx context.Context) error
}
