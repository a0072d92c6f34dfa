package elastic

import (
	"slices"
	"strconv"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// AlertTime is the time that places an alert in its daily index and in
// @timestamp: the window start (part of the alert id, so a re-raised alert
// lands on the same document), else the first or last matched event time.
func AlertTime(a *stream.Alert) time.Time {
	switch {
	case !a.WindowStart.IsZero():
		return a.WindowStart
	case !a.FirstSeen.IsZero():
		return a.FirstSeen
	}
	return a.LastSeen
}

// levelSeverity maps a Sigma level to a numeric event.severity (the scale
// of Elastic detection rules).
func levelSeverity(level string) int64 {
	switch level {
	case "low":
		return 21
	case "medium":
		return 47
	case "high":
		return 73
	case "critical":
		return 99
	}
	return 0
}

// AppendBulkAlert appends one bulk "index" action for the alert into the
// <prefix>-alerts-YYYY.MM.DD index, with _id = the alert id, and the alert
// document, each line terminated by '\n'.
func (e *Encoder) AppendBulkAlert(dst []byte, a *stream.Alert) []byte {
	dst = append(dst, `{"index":{"_index":"`...)
	dst = append(dst, e.prefix()...)
	dst = append(dst, "-alerts-"...)
	dst = appendDay(dst, AlertTime(a))
	dst = append(dst, `","_id":"`...)
	dst = a.ID.AppendHex(dst)
	dst = append(dst, "\"}}\n"...)
	dst = e.AppendAlertDocument(dst, a)
	return append(dst, '\n')
}

// AppendAlertDocument appends the alert as one line of ECS-style JSON.
func (e *Encoder) AppendAlertDocument(dst []byte, a *stream.Alert) []byte {
	dst = append(dst, '{')
	dst = timeField(dst, `"@timestamp":`, AlertTime(a))
	dst = strField(dst, `"message":`, a.RuleTitle)
	dst = append(key(dst, `"event":`), `{"id":"`...)
	dst = a.ID.AppendHex(dst)
	dst = append(dst, `","kind":"alert","dataset":"gannet.alerts"`...)
	dst = intField(dst, `"severity":`, levelSeverity(a.Level))
	dst = timeField(dst, `"start":`, a.WindowStart)
	dst = timeField(dst, `"end":`, a.WindowEnd)
	dst = append(dst, '}')

	var p int
	dst, p = open(dst, `"rule":`)
	dst = strField(dst, `"id":`, a.RuleID)
	dst = strField(dst, `"name":`, a.RuleTitle)
	dst = strField(dst, `"description":`, a.Description)
	dst = closeObj(dst, p)
	dst = strList(dst, `"tags":`, a.Tags)

	dst = append(key(dst, `"gannet":`), `{"alert":{`...)
	dst = strField(dst, `"level":`, a.Level)
	dst = strField(dst, `"kind":`, a.Kind)
	dst = strField(dst, `"group_key":`, a.GroupKey)
	dst = timeField(dst, `"window_start":`, a.WindowStart)
	dst = timeField(dst, `"window_end":`, a.WindowEnd)
	dst = timeField(dst, `"first_seen":`, a.FirstSeen)
	dst = timeField(dst, `"last_seen":`, a.LastSeen)
	dst = strconv.AppendInt(key(dst, `"count":`), a.Count, 10)
	if a.Format != stream.FormatUnknown {
		dst = strField(dst, `"format":`, a.Format.String())
	}
	if len(a.Events) > 0 {
		dst = append(key(dst, `"events":`), '[')
		for i := range a.Events {
			ev := &a.Events[i]
			dst = append(sep(dst), `{"id":"`...)
			dst = ev.ID.AppendHex(dst)
			dst = append(dst, `","lineage":`...)
			dst = appendLineage(dst, &ev.Lineage)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if len(a.Fields) > 0 {
		// Field names hold dots ("source.ip"): written as name/value pairs
		// so that they cannot create or conflict with mappings.
		names := make([]string, 0, len(a.Fields))
		for k := range a.Fields {
			names = append(names, k)
		}
		slices.Sort(names)
		dst = append(key(dst, `"fields":`), '[')
		for _, k := range names {
			dst = append(sep(dst), `{"name":`...)
			dst = appendString(dst, k)
			dst = append(dst, `,"value":`...)
			dst = appendString(dst, a.Fields[k])
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, "}}}"...)
}
