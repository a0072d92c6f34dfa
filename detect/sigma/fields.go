package sigma

import (
	"net/netip"
	"strconv"
	"strings"
	"unsafe"

	"github.com/gannet-sec/gannet/detect/jsonscan"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
)

// Field is a Sigma field name resolved to how its values are read from an
// event: a typed stream.Event field, a JSON path over Event.Raw, or the
// typed field first and the path when the typed field is empty. The table
// is documented in detect/FIELDS.md.
type Field struct {
	Name string
	// typed appends the typed field's values to m.vals and reports whether
	// it found any; nil when the name has no typed field.
	typed func(m *Matcher) bool
	// onlyFormat restricts the typed path to events of one format
	// (CloudTrail-native names); FormatUnknown means any.
	onlyFormat stream.Format
	// native reads a CloudTrail-native name from a *cloudtrail.Record in
	// Event.Native (tried first); nil when the Record does not type it.
	native func(m *Matcher) bool
	// ct is set with native when the name is one string field of the
	// Record: an empty string is absent.
	ct func(r *cloudtrail.Record) string
	// get is set with typed when the typed field is one string.
	get func(ev *stream.Event) string
	// raw path: top-level key id and the rest of the path.
	rawTop  int
	rawRest []string
	noRaw   bool
	// rawJSONOnly: an ECS name, whose typed field the parsers fill; Raw is
	// read only for generic JSON events (FormatJSON), whose documents may
	// carry ECS-shaped objects.
	rawJSONOnly bool
}

// typedField builds the typed half of a Field.
type typedField struct {
	fn         func(m *Matcher) bool
	get        func(ev *stream.Event) string // set when the field is one string
	onlyFormat stream.Format
	noRaw      bool // the name never exists in Raw (derived values such as event.dataset)
}

func str(get func(ev *stream.Event) string) func(m *Matcher) bool {
	return func(m *Matcher) bool {
		s := get(m.ev)
		if s == "" {
			return false
		}
		m.vals = append(m.vals, val{s: s, kind: jsonscan.String})
		return true
	}
}

// sf is a typed string field.
func sf(get func(ev *stream.Event) string) typedField { return typedField{fn: str(get), get: get} }

func strs(get func(ev *stream.Event) []string) func(m *Matcher) bool {
	return func(m *Matcher) bool {
		l := get(m.ev)
		for _, s := range l {
			m.vals = append(m.vals, val{s: s, kind: jsonscan.String})
		}
		return len(l) > 0
	}
}

func num(get func(ev *stream.Event) int64) func(m *Matcher) bool {
	return func(m *Matcher) bool {
		n := get(m.ev)
		if n == 0 {
			return false
		}
		start := len(m.buf)
		m.buf = strconv.AppendInt(m.buf, n, 10)
		m.vals = append(m.vals, val{s: bufString(m.buf, start), kind: jsonscan.Number})
		return true
	}
}

func addr(get func(ev *stream.Event) netip.Addr) func(m *Matcher) bool {
	return func(m *Matcher) bool {
		a := get(m.ev)
		if !a.IsValid() {
			return false
		}
		start := len(m.buf)
		m.buf = a.AppendTo(m.buf)
		m.vals = append(m.vals, val{s: bufString(m.buf, start), kind: jsonscan.String, ip: a})
		return true
	}
}

func threat(get func(t *stream.ThreatEnrichment) string) func(m *Matcher) bool {
	return func(m *Matcher) bool {
		found := false
		for i := range m.ev.Threat {
			if s := get(&m.ev.Threat[i]); s != "" {
				m.vals = append(m.vals, val{s: s, kind: jsonscan.String})
				found = true
			}
		}
		return found
	}
}

// bufString returns buf[start:] as a string without copying. The string
// stays valid after buf grows (it keeps the old array alive) and until the
// Matcher reuses buf for the next event.
func bufString(buf []byte, start int) string {
	if len(buf) == start {
		return ""
	}
	return unsafe.String(&buf[start], len(buf)-start)
}

