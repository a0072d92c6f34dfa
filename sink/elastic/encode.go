package elastic

import (
	"strconv"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/jsonlog"
)

// nativeSpec says, for one JSON format, which members of the native record
// are indexed as one JSON string each (a text field) instead of an object:
// their shape varies per API call / finding type and would otherwise grow
// the mapping without bound (mapping explosion) and cause type conflicts
// between events. The `flattened` type would be nicer but is not in every
// distribution Gannet targets (ES integ-test/OSS builds lack it, OpenSearch
// calls it flat_object since 2.7 only).
type nativeSpec struct {
	// stringify names members of this object that become JSON strings.
	stringify []string
	// nested names object members whose own members are partly stringified.
	nested []nestedSpec
}

type nestedSpec struct {
	name string
	spec *nativeSpec
}

func (s *nativeSpec) sub(name []byte) *nativeSpec {
	for i := range s.nested {
		if s.nested[i].name == string(name) {
			return s.nested[i].spec
		}
	}
	return nil
}

// guardDutyFinding is the spec of a GuardDuty finding: its resource and
// service differ per resource and finding type; the rest (type, severity,
// title, ids, times) stays searchable field by field.
var guardDutyFinding = &nativeSpec{stringify: []string{"service", "resource"}}

// nativeSpecs holds the spec of each JSON format whose raw record is
// embedded as aws.<format>; nil for the others.
var nativeSpecs = func() (t [16]*nativeSpec) {
	t[stream.FormatCloudTrail] = &nativeSpec{stringify: []string{"requestParameters", "responseElements",
		"additionalEventData", "serviceEventDetails", "insightDetails", "edgeDeviceDetails", "addendum", "eventContext"}}
	// An EventBridge envelope carries the finding as detail; a bare
	// finding (GetFindings, S3 export) has its members at the top.
	t[stream.FormatGuardDuty] = &nativeSpec{stringify: guardDutyFinding.stringify,
		nested: []nestedSpec{{"detail", guardDutyFinding}}}
	t[stream.FormatWAF] = &nativeSpec{stringify: []string{"ruleGroupList", "rateBasedRuleList", "nonTerminatingMatchingRules",
		"terminatingRuleMatchDetails", "captchaResponse", "challengeResponse"}}
	t[stream.FormatRoute53Resolver] = &nativeSpec{}
	return t
}()

// embedsNative reports whether events of format f carry their raw JSON
// record as an `aws.<format>` object. Text formats (ALB, VPC flow, S3 access)
// get theirs from the typed record (appendTypedNative); generic JSON keeps
// the raw record in `event.original`.
func embedsNative(f stream.Format) bool {
	return int(f) < len(nativeSpecs) && nativeSpecs[f] != nil
}

// Encoder writes Elasticsearch bulk bodies for events and alerts as ECS JSON.
// It appends into caller-owned buffers and keeps only a scratch buffer, so
// one Encoder serves one goroutine at a time.
type Encoder struct {
	// IndexPrefix starts every index name ("gannet" gives
	// gannet-cloudtrail-2026.11.01); empty means "gannet".
	IndexPrefix string
	// Original adds the raw record as event.original (stored, not indexed)
	// for formats whose record is embedded as an object anyway.
	Original bool

	native []byte // the compacted native record
}

func (e *Encoder) prefix() string {
	if e.IndexPrefix == "" {
		return DefaultIndexPrefix
	}
	return e.IndexPrefix
}

// EventTime is the time that places an event in its daily index: the event
// timestamp, or the ingest time when the event has none (such events stay
// idempotent only within the day).
func EventTime(ev *stream.Event) time.Time {
	if !ev.Timestamp.IsZero() {
		return ev.Timestamp
	}
	return ev.Ingested
}

// AppendIndexName appends the daily index name of format f for time t:
// <prefix>-<format>-YYYY.MM.DD.
func (e *Encoder) AppendIndexName(dst []byte, f stream.Format, t time.Time) []byte {
	dst = append(dst, e.prefix()...)
	dst = append(dst, '-')
	dst = append(dst, f.String()...)
	dst = append(dst, '-')
	return appendDay(dst, t)
}

// AppendBulkIndex appends one bulk "index" action for ev (its _id is the hex
// event.id, so a retry overwrites) followed by the document, each line
// terminated by '\n'.
func (e *Encoder) AppendBulkIndex(dst []byte, ev *stream.Event) []byte {
	dst = append(dst, `{"index":{"_index":"`...)
	dst = e.AppendIndexName(dst, ev.Format, EventTime(ev))
	dst = append(dst, `","_id":"`...)
	dst = ev.ID.AppendHex(dst)
	dst = append(dst, "\"}}\n"...)
	dst = e.AppendDocument(dst, ev)
	return append(dst, '\n')
}

