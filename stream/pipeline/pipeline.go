// Package pipeline is Gannet's hot-path core: a batch of records in →
// decode → parse → enrich → detect → sinks → acknowledgement out. The same
// core runs in the Lambdas, the KCL consumer and `gannet run`.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// Parsers chooses the parser for a unit.
type Parsers interface {
	// For returns the parser for format f or, when f is FormatUnknown, the
	// parser whose format sniffing recognises data; nil when none fits.
	For(f stream.Format, data []byte) stream.Parser
}

// Config wires the stages of a pipeline. Decoder, Parsers and DeadLetter are
// required; the other stages are optional.
type Config struct {
	Decoder    stream.Decoder
	Parsers    Parsers
	Enricher   stream.Enricher
	Detector   stream.Detector
	Sinks      []stream.Sink
	AlertSinks []stream.AlertSink
	// DeadLetter holds what cannot be processed, with its reason. Without it
	// a permanently failing record could never be acknowledged.
	DeadLetter stream.DeadLetterSink
	// DeferFlush leaves flushing to the caller: Process writes to the sinks
	// without flushing them, and nothing is durable (acknowledgeable) until
	// Flush returns nil. Used where acknowledgement is periodic (KCL
	// checkpoints, `gannet run`); Lambdas flush every batch.
	DeferFlush bool
	// Now is the clock (event.ingested, dead-letter time); time.Now by default.
	Now    func() time.Time
	Logger *slog.Logger
}

// Result says which records of a batch were not acknowledged.
type Result struct {
	// Failed lists, in ascending order, the indices of the records that are
	// not durable in every sink nor dead-lettered: they must be retried.
	Failed []int
	// Err is the first error that made records fail (nil when none did).
	Err error
	// Alerts raised by this batch (owned by the caller).
	Alerts []stream.Alert
}

// Pipeline runs batches through the stages. It is not safe for concurrent
// use: run one per goroutine (shard) and merge their Stats.
type Pipeline struct {
	cfg   Config
	stats Stats

	// reused between batches
	events  []stream.Event
	evRec   []int32 // record index of each event
	letters []stream.DeadLetter
	letRec  []int32 // record index of each dead letter
	alerts  []stream.Alert
	failed  []bool
	arena   arena
	sink    unitSink
	// byFormat counts events per format on the hot path (folded into
	// stats.EventsByFormat by Stats).
	byFormat [formatMask + 1]int64
}

const formatMask = 15

