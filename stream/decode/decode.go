// Package decode is the stream.Decoder of the pipeline core: it finds the
// containers in a record (KPL aggregation, gzip, CloudWatch Logs
// subscription payloads, CloudTrail "Records" files, JSON arrays, JSON
// values, NDJSON, text lines) and emits one stream.Unit per log line or
// JSON object, with lineage, to a stream.UnitSink. What cannot be decoded
// goes to UnitSink.Fail with a Permanent reason; decoding then goes on.
package decode

import (
	"bytes"
	"maps"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/cwlogs"
	"github.com/gannet-sec/gannet/stream/decode/gunzip"
	"github.com/gannet-sec/gannet/stream/decode/jsonscan"
	"github.com/gannet-sec/gannet/stream/kpl"
)

// Defaults for Options.
const (
	DefaultMaxDecompressed = 64 << 20
	DefaultMaxDepth        = 4
	// retainBuffer is the largest inflate buffer kept between records.
	retainBuffer = 8 << 20
)

// Reason codes reported by the decoder itself (besides those of kpl,
// cwlogs and gunzip).
const (
	CodeTooDeep     = "decode_too_deep" // containers nested deeper than Options.MaxDepth
	CodeJSONInvalid = "json_invalid"    // a multi-line JSON document (array, object) that does not parse
)

// Options configure a Decoder. The zero value gives the defaults.
type Options struct {
	// MaxDecompressed caps the bytes gzip may produce for one record, all
	// nested gzip layers together (default 64 MiB). Past it the part is
	// failed with gzip_too_large; memory stays under about twice the cap.
	MaxDecompressed int64
	// MaxDepth caps container nesting (KPL → gzip → gzip …), default 4.
	MaxDepth int
}

// Stats are the decoder's counters, cumulative since New or ResetStats.
type Stats struct {
	Records         int64 // records given to Decode
	Units           int64 // units emitted
	BytesIn         int64 // record bytes given to Decode
	BytesOut        int64 // unit bytes emitted
	Inflated        int64 // bytes produced by gunzip
	KPLRecords      int64 // KPL aggregated records de-aggregated
	KPLUserRecords  int64 // user records found in them
	CWLMessages     int64 // CloudWatch Logs DATA_MESSAGE payloads
	ControlMessages int64 // CloudWatch Logs CONTROL_MESSAGE payloads skipped
	BlankSkipped    int64 // blank lines and empty log event messages skipped
	Failures        int64 // Fail calls
	// FailuresByReason counts Fail calls by reason code.
	FailuresByReason map[string]int64
}

// Add adds o's counters to s.
func (s *Stats) Add(o *Stats) {
	s.Records += o.Records
	s.Units += o.Units
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.Inflated += o.Inflated
	s.KPLRecords += o.KPLRecords
	s.KPLUserRecords += o.KPLUserRecords
	s.CWLMessages += o.CWLMessages
	s.ControlMessages += o.ControlMessages
	s.BlankSkipped += o.BlankSkipped
	s.Failures += o.Failures
	if len(o.FailuresByReason) > 0 && s.FailuresByReason == nil {
		s.FailuresByReason = make(map[string]int64, len(o.FailuresByReason))
	}
	for k, v := range o.FailuresByReason {
		s.FailuresByReason[k] += v
	}
}

// Decoder implements stream.Decoder. It reuses its buffers across records
// and is used by one goroutine at a time.
type Decoder struct {
	maxDecompressed int64
	maxDepth        int

	stats Stats

	// per-Decode state
	rec      *stream.Record
	sink     stream.UnitSink
	fileLike bool
	lineBase int64
	live     int64 // inflated bytes held by enclosing gzip layers

	unit    stream.Unit
	failLin stream.Lineage
	kr      kpl.Reader
	users   []kpl.UserRecord
	inf     gunzip.Inflater
	bufs    [][]byte // inflate buffers by gzip nesting level
	cw      cwlogs.Reader
	ctx     *stream.UnitContext
	spans   []span
}

type span struct{ start, end int }

var _ stream.Decoder = (*Decoder)(nil)

// New returns a Decoder with the given options (zero fields take defaults).
func New(opts Options) *Decoder {
	d := &Decoder{maxDecompressed: opts.MaxDecompressed, maxDepth: opts.MaxDepth}
	if d.maxDecompressed <= 0 {
		d.maxDecompressed = DefaultMaxDecompressed
	}
	if d.maxDepth <= 0 {
		d.maxDepth = DefaultMaxDepth
	}
	return d
}

// Stats returns a snapshot of the counters.
func (d *Decoder) Stats() Stats {
	s := d.stats
	s.FailuresByReason = maps.Clone(d.stats.FailuresByReason)
	return s
}