func endpointFields(prefix string, get func(ev *stream.Event) *stream.Endpoint, t map[string]typedField) {
	t[prefix+".ip"] = typedField{fn: addr(func(ev *stream.Event) netip.Addr { return get(ev).IP })}
	t[prefix+".port"] = typedField{fn: num(func(ev *stream.Event) int64 { return int64(get(ev).Port) })}
	t[prefix+".address"] = sf(func(ev *stream.Event) string { return get(ev).Address })
	t[prefix+".domain"] = sf(func(ev *stream.Event) string { return get(ev).Domain })
	t[prefix+".bytes"] = typedField{fn: num(func(ev *stream.Event) int64 { return get(ev).Bytes })}
	t[prefix+".packets"] = typedField{fn: num(func(ev *stream.Event) int64 { return get(ev).Packets })}
	t[prefix+".geo.country_iso_code"] = sf(func(ev *stream.Event) string { return get(ev).Geo.CountryISOCode })
	t[prefix+".geo.country_name"] = sf(func(ev *stream.Event) string { return get(ev).Geo.CountryName })
	t[prefix+".geo.region_name"] = sf(func(ev *stream.Event) string { return get(ev).Geo.RegionName })
	t[prefix+".geo.city_name"] = sf(func(ev *stream.Event) string { return get(ev).Geo.CityName })
	t[prefix+".as.number"] = typedField{fn: num(func(ev *stream.Event) int64 { return get(ev).AS.Number })}
	t[prefix+".as.organization.name"] = sf(func(ev *stream.Event) string { return get(ev).AS.OrganizationName })
}

// typedFields is the table of Sigma field names with a typed stream.Event
// field. Keep detect/FIELDS.md in step with it.
var typedFields = func() map[string]typedField {
	t := map[string]typedField{}
	endpointFields("source", func(ev *stream.Event) *stream.Endpoint { return &ev.Source }, t)
	endpointFields("destination", func(ev *stream.Event) *stream.Endpoint { return &ev.Destination }, t)
	endpointFields("client", func(ev *stream.Event) *stream.Endpoint { return &ev.Source }, t)
	s := func(name string, get func(ev *stream.Event) string) { t[name] = sf(get) }
	n := func(name string, get func(ev *stream.Event) int64) { t[name] = typedField{fn: num(get)} }
	s("event.kind", func(ev *stream.Event) string { return ev.Kind })
	t["event.category"] = typedField{fn: strs(func(ev *stream.Event) []string { return ev.Category })}
	t["event.type"] = typedField{fn: strs(func(ev *stream.Event) []string { return ev.Type })}
	s("event.action", func(ev *stream.Event) string { return ev.Action })
	s("event.outcome", func(ev *stream.Event) string { return ev.Outcome })
	s("event.provider", func(ev *stream.Event) string { return ev.Provider })
	n("event.severity", func(ev *stream.Event) int64 { return int64(ev.Severity) })
	t["event.dataset"] = typedField{fn: str(func(ev *stream.Event) string { return ev.Format.Dataset() }), noRaw: true}
	s("message", func(ev *stream.Event) string { return ev.Message })
	s("user.name", func(ev *stream.Event) string { return ev.UserName })
	s("user.id", func(ev *stream.Event) string { return ev.UserID })
	s("user_agent.original", func(ev *stream.Event) string { return ev.UserAgent })
	s("http.request.method", func(ev *stream.Event) string { return ev.HTTPMethod })
	s("http.version", func(ev *stream.Event) string { return ev.HTTPVersion })
	n("http.response.status_code", func(ev *stream.Event) int64 { return int64(ev.HTTPStatusCode) })
	s("url.original", func(ev *stream.Event) string { return ev.URLOriginal })
	s("url.domain", func(ev *stream.Event) string { return ev.URLDomain })
	s("url.path", func(ev *stream.Event) string { return ev.URLPath })
	s("url.query", func(ev *stream.Event) string { return ev.URLQuery })
	s("cloud.provider", func(ev *stream.Event) string { return ev.CloudProvider })
	s("cloud.account.id", func(ev *stream.Event) string { return ev.CloudAccountID })
	s("cloud.region", func(ev *stream.Event) string { return ev.CloudRegion })
	s("network.transport", func(ev *stream.Event) string { return ev.NetworkTransport })
	n("network.iana_number", func(ev *stream.Event) int64 { return int64(ev.NetworkIANA) })
	s("network.direction", func(ev *stream.Event) string { return ev.NetworkDirection })
	n("network.bytes", func(ev *stream.Event) int64 { return ev.NetworkBytes })
	n("network.packets", func(ev *stream.Event) int64 { return ev.NetworkPackets })
	s("dns.question.name", func(ev *stream.Event) string { return ev.DNSQuestionName })
	s("dns.question.type", func(ev *stream.Event) string { return ev.DNSQuestionType })
	s("dns.response_code", func(ev *stream.Event) string { return ev.DNSResponseCode })
	s("error.code", func(ev *stream.Event) string { return ev.ErrorCode })
	s("error.message", func(ev *stream.Event) string { return ev.ErrorMessage })
	th := func(name string, get func(t *stream.ThreatEnrichment) string) {
		t[name] = typedField{fn: threat(get), noRaw: true}
	}
	th("threat.enrichments.indicator.name", func(t *stream.ThreatEnrichment) string { return t.Indicator })
	th("threat.enrichments.indicator.type", func(t *stream.ThreatEnrichment) string { return t.Type })
	th("threat.enrichments.feed.name", func(t *stream.ThreatEnrichment) string { return t.Feed })
	th("threat.enrichments.matched.field", func(t *stream.ThreatEnrichment) string { return t.MatchedField })
	th("threat.enrichments.matched.atomic", func(t *stream.ThreatEnrichment) string { return t.MatchedValue })
	t["threat.enrichments.indicator.confidence"] = typedField{noRaw: true, fn: func(m *Matcher) bool {
		found := false
		for i := range m.ev.Threat {
			start := len(m.buf)
			m.buf = strconv.AppendInt(m.buf, int64(m.ev.Threat[i].Confidence), 10)
			m.vals = append(m.vals, val{s: bufString(m.buf, start), kind: jsonscan.Number})
			found = true
		}
		return found
	}}

	// CloudTrail-native names whose value a CloudTrail parser also puts in
	// a typed field: read the typed field when it is set, Raw otherwise.
	ct := func(name string, get func(ev *stream.Event) string) {
		t[name] = typedField{fn: str(get), onlyFormat: stream.FormatCloudTrail}
	}
	ct("eventSource", func(ev *stream.Event) string { return ev.Provider })
	ct("eventName", func(ev *stream.Event) string { return ev.Action })
	ct("userAgent", func(ev *stream.Event) string { return ev.UserAgent })
	ct("errorCode", func(ev *stream.Event) string { return ev.ErrorCode })
	ct("errorMessage", func(ev *stream.Event) string { return ev.ErrorMessage })
	ct("awsRegion", func(ev *stream.Event) string { return ev.CloudRegion })
	ct("recipientAccountId", func(ev *stream.Event) string { return ev.CloudAccountID })
	return t
}()