// New validates cfg and returns a pipeline.
func New(cfg Config) (*Pipeline, error) {
	switch {
	case cfg.Decoder == nil:
		return nil, errors.New("pipeline: a decoder is required")
	case cfg.Parsers == nil:
		return nil, errors.New("pipeline: parsers are required")
	case cfg.DeadLetter == nil:
		return nil, errors.New("pipeline: a dead-letter sink is required (bad input must land somewhere with its reason)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{cfg: cfg}
	p.stats.init()
	p.sink.p = p
	return p, nil
}

// Stats returns a copy of the counters so far.
func (p *Pipeline) Stats() Stats {
	c := p.stats.Clone()
	for f, n := range p.byFormat {
		if n > 0 {
			c.EventsByFormat[stream.Format(f).String()] = n
		}
	}
	return c
}

// Process runs one batch through every stage and flushes the sinks. A record
// is acknowledged (absent from Result.Failed) only when every event it
// produced is durable in every sink, or dead-lettered with a reason. The
// records are owned by the caller; the pipeline keeps nothing after Process
// returns, except alerts it handed out in Result.
func (p *Pipeline) Process(ctx context.Context, recs []stream.Record) Result {
	p.reset(len(recs))
	now := p.cfg.Now().UTC()
	var res Result
	fail := func(i int, err error) {
		if !p.failed[i] {
			p.failed[i] = true
		}
		if res.Err == nil {
			res.Err = err
		}
	}
	failAll := func(err error) {
		for i := range recs {
			fail(i, err)
		}
	}

	// decode + parse
	t0 := time.Now()
	for i := range recs {
		if err := ctx.Err(); err != nil {
			for j := i; j < len(recs); j++ {
				fail(j, err)
			}
			break
		}
		rec := &recs[i]
		p.stats.Records++
		p.stats.RecordBytes += int64(len(rec.Data))
		p.sink.rec = int32(i)
		p.sink.recFormat = rec.Format
		p.sink.now = now
		if rec.Decoded {
			p.sink.Unit(&stream.Unit{Data: rec.Data, Lineage: rec.Lineage, Format: rec.Format})
			continue
		}
		if err := p.cfg.Decoder.Decode(rec, &p.sink); err != nil {
			// The whole record could not be decoded.
			if class, _ := stream.ClassOf(err); class == stream.Permanent {
				p.letter(int32(i), StageDecode, err, &rec.Lineage, stream.EventID{}, rec.Format, rec.Data, now)
			} else {
				fail(i, fmt.Errorf("decode %s: %w", rec.Lineage.RecordKey(), err))
			}
		}
	}
	p.stats.StageTime[StageDecode] += time.Since(t0)
	events := p.events

	// enrich
	if p.cfg.Enricher != nil && len(events) > 0 {
		t := time.Now()
		if err := p.cfg.Enricher.Enrich(ctx, events); err != nil {
			failAll(fmt.Errorf("enrich: %w", err))
			return p.finish(ctx, &res)
		}
		p.stats.StageTime[StageEnrich] += time.Since(t)
	}

	// detect
	if p.cfg.Detector != nil && len(events) > 0 {
		t := time.Now()
		err := p.cfg.Detector.Detect(ctx, events, func(a *stream.Alert) {
			p.alerts = append(p.alerts, *a)
		})
		if err != nil {
			failAll(fmt.Errorf("detect: %w", err))
			return p.finish(ctx, &res)
		}
		p.stats.StageTime[StageDetect] += time.Since(t)
	}

	// sinks
	for _, s := range p.cfg.Sinks {
		if len(events) == 0 {
			break
		}
		t := time.Now()
		err := s.Write(ctx, events)
		p.stats.StageTime[StageSink+":"+s.Name()] += time.Since(t)
		if err == nil {
			continue
		}
		var items stream.ItemErrors
		if errors.As(err, &items) {
			for _, it := range items {
				if it.Index < 0 || it.Index >= len(events) {
					failAll(fmt.Errorf("sink %s reported item %d of %d: %w", s.Name(), it.Index, len(events), it.Err))
					continue
				}
				ev := &events[it.Index]
				r := int(p.evRec[it.Index])
				if class, _ := stream.ClassOf(it.Err); class == stream.Permanent {
					p.letter(int32(r), StageSink+":"+s.Name(), it.Err, &ev.Lineage, ev.ID, ev.Format, ev.Raw, now)
				} else {
					fail(r, fmt.Errorf("sink %s: %w", s.Name(), it.Err))
				}
			}
			continue
		}
		if class, _ := stream.ClassOf(err); class == stream.Permanent {
			for k := range events {
				ev := &events[k]
				p.letter(p.evRec[k], StageSink+":"+s.Name(), err, &ev.Lineage, ev.ID, ev.Format, ev.Raw, now)
			}
			continue
		}
		// Whole batch failed in this sink: every record that produced an event is unfinished.
		for k := range events {
			fail(int(p.evRec[k]), fmt.Errorf("sink %s: %w", s.Name(), err))
		}
	}

	// alerts
	if len(p.alerts) > 0 {
		p.stats.Alerts += int64(len(p.alerts))
		for k := range p.alerts {
			p.stats.AlertsByRule[p.alerts[k].RuleID]++
		}
		for _, s := range p.cfg.AlertSinks {
			if err := s.Alerts(ctx, p.alerts); err != nil {
				// An alert that was not delivered must be raised again: the
				// records that produced it are retried (alert ids are stable).
				failAll(fmt.Errorf("alert sink %s: %w", s.Name(), err))
			}
		}
	}
	return p.finish(ctx, &res)
}

// finish writes dead letters, flushes every sink and builds the result.
func (p *Pipeline) finish(ctx context.Context, res *Result) Result {
	t := time.Now()
	fail := func(i int, err error) {
		p.failed[i] = true
		if res.Err == nil {
			res.Err = err
		}
	}
	if len(p.letters) > 0 {
		if err := p.cfg.DeadLetter.DeadLetter(ctx, p.letters); err != nil {
			for _, r := range p.letRec {
				fail(int(r), fmt.Errorf("dead-letter: %w", err))
			}
		}
	}
	var flushErr error
	if !p.cfg.DeferFlush {
		flushErr = p.flush(ctx)
	}
	if flushErr != nil {
		// Nothing buffered since the last successful flush is durable.
		for i := range p.failed {
			fail(i, flushErr)
		}
	}
	p.stats.StageTime[StageFlush] += time.Since(t)
	for i, f := range p.failed {
		if f {
			res.Failed = append(res.Failed, i)
		}
	}
	p.stats.Failed += int64(len(res.Failed))
	p.stats.Acked += int64(len(p.failed) - len(res.Failed))
	if res.Err != nil {
		p.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "records not acknowledged",
			slog.Int("failed", len(res.Failed)), slog.Int("records", len(p.failed)), slog.String("error", res.Err.Error()))
	}
	if len(p.alerts) > 0 {
		res.Alerts = append([]stream.Alert(nil), p.alerts...)
	}
	return *res
}

// Flush makes everything the sinks, alert sinks and dead-letter sink
// accepted durable. With DeferFlush, records processed since the last
// successful Flush are acknowledged only once Flush returns nil.
func (p *Pipeline) Flush(ctx context.Context) error {
	t := time.Now()
	err := p.flush(ctx)
	p.stats.StageTime[StageFlush] += time.Since(t)
	return err
}

func (p *Pipeline) flush(ctx context.Context) error {
	var flushErr error
	for _, s := range p.cfg.Sinks {
		if err := s.Flush(ctx); err != nil {
			flushErr = fmt.Errorf("flush %s: %w", s.Name(), err)
			break
		}
	}
	if flushErr == nil {
		for _, s := range p.cfg.AlertSinks {
			if err := s.Flush(ctx); err != nil {
				flushErr = fmt.Errorf("flush alerts %s: %w", s.Name(), err)
				break
			}
		}
	}
	if flushErr == nil {
		if err := p.cfg.DeadLetter.Flush(ctx); err != nil {
			flushErr = fmt.Errorf("flush dead-letter: %w", err)
		}
	}
	return flushErr
}

func (p *Pipeline) reset(n int) {
	for i := range p.events {
		p.events[i].Reset()
	}
	p.events = p.events[:0]
	p.evRec = p.evRec[:0]
	clear(p.letters)
	p.letters = p.letters[:0]
	p.letRec = p.letRec[:0]
	clear(p.alerts)
	p.alerts = p.alerts[:0]
	if cap(p.failed) < n {
		p.failed = make([]bool, n)
	}
	p.failed = p.failed[:n]
	clear(p.failed)
	p.arena.reset()
}

// letter records a dead letter; raw is copied.
func (p *Pipeline) letter(rec int32, stage string, err error, l *stream.Lineage, id stream.EventID, f stream.Format, raw []byte, now time.Time) {
	r := stream.ReasonOf(err)
	p.stats.deadLetter(stage, r)
	p.letters = append(p.letters, stream.DeadLetter{
		Time: now, Stage: stage, Reason: r, Lineage: *l, EventID: id, Format: f,
		Raw: append([]byte(nil), raw...),
	})
	p.letRec = append(p.letRec, rec)
}

// unitSink receives the decoder's units and parses them into events.
type unitSink struct {
	p         *Pipeline
	rec       int32
	recFormat stream.Format
	now       time.Time
}

func (s *unitSink) Unit(u *stream.Unit) error {
	p := s.p
	p.stats.Units++
	f := u.Format
	if f == stream.FormatUnknown {
		f = s.recFormat
	}
	parser := p.cfg.Parsers.For(f, u.Data)
	if parser == nil {
		err := stream.Permanentf("format_unrecognised", "no parser recognises this %d-byte unit (configure the source's format, or check the input); starts %q", len(u.Data), prefix(u.Data, 48))
		if f != stream.FormatUnknown {
			err = stream.Permanentf("format_unsupported", "no parser for format %s", f)
		}
		p.letter(s.rec, StageParse, err, &u.Lineage, u.Lineage.ID(), f, u.Data, s.now)
		return nil
	}
	if cap(p.events) > len(p.events) {
		p.events = p.events[:len(p.events)+1]
	} else {
		p.events = append(p.events, stream.Event{})
	}
	ev := &p.events[len(p.events)-1]
	ev.Lineage = u.Lineage
	ev.ID = u.Lineage.ID()
	ev.Ingested = s.now
	ev.Raw = p.arena.copy(u.Data)
	err := parser.Parse(u, ev)
	if err == nil {
		if ev.Timestamp.IsZero() {
			ev.Timestamp = u.Timestamp
		}
		if ev.Format == stream.FormatUnknown {
			ev.Format = parser.Format()
		}
		p.evRec = append(p.evRec, s.rec)
		p.stats.Events++
		p.byFormat[ev.Format&formatMask]++
		return nil
	}
	p.events = p.events[:len(p.events)-1]
	ev.Reset()
	if errors.Is(err, stream.ErrSkip) {
		p.stats.Skipped++
		return nil
	}
	if class, _ := stream.ClassOf(err); class != stream.Permanent {
		// A parser only sees bytes: anything it reports is about the input.
		err = &stream.Error{Class: stream.Permanent, Reason: stream.ReasonOf(err), Err: err}
	}
	p.letter(s.rec, StageParse, err, &u.Lineage, u.Lineage.ID(), parser.Format(), u.Data, s.now)
	return nil
}

func (s *unitSink) Fail(l *stream.Lineage, raw []byte, err error) {
	p := s.p
	if class, _ := stream.ClassOf(err); class != stream.Permanent {
		err = &stream.Error{Class: stream.Permanent, Reason: stream.ReasonOf(err), Err: err}
	}
	p.letter(s.rec, StageDecode, err, l, stream.EventID{}, s.recFormat, raw, s.now)
}

func prefix(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// arena holds copies of unit bytes for the events of one batch, in chunks so
// that growing never moves bytes already handed out. Chunks are reused by
// the next batch.
type arena struct {
	chunks [][]byte
	next   int // index of the chunk after cur
	cur    []byte
}

const arenaChunk = 1 << 20

func (a *arena) copy(b []byte) []byte {
	if len(b) > cap(a.cur)-len(a.cur) {
		a.cur = nil
		for a.next < len(a.chunks) && a.cur == nil {
			if c := a.chunks[a.next]; cap(c) >= len(b) {
				a.cur = c[:0]
			}
			a.next++
		}
		if a.cur == nil {
			a.cur = make([]byte, 0, max(arenaChunk, len(b)))
			a.chunks = append(a.chunks, a.cur)
			a.next = len(a.chunks)
		}
	}
	n := len(a.cur)
	a.cur = append(a.cur, b...)
	return a.cur[n:len(a.cur):len(a.cur)]
}

func (a *arena) reset() {
	a.cur, a.next = nil, 0
	// Oversized chunks (one huge record) are not kept for the next batch.
	keep := a.chunks[:0]
	for _, c := range a.chunks {
		if cap(c) <= 4*arenaChunk {
			keep = append(keep, c)
		}
	}
	clear(a.chunks[len(keep):])
	a.chunks = keep
}
