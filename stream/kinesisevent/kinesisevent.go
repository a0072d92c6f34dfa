// Package kinesisevent reads the event a Kinesis-triggered Lambda function
// receives into stream.Records with full lineage, and builds such events
// from log lines (raw, KPL-aggregated, or as CloudWatch Logs subscription
// payloads) for `gannet gen --wrap` and for tests.
package kinesisevent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/cwlogs"
	"github.com/gannet-sec/gannet/stream/kpl"
)

// CodeInvalid is the reason code of a Lambda Kinesis event that cannot be read.
const CodeInvalid = "kinesis_event_invalid"

// Read parses the JSON of a Lambda Kinesis event into records, in event
// order. Errors are Permanent with code kinesis_event_invalid.
func Read(data []byte) ([]stream.Record, error) {
	var ev events.KinesisEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, stream.NewPermanent(CodeInvalid, err)
	}
	for i := range ev.Records {
		if src := ev.Records[i].EventSource; src != "" && src != "aws:kinesis" {
			return nil, stream.Permanentf(CodeInvalid, "record %d has eventSource %q, want aws:kinesis", i, src)
		}
	}
	return Records(&ev), nil
}

// Records converts a decoded event (the argument of a Lambda handler) into
// records. Record data aliases the event.
func Records(ev *events.KinesisEvent) []stream.Record {
	out := make([]stream.Record, len(ev.Records))
	for i := range ev.Records {
		out[i] = Record(&ev.Records[i])
	}
	return out
}

// Record converts one event record: Source is the stream ARN, Shard the
// "shardId-…" prefix of the eventID, Sequence the sequence number,
// SubSequence -1; ArrivalTime is UTC with millisecond precision.
func Record(r *events.KinesisEventRecord) stream.Record {
	seq := r.Kinesis.SequenceNumber
	shard, rest, ok := strings.Cut(r.EventID, ":")
	if !ok || !strings.HasPrefix(shard, "shardId-") {
		shard, rest = "", ""
	}
	if seq == "" {
		seq = rest
	}
	var arrival time.Time
	if t := r.Kinesis.ApproximateArrivalTimestamp.Time; !t.IsZero() {
		arrival = time.UnixMilli(int64(math.Round(float64(t.UnixNano()) / 1e6))).UTC()
	}
	return stream.Record{
		Data: r.Kinesis.Data,
		Lineage: stream.Lineage{
			Kind:        stream.OriginKinesis,
			Source:      r.EventSourceArn,
			Shard:       shard,
			Sequence:    seq,
			SubSequence: -1,
		},
		PartitionKey: r.Kinesis.PartitionKey,
		ArrivalTime:  arrival,
	}
}

// IsKinesisEvent reports whether prefix (the first few hundred bytes of a
// file) looks like a Lambda Kinesis event: a JSON object whose first member
// is "Records", an array of objects carrying a "kinesis" object or the
// eventSource "aws:kinesis". CloudTrail "Records" files do not match.
func IsKinesisEvent(prefix []byte) bool {
	p := prefix
	if bytes.HasPrefix(p, []byte("\xef\xbb\xbf")) {
		p = p[3:]
	}
	for _, tok := range []string{"{", `"Records"`, ":", "[", "{"} {
		p = bytes.TrimLeft(p, " \t\r\n")
		if !bytes.HasPrefix(p, []byte(tok)) {
			return false
		}
		p = p[len(tok):]
	}
	if bytes.Contains(p, []byte(`"aws:kinesis"`)) {
		return true
	}
	for {
		k := bytes.Index(p, []byte(`"kinesis"`))
		if k < 0 {
			return false
		}
		p = bytes.TrimLeft(p[k+len(`"kinesis"`):], " \t\r\n")
		if bytes.HasPrefix(p, []byte(":")) && bytes.HasPrefix(bytes.TrimLeft(p[1:], " \t\r\n"), []byte("{")) {
			return true
		}
	}
}

