// Package vpcflow parses and generates Amazon VPC Flow Logs records, in
// the default (version 2) format and in custom formats with any of the
// fields of versions 2 to 8
// (https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html).
//
// Each line becomes a stream.Event with ECS common fields and a typed
// *Record. See README.md for the field mapping.
package vpcflow

import (
	"bytes"
	"net/netip"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/internal/textscan"
)

// Record is one flow log record. Fields not in the log format, or logged as
// "-", are zero: "" for strings, the zero netip.Addr, 0 for numbers, the zero
// time. Present tells a logged 0 from an absent value.
type Record struct {
	// Present holds the fields that had a value (not "-") on this line.
	Present Fields

	Version     int32
	AccountID   string // may be "unknown" for AWS-managed interfaces
	InterfaceID string
	SrcAddr     netip.Addr
	DstAddr     netip.Addr
	SrcPort     int32
	DstPort     int32
	Protocol    int32 // IANA protocol number
	Packets     int64
	Bytes       int64
	Start       time.Time // first packet of the window (UTC, second precision)
	End         time.Time // last packet of the window (UTC)
	Action      string    // ACCEPT or REJECT
	LogStatus   string    // OK, NODATA or SKIPDATA

	VPCID      string
	SubnetID   string
	InstanceID string
	TCPFlags   int32 // bitwise OR of the flags seen (FIN 1, SYN 2, RST 4, SYN-ACK 18)
	Type       string
	PktSrcAddr netip.Addr
	PktDstAddr netip.Addr

	Region          string
	AZID            string
	SublocationType string
	SublocationID   string

	PktSrcAWSService string
	PktDstAWSService string
	FlowDirection    string // ingress or egress
	TrafficPath      int32  // 1-8, egress path

	ECSClusterARN           string
	ECSClusterName          string
	ECSContainerInstanceARN string
	ECSContainerInstanceID  string
	ECSContainerID          string
	ECSSecondContainerID    string
	ECSServiceName          string
	ECSTaskDefinitionARN    string
	ECSTaskARN              string
	ECSTaskID               string

	RejectReason string // e.g. BPA (block public access)
}

// Format says the record is a VPC flow log record.
func (*Record) Format() stream.Format { return stream.FormatVPCFlow }

// NewParser returns a parser for lines with the given fields (a custom
// LogFormat: names like "srcaddr" or "${srcaddr}"); nil or empty means the
// default version 2 format. A header line in the data ("version account-id
// …") or a stream.UnitContext.Header switches the fields for the lines that
// follow. With unknown field names, every Parse returns a Permanent
// "vpcflow_bad_format" error naming the field (check them first with
// ParseFields). The parser is not safe for concurrent use.
func NewParser(fields []string) stream.Parser {
	p := &parser{}
	p.a.ChunkBytes = 16 << 10 // lines are short
	p.setFields(DefaultFields())
	if len(fields) > 0 {
		fs, err := ParseFields(fields)
		if err != nil {
			p.cfgErr = stream.NewPermanent("vpcflow_bad_format", err)
		} else {
			p.setFields(fs)
		}
	}
	return p
}

type parser struct {
	fields []Field
	v2     bool   // fields are the default format: use the fast path
	header string // the last UnitContext.Header applied
	cfgErr error
	a      textscan.Arena[Record]
}

func (p *parser) Format() stream.Format { return stream.FormatVPCFlow }

// Shared, read-only ECS category/type slices.
var (
	categoryNetwork = []string{"network"}
	typeConnection  = []string{"connection"}
	typeAllowed     = []string{"connection", "allowed"}
	typeDenied      = []string{"connection", "denied"}
)

// Parse parses one record, or a header line (which returns stream.ErrSkip).
func (p *parser) Parse(u *stream.Unit, ev *stream.Event) error {
	if u.Context != nil && u.Context.Header != "" && u.Context.Header != p.header {
		if err := p.setHeader(u.Context.Header); err != nil {
			return err
		}
		p.header = u.Context.Header
	}
	line := textscan.TrimEOL(u.Data)
	if len(line) == 0 {
		return stream.Permanentf("vpcflow_field_count", "empty line")
	}
	if c := line[0]; c >= 'a' && c <= 'z' && isHeader(line) {
		if err := p.setHeader(string(line)); err != nil {
			return err
		}
		return stream.ErrSkip
	}
	if p.cfgErr != nil {
		return p.cfgErr
	}
	r := p.a.Record()
	if err := p.parseLine(p.a.String(line), r); err != nil {
		*r = Record{}
		return err
	}
	fill(ev, r, u.Timestamp)
	return nil
}

