package lake

import (
	"strconv"
	"unicode/utf8"

	"github.com/gannet-sec/gannet/stream"
)

// appendJSONString appends s as a JSON string literal (RFC 8259 escaping;
// invalid UTF-8 becomes U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONField appends `,"name":"value"` (without the comma for the first field).
func appendJSONField(b []byte, first bool, name, value string) []byte {
	if !first {
		b = append(b, ',')
	}
	b = appendJSONString(b, name)
	b = append(b, ':')
	return appendJSONString(b, value)
}

func appendJSONInt(b []byte, name string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

// appendThreatJSON appends the threat enrichments as a JSON array, nothing when there are none.
func appendThreatJSON(b []byte, ts []stream.ThreatEnrichment) []byte {
	if len(ts) == 0 {
		return b
	}
	b = append(b, '[')
	for i := range ts {
		t := &ts[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendJSONField(b, true, "indicator", t.Indicator)
		b = appendJSONField(b, false, "type", t.Type)
		b = appendJSONField(b, false, "feed", t.Feed)
		b = appendJSONInt(b, "confidence", int64(t.Confidence))
		b = appendJSONField(b, false, "matched_field", t.MatchedField)
		b = appendJSONField(b, false, "matched_value", t.MatchedValue)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendLineageJSON appends one lineage as a JSON object.
func appendLineageJSON(b []byte, l *stream.Lineage) []byte {
	b = append(b, '{')
	b = appendJSONField(b, true, "kind", l.Kind.String())
	b = appendJSONField(b, false, "source", l.Source)
	b = appendJSONField(b, false, "shard", l.Shard)
	b = appendJSONField(b, false, "sequence", l.Sequence)
	b = appendJSONInt(b, "sub_sequence", l.SubSequence)
	b = appendJSONInt(b, "offset", l.Offset)
	b = appendJSONInt(b, "index", l.Index)
	b = appendJSONInt(b, "line", l.Line)
	b = appendJSONField(b, false, "log_event_id", l.LogEventID)
	return append(b, '}')
}

// appendAlertEventsJSON appends the matched events of an alert as a JSON array.
func appendAlertEventsJSON(b []byte, evs []stream.AlertEvent) []byte {
	if len(evs) == 0 {
		return b
	}
	b = append(b, '[')
	for i := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"event_id":"`...)
		b = evs[i].ID.AppendHex(b)
		b = append(b, `","lineage":`...)
		b = appendLineageJSON(b, &evs[i].Lineage)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendMapJSON appends m as a JSON object with keys in sorted order, nothing when empty.
func appendMapJSON(b []byte, m map[string]string, keys []string) []byte {
	if len(m) == 0 {
		return b
	}
	b = append(b, '{')
	for i, k := range keys {
		b = appendJSONField(b, i == 0, k, m[k])
	}
	return append(b, '}')
}
