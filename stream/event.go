package stream

import (
	"net/netip"
	"time"
)

// Format names a log format. The names are part of Gannet's stable
// interface (CLI flags, configuration, table and index names).
type Format uint8

const (
	FormatUnknown Format = iota
	FormatCloudTrail
	FormatALB
	FormatVPCFlow
	FormatWAF
	FormatRoute53Resolver
	FormatS3Access
	FormatGuardDuty
	FormatJSON // generic JSON pass-through
	numFormats
)

var formatNames = [...]string{
	FormatUnknown:         "unknown",
	FormatCloudTrail:      "cloudtrail",
	FormatALB:             "alb",
	FormatVPCFlow:         "vpcflow",
	FormatWAF:             "waf",
	FormatRoute53Resolver: "route53resolver",
	FormatS3Access:        "s3access",
	FormatGuardDuty:       "guardduty",
	FormatJSON:            "json",
}

// String returns the stable lower-case name ("cloudtrail", "alb", …).
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "unknown"
}

// Dataset returns the ECS event.dataset value ("aws.cloudtrail", …).
func (f Format) Dataset() string {
	if f == FormatJSON {
		return "json"
	}
	return "aws." + f.String()
}

// Formats lists every known format except FormatUnknown.
func Formats() []Format {
	out := make([]Format, 0, numFormats-1)
	for f := FormatCloudTrail; f < numFormats; f++ {
		out = append(out, f)
	}
	return out
}

// ParseFormat maps a name to a Format; ok is false for unknown names.
func ParseFormat(name string) (f Format, ok bool) {
	for i, n := range formatNames {
		if i > 0 && n == name {
			return Format(i), true
		}
	}
	return FormatUnknown, false
}

// Endpoint is an ECS source/destination/client.
type Endpoint struct {
	IP      netip.Addr
	Port    int32 // 0 when unknown
	Address string
	Domain  string
	Bytes   int64
	Packets int64
	Geo     Geo
	AS      AS
}

// Geo is ECS *.geo, filled by enrichment.
type Geo struct {
	CountryISOCode string
	CountryName    string
	RegionName     string
	CityName       string
	Location       GeoPoint
}

// GeoPoint is a latitude/longitude pair; Valid is false when unknown.
type GeoPoint struct {
	Lat, Lon float64
	Valid    bool
}

// AS is ECS *.as, filled by enrichment.
type AS struct {
	Number           int64
	OrganizationName string
}

// ThreatEnrichment records one threat-intel indicator match (ECS
// threat.enrichments[]).
type ThreatEnrichment struct {
	Indicator    string // the indicator value as listed by its feed
	Type         string // ipv4-addr, ipv6-addr, cidr, domain-name, url, file-hash
	Feed         string
	Confidence   int32
	MatchedField string // the event field that matched, e.g. "source.ip"
	MatchedValue string
}

// Event is the one normalized event model for every format. Common fields are
// named after the Elastic Common Schema; the format's own fields stay typed in
// Native. An Event is owned by the batch that holds it: stages work on it in
// place and must not keep pointers into it after they return.
type Event struct {
	ID        EventID   // event.id, derived from Lineage
	Timestamp time.Time // @timestamp (UTC)
	Ingested  time.Time // event.ingested (UTC)
	Format    Format    // event.dataset is Format.Dataset()

	Kind     string   // event.kind: event, alert, …
	Category []string // event.category (shared, read-only slices)
	Type     []string // event.type (shared, read-only slices)
	Action   string   // event.action
	Outcome  string   // event.outcome: success, failure, unknown
	Provider string   // event.provider (e.g. the CloudTrail eventSource)
	Severity int32    // event.severity (GuardDuty)

	Message string // message, when the format has one

	Source      Endpoint
	Destination Endpoint

	UserName  string // user.name
	UserID    string // user.id
	UserAgent string // user_agent.original

	HTTPMethod     string // http.request.method
	HTTPVersion    string // http.version
	HTTPStatusCode int32  // http.response.status_code
	URLOriginal    string // url.original
	URLDomain      string // url.domain
	URLPath        string // url.path
	URLQuery       string // url.query

	CloudProvider  string // cloud.provider ("aws")
	CloudAccountID string // cloud.account.id
	CloudRegion    string // cloud.region

	NetworkTransport string // network.transport (tcp, udp, icmp, …)
	NetworkIANA      int32  // network.iana_number
	NetworkDirection string // network.direction
	NetworkBytes     int64  // network.bytes
	NetworkPackets   int64  // network.packets

	DNSQuestionName string // dns.question.name
	DNSQuestionType string // dns.question.type
	DNSResponseCode string // dns.response_code

	ErrorCode    string // error.code
	ErrorMessage string // error.message

	Threat []ThreatEnrichment // threat.enrichments, filled by enrichment

	Lineage Lineage
	// Native holds the format's own typed record (*cloudtrail.Record,
	// *alb.Record, …); nil for formats without one.
	Native Native
	// Raw is the original bytes of the event (one line or one JSON object).
	// It aliases the batch's input and is valid only while the batch is.
	Raw []byte
}

// Native is the typed record of one format.
type Native interface {
	// Format says which format the record belongs to.
	Format() Format
}

// Reset clears the event for reuse, keeping slice capacity.
func (e *Event) Reset() {
	th := e.Threat[:0]
	*e = Event{}
	e.Threat = th
}
