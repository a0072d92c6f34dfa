package pipeline

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// lineDecoder splits records on '\n'; a record starting with "BAD" fails
// whole, a line starting with "BROKEN" is reported through Fail.
type lineDecoder struct{}

func (lineDecoder) Decode(rec *stream.Record, s stream.UnitSink) error {
	if bytes.HasPrefix(rec.Data, []byte("BAD")) {
		return stream.Permanentf("test_bad_record", "record is bad")
	}
	for i, line := range bytes.Split(rec.Data, []byte("\n")) {
		l := rec.Lineage
		l.Index = int64(i)
		if bytes.HasPrefix(line, []byte("BROKEN")) {
			s.Fail(&l, line, stream.Permanentf("test_broken", "broken unit"))
			continue
		}
		if err := s.Unit(&stream.Unit{Data: line, Lineage: l}); err != nil {
			return err
		}
	}
	return nil
}

// kvParser accepts "ok …" lines, skips "#" lines and rejects the rest.
type kvParser struct{}

func (kvParser) Format() stream.Format { return stream.FormatJSON }
func (kvParser) Parse(u *stream.Unit, ev *stream.Event) error {
	switch {
	case bytes.HasPrefix(u.Data, []byte("#")):
		return stream.ErrSkip
	case bytes.HasPrefix(u.Data, []byte("ok")):
		ev.Action = string(u.Data)
		ev.Timestamp = time.Unix(1, 0).UTC()
		return nil
	}
	return stream.Permanentf("test_unparsable", "not ok: %q", u.Data)
}

type oneParser struct{}

func (oneParser) For(stream.Format, []byte) stream.Parser { return kvParser{} }

type memSink struct {
	name    string
	writeFn func(events []stream.Event) error
	flushFn func() error
	got     []string // actions written
	durable []string
}

func (m *memSink) Name() string { return m.name }
func (m *memSink) Write(_ context.Context, events []stream.Event) error {
	var err error
	if m.writeFn != nil {
		err = m.writeFn(events)
	}
	var items stream.ItemErrors
	errors.As(err, &items)
	bad := map[int]bool{}
	for _, it := range items {
		bad[it.Index] = true
	}
	if err != nil && items == nil {
		return err
	}
	for i := range events {
		if !bad[i] {
			m.got = append(m.got, events[i].Action)
		}
	}
	return err
}
func (m *memSink) Flush(context.Context) error {
	if m.flushFn != nil {
		if err := m.flushFn(); err != nil {
			return err
		}
	}
	m.durable = append(m.durable, m.got...)
	m.got = nil
	return nil
}
func (m *memSink) Close(ctx context.Context) error { return m.Flush(ctx) }

type memDLQ struct {
	letters []stream.DeadLetter
	err     error
}

func (d *memDLQ) DeadLetter(_ context.Context, l []stream.DeadLetter) error {
	if d.err != nil {
		return d.err
	}
	for _, x := range l {
		x.Raw = append([]byte(nil), x.Raw...)
		d.letters = append(d.letters, x)
	}
	return nil
}
func (d *memDLQ) Flush(context.Context) error { return nil }
func (d *memDLQ) Close(context.Context) error { return nil }

func recs(data ...string) []stream.Record {
	out := make([]stream.Record, len(data))
	for i, d := range data {
		out[i] = stream.Record{Data: []byte(d), Lineage: stream.Lineage{
			Kind: stream.OriginKinesis, Source: "arn:test", Shard: "shardId-0", Sequence: string(rune('a' + i)), SubSequence: -1,
		}}
	}
	return out
}

