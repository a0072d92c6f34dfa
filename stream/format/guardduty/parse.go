package guardduty

import (
	"bytes"
	"math"
	"net/netip"
	"strings"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/jsonlog"
)

const prefix = "guardduty"

// NewParser returns the GuardDuty finding parser. It is stateless; one
// parser may serve any number of units, but not concurrently.
func NewParser() stream.Parser {
	return jsonlog.ObjectParser(stream.FormatGuardDuty, (*Record).decode, fill)
}

// Sniff reports whether data looks like one GuardDuty finding: an
// EventBridge event with detail-type "GuardDuty Finding", or a bare finding
// naming "schemaVersion", "type" and "severity" (and not "eventVersion").
func Sniff(data []byte) bool {
	return jsonlog.SniffObject(data, `"GuardDuty Finding"`, `"detail-type"`) ||
		jsonlog.SniffObject(data, `"schemaVersion"`, `"severity"`, `"type"`) && !bytes.Contains(data, []byte(`"eventVersion"`))
}

func (r *Record) decode(src string) error {
	var d jsonlog.Decoder
	if err := d.Begin(prefix, src); err != nil {
		return err
	}
	var envTime string
	var f rawFinding
	for k, ok := d.Member(); ok; k, ok = d.Member() {
		switch k {
		case "version":
			r.Version = d.String()
		case "id":
			// "id" names the event in an envelope and the finding when bare.
			r.ID = d.String()
		case "detail-type":
			r.DetailType = d.String()
		case "source":
			r.Source = d.String()
		case "account":
			r.Account = d.String()
		case "time":
			envTime = d.String()
		case "region":
			r.Region = d.String()
		case "resources":
			r.Resources = d.Strings()
		case "detail":
			f.decode(&d)
		default:
			// A bare finding: its members are at the top level.
			f.member(&d, k)
		}
	}
	if err := d.Finish(prefix); err != nil {
		return err
	}
	if r.DetailType == "" {
		// Bare finding: id and region belong to it.
		f.id, f.region = r.ID, r.Region
		r.ID, r.Region = "", ""
	} else if envTime != "" {
		t, ok := jsonlog.ParseTime(envTime)
		if !ok {
			return stream.Permanentf(prefix+"_invalid_time", "time %q is not an RFC 3339 timestamp", envTime)
		}
		r.Time = t
	}
	return f.finish(r)
}

// rawFinding collects the members of a finding before they are checked.
type rawFinding struct {
	f                    Finding
	id, region           string
	created, updated     string
	firstSeen, lastSeen  string
	seenType, seenDetail bool
}

func (f *rawFinding) decode(d *jsonlog.Decoder) {
	if !d.Object() {
		return
	}
	f.seenDetail = true
	for {
		k, ok := d.Key()
		if !ok {
			return
		}
		switch k {
		case "id":
			f.id = d.String()
		case "region":
			f.region = d.String()
		default:
			f.member(d, k)
		}
	}
}

func (f *rawFinding) member(d *jsonlog.Decoder, k string) {
	x := &f.f
	switch k {
	case "schemaVersion":
		x.SchemaVersion = d.String()
	case "accountId":
		x.AccountID = d.String()
	case "partition":
		x.Partition = d.String()
	case "arn":
		x.ARN = d.String()
	case "type":
		x.Type = d.String()
		f.seenType = true
	case "resource":
		x.Resource.Raw = d.Raw()
	case "service":
		x.Service.Raw = d.Raw()
	case "severity":
		x.Severity = d.Float()
	case "createdAt":
		f.created = d.String()
	case "updatedAt":
		f.updated = d.String()
	case "title":
		x.Title = d.String()
	case "description":
		x.Description = d.String()
	case "confidence":
		x.Confidence = d.Float()
	default:
		d.Skip()
	}
}

func first(raw, path string) string {
	for v := range jsonlog.Values(raw, path) {
		return v
	}
	return ""
}

