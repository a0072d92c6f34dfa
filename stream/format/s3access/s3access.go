// Package s3access parses and generates Amazon S3 server access log records
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html).
//
// Each line becomes a stream.Event with ECS common fields and a typed
// *Record holding every documented field. See README.md for the mapping.
package s3access

import (
	"bytes"
	"net/netip"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/internal/textscan"
)

// Record is one S3 server access log record, every documented field typed.
//
// Absent values ("-") become "" for strings, the zero netip.Addr and 0 for
// numbers; Requester "" means an anonymous request. Quoted fields are kept
// verbatim without their quotes (no unescaping); control characters are
// kept as logged.
type Record struct {
	BucketOwner string // canonical user id of the bucket owner
	Bucket      string
	Time        time.Time  // when the request was received (UTC)
	RemoteIP    netip.Addr // zero when "-"
	Requester   string     // IAM ARN or canonical user id; "" for anonymous
	RequestID   string
	Operation   string // e.g. REST.GET.OBJECT, REST.PUT.BUCKETPOLICY
	Key         string // URL-encoded object key, "" for bucket operations

	RequestURI      string // the request line as logged ("GET /key HTTP/1.1")
	RequestMethod   string
	RequestTarget   string // path and query of the request line
	RequestProtocol string // e.g. HTTP/1.1

	HTTPStatus     int32 // 0 when "-"
	ErrorCode      string
	BytesSent      int64 // response bytes, excluding headers
	ObjectSize     int64
	TotalTime      int64 // milliseconds, request received to last byte sent
	TurnAroundTime int64 // milliseconds, last request byte to first response byte
	Referer        string
	UserAgent      string
	VersionID      string
	HostID         string // x-amz-id-2

	SignatureVersion   string // SigV2, SigV4, or "" when unauthenticated
	CipherSuite        string
	AuthenticationType string // AuthHeader, QueryString, or ""
	HostHeader         string
	TLSVersion         string
	AccessPointARN     string
	ACLRequired        bool // "Yes": an ACL was required to authorize the request

	// Extra is any trailing text after the last documented field, verbatim
	// (fields AWS may add in future).
	Extra string
}

// Format says the record is an S3 server access log record.
func (*Record) Format() stream.Format { return stream.FormatS3Access }

// Anonymous reports whether the request was unauthenticated.
func (r *Record) Anonymous() bool { return r.Requester == "" }

// minFields is the number of fields every record has (through Version Id);
// later fields were added over the years and are read when present.
const minFields = 18

var fieldNames = [...]string{
	"bucket_owner", "bucket", "time", "remote_ip", "requester", "request_id",
	"operation", "key", "request_uri", "http_status", "error_code",
	"bytes_sent", "object_size", "total_time", "turn_around_time", "referer",
	"user_agent", "version_id", "host_id", "signature_version", "cipher_suite",
	"authentication_type", "host_header", "tls_version", "access_point_arn",
	"acl_required",
}

// NewParser returns a parser of S3 server access log lines. It is not safe
// for concurrent use.
func NewParser() stream.Parser { return &parser{} }

type parser struct{ a textscan.Arena[Record] }

func (p *parser) Format() stream.Format { return stream.FormatS3Access }

// Shared, read-only ECS category/type slices.
var (
	categoryWeb = []string{"web"}
	typeAccess  = []string{"access"}
)

// Parse parses one access log line into ev.
func (p *parser) Parse(u *stream.Unit, ev *stream.Event) error {
	line := textscan.TrimEOL(u.Data)
	if len(line) == 0 {
		return stream.Permanentf("s3access_field_count", "empty line")
	}
	r := p.a.Record()
	if err := parseLine(p.a.String(line), r); err != nil {
		*r = Record{}
		return err
	}
	fill(ev, r)
	return nil
}

