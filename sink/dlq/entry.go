// Package dlq stores dead letters (stream.DeadLetter) durably, in a local
// directory or under an S3 prefix, as NDJSON files, and reads them back for
// inspection and for `gannet dlq replay`, which re-feeds the raw bytes
// through the pipeline.
//
// One line is one entry:
//
//	{"v":1,"time":"2026-11-01T10:00:00.123456789Z","stage":"parse",
//	 "reason":{"code":"alb_field_count","detail":"…"},
//	 "lineage":{"kind":"kinesis","source":"arn:…","shard":"shardId-…","sequence":"…",
//	            "sub_sequence":-1,"offset":0,"index":3,"line":0,"log_event_id":""},
//	 "event_id":"<32 hex, absent before an event existed>","format":"alb","raw":"<base64>"}
//
// Raw bytes are base64, so CR, LF, control characters and invalid UTF-8
// survive exactly. Any other string that is not valid UTF-8 is written as
// {"b64":"…"} instead of a JSON string, so every entry round-trips exactly.
package dlq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/gannet-sec/gannet/stream"
)

// entryVersion is the "v" of entries written by this package.
const entryVersion = 1

// bstring is a string that round-trips exactly through JSON: valid UTF-8 as
// a JSON string, anything else as {"b64":"…"}.
type bstring string

func (s bstring) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(s)) {
		return json.Marshal(string(s))
	}
	return json.Marshal(struct {
		B64 []byte `json:"b64"`
	}{[]byte(s)})
}

func (s *bstring) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var v struct {
			B64 *[]byte `json:"b64"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		if v.B64 == nil {
			return errors.New(`object string without "b64"`)
		}
		*s = bstring(*v.B64)
		return nil
	}
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = bstring(v)
	return nil
}

type entryReason struct {
	Code   bstring `json:"code"`
	Detail bstring `json:"detail"`
}

type entryLineage struct {
	Kind        string  `json:"kind"`
	Source      bstring `json:"source"`
	Shard       bstring `json:"shard"`
	Sequence    bstring `json:"sequence"`
	SubSequence int64   `json:"sub_sequence"`
	Offset      int64   `json:"offset"`
	Index       int64   `json:"index"`
	Line        int64   `json:"line"`
	LogEventID  bstring `json:"log_event_id"`
}

type entry struct {
	V       int          `json:"v"`
	Time    time.Time    `json:"time"`
	Stage   bstring      `json:"stage"`
	Reason  entryReason  `json:"reason"`
	Lineage entryLineage `json:"lineage"`
	EventID string       `json:"event_id,omitempty"`
	Format  string       `json:"format"`
	Raw     []byte       `json:"raw"`
}

// AppendEntry appends the NDJSON line (with its '\n') of one dead letter.
func AppendEntry(dst []byte, dl *stream.DeadLetter) ([]byte, error) {
	e := entry{
		V:      entryVersion,
		Time:   dl.Time.UTC(),
		Stage:  bstring(dl.Stage),
		Reason: entryReason{Code: bstring(dl.Reason.Code), Detail: bstring(dl.Reason.Detail)},
		Lineage: entryLineage{
			Kind:        dl.Lineage.Kind.String(),
			Source:      bstring(dl.Lineage.Source),
			Shard:       bstring(dl.Lineage.Shard),
			Sequence:    bstring(dl.Lineage.Sequence),
			SubSequence: dl.Lineage.SubSequence,
			Offset:      dl.Lineage.Offset,
			Index:       dl.Lineage.Index,
			Line:        dl.Lineage.Line,
			LogEventID:  bstring(dl.Lineage.LogEventID),
		},
		Format: dl.Format.String(),
		Raw:    dl.Raw,
	}
	if !dl.EventID.IsZero() {
		e.EventID = dl.EventID.String()
	}
	if e.Raw == nil {
		e.Raw = []byte{}
	}
	b, err := json.Marshal(&e)
	if err != nil {
		return dst, fmt.Errorf("dlq: encoding entry: %w", err)
	}
	dst = append(dst, b...)
	return append(dst, '\n'), nil
}

var originKinds = []stream.OriginKind{stream.OriginUnknown, stream.OriginKinesis, stream.OriginS3, stream.OriginFile}

// ParseEntry decodes one NDJSON line written by AppendEntry.
func ParseEntry(line []byte) (stream.DeadLetter, error) {
	var e entry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return stream.DeadLetter{}, fmt.Errorf("dlq: bad entry: %w", err)
	}
	if dec.More() {
		return stream.DeadLetter{}, errors.New("dlq: bad entry: trailing data")
	}
	if e.V != entryVersion {
		return stream.DeadLetter{}, fmt.Errorf("dlq: entry version %d not supported", e.V)
	}
	dl := stream.DeadLetter{
		Time:   e.Time,
		Stage:  string(e.Stage),
		Reason: stream.Reason{Code: string(e.Reason.Code), Detail: string(e.Reason.Detail)},
		Lineage: stream.Lineage{
			Source:      string(e.Lineage.Source),
			Shard:       string(e.Lineage.Shard),
			Sequence:    string(e.Lineage.Sequence),
			SubSequence: e.Lineage.SubSequence,
			Offset:      e.Lineage.Offset,
			Index:       e.Lineage.Index,
			Line:        e.Lineage.Line,
			LogEventID:  string(e.Lineage.LogEventID),
		},
		Raw: e.Raw,
	}
	known := false
	for _, k := range originKinds {
		if k.String() == e.Lineage.Kind {
			dl.Lineage.Kind, known = k, true
		}
	}
	if !known {
		return stream.DeadLetter{}, fmt.Errorf("dlq: bad entry: unknown lineage kind %q", e.Lineage.Kind)
	}
	if e.Format != "" && e.Format != stream.FormatUnknown.String() {
		f, ok := stream.ParseFormat(e.Format)
		if !ok {
			return stream.DeadLetter{}, fmt.Errorf("dlq: bad entry: unknown format %q", e.Format)
		}
		dl.Format = f
	}
	if e.EventID != "" {
		id, err := stream.ParseEventID(e.EventID)
		if err != nil {
			return stream.DeadLetter{}, fmt.Errorf("dlq: bad entry: event_id: %w", err)
		}
		dl.EventID = id
	}
	if dl.Raw == nil {
		dl.Raw = []byte{}
	}
	return dl, nil
}
