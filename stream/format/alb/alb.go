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
func NewParser() stream.Parser {
	return textscan.NewLines(stream.FormatALB, "alb_field_count", parseLine, fill)
}

// Shared, read-only ECS category/type slices.
var (
	categoryWeb = []string{"web"}
	typeAccess  = []string{"access"}
)

var layout = textscan.Layout{Prefix: "alb", Names: fieldNames[:], Min: minFields}

// parseLine fills r, which is zero, from one line (already a stable string).
// Absent strings are left unwritten.
func parseLine(s string, r *Record) error {
	var f [len(fieldNames)]string
	rest, err := layout.Split(s, f[:])
	if err != nil {
		return err
	}
	if v := f[0]; v == "" || v == "-" {
		return textscan.Bad("alb_bad_type", "type", v)
	}
	r.Type = f[0]
	var ok bool
	if r.Time, ok = textscan.ParseISOTime(f[1]); !ok {
		return textscan.Bad("alb_bad_time", "time", f[1])
	}
	textscan.Set(&r.ELB, f[2])
	if v := f[3]; v != "-" {
		if r.ClientIP, r.ClientPort, ok = textscan.SplitHostPort(v); !ok {
			return textscan.Bad("alb_bad_address", "client:port", v)
		}
	}
	if v := f[4]; v != "-" {
		if r.TargetIP, r.TargetPort, ok = textscan.SplitHostPort(v); !ok {
			return textscan.Bad("alb_bad_address", "target:port", v)
		}
	}
	if v := f[5]; !seconds(v, &r.RequestProcessingTime) {
		return textscan.Bad("alb_bad_number", "request_processing_time", v)
	}
	if v := f[6]; !seconds(v, &r.TargetProcessingTime) {
		return textscan.Bad("alb_bad_number", "target_processing_time", v)
	}
	if v := f[7]; !seconds(v, &r.ResponseProcessingTime) {
		return textscan.Bad("alb_bad_number", "response_processing_time", v)
	}
	if v := f[8]; !status(v, &r.ELBStatusCode) {
		return textscan.Bad("alb_bad_number", "elb_status_code", v)
	}
	if v := f[9]; !status(v, &r.TargetStatusCode) {
		return textscan.Bad("alb_bad_number", "target_status_code", v)
	}
	if v := f[10]; !count(v, &r.ReceivedBytes) {
		return textscan.Bad("alb_bad_number", "received_bytes", v)
	}
	if v := f[11]; !count(v, &r.SentBytes) {
		return textscan.Bad("alb_bad_number", "sent_bytes", v)
	}
	if v := f[12]; v != "-" {
		r.Request = v
		r.RequestMethod, r.RequestURL, r.RequestProtocol = textscan.SplitRequest(v)
	}
	textscan.Set(&r.UserAgent, f[13])
	textscan.Set(&r.SSLCipher, f[14])
	textscan.Set(&r.SSLProtocol, f[15])
	textscan.Set(&r.TargetGroupARN, f[16])
	textscan.Set(&r.TraceID, f[17])
	textscan.Set(&r.DomainName, f[18])
	textscan.Set(&r.ChosenCertARN, f[19])
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
	textscan.Set(&r.ActionsExecuted, f[22])
	textscan.Set(&r.RedirectURL, f[23])
	textscan.Set(&r.ErrorReason, f[24])
	textscan.Set(&r.TargetPortList, f[25])
	textscan.Set(&r.TargetStatusCodeList, f[26])
	textscan.Set(&r.Classification, f[27])
	textscan.Set(&r.ClassificationReason, f[28])
	// Optional trailing fields, in documented order ("" when absent).
	textscan.Set(&r.ConnTraceID, f[29])
	textscan.Set(&r.TransformedHost, f[30])
	textscan.Set(&r.TransformedURI, f[31])
	textscan.Set(&r.RequestTransformStatus, f[32])
	if rest < len(s) {
		r.Extra = s[rest:] // verbatim, even "-"
	}
	return nil
}

// seconds parses a processing time into *dst; "-" is -1, like AWS's own
// "not applicable".
func seconds(v string, dst *float64) bool {
	if v == "-" {
		*dst = -1
		return true
	}
	x, ok := textscan.ParseFloat(v)
	*dst = x
	return ok
}

// status parses an HTTP status code into *dst; "-" is 0.
func status(v string, dst *int32) bool {
	if v == "-" {
		return true
	}
	n, ok := textscan.Atoi(v)
	*dst = int32(n)
	return ok && n >= 0 && n <= 999
}

// count parses a byte count into *dst; "-" is 0.
func count(v string, dst *int64) bool {
	if v == "-" {
		return true
	}
	n, ok := textscan.Atoi(v)
	*dst = n
	return ok && n >= 0
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