// AppendDocument appends the ECS document of ev as one line of JSON.
func (e *Encoder) AppendDocument(dst []byte, ev *stream.Event) []byte {
	dst = append(dst, '{')
	dst = timeField(dst, `"@timestamp":`, EventTime(ev))
	dst = strField(dst, `"message":`, ev.Message)

	var p int
	dst, p = open(dst, `"event":`)
	dst = append(key(dst, `"id":`), '"')
	dst = ev.ID.AppendHex(dst)
	dst = append(dst, '"')
	dst = strField(dst, `"kind":`, ev.Kind)
	dst = strList(dst, `"category":`, ev.Category)
	dst = strList(dst, `"type":`, ev.Type)
	dst = strField(dst, `"action":`, ev.Action)
	dst = strField(dst, `"outcome":`, ev.Outcome)
	dst = strField(dst, `"dataset":`, ev.Format.Dataset())
	dst = strField(dst, `"module":`, "aws")
	dst = strField(dst, `"provider":`, ev.Provider)
	dst = intField(dst, `"severity":`, int64(ev.Severity))
	dst = timeField(dst, `"ingested":`, ev.Ingested)
	// The native record is validated and compacted first: when it is not
	// one JSON object it is kept as event.original instead.
	native := false
	if embedsNative(ev.Format) && len(ev.Raw) > 0 {
		var ok bool
		e.native, ok = appendNativeObject(e.native[:0], ev.Raw, nativeSpecs[ev.Format])
		native = ok
	}
	if len(ev.Raw) > 0 && (!native || e.Original) {
		dst = appendBytesString(key(dst, `"original":`), ev.Raw)
	}
	dst = closeObj(dst, p)

	dst = appendEndpoint(dst, `"source":`, &ev.Source)
	dst = appendEndpoint(dst, `"destination":`, &ev.Destination)

	dst, p = open(dst, `"user":`)
	dst = strField(dst, `"name":`, ev.UserName)
	dst = strField(dst, `"id":`, ev.UserID)
	dst = closeObj(dst, p)
	if ev.UserAgent != "" {
		dst = append(key(dst, `"user_agent":`), `{"original":`...)
		dst = append(appendString(dst, ev.UserAgent), '}')
	}

	dst, p = open(dst, `"http":`)
	if ev.HTTPMethod != "" {
		dst = append(key(dst, `"request":`), `{"method":`...)
		dst = append(appendString(dst, ev.HTTPMethod), '}')
	}
	dst = strField(dst, `"version":`, ev.HTTPVersion)
	if ev.HTTPStatusCode != 0 {
		dst = append(key(dst, `"response":`), `{"status_code":`...)
		dst = append(strconv.AppendInt(dst, int64(ev.HTTPStatusCode), 10), '}')
	}
	dst = closeObj(dst, p)

	dst, p = open(dst, `"url":`)
	dst = strField(dst, `"original":`, ev.URLOriginal)
	dst = strField(dst, `"domain":`, ev.URLDomain)
	dst = strField(dst, `"path":`, ev.URLPath)
	dst = strField(dst, `"query":`, ev.URLQuery)
	dst = closeObj(dst, p)

	dst, p = open(dst, `"cloud":`)
	dst = strField(dst, `"provider":`, ev.CloudProvider)
	if ev.CloudAccountID != "" {
		dst = append(key(dst, `"account":`), `{"id":`...)
		dst = append(appendString(dst, ev.CloudAccountID), '}')
	}
	dst = strField(dst, `"region":`, ev.CloudRegion)
	dst = closeObj(dst, p)

	dst, p = open(dst, `"network":`)
	dst = strField(dst, `"transport":`, ev.NetworkTransport)
	if ev.NetworkIANA != 0 { // a keyword in ECS
		dst = append(strconv.AppendInt(append(key(dst, `"iana_number":`), '"'), int64(ev.NetworkIANA), 10), '"')
	}
	dst = strField(dst, `"direction":`, ev.NetworkDirection)
	dst = intField(dst, `"bytes":`, ev.NetworkBytes)
	dst = intField(dst, `"packets":`, ev.NetworkPackets)
	dst = closeObj(dst, p)

	dst, p = open(dst, `"dns":`)
	if ev.DNSQuestionName != "" || ev.DNSQuestionType != "" {
		var q int
		dst, q = open(dst, `"question":`)
		dst = strField(dst, `"name":`, ev.DNSQuestionName)
		dst = strField(dst, `"type":`, ev.DNSQuestionType)
		dst = closeObj(dst, q)
	}
	dst = strField(dst, `"response_code":`, ev.DNSResponseCode)
	dst = closeObj(dst, p)

	dst, p = open(dst, `"error":`)
	dst = strField(dst, `"code":`, ev.ErrorCode)
	dst = strField(dst, `"message":`, ev.ErrorMessage)
	dst = closeObj(dst, p)

	if len(ev.Threat) > 0 {
		dst = append(key(dst, `"threat":`), `{"enrichments":[`...)
		for i := range ev.Threat {
			dst = appendEnrichment(sep(dst), &ev.Threat[i])
		}
		dst = append(dst, "]}"...)
	}

	// Generic JSON: the level as ECS log.level, and which key gave the time.
	jr, _ := ev.Native.(*jsonlog.Record)
	if jr != nil && jr.Level != "" {
		dst = append(key(dst, `"log":`), `{"level":`...)
		dst = append(appendString(dst, jr.Level), '}')
	}

	dst = append(key(dst, `"gannet":`), `{"lineage":`...)
	dst = appendLineage(dst, &ev.Lineage)
	if jr != nil && jr.TimeKey != "" {
		dst = append(key(dst, `"json":`), `{"time_key":`...)
		dst = append(appendString(dst, jr.TimeKey), '}')
	}
	dst = append(dst, '}')

	if native {
		dst = append(key(dst, `"aws":{"`), ev.Format.String()...)
		dst = append(dst, `":`...)
		dst = append(dst, e.native...)
		dst = append(dst, '}')
	} else {
		dst, _ = appendTypedNative(dst, ev)
	}
	return append(dst, '}')
}