// isHeader reports whether the first word of line is a field name: data
// values never are.
func isHeader(line []byte) bool {
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		i = len(line)
	}
	_, ok := fieldByName[string(line[:i])]
	return ok
}

func (p *parser) setHeader(h string) error {
	fs, err := ParseFields([]string{h})
	if err != nil {
		return stream.NewPermanent("vpcflow_bad_header", err)
	}
	p.setFields(fs)
	p.cfgErr = nil
	return nil
}

func (p *parser) setFields(fs []Field) {
	p.fields = fs
	p.v2 = len(fs) == int(FieldLogStatus)+1
	for i, f := range fs {
		p.v2 = p.v2 && f == Field(i)
	}
}

func bad(code string, f Field, val string) error {
	if len(val) > 64 {
		val = val[:64] + "…"
	}
	return stream.Permanentf(code, "field %s: %q", f, val)
}

func (p *parser) parseLine(s string, r *Record) error {
	if p.v2 {
		if parseV2Fast(s, r) {
			return nil
		}
		*r = Record{}
		return parseV2(s, r)
	}
	pos := 0
	for n, f := range p.fields {
		if pos > len(s) {
			return stream.Permanentf("vpcflow_field_count", "%d fields, format has %d", n, len(p.fields))
		}
		j := textscan.IndexSpace(s, pos)
		tok := s[pos:j]
		pos = j + 1
		switch tok {
		case "-":
			continue
		case "":
			return stream.Permanentf("vpcflow_field_count", "field %d (%s) is empty (double or trailing space)", n+1, f)
		}
		if err := r.set(f, tok); err != nil {
			return err
		}
	}
	if pos <= len(s) {
		return stream.Permanentf("vpcflow_field_count", "more than the %d fields of the format", len(p.fields))
	}
	return nil
}

// parseV2Fast parses a default-format line whose 14 fields are all present
// and valid, in one pass that converts numbers as it finds their end. For
// any other line it returns false, having perhaps written part of r, and
// parseV2 decides (with the same result as if the fast path did not exist).
func parseV2Fast(s string, r *Record) bool {
	v, i, ok := textscan.UintField(s, 0)
	if !ok || v > 255 {
		return false
	}
	r.Version = int32(v)
	var tok string
	if tok, i = wordField(s, i+1); tok == "" || tok == "-" {
		return false
	}
	r.AccountID = tok
	if tok, i = wordField(s, i+1); tok == "" || tok == "-" {
		return false
	}
	r.InterfaceID = tok
	if tok, i = wordField(s, i+1); tok == "-" {
		return false
	}
	if r.SrcAddr, ok = textscan.ParseAddr(tok); !ok {
		return false
	}
	if tok, i = wordField(s, i+1); tok == "-" {
		return false
	}
	if r.DstAddr, ok = textscan.ParseAddr(tok); !ok {
		return false
	}
	if v, i, ok = textscan.UintField(s, i+1); !ok || v > 65535 {
		return false
	}
	r.SrcPort = int32(v)
	if v, i, ok = textscan.UintField(s, i+1); !ok || v > 65535 {
		return false
	}
	r.DstPort = int32(v)
	if v, i, ok = textscan.UintField(s, i+1); !ok || v > 255 {
		return false
	}
	r.Protocol = int32(v)
	if r.Packets, i, ok = textscan.UintField(s, i+1); !ok {
		return false
	}
	if r.Bytes, i, ok = textscan.UintField(s, i+1); !ok {
		return false
	}
	if v, i, ok = textscan.UintField(s, i+1); !ok || v > maxUnix {
		return false
	}
	r.Start = time.Unix(v, 0).UTC()
	if v, i, ok = textscan.UintField(s, i+1); !ok || v > maxUnix {
		return false
	}
	r.End = time.Unix(v, 0).UTC()
	if tok, i = wordField(s, i+1); tok == "" || tok == "-" {
		return false
	}
	r.Action = tok
	if tok, i = wordField(s, i+1); tok == "" || tok == "-" || i != len(s) {
		return false
	}
	r.LogStatus = tok
	r.Present = 1<<(FieldLogStatus+1) - 1
	return true
}

