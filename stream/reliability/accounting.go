// Package reliability proves that no record is lost: it derives, from the
// input records of a run, the event ids the pipeline must account for (the
// same lineage → event id derivation as the pipeline), reads what the run
// left in its outputs — the Parquet lake, Elasticsearch, the dead-letter
// store — and tabulates every id as landed, dead-lettered with a reason,
// skipped (a header line) or lost. Its tests are Gannet's fault matrix and
// hostile-input suite.
package reliability

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gannet-sec/gannet/sink/dlq"
	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

// Unit is one thing a run must account for: an event the pipeline should
// produce (ID = its lineage's id), or a part the decoder rejects
// (DecodeFail, ID = the lineage of the rejected part: a dead letter must
// hold it).
type Unit struct {
	ID     stream.EventID
	Record int // index of the input record
	// Skipped: the parser says this unit carries no event (a header or
	// comment line); nothing must hold it.
	Skipped bool
	// DecodeFail: the decoder rejects this part; Reason is why.
	DecodeFail bool
	Reason     string
	// Data is a copy of the unit's bytes (ExpectData only).
	Data []byte
}

// Expect derives the units of recs exactly as the pipeline does: the same
// decoder splits each record into units with lineage, the unit's id is
// Lineage.ID(), and parsers decide which units carry no event. dec must be
// configured like the run's (a new decode.Decoder with the same options).
func Expect(recs []stream.Record, dec stream.Decoder, parsers pipeline.Parsers) []Unit {
	return expect(recs, dec, parsers, false)
}

// ExpectData is Expect keeping a copy of each unit's bytes, for stages whose
// output is the data itself (partition's output streams).
func ExpectData(recs []stream.Record, dec stream.Decoder, parsers pipeline.Parsers) []Unit {
	return expect(recs, dec, parsers, true)
}

func expect(recs []stream.Record, dec stream.Decoder, parsers pipeline.Parsers, keep bool) []Unit {
	c := &collector{parsers: parsers, keep: keep}
	for i := range recs {
		rec := &recs[i]
		c.rec, c.format = i, rec.Format
		if rec.Decoded {
			_ = c.Unit(&stream.Unit{Data: rec.Data, Lineage: rec.Lineage, Format: rec.Format})
			continue
		}
		if err := dec.Decode(rec, c); err != nil {
			c.units = append(c.units, Unit{ID: rec.Lineage.ID(), Record: i, DecodeFail: true, Reason: stream.ReasonOf(err).Code})
		}
	}
	return c.units
}

type collector struct {
	parsers pipeline.Parsers
	rec     int
	format  stream.Format
	units   []Unit
	keep    bool
}

func (c *collector) Unit(u *stream.Unit) error {
	f := u.Format
	if f == stream.FormatUnknown {
		f = c.format
	}
	un := Unit{ID: u.Lineage.ID(), Record: c.rec}
	if c.keep {
		un.Data = append([]byte(nil), u.Data...)
	}
	if c.parsers != nil {
		if p := c.parsers.For(f, u.Data); p != nil {
			var ev stream.Event
			ev.Lineage, ev.ID = u.Lineage, un.ID
			if err := p.Parse(u, &ev); errors.Is(err, stream.ErrSkip) {
				un.Skipped = true
			}
		}
	}
	c.units = append(c.units, un)
	return nil
}

func (c *collector) Fail(l *stream.Lineage, _ []byte, err error) {
	c.units = append(c.units, Unit{ID: l.ID(), Record: c.rec, DecodeFail: true, Reason: stream.ReasonOf(err).Code})
}

// Outputs says where a run wrote and which sinks must hold every event.
type Outputs struct {
	// Lake, when set, must hold every event that was not dead-lettered (at
	// least once).
	Lake lake.Store
	// ES, when set, must hold every event that was not dead-lettered exactly once.
	ES *ES
	// DLQ is the dead-letter directory (dlq.Read). Dead letters are also
	// read from the lake's dead_letter table when Lake is set.
	DLQ string
	// DLQLetters are dead letters the caller read itself (an S3 dead-letter store).
	DLQLetters []stream.DeadLetter
	// Streams, when set, is a routing stage's sink (partition's output
	// streams): by unit id (hex), how many times the unit was read back from
	// the output stream it belongs to. Every unit not dead-lettered must be
	// there at least once; one found only in a wrong stream is lost.
	Streams map[string]int
}

// Report is the accounting of one run.
type Report struct {
	Name         string
	Records      int // input records
	Units        int // units derived from them
	Skipped      int // units that carry no event
	InLake       int // events in the lake at least once
	InStreams    int // units in their output stream at least once (Outputs.Streams)
	InESOnce     int // events in Elasticsearch exactly once
	DuplicatedES int // events in Elasticsearch more than once
	DeadLettered int // units dead-lettered (with a reason)
	// ByReason counts dead-lettered units by reason code.
	ByReason map[string]int
	Lost     int      // units none of the above accounts for
	LostIDs  []string // the first lost ids
	// NoReason counts dead letters without a reason code (a contract breach).
	NoReason int
	// Unexpected counts dead-letter entries whose lineage matches no input
	// unit (from another run sharing the store; informational).
	Unexpected int

	lake, es, streams bool
}

