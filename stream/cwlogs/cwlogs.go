// Package cwlogs reads and writes CloudWatch Logs subscription payloads:
// gzip'd JSON with messageType (DATA_MESSAGE or CONTROL_MESSAGE), owner,
// logGroup, logStream, subscriptionFilters and logEvents[{id, timestamp,
// message}]. Reader walks a decompressed payload without allocating per
// log event; Decode and Encode are the convenient whole-message forms.
package cwlogs

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strconv"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/decode/gunzip"
	"github.com/gannet-sec/gannet/stream/decode/jsonscan"
	"github.com/klauspost/compress/gzip"
)

// Message types.
const (
	DataMessage    = "DATA_MESSAGE"
	ControlMessage = "CONTROL_MESSAGE"
)

// Reason codes of the Permanent errors this package returns (besides the
// gzip_* codes of package gunzip).
const (
	CodeInvalidJSON = "cwlogs_invalid_json" // the payload is not one JSON object
	CodeBadField    = "cwlogs_bad_field"    // a header field is missing or of the wrong type
	CodeUnknownType = "cwlogs_unknown_type" // messageType is neither DATA_MESSAGE nor CONTROL_MESSAGE
	CodeBadEvent    = "cwlogs_bad_event"    // a log event lacks id, timestamp or message, or has the wrong types
)

// DefaultMaxDecompressed is Decode's size cap when none is given.
const DefaultMaxDecompressed = 64 << 20

// Message is one subscription payload.
type Message struct {
	MessageType         string     `json:"messageType"`
	Owner               string     `json:"owner"`
	LogGroup            string     `json:"logGroup"`
	LogStream           string     `json:"logStream"`
	SubscriptionFilters []string   `json:"subscriptionFilters"`
	LogEvents           []LogEvent `json:"logEvents"`
	// PolicyLevel is set by account-level subscription filters.
	PolicyLevel string `json:"policyLevel,omitempty"`
}

// LogEvent is one log event of a DATA_MESSAGE.
type LogEvent struct {
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"` // milliseconds since the epoch
	Message   string `json:"message"`
}

// Encode writes m as a gzip'd JSON payload, as CloudWatch Logs delivers it
// to a subscription.
func Encode(w io.Writer, m *Message) error {
	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	if err := encodeJSON(zw, m); err != nil {
		return err
	}
	return zw.Close()
}

// Marshal returns m as (uncompressed) JSON.
func Marshal(m *Message) ([]byte, error) {
	var b bytes.Buffer
	err := encodeJSON(&b, m)
	return bytes.TrimRight(b.Bytes(), "\n"), err
}

func encodeJSON(w io.Writer, m *Message) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	mm := *m
	if mm.SubscriptionFilters == nil {
		mm.SubscriptionFilters = []string{}
	}
	if mm.LogEvents == nil {
		mm.LogEvents = []LogEvent{}
	}
	return enc.Encode(&mm)
}