func strList(dst []byte, k string, v []string) []byte {
	if len(v) == 0 {
		return dst
	}
	dst = append(key(dst, k), '[')
	for i, s := range v {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

func appendEndpoint(dst []byte, k string, ep *stream.Endpoint) []byte {
	var p int
	dst, p = open(dst, k)
	if ep.IP.IsValid() {
		dst = append(key(dst, `"ip":`), '"')
		dst = ep.IP.Unmap().WithZone("").AppendTo(dst) // ES ip fields take no zone
		dst = append(dst, '"')
	}
	dst = intField(dst, `"port":`, int64(ep.Port))
	dst = strField(dst, `"address":`, ep.Address)
	dst = strField(dst, `"domain":`, ep.Domain)
	dst = intField(dst, `"bytes":`, ep.Bytes)
	dst = intField(dst, `"packets":`, ep.Packets)

	g := &ep.Geo
	var q int
	dst, q = open(dst, `"geo":`)
	dst = strField(dst, `"country_iso_code":`, g.CountryISOCode)
	dst = strField(dst, `"country_name":`, g.CountryName)
	dst = strField(dst, `"region_name":`, g.RegionName)
	dst = strField(dst, `"city_name":`, g.CityName)
	if g.Location.Valid && validLatLon(g.Location.Lat, g.Location.Lon) {
		dst = append(key(dst, `"location":`), `{"lat":`...)
		dst = floatVal(dst, g.Location.Lat)
		dst = append(dst, `,"lon":`...)
		dst = floatVal(dst, g.Location.Lon)
		dst = append(dst, '}')
	}
	dst = closeObj(dst, q)

	if ep.AS.Number != 0 || ep.AS.OrganizationName != "" {
		dst, q = open(dst, `"as":`)
		dst = intField(dst, `"number":`, ep.AS.Number)
		if ep.AS.OrganizationName != "" {
			dst = append(key(dst, `"organization":`), `{"name":`...)
			dst = append(appendString(dst, ep.AS.OrganizationName), '}')
		}
		dst = closeObj(dst, q)
	}
	return closeObj(dst, p)
}

// validLatLon keeps a bad enrichment from getting a whole event rejected by
// the geo_point mapping.
func validLatLon(lat, lon float64) bool {
	return finite(lat) && finite(lon) && lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}

// appendEnrichment writes one ECS threat.enrichments element.
func appendEnrichment(dst []byte, t *stream.ThreatEnrichment) []byte {
	dst = append(dst, `{"indicator":{`...)
	dst = strField(dst, `"name":`, t.Indicator)
	dst = strField(dst, `"type":`, t.Type)
	dst = strField(dst, `"provider":`, t.Feed)
	if t.Confidence != 0 {
		dst = append(key(dst, `"confidence":"`), strconv.Itoa(int(t.Confidence))...)
		dst = append(dst, '"')
	}
	dst = append(dst, `},"matched":{`...)
	dst = strField(dst, `"field":`, t.MatchedField)
	dst = strField(dst, `"atomic":`, t.MatchedValue)
	dst = strField(dst, `"type":`, "indicator_match_rule")
	return append(dst, "}}"...)
}

// appendLineage writes the gannet.lineage object.
func appendLineage(dst []byte, l *stream.Lineage) []byte {
	dst = append(dst, `{"kind":`...)
	dst = appendString(dst, l.Kind.String())
	dst = strField(dst, `"source":`, l.Source)
	dst = strField(dst, `"shard":`, l.Shard)
	dst = strField(dst, `"sequence":`, l.Sequence)
	if l.SubSequence >= 0 && l.Kind == stream.OriginKinesis {
		dst = strconv.AppendInt(key(dst, `"sub_sequence":`), l.SubSequence, 10)
	}
	dst = intField(dst, `"offset":`, l.Offset)
	dst = strconv.AppendInt(key(dst, `"index":`), l.Index, 10)
	dst = intField(dst, `"line":`, l.Line)
	dst = strField(dst, `"log_event_id":`, l.LogEventID)
	return append(dst, '}')
}