// Wrap says how Build carries log lines in Kinesis records.
type Wrap uint8

const (
	// WrapRaw: one Kinesis record per line.
	WrapRaw Wrap = iota
	// WrapKPL: lines are user records of KPL aggregated records.
	WrapKPL
	// WrapCWLogs: lines are log events of gzip'd CloudWatch Logs
	// DATA_MESSAGE payloads, one payload per Kinesis record.
	WrapCWLogs
)

func (w Wrap) String() string {
	switch w {
	case WrapKPL:
		return "kpl"
	case WrapCWLogs:
		return "cwlogs"
	}
	return "raw"
}

// ParseWrap maps "raw" (or "kinesis", the CLI's name for it), "kpl" and
// "cwlogs" to a Wrap.
func ParseWrap(s string) (Wrap, bool) {
	switch s {
	case "raw", "kinesis":
		return WrapRaw, true
	case "kpl":
		return WrapKPL, true
	case "cwlogs":
		return WrapCWLogs, true
	}
	return WrapRaw, false
}

// Defaults of Options.
const (
	DefaultStreamARN          = "arn:aws:kinesis:eu-west-1:123456789012:stream/gannet-demo"
	DefaultShardID            = "shardId-000000000000"
	DefaultLogGroup           = "/gannet/demo"
	DefaultLogStream          = "gannet-demo"
	DefaultOwner              = "123456789012"
	DefaultEventsPerPayload   = 1000
	maxRecordSize             = 1 << 20 // Kinesis: data + partition key
	maxPayloadBytes           = 1 << 20 // CloudWatch Logs: batch of events, 26 bytes overhead each
	cwEventOverhead           = 26
	defaultInvokeIdentityRole = "arn:aws:iam::123456789012:role/gannet-demo-consumer"
)

// Options configure Build. The zero value gives the defaults; the same
// options and lines always give the same bytes.
type Options struct {
	Wrap      Wrap
	StreamARN string    // default DefaultStreamARN
	ShardID   string    // default DefaultShardID
	Start     time.Time // arrival time of the first record (and first log event); default 2026-11-01T00:00:00Z
	// EventsPerPayload caps the log events of one CloudWatch Logs payload
	// (default 1000); payloads also stay under 1 MiB of events.
	EventsPerPayload int
	// MaxRecordSize caps KPL aggregated records (default 1 MiB).
	MaxRecordSize int
	// LogGroup, LogStream and Owner of CloudWatch Logs payloads.
	LogGroup, LogStream, Owner string
}

func (o *Options) defaults() {
	if o.StreamARN == "" {
		o.StreamARN = DefaultStreamARN
	}
	if o.ShardID == "" {
		o.ShardID = DefaultShardID
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.EventsPerPayload <= 0 {
		o.EventsPerPayload = DefaultEventsPerPayload
	}
	if o.MaxRecordSize <= 0 || o.MaxRecordSize > maxRecordSize {
		o.MaxRecordSize = maxRecordSize
	}
	if o.LogGroup == "" {
		o.LogGroup = DefaultLogGroup
	}
	if o.LogStream == "" {
		o.LogStream = DefaultLogStream
	}
	if o.Owner == "" {
		o.Owner = DefaultOwner
	}
}

// regionOf returns the region field of an ARN ("" if none).
func regionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 {
		return ""
	}
	return parts[3]
}

// Build writes the Lambda Kinesis event that carries lines (each one log
// line or JSON object without its newline; one trailing "\n" or "\r\n" is
// dropped) wrapped as opts.Wrap says. Sequence numbers, event ids,
// partition keys and times are derived from positions only.
func Build(w io.Writer, lines [][]byte, opts Options) error {
	opts.defaults()
	b := builder{opts: opts, region: regionOf(opts.StreamARN)}
	var err error
	switch opts.Wrap {
	case WrapRaw:
		err = b.raw(lines)
	case WrapKPL:
		err = b.kpl(lines)
	case WrapCWLogs:
		err = b.cwlogs(lines)
	default:
		err = fmt.Errorf("unknown wrap %d", opts.Wrap)
	}
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&b.ev); err != nil {
		return err
	}
	return bw.Flush()
}