func newTest(t *testing.T, sinks []stream.Sink, dlq *memDLQ) *Pipeline {
	t.Helper()
	p, err := New(Config{Decoder: lineDecoder{}, Parsers: oneParser{}, Sinks: sinks, DeadLetter: dlq,
		Now: func() time.Time { return time.Unix(100, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProcessDeadLettersBadInputAndGoesOn(t *testing.T) {
	sink := &memSink{name: "mem"}
	dlq := &memDLQ{}
	p := newTest(t, []stream.Sink{sink}, dlq)
	res := p.Process(context.Background(), recs("ok1\nok2", "BAD", "ok3\nnope\n#header\nBROKEN", "ok4"))
	if len(res.Failed) != 0 || res.Err != nil {
		t.Fatalf("failed = %v, err = %v; want everything acknowledged", res.Failed, res.Err)
	}
	if got, want := strings.Join(sink.durable, ","), "ok1,ok2,ok3,ok4"; got != want {
		t.Errorf("durable = %s, want %s", got, want)
	}
	var reasons []string
	for _, l := range dlq.letters {
		reasons = append(reasons, l.Stage+"/"+l.Reason.Code+"/"+string(l.Raw))
	}
	if got, want := strings.Join(reasons, ","), "decode/test_bad_record/BAD,parse/test_unparsable/nope,decode/test_broken/BROKEN"; got != want {
		t.Errorf("dead letters = %s, want %s", got, want)
	}
	st := p.Stats()
	if st.Events != 4 || st.Skipped != 1 || st.DeadLetters != 3 || st.Acked != 4 || st.Records != 4 {
		t.Errorf("stats = %+v", st)
	}
	if st.DeadByReason["test_unparsable"] != 1 || st.DeadByStage["decode"] != 2 {
		t.Errorf("dead-letter counters = %v %v", st.DeadByReason, st.DeadByStage)
	}
}

func TestProcessSinkItemErrors(t *testing.T) {
	// Item 0 is rejected for good (dead-lettered), item 2 is throttled (its record retried).
	sink := &memSink{name: "es", writeFn: func(events []stream.Event) error {
		return stream.ItemErrors{
			{Index: 0, Err: stream.Permanentf("mapping_conflict", "field x")},
			{Index: 2, Err: stream.NewThrottled(errors.New("429"), time.Second)},
		}
	}}
	dlq := &memDLQ{}
	p := newTest(t, []stream.Sink{sink}, dlq)
	res := p.Process(context.Background(), recs("ok1", "ok2", "ok3"))
	if len(res.Failed) != 1 || res.Failed[0] != 2 {
		t.Fatalf("failed = %v, want [2]", res.Failed)
	}
	if len(dlq.letters) != 1 || dlq.letters[0].Stage != "sink:es" || dlq.letters[0].Reason.Code != "mapping_conflict" || string(dlq.letters[0].Raw) != "ok1" {
		t.Fatalf("dead letters = %+v", dlq.letters)
	}
	if dlq.letters[0].EventID.IsZero() {
		t.Error("sink dead letter lost its event id")
	}
}

func TestProcessFlushFailureFailsEverything(t *testing.T) {
	sink := &memSink{name: "lake", flushFn: func() error { return errors.New("s3 down") }}
	p := newTest(t, []stream.Sink{sink}, &memDLQ{})
	res := p.Process(context.Background(), recs("ok1", "ok2"))
	if len(res.Failed) != 2 || res.Err == nil || !strings.Contains(res.Err.Error(), "s3 down") {
		t.Fatalf("res = %+v", res)
	}
}

func TestProcessDeadLetterFailureFailsItsRecords(t *testing.T) {
	sink := &memSink{name: "mem"}
	p := newTest(t, []stream.Sink{sink}, &memDLQ{err: errors.New("dlq unavailable")})
	res := p.Process(context.Background(), recs("ok1", "nope", "ok3"))
	if len(res.Failed) != 1 || res.Failed[0] != 1 {
		t.Fatalf("failed = %v, want [1]", res.Failed)
	}
}

func TestProcessCancelledContextLeavesRestUnacked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := newTest(t, []stream.Sink{&memSink{name: "mem"}}, &memDLQ{})
	res := p.Process(ctx, recs("ok1", "ok2"))
	if len(res.Failed) != 2 {
		t.Fatalf("failed = %v, want both", res.Failed)
	}
}

func TestEventIDsStableAcrossRuns(t *testing.T) {
	run := func() []stream.EventID {
		var ids []stream.EventID
		sink := &memSink{name: "ids", writeFn: func(events []stream.Event) error {
			for i := range events {
				ids = append(ids, events[i].ID)
			}
			return nil
		}}
		p := newTest(t, []stream.Sink{sink}, &memDLQ{})
		p.Process(context.Background(), recs("ok1\nok2", "ok3"))
		return ids
	}
	a, b := run(), run()
	if len(a) != 3 {
		t.Fatalf("got %d ids", len(a))
	}
	seen := map[stream.EventID]bool{}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("id %d differs between runs", i)
		}
		if seen[a[i]] {
			t.Errorf("duplicate id %s", a[i])
		}
		seen[a[i]] = true
	}
}

func TestArenaNeverMovesHandedOutBytes(t *testing.T) {
	var a arena
	first := a.copy([]byte("hello"))
	big := bytes.Repeat([]byte("x"), arenaChunk+10)
	a.copy(big)
	for range 1000 {
		a.copy([]byte("more bytes"))
	}
	if string(first) != "hello" {
		t.Fatalf("first copy changed: %q", first)
	}
	a.reset()
	again := a.copy([]byte("again"))
	if string(again) != "again" {
		t.Fatal("copy after reset")
	}
}

func TestDecodedRecordsKeepTheirLineage(t *testing.T) {
	var got []stream.Event
	sink := &memSink{name: "m", writeFn: func(events []stream.Event) error {
		got = append(got, events...)
		return nil
	}}
	p := newTest(t, []stream.Sink{sink}, &memDLQ{})
	l := stream.Lineage{Kind: stream.OriginKinesis, Source: "arn", Shard: "s", Sequence: "9", SubSequence: 4, Index: 7}
	// "BAD" would fail the line decoder: a decoded record skips it.
	res := p.Process(context.Background(), []stream.Record{{Data: []byte("ok-BAD"), Lineage: l, Decoded: true}})
	if len(res.Failed) != 0 || len(got) != 1 {
		t.Fatalf("res = %+v, events = %d", res, len(got))
	}
	if got[0].Lineage != l || got[0].ID != l.ID() {
		t.Fatalf("lineage = %+v, want %+v", got[0].Lineage, l)
	}
}