// ResetStats zeroes the counters.
func (d *Decoder) ResetStats() { d.stats = Stats{} }

// Decode splits rec into units and sends them to sink. It returns only the
// error of sink.Unit that stopped it; every undecodable part goes to
// sink.Fail. Units carry rec's lineage with SubSequence (KPL user record,
// else -1), Index, LogEventID and, for files and S3 objects, Line set. If
// the caller sets rec.Lineage.Line to the line number of the record's first
// line (a chunk of a file), unit lines count from there.
func (d *Decoder) Decode(rec *stream.Record, sink stream.UnitSink) error {
	d.stats.Records++
	d.stats.BytesIn += int64(len(rec.Data))
	d.rec, d.sink = rec, sink
	d.fileLike = rec.Lineage.Kind == stream.OriginFile || rec.Lineage.Kind == stream.OriginS3
	d.lineBase = max(rec.Lineage.Line-1, 0)
	d.live = 0
	defer d.release()

	l := rec.Lineage
	l.SubSequence, l.Index, l.Line, l.LogEventID = -1, 0, 0, ""
	if !kpl.IsAggregated(rec.Data) {
		return d.decode(rec.Data, &l, 0, 0)
	}
	users, err := d.kr.Deaggregate(d.users[:0], rec.Data)
	d.users = users
	if err != nil {
		d.fail(&l, rec.Data, err)
		return nil
	}
	d.stats.KPLRecords++
	d.stats.KPLUserRecords += int64(len(users))
	for i := range users {
		ul := l
		ul.SubSequence = int64(i)
		if err := kpl.NestedError(i, &users[i]); err != nil {
			d.fail(&ul, users[i].Data, err)
			continue
		}
		if err := d.decode(users[i].Data, &ul, 1, 0); err != nil {
			return err
		}
	}
	return nil
}

// release drops references to the caller's data and oversized buffers.
func (d *Decoder) release() {
	clear(d.users)
	d.users = d.users[:0]
	d.rec, d.sink = nil, nil
	d.unit = stream.Unit{}
	for i, b := range d.bufs {
		if cap(b) > retainBuffer {
			d.bufs[i] = nil
		}
	}
}

// decode handles one payload: b is a record, a KPL user record or inflated
// content; l is its lineage template. It returns only a sink stop error.
func (d *Decoder) decode(b []byte, l *stream.Lineage, depth, gzLevel int) error {
	if depth > d.maxDepth {
		d.fail(l, b, stream.Permanentf(CodeTooDeep, "containers nested deeper than %d", d.maxDepth))
		return nil
	}
	if kpl.IsAggregated(b) {
		// KPL is only valid as the outermost container of a record.
		d.fail(l, b, stream.Permanentf(kpl.CodeNested, "KPL aggregated record inside another container"))
		return nil
	}
	if gunzip.IsGzip(b) {
		return d.gunzip(b, l, depth, gzLevel)
	}
	if cwlogs.Detect(b) {
		return d.cloudWatch(b, l)
	}
	switch d.rec.Format {
	case stream.FormatALB, stream.FormatVPCFlow, stream.FormatS3Access:
		return d.lines(b, l)
	}
	i := skipBOM(b)
	i = jsonscan.SkipSpace(b, i)
	if i == len(b) {
		return nil
	}
	switch b[i] {
	case '[':
		return d.jsonArray(b, i, l)
	case '{':
		return d.jsonObject(b, i, l)
	}
	return d.lines(b, l)
}

func (d *Decoder) gunzip(b []byte, l *stream.Lineage, depth, gzLevel int) error {
	for len(d.bufs) <= gzLevel {
		d.bufs = append(d.bufs, nil)
	}
	out, err := d.inf.Inflate(d.bufs[gzLevel], b, d.maxDecompressed-d.live)
	d.bufs[gzLevel] = out[:0]
	d.stats.Inflated += int64(len(out))
	if err != nil {
		d.fail(l, b, err)
		return nil
	}
	d.live += int64(len(out))
	err = d.decode(out, l, depth+1, gzLevel+1)
	d.live -= int64(len(out))
	return err
}