// wordField returns the text from s[i:] to the next space or the end of s,
// and where it ends.
func wordField(s string, i int) (string, int) {
	if i > len(s) {
		return "", i
	}
	j := textscan.IndexSpace(s, i)
	return s[i:j], j
}

// parseV2 is parseLine for the default format, without per-field dispatch.
func parseV2(s string, r *Record) error {
	var f [FieldLogStatus + 1]string
	pos := 0
	for n := range f {
		if pos > len(s) {
			return stream.Permanentf("vpcflow_field_count", "%d fields, format has %d", n, len(f))
		}
		j := textscan.IndexSpace(s, pos)
		if j == pos {
			return stream.Permanentf("vpcflow_field_count", "field %d (%s) is empty (double or trailing space)", n+1, Field(n))
		}
		f[n] = s[pos:j]
		pos = j + 1
	}
	if pos <= len(s) {
		return stream.Permanentf("vpcflow_field_count", "more than the %d fields of the format", len(f))
	}
	var present Fields
	var ok bool
	var n int64
	if v := f[FieldVersion]; v != "-" {
		if n, ok = textscan.Uatoi(v); !ok || n > 255 {
			return bad("vpcflow_bad_number", FieldVersion, v)
		}
		r.Version = int32(n)
		present |= 1 << FieldVersion
	}
	if v := f[FieldAccountID]; v != "-" {
		r.AccountID = v
		present |= 1 << FieldAccountID
	}
	if v := f[FieldInterfaceID]; v != "-" {
		r.InterfaceID = v
		present |= 1 << FieldInterfaceID
	}
	if v := f[FieldSrcAddr]; v != "-" {
		if r.SrcAddr, ok = textscan.ParseAddr(v); !ok {
			return bad("vpcflow_bad_address", FieldSrcAddr, v)
		}
		present |= 1 << FieldSrcAddr
	}
	if v := f[FieldDstAddr]; v != "-" {
		if r.DstAddr, ok = textscan.ParseAddr(v); !ok {
			return bad("vpcflow_bad_address", FieldDstAddr, v)
		}
		present |= 1 << FieldDstAddr
	}
	if v := f[FieldSrcPort]; v != "-" {
		if n, ok = textscan.Uatoi(v); !ok || n > 65535 {
			return bad("vpcflow_bad_port", FieldSrcPort, v)
		}
		r.SrcPort = int32(n)
		present |= 1 << FieldSrcPort
	}
	if v := f[FieldDstPort]; v != "-" {
		if n, ok = textscan.Uatoi(v); !ok || n > 65535 {
			return bad("vpcflow_bad_port", FieldDstPort, v)
		}
		r.DstPort = int32(n)
		present |= 1 << FieldDstPort
	}
	if v := f[FieldProtocol]; v != "-" {
		if n, ok = textscan.Uatoi(v); !ok || n > 255 {
			return bad("vpcflow_bad_protocol", FieldProtocol, v)
		}
		r.Protocol = int32(n)
		present |= 1 << FieldProtocol
	}
	if v := f[FieldPackets]; v != "-" {
		if r.Packets, ok = textscan.Uatoi(v); !ok {
			return bad("vpcflow_bad_number", FieldPackets, v)
		}
		present |= 1 << FieldPackets
	}
	if v := f[FieldBytes]; v != "-" {
		if r.Bytes, ok = textscan.Uatoi(v); !ok {
			return bad("vpcflow_bad_number", FieldBytes, v)
		}
		present |= 1 << FieldBytes
	}
	if v := f[FieldStart]; v != "-" {
		if n, ok = textscan.Uatoi(v); !ok || n > maxUnix {
			return bad("vpcflow_bad_time", FieldStart, v)
		}
		r.Start = time.Unix(n, 0).UTC()
		present |= 1 << FieldStart
	}
	if v := f[FieldEnd]; v != "-" {
		if n, ok = textscan.Uatoi(v); !ok || n > maxUnix {
			return bad("vpcflow_bad_time", FieldEnd, v)
		}
		r.End = time.Unix(n, 0).UTC()
		present |= 1 << FieldEnd
	}
	if v := f[FieldAction]; v != "-" {
		r.Action = v
		present |= 1 << FieldAction
	}
	if v := f[FieldLogStatus]; v != "-" {
		r.LogStatus = v
		present |= 1 << FieldLogStatus
	}
	r.Present = present
	return nil
}

