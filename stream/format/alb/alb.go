// Package alb parses and generates Application Load Balancer access logs
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html).
//
// Each line becomes a stream.Event with ECS common fields and a typed
// *Record holding every documented field. See README.md for the field
// mapping.
package alb

import (
	"net/netip"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/internal/textscan"
)

// Record is one ALB access log entry, every documented field typed.
//
// Absent values ("-") become: "" for strings, the zero netip.Addr for
// addresses, 0 for ports, status codes and byte counts, the zero time for
// request_creation_time, and -1 for the processing times and
// matched_rule_priority (AWS itself writes -1 for a processing time that does
// not apply). Quoted fields are kept verbatim, without their quotes and
// without unescaping; control characters are kept as logged.
type Record struct {
	Type string    // http, https, h2, grpcs, ws, wss
	Time time.Time // when the load balancer generated the response (UTC)
	ELB  string    // load balancer resource id, e.g. app/my-lb/50dc6c495c0c9188

	ClientIP   netip.Addr
	ClientPort int32
	TargetIP   netip.Addr // zero when the request did not reach a target
	TargetPort int32

	RequestProcessingTime  float64 // seconds; -1 when not applicable
	TargetProcessingTime   float64 // seconds; -1 when not applicable
	ResponseProcessingTime float64 // seconds; -1 when not applicable

	ELBStatusCode    int32 // 0 when "-"
	TargetStatusCode int32 // 0 when "-"
	ReceivedBytes    int64
	SentBytes        int64

	Request         string // the request line as logged: method URL protocol
	RequestMethod   string
	RequestURL      string
	RequestProtocol string // e.g. HTTP/1.1

	UserAgent      string
	SSLCipher      string
	SSLProtocol    string
	TargetGroupARN string
	TraceID        string // X-Amzn-Trace-Id
	DomainName     string // SNI domain
	ChosenCertARN  string

	MatchedRulePriority int32     // 0 is the default rule; -1 when "-"
	RequestCreationTime time.Time // when the request was received (UTC)

	ActionsExecuted      string // comma-separated, e.g. "waf,forward"
	RedirectURL          string
	ErrorReason          string
	TargetPortList       string // space-separated ip:port list
	TargetStatusCodeList string // space-separated status codes
	Classification       string // desync mitigation: Acceptable, Ambiguous, Severe
	ClassificationReason string
	ConnTraceID          string

	// Newer trailing fields, "" when the line predates them.
	TransformedHost        string
	TransformedURI         string
	RequestTransformStatus string

	// Extra is any trailing text after the last documented field, verbatim
	// (fields AWS may add in future).
	Extra string
}

// Format says the record is an ALB access log entry.
func (*Record) Format() stream.Format { return stream.FormatALB }

// Targets returns the entries of TargetPortList.
func (r *Record) Targets() []string { return strings.Fields(r.TargetPortList) }

// minFields is the number of fields every ALB entry since 2020 has (through
// classification_reason); conn_trace_id and the transform fields are optional.
const minFields = 29

// NewParser returns a parser of ALB access log lines. The parser is not safe
// for concurrent use.
func NewParser() stream.Parser { return &parser{} }

type parser struct{ a textscan.Arena[Record] }

func (p *parser) Format() stream.Format { return stream.FormatALB }

// Shared, read-only ECS category/type slices.
var (
	categoryWeb = []string{"web"}
	typeAccess  = []string{"access"}
)

// Parse parses one access log line into ev.
func (p *parser) Parse(u *stream.Unit, ev *stream.Event) error {
	line := textscan.TrimEOL(u.Data)
	if len(line) == 0 {
		return stream.Permanentf("alb_field_count", "empty line")
	}
	r := p.a.Record()
	if err := parseLine(p.a.String(line), r); err != nil {
		*r = Record{}
		return err
	}
	fill(ev, r)
	return nil
}