type builder struct {
	opts   Options
	region string
	ev     events.KinesisEvent
}

func trimEOL(l []byte) []byte {
	l = bytes.TrimSuffix(l, []byte("\n"))
	return bytes.TrimSuffix(l, []byte("\r"))
}

// add appends one Kinesis record with the next sequence number.
func (b *builder) add(pk string, data []byte) {
	n := len(b.ev.Records)
	seq := fmt.Sprintf("49%054d", n+1)
	b.ev.Records = append(b.ev.Records, events.KinesisEventRecord{
		AwsRegion:         b.region,
		EventID:           b.opts.ShardID + ":" + seq,
		EventName:         "aws:kinesis:record",
		EventSource:       "aws:kinesis",
		EventSourceArn:    b.opts.StreamARN,
		EventVersion:      "1.0",
		InvokeIdentityArn: defaultInvokeIdentityRole,
		Kinesis: events.KinesisRecord{
			ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: b.opts.Start.Add(time.Duration(n) * time.Millisecond).UTC()},
			Data:                        data,
			PartitionKey:                pk,
			SequenceNumber:              seq,
			KinesisSchemaVersion:        "1.0",
		},
	})
}

func partitionKey(i int) string { return fmt.Sprintf("gannet-%02d", i%64) }

func (b *builder) raw(lines [][]byte) error {
	for i, l := range lines {
		l = trimEOL(l)
		pk := partitionKey(i)
		if len(l)+len(pk) > maxRecordSize {
			return fmt.Errorf("line %d: %d bytes do not fit a Kinesis record (1 MiB); use --wrap cwlogs or shorter lines", i+1, len(l))
		}
		b.add(pk, l)
	}
	return nil
}

func (b *builder) kpl(lines [][]byte) error {
	a := kpl.NewAggregator(b.opts.MaxRecordSize)
	for i, l := range lines {
		out, err := a.Add(partitionKey(i), "", trimEOL(l))
		if err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		if out != nil {
			b.add(out.PartitionKey, out.Data)
		}
	}
	if out := a.Flush(); out != nil {
		b.add(out.PartitionKey, out.Data)
	}
	return nil
}

func (b *builder) cwlogs(lines [][]byte) error {
	m := cwlogs.Message{
		MessageType:         cwlogs.DataMessage,
		Owner:               b.opts.Owner,
		LogGroup:            b.opts.LogGroup,
		LogStream:           b.opts.LogStream,
		SubscriptionFilters: []string{"gannet-demo"},
	}
	size := 0
	flush := func() error {
		if len(m.LogEvents) == 0 {
			return nil
		}
		var buf bytes.Buffer
		if err := cwlogs.Encode(&buf, &m); err != nil {
			return err
		}
		if buf.Len() > maxRecordSize-64 {
			return fmt.Errorf("CloudWatch Logs payload of %d bytes does not fit a Kinesis record", buf.Len())
		}
		b.add(fmt.Sprintf("cwlogs-%06d", len(b.ev.Records)), buf.Bytes())
		m.LogEvents, size = m.LogEvents[:0], 0
		return nil
	}
	start := b.opts.Start.UnixMilli()
	for i, l := range lines {
		l = trimEOL(l)
		if len(m.LogEvents) > 0 && (len(m.LogEvents) >= b.opts.EventsPerPayload || size+len(l)+cwEventOverhead > maxPayloadBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		m.LogEvents = append(m.LogEvents, cwlogs.LogEvent{
			ID:        fmt.Sprintf("3%055d", i+1),
			Timestamp: start + int64(i),
			Message:   string(l),
		})
		size += len(l) + cwEventOverhead
	}
	return flush()
}
