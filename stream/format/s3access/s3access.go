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
func NewParser() stream.Parser {
	return textscan.NewLines(stream.FormatS3Access, "s3access_field_count", parseLine, fill)
}

// Shared, read-only ECS category/type slices.
var (
	categoryWeb = []string{"web"}
	typeAccess  = []string{"access"}
)

var layout = textscan.Layout{Prefix: "s3access", Names: fieldNames[:], Min: minFields, Brackets: true}

// parseLine fills r, which is zero, from one line (already a stable string).
// Absent strings are left unwritten.
func parseLine(s string, r *Record) error {
	var f [len(fieldNames)]string
	rest, err := layout.Split(s, f[:])
	if err != nil {
		return err
	}
	textscan.Set(&r.BucketOwner, f[0])
	textscan.Set(&r.Bucket, f[1])
	var ok bool
	if r.Time, ok = textscan.ParseCLFTime(f[2]); !ok {
		return textscan.Bad("s3access_bad_time", "time", f[2])
	}
	if v := f[3]; v != "-" {
		if r.RemoteIP, ok = textscan.ParseAddr(v); !ok {
			return textscan.Bad("s3access_bad_address", "remote_ip", v)
		}
	}
	textscan.Set(&r.Requester, f[4])
	textscan.Set(&r.RequestID, f[5])
	textscan.Set(&r.Operation, f[6])
	textscan.Set(&r.Key, f[7])
	if v := f[8]; v != "-" {
		r.RequestURI = v
		r.RequestMethod, r.RequestTarget, r.RequestProtocol = textscan.SplitRequest(v)
	}
	if v := f[9]; v != "-" {
		n, ok := textscan.Atoi(v)
		if !ok || n < 0 || n > 999 {
			return textscan.Bad("s3access_bad_number", "http_status", v)
		}
		r.HTTPStatus = int32(n)
	}
	textscan.Set(&r.ErrorCode, f[10])
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
	textscan.Set(&r.Referer, f[15])
	textscan.Set(&r.UserAgent, f[16])
	textscan.Set(&r.VersionID, f[17])
	textscan.Set(&r.HostID, f[18])
	textscan.Set(&r.SignatureVersion, f[19])
	textscan.Set(&r.CipherSuite, f[20])
	textscan.Set(&r.AuthenticationType, f[21])
	textscan.Set(&r.HostHeader, f[22])
	textscan.Set(&r.TLSVersion, f[23])
	textscan.Set(&r.AccessPointARN, f[24])
	r.ACLRequired = f[25] == "Yes"
	if rest < len(s) {
		r.Extra = s[rest:] // verbatim, even "-"
	}
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