func (d *Decoder) cloudWatch(b []byte, l *stream.Lineage) error {
	r := &d.cw
	if err := r.Reset(b); err != nil {
		d.fail(l, b, err)
		return nil
	}
	h := r.Header()
	if !h.IsData() {
		d.stats.ControlMessages++
		return nil
	}
	d.stats.CWLMessages++
	ctx := d.unitContext(h)
	for r.Next() {
		ev := r.Event()
		ul := *l
		ul.Index = int64(ev.Index)
		ul.LogEventID = string(ev.ID)
		if ev.Err != nil {
			ul.LogEventID = ""
			d.fail(&ul, ev.Raw, ev.Err)
			continue
		}
		msg := trimEOL(ev.Message)
		if isBlank(msg) {
			d.stats.BlankSkipped++
			continue
		}
		d.unit = stream.Unit{
			Data:      msg,
			Lineage:   ul,
			Format:    d.rec.Format,
			Timestamp: time.UnixMilli(ev.Timestamp).UTC(),
			Context:   ctx,
		}
		if err := d.emit(); err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil {
		d.fail(l, b, err)
	}
	return nil
}

// unitContext returns a UnitContext for h, reusing the previous one when
// the group, stream and owner are unchanged. A published UnitContext is
// never modified, so receivers may keep it.
func (d *Decoder) unitContext(h *cwlogs.Header) *stream.UnitContext {
	if c := d.ctx; c != nil && c.LogGroup == string(h.LogGroup) && c.LogStream == string(h.LogStream) && c.Owner == string(h.Owner) {
		return c
	}
	d.ctx = &stream.UnitContext{LogGroup: string(h.LogGroup), LogStream: string(h.LogStream), Owner: string(h.Owner)}
	return d.ctx
}

// jsonArray emits one unit per element of a top-level JSON array. Input
// that is not a JSON array after all (a text line starting with '[') is
// split into lines instead.
func (d *Decoder) jsonArray(b []byte, i int, l *stream.Lineage) error {
	spans := d.spans[:0]
	it := jsonscan.NewArrayIter(b, i)
	for it.Next() {
		s, e, err := it.Value()
		if err != nil {
			break
		}
		spans = append(spans, span{s, e})
	}
	d.spans = spans
	if err := it.Err(); err != nil {
		if firstLineOK(b, i, err) {
			return d.lines(b, l)
		}
		if err := d.emitSpans(b, l, spans, d.rec.Format); err != nil {
			return err
		}
		rest := i
		if len(spans) > 0 {
			rest = afterComma(b, spans[len(spans)-1].end)
		}
		d.fail(d.lineAt(l, b, rest, int64(len(spans))), b[rest:], stream.NewPermanent(CodeJSONInvalid, err))
		return nil
	}
	if !jsonscan.IsSpace(b[it.End():]) {
		return d.lines(b, l)
	}
	return d.emitSpans(b, l, spans, d.rec.Format)
}

// jsonObject handles input starting with '{': a CloudTrail delivery file
// (first member "Records", an array), one JSON object (possibly
// pretty-printed), NDJSON, or concatenated multi-line objects.
func (d *Decoder) jsonObject(b []byte, i int, l *stream.Lineage) error {
	records := firstKeyIs(b, i, "Records")
	if !records {
		// One line holding one object: emit it unscanned; validating it is
		// the parser's job.
		if j := bytes.IndexByte(b[i:], '\n'); j < 0 || jsonscan.IsSpace(b[i+j:]) {
			u := d.lineAt(l, b, i, 0)
			d.unit = stream.Unit{Data: trimSpaceRight(b[i:]), Lineage: *u, Format: d.rec.Format}
			return d.emit()
		}
	}
	spans := d.spans[:0]
	it := jsonscan.NewObjectIter(b, i)
	hasRecords := false
	for first := true; it.Next(); first = false {
		if !first || !records {
			continue
		}
		vs := it.ValueStart()
		ait := jsonscan.NewArrayIter(b, vs)
		for ait.Next() {
			s, e, err := ait.Value()
			if err != nil {
				break
			}
			spans = append(spans, span{s, e})
		}
		if ait.Err() == nil {
			it.Consumed(ait.End())
			hasRecords = true
		} else {
			spans = spans[:0]
		}
	}
	d.spans = spans
	if err := it.Err(); err != nil {
		if firstLineOK(b, i, err) {
			return d.lines(b, l)
		}
		d.fail(d.lineAt(l, b, i, 0), b[i:], stream.NewPermanent(CodeJSONInvalid, err))
		return nil
	}
	end := it.End()
	if rest := jsonscan.SkipSpace(b, end); rest < len(b) {
		// More follows. A one-line first object means NDJSON; a multi-line
		// one means a stream of pretty-printed JSON values.
		if bytes.IndexByte(b[i:end], '\n') < 0 {
			return d.lines(b, l)
		}
		return d.jsonStream(b, i, l)
	}
	if hasRecords {
		f := d.rec.Format
		if f == stream.FormatUnknown {
			f = stream.FormatCloudTrail
		}
		return d.emitSpans(b, l, spans, f)
	}
	u := d.lineAt(l, b, i, 0)
	d.unit = stream.Unit{Data: b[i:end], Lineage: *u, Format: d.rec.Format}
	return d.emit()
}

// firstKeyIs reports whether the object at b[i] starts with member key
// whose value starts with '['.
func firstKeyIs(b []byte, i int, key string) bool {
	i = jsonscan.SkipSpace(b, i+1)
	if len(b)-i < len(key)+2 || b[i] != '"' || string(b[i+1:i+1+len(key)]) != key || b[i+1+len(key)] != '"' {
		return false
	}
	i = jsonscan.SkipSpace(b, i+len(key)+2)
	if i >= len(b) || b[i] != ':' {
		return false
	}
	i = jsonscan.SkipSpace(b, i+1)
	return i < len(b) && b[i] == '['
}

func trimSpaceRight(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case ' ', '\t', '\r', '\n':
			b = b[:len(b)-1]
		default:
			return b
		}
	}
	return b
}