// Decode inflates a gzip'd payload (at most maxDecompressed bytes; <= 0
// means DefaultMaxDecompressed) and returns the message. Errors are
// Permanent with one of this package's codes or gunzip's.
func Decode(gz []byte, maxDecompressed int64) (*Message, error) {
	if maxDecompressed <= 0 {
		maxDecompressed = DefaultMaxDecompressed
	}
	var f gunzip.Inflater
	data, err := f.Inflate(nil, gz, maxDecompressed)
	if err != nil {
		return nil, err
	}
	m := new(Message)
	if err := Unmarshal(data, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Unmarshal reads a decompressed payload into m. A log event that is
// malformed fails the whole message (Reader lets callers skip it instead).
func Unmarshal(data []byte, m *Message) error {
	var r Reader
	if err := r.Reset(data); err != nil {
		return err
	}
	h := r.Header()
	*m = Message{
		MessageType: string(h.MessageType),
		Owner:       string(h.Owner),
		LogGroup:    string(h.LogGroup),
		LogStream:   string(h.LogStream),
		PolicyLevel: string(h.PolicyLevel),
	}
	filters, err := r.SubscriptionFilters(nil)
	if err != nil {
		return err
	}
	m.SubscriptionFilters = filters
	for r.Next() {
		ev := r.Event()
		if ev.Err != nil {
			return ev.Err
		}
		m.LogEvents = append(m.LogEvents, LogEvent{ID: string(ev.ID), Timestamp: ev.Timestamp, Message: string(ev.Message)})
	}
	return r.Err()
}

// Header is the metadata of a payload. Its slices alias the payload (or the
// Reader's buffers) and are valid until the next Reset.
type Header struct {
	MessageType []byte
	Owner       []byte
	LogGroup    []byte
	LogStream   []byte
	PolicyLevel []byte
}

// IsData reports whether the payload is a DATA_MESSAGE.
func (h *Header) IsData() bool { return string(h.MessageType) == DataMessage }

// EventRef is one log event as Reader sees it. ID and Message alias the
// payload or the Reader's buffers and are valid until the next Next.
type EventRef struct {
	Index     int // 0-based position in logEvents
	ID        []byte
	Timestamp int64 // milliseconds since the epoch
	Message   []byte
	// Raw is the JSON of the log event, for dead-lettering.
	Raw []byte
	// Err is a Permanent cwlogs_bad_event error when this log event is
	// malformed; the other fields are then unreliable. Iteration goes on.
	Err error
}

// Reader walks a decompressed subscription payload. It is not safe for
// concurrent use; the zero value is ready for Reset.
type Reader struct {
	data    []byte
	hdr     Header
	filters [2]int // bounds of the subscriptionFilters value, 0,0 if absent
	events  jsonscan.ArrayIter
	hasEv   bool
	ev      EventRef
	n       int
	msg     []byte // unescape buffer for messages
	id      []byte // unescape buffer for ids
	err     error
}

// Detect reports whether data (decompressed, leading whitespace allowed)
// looks like a subscription payload: a JSON object whose first member is
// "messageType" with the value DATA_MESSAGE or CONTROL_MESSAGE. CloudWatch
// Logs always writes that member first; Reset accepts any order.
func Detect(data []byte) bool {
	i := jsonscan.SkipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = jsonscan.SkipSpace(data, i+1)
	if !bytes.HasPrefix(data[i:], []byte(`"messageType"`)) {
		return false
	}
	i = jsonscan.SkipSpace(data, i+len(`"messageType"`))
	if i >= len(data) || data[i] != ':' {
		return false
	}
	return IsMessageType(data[jsonscan.SkipSpace(data, i+1):])
}

// IsMessageType reports whether v starts with the JSON string
// "DATA_MESSAGE" or "CONTROL_MESSAGE".
func IsMessageType(v []byte) bool {
	return bytes.HasPrefix(v, []byte(`"`+DataMessage+`"`)) || bytes.HasPrefix(v, []byte(`"`+ControlMessage+`"`))
}

// Reset parses the header of a decompressed payload and prepares to walk
// its log events. The payload must be one JSON object (surrounding
// whitespace allowed) with a known messageType; a DATA_MESSAGE must have
// logEvents. Errors are Permanent with one of this package's codes.
func (r *Reader) Reset(data []byte) error {
	*r = Reader{msg: r.msg[:0], id: r.id[:0], data: data}
	it := jsonscan.NewObjectIter(data, 0)
	var evStart, evEnd int
	seenType := false
	for it.Next() {
		var dst *[]byte
		switch {
		case it.KeyIs("messageType"):
			dst, seenType = &r.hdr.MessageType, true
		case it.KeyIs("owner"):
			dst = &r.hdr.Owner
		case it.KeyIs("logGroup"):
			dst = &r.hdr.LogGroup
		case it.KeyIs("logStream"):
			dst = &r.hdr.LogStream
		case it.KeyIs("policyLevel"):
			dst = &r.hdr.PolicyLevel
		case it.KeyIs("subscriptionFilters"):
			s, e, err := it.Value()
			if err != nil {
				continue // Next stops; Err reports it
			}
			if data[s] != '[' && !isNull(data[s:e]) {
				return r.fail(stream.Permanentf(CodeBadField, "subscriptionFilters is not an array"))
			}
			r.filters = [2]int{s, e}
			continue
		case it.KeyIs("logEvents"):
			s, e, err := it.Value()
			if err != nil {
				continue // Next stops; Err reports it
			}
			if data[s] != '[' {
				return r.fail(stream.Permanentf(CodeBadField, "logEvents is not an array"))
			}
			evStart, evEnd, r.hasEv = s, e, true
			continue
		default:
			continue
		}
		s, e, err := it.Value()
		if err != nil {
			break
		}
		key, _ := it.Key()
		v, err := stringValue(data[s:e])
		if err != nil {
			return r.fail(stream.Permanentf(CodeBadField, "%s: %v", key, err))
		}
		*dst = v
	}
	if err := it.Err(); err != nil {
		return r.fail(stream.NewPermanent(CodeInvalidJSON, err))
	}
	if end := it.End(); !jsonscan.IsSpace(data[end:]) {
		return r.fail(stream.Permanentf(CodeInvalidJSON, "content after the JSON object at offset %d", end))
	}
	switch {
	case !seenType:
		return r.fail(stream.Permanentf(CodeBadField, "no messageType"))
	case string(r.hdr.MessageType) == DataMessage:
		if !r.hasEv {
			return r.fail(stream.Permanentf(CodeBadField, "DATA_MESSAGE without logEvents"))
		}
	case string(r.hdr.MessageType) == ControlMessage:
	default:
		return r.fail(stream.Permanentf(CodeUnknownType, "messageType %.64q", r.hdr.MessageType))
	}
	if r.hasEv {
		r.events = jsonscan.NewArrayIter(data[:evEnd], evStart)
	}
	return nil
}

func (r *Reader) fail(err error) error {
	r.err = err
	r.hasEv = false
	return err
}

// Header returns the header read by Reset.
func (r *Reader) Header() *Header { return &r.hdr }

// SubscriptionFilters appends the subscription filter names to dst.
func (r *Reader) SubscriptionFilters(dst []string) ([]string, error) {
	s, e := r.filters[0], r.filters[1]
	if e == 0 || isNull(r.data[s:e]) {
		return dst, nil
	}
	it := jsonscan.NewArrayIter(r.data[:e], s)
	for it.Next() {
		vs, ve, err := it.Value()
		if err != nil {
			break
		}
		v, err := stringValue(r.data[vs:ve])
		if err != nil {
			return dst, stream.Permanentf(CodeBadField, "subscriptionFilters: %v", err)
		}
		dst = append(dst, string(v))
	}
	if err := it.Err(); err != nil {
		return dst, stream.NewPermanent(CodeInvalidJSON, err)
	}
	return dst, nil
}

// Next moves to the next log event; false at the end (or after an error
// from Reset). A CONTROL_MESSAGE normally has no log events.
func (r *Reader) Next() bool {
	if !r.hasEv || !r.events.Next() {
		if r.hasEv && r.err == nil && r.events.Err() != nil {
			r.err = stream.NewPermanent(CodeInvalidJSON, r.events.Err())
		}
		r.hasEv = false
		return false
	}
	r.ev = EventRef{Index: r.n}
	r.n++
	r.readEvent(r.events.Start())
	return true
}

// Event returns the current log event.
func (r *Reader) Event() *EventRef { return &r.ev }

// Err returns the error that stopped the Reader, if any.
func (r *Reader) Err() error { return r.err }

// readEvent reads the log event starting at r.data[s] in one pass and
// tells the events iterator where it ended.
func (r *Reader) readEvent(s int) {
	b := r.data
	idx := r.ev.Index
	if b[s] != '{' {
		_, e, _ := r.events.Value()
		r.ev.Raw = b[s:max(e, s)]
		r.ev.Err = stream.Permanentf(CodeBadEvent, "log event %d is not an object", idx)
		return
	}
	var bad error
	badf := func(format string, args ...any) {
		if bad == nil {
			bad = stream.Permanentf(CodeBadEvent, format, args...)
		}
	}
	var hasID, hasTS, hasMsg bool
	it := jsonscan.NewObjectIter(b, s)
	for it.Next() {
		switch {
		case it.KeyIs("id"), it.KeyIs("message"):
			isID := it.KeyIs("id")
			name := "message"
			if isID {
				name = "id"
			}
			vs := it.ValueStart()
			if b[vs] != '"' {
				badf("log event %d: %s is not a string", idx, name)
				continue
			}
			raw, e, esc, err := jsonscan.String(b, vs)
			if err != nil {
				continue // the object walk reports it
			}
			it.Consumed(e)
			if esc {
				buf := &r.msg
				if isID {
					buf = &r.id
				}
				if *buf, err = jsonscan.Unescape((*buf)[:0], raw); err != nil {
					badf("log event %d: %s: %v", idx, name, err)
					continue
				}
				raw = *buf
			}
			if isID {
				r.ev.ID, hasID = raw, true
			} else {
				r.ev.Message, hasMsg = raw, true
			}
		case it.KeyIs("timestamp"):
			vs, ve, err := it.Value()
			if err != nil {
				continue
			}
			ts, ok := parseMillis(b[vs:ve])
			if !ok {
				badf("log event %d: timestamp %.32q is not a number of milliseconds", idx, b[vs:ve])
				continue
			}
			r.ev.Timestamp, hasTS = ts, true
		}
	}
	if err := it.Err(); err != nil {
		// Cannot happen after Reset validated logEvents; stop cleanly.
		_, e, _ := r.events.Value()
		r.ev.Raw = b[s:max(e, s)]
		r.ev.Err = stream.NewPermanent(CodeBadEvent, err)
		return
	}
	r.events.Consumed(it.End())
	r.ev.Raw = b[s:it.End()]
	switch {
	case bad != nil:
		r.ev.Err = bad
	case !hasID:
		r.ev.Err = stream.Permanentf(CodeBadEvent, "log event %d has no id", idx)
	case !hasTS:
		r.ev.Err = stream.Permanentf(CodeBadEvent, "log event %d has no timestamp", idx)
	case !hasMsg:
		r.ev.Err = stream.Permanentf(CodeBadEvent, "log event %d has no message", idx)
	}
}

// stringValue reads a JSON string value (null gives nil), allocating only
// when it holds escapes.
func stringValue(v []byte) ([]byte, error) {
	if isNull(v) {
		return nil, nil
	}
	raw, end, esc, err := jsonscan.String(v, 0)
	if err != nil || end != len(v) {
		return nil, errNotString
	}
	if esc {
		return jsonscan.Unescape(nil, raw)
	}
	return raw, nil
}

type constErr string

func (e constErr) Error() string { return string(e) }

const errNotString = constErr("not a string")

func isNull(v []byte) bool { return string(v) == "null" }

// parseMillis reads an integer number of milliseconds; a number with a
// fraction or exponent is accepted and truncated.
func parseMillis(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	neg := v[0] == '-'
	d := v
	if neg {
		d = v[1:]
	}
	if len(d) > 0 && len(d) <= 18 {
		var n int64
		ok := true
		for _, c := range d {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			if neg {
				n = -n
			}
			return n, true
		}
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || f > math.MaxInt64 || f < math.MinInt64 {
		return 0, false
	}
	return int64(f), true
}