// FieldNames lists the names with a typed accessor (for documentation tests).
func FieldNames() []string {
	out := make([]string, 0, len(typedFields))
	for k := range typedFields {
		out = append(out, k)
	}
	return out
}

// field resolves a Sigma field name once, at compile time.
func (s *Set) field(name string) *Field {
	if f, ok := s.fields[name]; ok {
		return f
	}
	f := &Field{Name: name}
	if tf, ok := typedFields[name]; ok {
		f.typed, f.onlyFormat, f.noRaw, f.get = tf.fn, tf.onlyFormat, tf.noRaw, tf.get
		f.rawJSONOnly = tf.onlyFormat == stream.FormatUnknown
	}
	if tf, ok := typedFields[name]; !ok || tf.onlyFormat == stream.FormatCloudTrail {
		f.native, f.ct = cloudtrailNative(name)
	}
	if !f.noRaw {
		parts := strings.Split(name, ".")
		id, ok := s.topKeys[parts[0]]
		if !ok {
			id = len(s.topNames)
			s.topKeys[parts[0]] = id
			s.topNames = append(s.topNames, parts[0])
		}
		f.rawTop, f.rawRest = id, parts[1:]
	}
	s.fields[name] = f
	return f
}

// one reads f when, in the current event, it is a single string: ok is
// false when f must be looked up in full (m.lookup). An empty string is
// absent, as lookup has it.
func (f *Field) one(m *Matcher) (s string, ok bool) {
	if f.ct != nil {
		if m.rec != nil {
			return f.ct(m.rec), true
		}
		return "", false
	}
	if f.get != nil && f.native == nil && f.onlyFormat == stream.FormatUnknown &&
		(f.noRaw || (f.rawJSONOnly && m.ev.Format != stream.FormatJSON)) {
		return f.get(m.ev), true
	}
	return "", false
}

// Field resolves a field name for use with Matcher.Values (group-by keys
// of correlations, alert fields).
func (s *Set) Field(name string) *Field {
	if s.frozen {
		if f, ok := s.fields[name]; ok {
			return f
		}
		panic("sigma: Set.Field(" + name + ") after the set was frozen")
	}
	return s.field(name)
}