// jsonStream emits one unit per JSON value of a concatenation of
// (pretty-printed) values; a value that does not parse fails the rest.
func (d *Decoder) jsonStream(b []byte, i int, l *stream.Lineage) error {
	spans := d.spans[:0]
	var err error
	for i = jsonscan.SkipSpace(b, i); i < len(b); i = jsonscan.SkipSpace(b, i) {
		var e int
		if e, err = jsonscan.SkipValue(b, i); err != nil {
			break
		}
		spans = append(spans, span{i, e})
		i = e
	}
	d.spans = spans
	if err := d.emitSpans(b, l, spans, d.rec.Format); err != nil {
		return err
	}
	if err != nil {
		d.fail(d.lineAt(l, b, i, int64(len(spans))), b[i:], stream.NewPermanent(CodeJSONInvalid, err))
	}
	return nil
}

// emitSpans emits b[s.start:s.end] for each span, Index = position.
func (d *Decoder) emitSpans(b []byte, l *stream.Lineage, spans []span, f stream.Format) error {
	pos, line := 0, int64(1)
	for k, s := range spans {
		d.unit = stream.Unit{Data: b[s.start:s.end], Lineage: *l, Format: f}
		d.unit.Lineage.Index = int64(k)
		if d.fileLike {
			line += int64(bytes.Count(b[pos:s.start], nl))
			pos = s.start
			d.unit.Lineage.Line = d.lineBase + line
		}
		if err := d.emit(); err != nil {
			return err
		}
	}
	return nil
}

var nl = []byte{'\n'}

// lineAt returns the failure lineage for a part starting at b[off].
func (d *Decoder) lineAt(l *stream.Lineage, b []byte, off int, index int64) *stream.Lineage {
	d.failLin = *l
	d.failLin.Index = index
	if d.fileLike {
		d.failLin.Line = d.lineBase + 1 + int64(bytes.Count(b[:off], nl))
	}
	return &d.failLin
}

// lines emits one unit per non-blank line; Index is the 0-based line.
func (d *Decoder) lines(b []byte, l *stream.Lineage) error {
	b = b[skipBOM(b):]
	for n := int64(0); len(b) > 0; n++ {
		var line []byte
		if k := bytes.IndexByte(b, '\n'); k >= 0 {
			line, b = b[:k], b[k+1:]
		} else {
			line, b = b, nil
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if isBlank(line) {
			d.stats.BlankSkipped++
			continue
		}
		d.unit = stream.Unit{Data: line, Lineage: *l, Format: d.rec.Format}
		d.unit.Lineage.Index = n
		if d.fileLike {
			d.unit.Lineage.Line = d.lineBase + n + 1
		}
		if err := d.emit(); err != nil {
			return err
		}
	}
	return nil
}

func (d *Decoder) emit() error {
	d.stats.Units++
	d.stats.BytesOut += int64(len(d.unit.Data))
	return d.sink.Unit(&d.unit)
}

func (d *Decoder) fail(l *stream.Lineage, raw []byte, err error) {
	d.stats.Failures++
	if d.stats.FailuresByReason == nil {
		d.stats.FailuresByReason = make(map[string]int64)
	}
	d.stats.FailuresByReason[stream.ReasonOf(err).Code]++
	if l != &d.failLin {
		d.failLin = *l
	}
	d.sink.Fail(&d.failLin, raw, err)
}

// firstLineOK reports whether a JSON scan that started at b[i] failed on
// its first line: then the input is text (or NDJSON with a bad first line)
// rather than a broken multi-line JSON document.
func firstLineOK(b []byte, i int, err error) bool {
	se, ok := err.(*jsonscan.SyntaxError)
	if !ok {
		return true
	}
	return bytes.IndexByte(b[i:min(se.Offset, len(b))], '\n') < 0
}

// afterComma skips whitespace and one comma after a value ending at b[i].
func afterComma(b []byte, i int) int {
	i = jsonscan.SkipSpace(b, i)
	if i < len(b) && b[i] == ',' {
		i = jsonscan.SkipSpace(b, i+1)
	}
	return i
}

func skipBOM(b []byte) int {
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return 3
	}
	return 0
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
