// Package alertout writes alerts to a terminal or log stream: one readable
// line per alert (text) or one JSON object per line. Receivers of the JSON
// form deduplicate by "id" (delivery is at least once).
package alertout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// Sink implements stream.AlertSink over an io.Writer.
type Sink struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
}

// NewText writes one line per alert: level, rule, count, group and the first
// matched event with its lineage.
func NewText(w io.Writer) *Sink { return &Sink{w: w} }

// NewJSON writes one JSON object per alert.
func NewJSON(w io.Writer) *Sink { return &Sink{w: w, json: true} }

// Name implements stream.AlertSink.
func (s *Sink) Name() string { return "stdout" }

// Alerts implements stream.AlertSink.
func (s *Sink) Alerts(_ context.Context, alerts []stream.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for i := range alerts {
		if s.json {
			data, err := json.Marshal(Document(&alerts[i]))
			if err != nil {
				return stream.NewPermanent("alert_encode", err)
			}
			b.Write(data)
			b.WriteByte('\n')
			continue
		}
		b.WriteString(Line(&alerts[i]))
		b.WriteByte('\n')
	}
	_, err := io.WriteString(s.w, b.String())
	return err
}

// Flush implements stream.AlertSink.
func (s *Sink) Flush(context.Context) error { return nil }

// Close implements stream.AlertSink.
func (s *Sink) Close(context.Context) error { return nil }

// Line renders an alert as one human-readable line.
func Line(a *stream.Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ALERT %-8s %s (%s) count=%d", strings.ToUpper(a.Level), a.RuleTitle, a.RuleID, a.Count)
	if a.GroupKey != "" {
		fmt.Fprintf(&b, " %s", a.GroupKey)
	}
	if !a.FirstSeen.IsZero() {
		fmt.Fprintf(&b, " first=%s", a.FirstSeen.UTC().Format(time.RFC3339))
	}
	if len(a.Events) > 0 {
		e := a.Events[0]
		fmt.Fprintf(&b, " event=%s from=%s", e.ID, lineageString(&e.Lineage))
	}
	fmt.Fprintf(&b, " id=%s", a.ID)
	return b.String()
}

func lineageString(l *stream.Lineage) string {
	switch l.Kind {
	case stream.OriginKinesis:
		s := fmt.Sprintf("%s/%s/%s", l.Source, l.Shard, l.Sequence)
		if l.SubSequence >= 0 {
			s += fmt.Sprintf("#%d", l.SubSequence)
		}
		return s
	case stream.OriginS3:
		return fmt.Sprintf("s3://%s/%s@%d", l.Source, l.Shard, l.Offset)
	default:
		if l.Line > 0 {
			return fmt.Sprintf("%s:%d", l.Source, l.Line)
		}
		return fmt.Sprintf("%s@%d", l.Source, l.Offset)
	}
}

// Document is the JSON form of an alert.
func Document(a *stream.Alert) map[string]any {
	evs := make([]map[string]any, 0, len(a.Events))
	for _, e := range a.Events {
		evs = append(evs, map[string]any{"id": e.ID.String(), "lineage": lineageString(&e.Lineage)})
	}
	fields := map[string]string{}
	keys := make([]string, 0, len(a.Fields))
	for k := range a.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fields[k] = a.Fields[k]
	}
	return map[string]any{
		"id": a.ID.String(), "rule_id": a.RuleID, "title": a.RuleTitle, "level": a.Level, "tags": a.Tags,
		"kind": a.Kind, "group_key": a.GroupKey, "count": a.Count, "dataset": a.Format.Dataset(),
		"first_seen": a.FirstSeen.UTC(), "last_seen": a.LastSeen.UTC(), "events": evs, "fields": fields,
	}
}