func parseLine(s string, r *Record) error {
	var f [len(fieldNames)]string
	n, rest, badq := textscan.Split(s, f[:], true)
	if badq >= 0 {
		return stream.Permanentf("s3access_bad_quoting", "field %d (%s): unterminated quoted or bracketed field", badq+1, fieldNames[badq])
	}
	if n < minFields {
		return stream.Permanentf("s3access_field_count", "%d fields, want at least %d", n, minFields)
	}
	r.BucketOwner = textscan.Dash(f[0])
	r.Bucket = textscan.Dash(f[1])
	var ok bool
	if r.Time, ok = textscan.ParseCLFTime(f[2]); !ok {
		return textscan.Bad("s3access_bad_time", "time", f[2])
	}
	if f[3] != "-" {
		if r.RemoteIP, ok = textscan.ParseAddr(f[3]); !ok {
			return textscan.Bad("s3access_bad_address", "remote_ip", f[3])
		}
	}
	r.Requester = textscan.Dash(f[4])
	r.RequestID = textscan.Dash(f[5])
	r.Operation = textscan.Dash(f[6])
	r.Key = textscan.Dash(f[7])
	r.RequestURI = textscan.Dash(f[8])
	r.RequestMethod, r.RequestTarget, r.RequestProtocol = textscan.SplitRequest(f[8])
	if v := f[9]; v != "-" {
		n, ok := textscan.Atoi(v)
		if !ok || n < 0 || n > 999 {
			return textscan.Bad("s3access_bad_number", "http_status", v)
		}
		r.HTTPStatus = int32(n)
	}
	r.ErrorCode = textscan.Dash(f[10])
	for i, dst := range [4]*int64{&r.BytesSent, &r.ObjectSize, &r.TotalTime, &r.TurnAroundTime} {
		v := f[11+i]
		if v == "-" {
			continue
		}
		n, ok := textscan.Atoi(v)
		if !ok || n < 0 {
			return textscan.Bad("s3access_bad_number", fieldNames[11+i], v)
		}
		*dst = n
	}
	r.Referer = textscan.Dash(f[15])
	r.UserAgent = textscan.Dash(f[16])
	r.VersionID = textscan.Dash(f[17])
	r.HostID = textscan.Dash(f[18])
	r.SignatureVersion = textscan.Dash(f[19])
	r.CipherSuite = textscan.Dash(f[20])
	r.AuthenticationType = textscan.Dash(f[21])
	r.HostHeader = textscan.Dash(f[22])
	r.TLSVersion = textscan.Dash(f[23])
	r.AccessPointARN = textscan.Dash(f[24])
	r.ACLRequired = f[25] == "Yes"
	r.Extra = s[rest:]
	return nil
}

// fill sets the ECS common fields of ev from r.
func fill(ev *stream.Event, r *Record) {
	ev.Format = stream.FormatS3Access
	ev.Timestamp = r.Time
	ev.Kind = "event"
	ev.Category = categoryWeb
	ev.Type = typeAccess
	ev.Action = r.Operation
	ev.Provider = "s3.amazonaws.com"
	switch c := r.HTTPStatus; {
	case c == 0:
		ev.Outcome = "unknown"
	case c < 400:
		ev.Outcome = "success"
	default:
		ev.Outcome = "failure"
	}
	ev.Source.IP = r.RemoteIP
	ev.Destination.Bytes = r.BytesSent
	ev.UserName = r.Requester
	ev.UserAgent = r.UserAgent
	ev.HTTPMethod = r.RequestMethod
	ev.HTTPVersion = strings.TrimPrefix(r.RequestProtocol, "HTTP/")
	ev.HTTPStatusCode = r.HTTPStatus
	ev.URLOriginal = r.RequestTarget
	_, ev.URLPath, ev.URLQuery = textscan.SplitURL(r.RequestTarget)
	ev.URLDomain = r.HostHeader
	ev.ErrorCode = r.ErrorCode
	ev.CloudProvider = "aws"
	ev.CloudRegion, ev.CloudAccountID = textscan.ARNRegionAccount(r.AccessPointARN)
	ev.Native = r
}

// Sniff reports whether line looks like an S3 server access log record: a
// 64-hex-digit bucket owner, a bucket name and "[dd/Mon/yyyy:". It is never
// true for ALB or VPC flow lines.
func Sniff(line []byte) bool {
	if len(line) < 64+1+3+1+13 || line[64] != ' ' {
		return false
	}
	for _, c := range line[:64] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	rest := line[65:]
	i := bytes.IndexByte(rest, ' ')
	if i < 3 || i > 63 || len(rest) < i+14 {
		return false
	}
	t := rest[i+1:]
	return t[0] == '[' && t[3] == '/' && t[7] == '/' && t[12] == ':' &&
		t[1] >= '0' && t[1] <= '9' && t[8] >= '0' && t[8] <= '9'
}