func (f *rawFinding) finish(r *Record) error {
	x := &f.f
	x.ID, x.Region = f.id, f.region
	if x.Type == "" {
		if f.seenDetail || r.DetailType != "" {
			return stream.Permanentf(prefix+"_missing_field", "detail.type is missing or empty")
		}
		return stream.Permanentf(prefix+"_missing_field", "neither an EventBridge detail nor a finding type")
	}
	var ok bool
	if f.updated != "" {
		if x.UpdatedAt, ok = jsonlog.ParseTime(f.updated); !ok {
			return stream.Permanentf(prefix+"_invalid_time", "updatedAt %q is not an RFC 3339 timestamp", f.updated)
		}
	}
	if f.created != "" {
		if x.CreatedAt, ok = jsonlog.ParseTime(f.created); !ok {
			return stream.Permanentf(prefix+"_invalid_time", "createdAt %q is not an RFC 3339 timestamp", f.created)
		}
	}
	if x.UpdatedAt.IsZero() && x.CreatedAt.IsZero() && r.Time.IsZero() {
		return stream.Permanentf(prefix+"_missing_field", "no updatedAt, createdAt or envelope time")
	}
	// Typed keys of the raw sub-objects. GuardDuty volume is low, so these
	// look-ups re-scan the raw JSON instead of decoding it into a tree.
	res := &x.Resource
	res.ResourceType = first(res.Raw, "resourceType")
	res.InstanceID = first(res.Raw, "instanceDetails.instanceId")
	res.AccessKeyID = first(res.Raw, "accessKeyDetails.accessKeyId")
	res.UserName = first(res.Raw, "accessKeyDetails.userName")
	s := &x.Service
	if s.Raw != "" {
		var d jsonlog.Decoder
		d.Reset(s.Raw)
		if d.Object() {
			for {
				k, ok := d.Key()
				if !ok {
					break
				}
				switch k {
				case "serviceName":
					s.ServiceName = d.String()
				case "detectorId":
					s.DetectorID = d.String()
				case "archived":
					s.Archived = d.Bool()
				case "count":
					s.Count = d.Int()
				case "eventFirstSeen":
					f.firstSeen = d.String()
				case "eventLastSeen":
					f.lastSeen = d.String()
				case "resourceRole":
					s.ResourceRole = d.String()
				case "featureName":
					s.FeatureName = d.String()
				case "action":
					action := d.Raw()
					f.action(action)
				default:
					d.Skip()
				}
			}
		}
		if err := d.Err(); err != nil {
			return jsonlog.DecodeError(prefix, err, "service")
		}
		s.EventFirstSeen, _ = jsonlog.ParseTime(f.firstSeen)
		s.EventLastSeen, _ = jsonlog.ParseTime(f.lastSeen)
	}
	r.Detail = *x
	return nil
}

// action reads the typed keys of service.action.
func (f *rawFinding) action(raw string) {
	s := &f.f.Service
	s.ActionType = first(raw, "actionType")
	for _, a := range [...]string{"networkConnectionAction", "awsApiCallAction", "portProbeAction.portProbeDetails",
		"kubernetesApiCallAction", "rdsLoginAttemptAction", "dnsRequestAction"} {
		if ip := first(raw, a+".remoteIpDetails.ipAddressV4"); ip != "" {
			s.RemoteIP = ip
			s.RemoteCountry = first(raw, a+".remoteIpDetails.country.countryName")
			s.RemoteOrg = first(raw, a+".remoteIpDetails.organization.org")
			if a == "portProbeAction.portProbeDetails" {
				s.LocalPort = atoi(first(raw, a+".localPortDetails.port"))
			}
			break
		}
	}
	s.ConnectionDirection = first(raw, "networkConnectionAction.connectionDirection")
	if s.ConnectionDirection != "" {
		s.Protocol = first(raw, "networkConnectionAction.protocol")
		s.LocalPort = atoi(first(raw, "networkConnectionAction.localPortDetails.port"))
		s.RemotePort = atoi(first(raw, "networkConnectionAction.remotePortDetails.port"))
	}
	s.API = first(raw, "awsApiCallAction.api")
	s.APIServiceName = first(raw, "awsApiCallAction.serviceName")
	s.Domain = first(raw, "dnsRequestAction.domain")
	if s.Protocol == "" {
		s.Protocol = first(raw, "dnsRequestAction.protocol")
	}
}

func atoi(s string) int64 {
	var n int64
	for i := 0; i < len(s) && i < 18; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n
}

var (
	catThreat     = []string{"threat"}
	typeIndicator = []string{"indicator"}
)

// fill sets the common fields of ev from r.
func fill(r *Record, ev *stream.Event) {
	f := &r.Detail
	s := &f.Service
	ev.Format = stream.FormatGuardDuty
	ev.Native = r
	switch {
	case !f.UpdatedAt.IsZero():
		ev.Timestamp = f.UpdatedAt
	case !f.CreatedAt.IsZero():
		ev.Timestamp = f.CreatedAt
	default:
		ev.Timestamp = r.Time
	}
	ev.Kind = "alert"
	ev.Category = catThreat
	ev.Type = typeIndicator
	ev.Action = f.Type
	ev.Provider = "guardduty"
	ev.Severity = int32(math.Round(f.Severity))
	ev.Message = f.Title

	remote := &ev.Source
	local := &ev.Destination
	if s.ConnectionDirection == "OUTBOUND" {
		remote, local = local, remote
		ev.NetworkDirection = "egress"
	} else if s.ConnectionDirection == "INBOUND" {
		ev.NetworkDirection = "ingress"
	}
	remote.Address = s.RemoteIP
	if ip, err := netip.ParseAddr(s.RemoteIP); err == nil {
		remote.IP = ip.Unmap()
	}
	remote.Port = int32(s.RemotePort)
	local.Port = int32(s.LocalPort)
	switch strings.ToUpper(s.Protocol) {
	case "TCP":
		ev.NetworkTransport, ev.NetworkIANA = "tcp", 6
	case "UDP":
		ev.NetworkTransport, ev.NetworkIANA = "udp", 17
	}
	ev.UserName = f.Resource.UserName
	ev.DNSQuestionName = s.Domain
	ev.CloudProvider = "aws"
	ev.CloudAccountID = f.AccountID
	if ev.CloudAccountID == "" {
		ev.CloudAccountID = r.Account
	}
	ev.CloudRegion = f.Region
	if ev.CloudRegion == "" {
		ev.CloudRegion = r.Region
	}
}