// OK reports whether nothing was lost or duplicated and every dead letter has a reason.
func (r *Report) OK() bool { return r.Lost == 0 && r.DuplicatedES == 0 && r.NoReason == 0 }

// Account reads the outputs and tabulates units.
func Account(ctx context.Context, name string, nrec int, units []Unit, out Outputs) (*Report, error) {
	r := &Report{Name: name, Records: nrec, Units: len(units), ByReason: map[string]int{}, lake: out.Lake != nil, es: out.ES != nil, streams: out.Streams != nil}
	want := make(map[stream.EventID]bool, len(units))
	for _, u := range units {
		want[u.ID] = true
	}

	// Dead letters, by lineage id (the event id when the stage knew one).
	dead := map[stream.EventID]string{}
	addLetter := func(dl stream.DeadLetter) {
		ids := []stream.EventID{dl.Lineage.ID()}
		if !dl.EventID.IsZero() {
			ids = append(ids, dl.EventID)
		}
		matched := false
		for _, id := range ids {
			if want[id] {
				matched = true
				if _, seen := dead[id]; !seen || dead[id] == "" {
					dead[id] = dl.Reason.Code
				}
			}
		}
		if !matched {
			r.Unexpected++
		}
	}
	if out.DLQ != "" {
		err := dlq.Read(ctx, out.DLQ, func(dl stream.DeadLetter) error { addLetter(dl); return nil })
		if err != nil && !isNotExist(err) {
			return nil, fmt.Errorf("accounting: dead letters: %w", err)
		}
	}
	for _, dl := range out.DLQLetters {
		addLetter(dl)
	}

	var inLake map[string]int
	if out.Lake != nil {
		var err error
		if inLake, err = LakeEventIDs(ctx, out.Lake); err != nil {
			return nil, fmt.Errorf("accounting: lake: %w", err)
		}
	}
	var inES map[string]int
	if out.ES != nil {
		ids := make([]string, 0, len(units))
		for _, u := range units {
			if !u.Skipped && !u.DecodeFail {
				ids = append(ids, u.ID.String())
			}
		}
		var err error
		if inES, err = out.ES.Count(ctx, ids); err != nil {
			return nil, fmt.Errorf("accounting: elasticsearch: %w", err)
		}
	}

	for _, u := range units {
		if u.Skipped {
			r.Skipped++
			continue
		}
		hex := u.ID.String()
		lakeOK := inLake[hex] >= 1
		esN := inES[hex]
		if lakeOK {
			r.InLake++
		}
		streamOK := out.Streams[hex] >= 1
		if streamOK {
			r.InStreams++
		}
		if esN == 1 {
			r.InESOnce++
		}
		if esN > 1 {
			r.DuplicatedES++
		}
		if code, ok := dead[u.ID]; ok {
			r.DeadLettered++
			if code == "" {
				r.NoReason++
				code = "(none)"
			}
			r.ByReason[code]++
			continue
		}
		if (out.Lake == nil || lakeOK) && (out.ES == nil || esN >= 1) && (out.Streams == nil || streamOK) &&
			(out.Lake != nil || out.ES != nil || out.Streams != nil) {
			continue
		}
		r.Lost++
		if len(r.LostIDs) < 20 {
			r.LostIDs = append(r.LostIDs, fmt.Sprintf("%s (record %d)", hex, u.Record))
		}
	}
	return r, nil
}

func isNotExist(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such file")
}

// Table renders reports as an aligned text table, one row per report.
func Table(rs ...*Report) string {
	head := []string{"scenario", "records", "units", "skipped", "in lake ≥1", "in streams ≥1", "in ES =1", "dup in ES", "dead-lettered (reason)", "lost"}
	rows := [][]string{head}
	for _, r := range rs {
		na := func(ok bool, n int) string {
			if !ok {
				return "-"
			}
			return fmt.Sprint(n)
		}
		var dl []string
		for _, k := range slices.Sorted(maps.Keys(r.ByReason)) {
			dl = append(dl, fmt.Sprintf("%s=%d", k, r.ByReason[k]))
		}
		dls := fmt.Sprint(r.DeadLettered)
		if len(dl) > 0 {
			dls += " (" + strings.Join(dl, ", ") + ")"
		}
		rows = append(rows, []string{r.Name, fmt.Sprint(r.Records), fmt.Sprint(r.Units), fmt.Sprint(r.Skipped),
			na(r.lake, r.InLake), na(r.streams, r.InStreams), na(r.es, r.InESOnce), na(r.es, r.DuplicatedES), dls, fmt.Sprint(r.Lost)})
	}
	width := make([]int, len(head))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for n, row := range rows {
		b.WriteString("| ")
		for i, c := range row {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", width[i]-len([]rune(c))))
			b.WriteString(" | ")
		}
		b.WriteString("\n")
		if n == 0 {
			b.WriteString("|")
			for i := range row {
				b.WriteString(strings.Repeat("-", width[i]+2))
				b.WriteString("|")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