// maxUnix bounds start/end (year 36812): larger values are garbage.
const maxUnix = 1 << 40

// set stores one present value.
func (r *Record) set(f Field, v string) error {
	var ok bool
	switch f {
	case FieldVersion:
		var n int64
		if n, ok = textscan.Atoi(v); !ok || n < 0 || n > 255 {
			return bad("vpcflow_bad_number", f, v)
		}
		r.Version = int32(n)
	case FieldAccountID:
		r.AccountID = v
	case FieldInterfaceID:
		r.InterfaceID = v
	case FieldSrcAddr, FieldDstAddr, FieldPktSrcAddr, FieldPktDstAddr:
		a, ok := textscan.ParseAddr(v)
		if !ok {
			return bad("vpcflow_bad_address", f, v)
		}
		switch f {
		case FieldSrcAddr:
			r.SrcAddr = a
		case FieldDstAddr:
			r.DstAddr = a
		case FieldPktSrcAddr:
			r.PktSrcAddr = a
		default:
			r.PktDstAddr = a
		}
	case FieldSrcPort, FieldDstPort:
		n, ok := textscan.Atoi(v)
		if !ok || n < 0 || n > 65535 {
			return bad("vpcflow_bad_port", f, v)
		}
		if f == FieldSrcPort {
			r.SrcPort = int32(n)
		} else {
			r.DstPort = int32(n)
		}
	case FieldProtocol:
		n, ok := textscan.Atoi(v)
		if !ok || n < 0 || n > 255 {
			return bad("vpcflow_bad_protocol", f, v)
		}
		r.Protocol = int32(n)
	case FieldPackets, FieldBytes:
		n, ok := textscan.Atoi(v)
		if !ok || n < 0 {
			return bad("vpcflow_bad_number", f, v)
		}
		if f == FieldPackets {
			r.Packets = n
		} else {
			r.Bytes = n
		}
	case FieldStart, FieldEnd:
		n, ok := textscan.Atoi(v)
		if !ok || n < 0 || n > maxUnix {
			return bad("vpcflow_bad_time", f, v)
		}
		t := time.Unix(n, 0).UTC()
		if f == FieldStart {
			r.Start = t
		} else {
			r.End = t
		}
	case FieldAction:
		r.Action = v
	case FieldLogStatus:
		r.LogStatus = v
	case FieldVPCID:
		r.VPCID = v
	case FieldSubnetID:
		r.SubnetID = v
	case FieldInstanceID:
		r.InstanceID = v
	case FieldTCPFlags, FieldTrafficPath:
		n, ok := textscan.Atoi(v)
		if !ok || n < 0 || n > 1<<16 {
			return bad("vpcflow_bad_number", f, v)
		}
		if f == FieldTCPFlags {
			r.TCPFlags = int32(n)
		} else {
			r.TrafficPath = int32(n)
		}
	case FieldType:
		r.Type = v
	case FieldRegion:
		r.Region = v
	case FieldAZID:
		r.AZID = v
	case FieldSublocationType:
		r.SublocationType = v
	case FieldSublocationID:
		r.SublocationID = v
	case FieldPktSrcAWSService:
		r.PktSrcAWSService = v
	case FieldPktDstAWSService:
		r.PktDstAWSService = v
	case FieldFlowDirection:
		r.FlowDirection = v
	case FieldECSClusterARN:
		r.ECSClusterARN = v
	case FieldECSClusterName:
		r.ECSClusterName = v
	case FieldECSContainerInstanceARN:
		r.ECSContainerInstanceARN = v
	case FieldECSContainerInstanceID:
		r.ECSContainerInstanceID = v
	case FieldECSContainerID:
		r.ECSContainerID = v
	case FieldECSSecondContainerID:
		r.ECSSecondContainerID = v
	case FieldECSServiceName:
		r.ECSServiceName = v
	case FieldECSTaskDefinitionARN:
		r.ECSTaskDefinitionARN = v
	case FieldECSTaskARN:
		r.ECSTaskARN = v
	case FieldECSTaskID:
		r.ECSTaskID = v
	case FieldRejectReason:
		r.RejectReason = v
	}
	r.Present.add(f)
	return nil
}