// parseLine fills r from one line (already a stable string).
func parseLine(s string, r *Record) error {
	var f [len(fieldNames)]string
	n, rest, badq := textscan.Split(s, f[:], false)
	if badq >= 0 {
		return stream.Permanentf("alb_bad_quoting", "field %d (%s): unterminated quoted field", badq+1, fieldNames[badq])
	}
	if n < minFields {
		return stream.Permanentf("alb_field_count", "%d fields, want at least %d", n, minFields)
	}
	r.Type = f[0]
	if r.Type == "" || r.Type == "-" {
		return textscan.Bad("alb_bad_type", "type", f[0])
	}
	var ok bool
	if r.Time, ok = textscan.ParseISOTime(f[1]); !ok {
		return textscan.Bad("alb_bad_time", "time", f[1])
	}
	r.ELB = textscan.Dash(f[2])
	if r.ClientIP, r.ClientPort, ok = textscan.SplitHostPort(f[3]); !ok {
		return textscan.Bad("alb_bad_address", "client:port", f[3])
	}
	if r.TargetIP, r.TargetPort, ok = textscan.SplitHostPort(f[4]); !ok {
		return textscan.Bad("alb_bad_address", "target:port", f[4])
	}
	if r.RequestProcessingTime, ok = seconds(f[5]); !ok {
		return textscan.Bad("alb_bad_number", "request_processing_time", f[5])
	}
	if r.TargetProcessingTime, ok = seconds(f[6]); !ok {
		return textscan.Bad("alb_bad_number", "target_processing_time", f[6])
	}
	if r.ResponseProcessingTime, ok = seconds(f[7]); !ok {
		return textscan.Bad("alb_bad_number", "response_processing_time", f[7])
	}
	if r.ELBStatusCode, ok = status(f[8]); !ok {
		return textscan.Bad("alb_bad_number", "elb_status_code", f[8])
	}
	if r.TargetStatusCode, ok = status(f[9]); !ok {
		return textscan.Bad("alb_bad_number", "target_status_code", f[9])
	}
	if r.ReceivedBytes, ok = count(f[10]); !ok {
		return textscan.Bad("alb_bad_number", "received_bytes", f[10])
	}
	if r.SentBytes, ok = count(f[11]); !ok {
		return textscan.Bad("alb_bad_number", "sent_bytes", f[11])
	}
	r.Request = textscan.Dash(f[12])
	r.RequestMethod, r.RequestURL, r.RequestProtocol = textscan.SplitRequest(f[12])
	r.UserAgent = textscan.Dash(f[13])
	r.SSLCipher = textscan.Dash(f[14])
	r.SSLProtocol = textscan.Dash(f[15])
	r.TargetGroupARN = textscan.Dash(f[16])
	r.TraceID = textscan.Dash(f[17])
	r.DomainName = textscan.Dash(f[18])
	r.ChosenCertARN = textscan.Dash(f[19])
	if v := f[20]; v == "-" {
		r.MatchedRulePriority = -1
	} else if n, ok := textscan.Atoi(v); ok && n >= 0 && n <= 1<<31-1 {
		r.MatchedRulePriority = int32(n)
	} else {
		return textscan.Bad("alb_bad_number", "matched_rule_priority", v)
	}
	if v := f[21]; v != "-" {
		if r.RequestCreationTime, ok = textscan.ParseISOTime(v); !ok {
			return textscan.Bad("alb_bad_time", "request_creation_time", v)
		}
	}
	r.ActionsExecuted = textscan.Dash(f[22])
	r.RedirectURL = textscan.Dash(f[23])
	r.ErrorReason = textscan.Dash(f[24])
	r.TargetPortList = textscan.Dash(f[25])
	r.TargetStatusCodeList = textscan.Dash(f[26])
	r.Classification = textscan.Dash(f[27])
	r.ClassificationReason = textscan.Dash(f[28])
	// Optional trailing fields, in documented order ("" when absent).
	r.ConnTraceID = textscan.Dash(f[29])
	r.TransformedHost = textscan.Dash(f[30])
	r.TransformedURI = textscan.Dash(f[31])
	r.RequestTransformStatus = textscan.Dash(f[32])
	r.Extra = s[rest:]
	return nil
}

// seconds parses a processing time; "-" is -1, like AWS's own "not applicable".
func seconds(v string) (float64, bool) {
	if v == "-" {
		return -1, true
	}
	return textscan.ParseFloat(v)
}

// status parses an HTTP status code; "-" is 0.
func status(v string) (int32, bool) {
	if v == "-" {
		return 0, true
	}
	n, ok := textscan.Atoi(v)
	return int32(n), ok && n >= 0 && n <= 999
}

// count parses a byte count; "-" is 0.
func count(v string) (int64, bool) {
	if v == "-" {
		return 0, true
	}
	n, ok := textscan.Atoi(v)
	return n, ok && n >= 0
}

// fieldNames are the documented field names, in line order.
var fieldNames = [...]string{
	"type", "time", "elb", "client:port", "target:port",
	"request_processing_time", "target_processing_time", "response_processing_time",
	"elb_status_code", "target_status_code", "received_bytes", "sent_bytes",
	"request", "user_agent", "ssl_cipher", "ssl_protocol", "target_group_arn",
	"trace_id", "domain_name", "chosen_cert_arn", "matched_rule_priority",
	"request_creation_time", "actions_executed", "redirect_url", "error_reason",
	"target:port_list", "target_status_code_list", "classification",
	"classification_reason", "conn_trace_id", "transformed_host",
	"transformed_uri", "request_transform_status",
}

// fill sets the ECS common fields of ev from r.
func fill(ev *stream.Event, r *Record) {
	ev.Format = stream.FormatALB
	ev.Timestamp = r.Time
	ev.Kind = "event"
	ev.Category = categoryWeb
	ev.Type = typeAccess
	ev.Action = r.ActionsExecuted
	switch c := r.ELBStatusCode; {
	case c == 0:
		ev.Outcome = "unknown"
	case c < 400:
		ev.Outcome = "success"
	default:
		ev.Outcome = "failure"
	}
	ev.Source.IP = r.ClientIP
	ev.Source.Port = r.ClientPort
	ev.Source.Bytes = r.ReceivedBytes
	ev.Destination.IP = r.TargetIP
	ev.Destination.Port = r.TargetPort
	ev.Destination.Bytes = r.SentBytes
	ev.NetworkBytes = r.ReceivedBytes + r.SentBytes
	ev.NetworkTransport = "tcp"
	ev.NetworkIANA = 6
	ev.UserAgent = r.UserAgent
	ev.HTTPMethod = r.RequestMethod
	ev.HTTPVersion = strings.TrimPrefix(r.RequestProtocol, "HTTP/")
	ev.HTTPStatusCode = r.ELBStatusCode
	ev.URLOriginal = r.RequestURL
	ev.URLDomain, ev.URLPath, ev.URLQuery = textscan.SplitURL(r.RequestURL)
	ev.ErrorCode = r.ErrorReason
	ev.CloudProvider = "aws"
	arn := r.TargetGroupARN
	if arn == "" {
		arn = r.ChosenCertARN
	}
	ev.CloudRegion, ev.CloudAccountID = textscan.ARNRegionAccount(arn)
	ev.Native = r
}