// transports names the IANA protocol numbers seen in VPCs (ECS
// network.transport).
var transports = [...]string{
	1: "icmp", 2: "igmp", 4: "ipv4", 6: "tcp", 17: "udp", 41: "ipv6", 47: "gre",
	50: "esp", 51: "ah", 58: "ipv6-icmp", 132: "sctp",
}

// fill sets the ECS common fields of ev from r. fallback is the container
// timestamp, used when the format has neither start nor end.
func fill(ev *stream.Event, r *Record, fallback time.Time) {
	ev.Format = stream.FormatVPCFlow
	switch {
	case r.Present.Has(FieldStart):
		ev.Timestamp = r.Start
	case r.Present.Has(FieldEnd):
		ev.Timestamp = r.End
	default:
		ev.Timestamp = fallback.UTC()
	}
	ev.Kind = "event"
	ev.Category = categoryNetwork
	ev.Action = r.Action
	switch r.Action {
	case "ACCEPT":
		ev.Outcome, ev.Type = "success", typeAllowed
	case "REJECT":
		ev.Outcome, ev.Type = "failure", typeDenied
	default:
		ev.Outcome, ev.Type = "unknown", typeConnection
	}
	ev.Source.IP = r.SrcAddr
	if !ev.Source.IP.IsValid() {
		ev.Source.IP = r.PktSrcAddr
	}
	ev.Source.Port = r.SrcPort
	ev.Source.Bytes = r.Bytes
	ev.Source.Packets = r.Packets
	ev.Destination.IP = r.DstAddr
	if !ev.Destination.IP.IsValid() {
		ev.Destination.IP = r.PktDstAddr
	}
	ev.Destination.Port = r.DstPort
	ev.NetworkBytes = r.Bytes
	ev.NetworkPackets = r.Packets
	if r.Present.Has(FieldProtocol) {
		ev.NetworkIANA = r.Protocol
		if int(r.Protocol) < len(transports) {
			ev.NetworkTransport = transports[r.Protocol]
		}
	}
	ev.NetworkDirection = r.FlowDirection
	ev.CloudProvider = "aws"
	if r.AccountID != "unknown" {
		ev.CloudAccountID = r.AccountID
	}
	ev.CloudRegion = r.Region
	if r.RejectReason != "" {
		ev.ErrorCode = r.RejectReason
	}
	ev.Native = r
}

// Sniff reports whether line looks like a VPC flow log record or header:
// a version number (2-9) followed by a 12-digit account id, "unknown", a
// resource id (eni-, vpc-, subnet-, i-) or an IP address; or a header whose
// first two words are field names. It is never true for ALB or S3 server access lines.
func Sniff(line []byte) bool {
	if len(line) < 3 {
		return false
	}
	if c := line[0]; c >= 'a' && c <= 'z' {
		i := bytes.IndexByte(line, ' ')
		if i < 0 {
			return false
		}
		rest := line[i+1:]
		if j := bytes.IndexByte(rest, ' '); j >= 0 {
			rest = rest[:j]
		}
		_, ok1 := fieldByName[string(line[:i])]
		_, ok2 := fieldByName[string(rest)]
		return ok1 && ok2
	}
	if line[0] < '2' || line[0] > '9' || line[1] != ' ' {
		return false
	}
	w := line[2:]
	if j := bytes.IndexByte(w, ' '); j >= 0 {
		w = w[:j]
	} else {
		return false
	}
	if len(w) == 12 {
		for _, c := range w {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	if string(w) == "unknown" || bytes.HasPrefix(w, []byte("eni-")) || bytes.HasPrefix(w, []byte("vpc-")) ||
		bytes.HasPrefix(w, []byte("subnet-")) || bytes.HasPrefix(w, []byte("i-")) {
		return true
	}
	_, ok := textscan.ParseAddr(string(w)) // custom formats often start "version srcaddr"
	return ok
}
