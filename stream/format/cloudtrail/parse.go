package cloudtrail

import (
	"net/netip"
	"strings"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/jsonlog"
)

const prefix = "cloudtrail"

// NewParser returns the CloudTrail parser. It is stateless; one parser may
// serve any number of units, but not concurrently (see stream.Parser).
func NewParser() stream.Parser {
	return jsonlog.ObjectParser(stream.FormatCloudTrail, (*Record).decode, fill)
}

// Sniff reports whether data looks like one CloudTrail event: a JSON object
// naming both "eventVersion" and "eventSource".
func Sniff(data []byte) bool {
	return jsonlog.SniffObject(data, `"eventVersion"`, `"eventSource"`)
}

// decode fills r from the JSON text of one event.
func (r *Record) decode(src string) error {
	var d jsonlog.Decoder
	if err := d.Begin(prefix, src); err != nil {
		return err
	}
	var eventTime string
	for k, ok := d.Member(); ok; k, ok = d.Member() {
		switch k {
		case "eventVersion":
			r.EventVersion = d.String()
		case "eventTime":
			eventTime = d.String()
		case "userIdentity":
			r.decodeUserIdentity(&d)
		case "eventSource":
			r.EventSource = d.String()
		case "eventName":
			r.EventName = d.String()
		case "awsRegion":
			r.AWSRegion = d.String()
		case "sourceIPAddress":
			r.SourceIPAddress = d.String()
		case "userAgent":
			r.UserAgent = d.String()
		case "errorCode":
			r.ErrorCode = d.String()
		case "errorMessage":
			r.ErrorMessage = d.String()
		case "requestParameters":
			r.RequestParameters = d.Raw()
		case "responseElements":
			r.ResponseElements = d.Raw()
		case "additionalEventData":
			r.AdditionalEventData = d.Raw()
		case "requestID":
			r.RequestID = d.String()
		case "eventID":
			r.EventID = d.String()
		case "eventType":
			r.EventType = d.String()
		case "apiVersion":
			r.APIVersion = d.String()
		case "managementEvent":
			r.ManagementEvent = d.Bool()
		case "readOnly":
			r.ReadOnly = d.Bool()
		case "resources":
			r.decodeResources(&d)
		case "recipientAccountId":
			r.RecipientAccountID = d.String()
		case "serviceEventDetails":
			r.ServiceEventDetails = d.Raw()
		case "sharedEventID":
			r.SharedEventID = d.String()
		case "vpcEndpointId":
			r.VPCEndpointID = d.String()
		case "vpcEndpointAccountId":
			r.VPCEndpointAccountID = d.String()
		case "eventCategory":
			r.EventCategory = d.String()
		case "addendum":
			r.decodeAddendum(&d)
		case "sessionCredentialFromConsole":
			r.SessionCredentialFromConsole = d.String()
		case "edgeDeviceDetails":
			r.EdgeDeviceDetails = d.Raw()
		case "tlsDetails":
			r.decodeTLS(&d)
		case "insightDetails":
			r.decodeInsight(&d)
		case "eventContext":
			r.EventContext = d.Raw()
		default:
			d.Skip()
		}
	}
	if err := d.Finish(prefix); err != nil {
		return err
	}
	if eventTime == "" {
		return stream.Permanentf(prefix+"_missing_field", "eventTime is missing or empty")
	}
	t, ok := jsonlog.ParseTime(eventTime)
	if !ok {
		return stream.Permanentf(prefix+"_invalid_time", "eventTime %q is not an RFC 3339 timestamp", eventTime)
	}
	r.EventTime = t
	if r.EventName == "" && r.InsightDetails == nil {
		return stream.Permanentf(prefix+"_missing_field", "eventName is missing or empty")
	}
	return nil
}

func (r *Record) decodeUserIdentity(d *jsonlog.Decoder) {
	u := &r.UserIdentity
	if !d.Object() {
		return
	}
	for {
		k, ok := d.Key()
		if !ok {
			return
		}
		switch k {
		case "type":
			u.Type = d.String()
		case "principalId":
			u.PrincipalID = d.String()
		case "arn":
			u.ARN = d.String()
		case "accountId":
			u.AccountID = d.String()
		case "accessKeyId":
			u.AccessKeyID = d.String()
		case "userName":
			u.UserName = d.String()
		case "sessionContext":
			r.decodeSessionContext(d)
		case "invokedBy":
			u.InvokedBy = d.String()
		case "identityProvider":
			u.IdentityProvider = d.String()
		case "credentialId":
			u.CredentialID = d.String()
		case "onBehalfOf":
			if d.Object() {
				o := new(OnBehalfOf)
				for {
					k, ok := d.Key()
					if !ok {
						break
					}
					switch k {
					case "userId":
						o.UserID = d.String()
					case "identityStoreArn":
						o.IdentityStoreARN = d.String()
					default:
						d.Skip()
					}
				}
				u.OnBehalfOf = o
			}
		case "inScopeOf":
			if d.Object() {
				o := new(InScopeOf)
				for {
					k, ok := d.Key()
					if !ok {
						break
					}
					switch k {
					case "primaryAccountId":
						o.PrimaryAccountID = d.String()
					case "issuerAccountId":
						o.IssuerAccountID = d.String()
					case "issuerType":
						o.IssuerType = d.String()
					case "credentialsIssuedTo":
						o.CredentialsIssuedTo = d.String()
					default:
						d.Skip()
					}
				}
				u.InScopeOf = o
			}
		default:
			d.Skip()
		}
	}
}

func (r *Record) decodeSessionContext(d *jsonlog.Decoder) {
	if !d.Object() {
		return
	}
	sc := &r.sc
	r.UserIdentity.SessionContext = sc
	for {
		k, ok := d.Key()
		if !ok {
			return
		}
		switch k {
		case "sessionIssuer":
			if d.Object() {
				si := &r.si
				sc.SessionIssuer = si
				for {
					k, ok := d.Key()
					if !ok {
						break
					}
					switch k {
					case "type":
						si.Type = d.String()
					case "principalId":
						si.PrincipalID = d.String()
					case "arn":
						si.ARN = d.String()
					case "accountId":
						si.AccountID = d.String()
					case "userName":
						si.UserName = d.String()
					default:
						d.Skip()
					}
				}
			}
		case "webIdFederationData":
			if d.Object() {
				w := new(WebIDFederationData)
				sc.WebIDFederationData = w
				for {
					k, ok := d.Key()
					if !ok {
						break
					}
					switch k {
					case "federatedProvider":
						w.FederatedProvider = d.String()
					case "attributes":
						w.Attributes = d.Raw()
					default:
						d.Skip()
					}
				}
			}
		case "attributes":
			if d.Object() {
				for {
					k, ok := d.Key()
					if !ok {
						break
					}
					switch k {
					case "creationDate":
						sc.Attributes.CreationDate = d.String()
					case "mfaAuthenticated":
						sc.Attributes.MFAAuthenticated = d.String()
					default:
						d.Skip()
					}
				}
			}
		case "sourceIdentity":
			sc.SourceIdentity = d.String()
		case "ec2RoleDelivery":
			sc.EC2RoleDelivery = d.String()
		case "assumedRoot":
			sc.AssumedRoot = d.String()
		default:
			d.Skip()
		}
	}
}

func (r *Record) decodeResources(d *jsonlog.Decoder) {
	if !d.Array() {
		return
	}
	r.Resources = r.res[:0]
	for d.Elem() {
		if !d.Object() {
			continue
		}
		var res Resource
		for {
			k, ok := d.Key()
			if !ok {
				break
			}
			switch k {
			case "ARN", "arn":
				res.ARN = d.String()
			case "accountId":
				res.AccountID = d.String()
			case "type":
				res.Type = d.String()
			default:
				d.Skip()
			}
		}
		r.Resources = append(r.Resources, res)
	}
}

func (r *Record) decodeAddendum(d *jsonlog.Decoder) {
	if !d.Object() {
		return
	}
	a := new(Addendum)
	r.Addendum = a
	for {
		k, ok := d.Key()
		if !ok {
			return
		}
		switch k {
		case "reason":
			a.Reason = d.String()
		case "updatedFields":
			a.UpdatedFields = d.String()
		case "originalRequestID":
			a.OriginalRequestID = d.String()
		case "originalEventID":
			a.OriginalEventID = d.String()
		default:
			d.Skip()
		}
	}
}

func (r *Record) decodeTLS(d *jsonlog.Decoder) {
	if !d.Object() {
		return
	}
	t := &r.tls
	r.TLSDetails = t
	for {
		k, ok := d.Key()
		if !ok {
			return
		}
		switch k {
		case "tlsVersion":
			t.TLSVersion = d.String()
		case "cipherSuite":
			t.CipherSuite = d.String()
		case "clientProvidedHostHeader":
			t.ClientProvidedHostHeader = d.String()
		default:
			d.Skip()
		}
	}
}

func (r *Record) decodeInsight(d *jsonlog.Decoder) {
	if !d.Object() {
		return
	}
	in := new(InsightDetails)
	r.InsightDetails = in
	for {
		k, ok := d.Key()
		if !ok {
			return
		}
		switch k {
		case "state":
			in.State = d.String()
		case "eventSource":
			in.EventSource = d.String()
		case "eventName":
			in.EventName = d.String()
		case "errorCode":
			in.ErrorCode = d.String()
		case "insightType":
			in.InsightType = d.String()
		case "insightContext":
			in.InsightContext = d.Raw()
		default:
			d.Skip()
		}
	}
}

// Shared, read-only category and type slices.
var (
	catAuthentication = []string{"authentication"}
	catIAM            = []string{"iam"}
	catConfiguration  = []string{"configuration"}
	catNetwork        = []string{"network", "configuration"}
	catFile           = []string{"file"}
	catAPI            = []string{"api"}
	catThreat         = []string{"threat"}

	typeStart    = []string{"start"}
	typeCreation = []string{"creation"}
	typeDeletion = []string{"deletion"}
	typeChange   = []string{"change"}
	typeAccess   = []string{"access"}
	typeInfo     = []string{"info"}
)

// fill sets the common fields of ev from r.
func fill(r *Record, ev *stream.Event) {
	ev.Format = stream.FormatCloudTrail
	ev.Native = r
	ev.Timestamp = r.EventTime
	ev.Kind = "event"
	ev.Action = r.EventName
	ev.Provider = r.EventSource
	if in := r.InsightDetails; in != nil && r.EventName == "" {
		// Insights events name the API they are about in insightDetails.
		ev.Action, ev.Provider = in.EventName, in.EventSource
	}
	ev.Category, ev.Type = classify(r)
	ev.Outcome = outcome(r)

	ev.Source.Address = r.SourceIPAddress
	if ip, err := netip.ParseAddr(r.SourceIPAddress); err == nil {
		ev.Source.IP = ip.Unmap()
	} else if strings.IndexByte(r.SourceIPAddress, '.') > 0 && strings.IndexByte(r.SourceIPAddress, ' ') < 0 {
		ev.Source.Domain = r.SourceIPAddress
	}
	ev.UserName = userName(&r.UserIdentity)
	ev.UserID = r.UserIdentity.PrincipalID
	ev.UserAgent = r.UserAgent

	ev.CloudProvider = "aws"
	ev.CloudRegion = r.AWSRegion
	ev.CloudAccountID = r.RecipientAccountID
	if ev.CloudAccountID == "" {
		ev.CloudAccountID = r.UserIdentity.AccountID
	}
	ev.ErrorCode = r.ErrorCode
	ev.ErrorMessage = r.ErrorMessage
}

// outcome is failure when CloudTrail recorded an error code or a failed
// console sign-in, else success.
func outcome(r *Record) string {
	if r.ErrorCode != "" {
		return "failure"
	}
	if r.EventType == "AwsConsoleSignIn" && strings.Contains(r.ResponseElements, `"Failure"`) {
		return "failure"
	}
	return "success"
}

// userName is user.name: userIdentity.userName, else "root" for the root
// user, else the last path segment of the ARN (the session name of an
// assumed role), else the invoking service.
func userName(u *UserIdentity) string {
	if u.UserName != "" {
		return u.UserName
	}
	if u.Type == "Root" {
		return "root"
	}
	if i := strings.LastIndexByte(u.ARN, '/'); i >= 0 && i+1 < len(u.ARN) {
		return u.ARN[i+1:]
	}
	return u.InvokedBy
}

// classify derives event.category from the service and event.type from the
// verb of the API name.
func classify(r *Record) (category, typ []string) {
	if r.EventCategory == "Insight" || r.EventType == "AwsCloudTrailInsight" {
		return catThreat, typeInfo
	}
	name := r.EventName
	switch r.EventSource {
	case "signin.amazonaws.com":
		if r.EventType == "AwsConsoleSignIn" {
			return catAuthentication, typeStart
		}
		category = catAuthentication
	case "iam.amazonaws.com", "sts.amazonaws.com", "sso.amazonaws.com", "identitystore.amazonaws.com", "organizations.amazonaws.com":
		category = catIAM
	case "cloudtrail.amazonaws.com", "config.amazonaws.com", "guardduty.amazonaws.com", "securityhub.amazonaws.com", "kms.amazonaws.com":
		category = catConfiguration
	case "s3.amazonaws.com":
		if r.EventCategory == "Data" {
			category = catFile
		} else {
			category = catConfiguration
		}
	case "ec2.amazonaws.com":
		if strings.Contains(name, "SecurityGroup") || strings.Contains(name, "Vpc") || strings.Contains(name, "Subnet") ||
			strings.Contains(name, "NetworkAcl") || strings.Contains(name, "Route") || strings.Contains(name, "Gateway") {
			category = catNetwork
		} else {
			category = catAPI
		}
	default:
		category = catAPI
	}
	return category, verbType(name)
}

// verbs maps the leading verb of an API name to event.type.
var verbs = [...]struct {
	verb string
	typ  []string
}{
	{"Create", typeCreation}, {"Run", typeCreation}, {"Add", typeCreation}, {"Attach", typeCreation}, {"Import", typeCreation},
	{"Delete", typeDeletion}, {"Remove", typeDeletion}, {"Detach", typeDeletion}, {"Terminate", typeDeletion},
	{"Get", typeAccess}, {"List", typeAccess}, {"Describe", typeAccess}, {"Head", typeAccess}, {"Lookup", typeAccess}, {"Decrypt", typeAccess},
	{"Put", typeChange}, {"Update", typeChange}, {"Set", typeChange}, {"Modify", typeChange}, {"Change", typeChange},
	{"Authorize", typeChange}, {"Revoke", typeChange}, {"Enable", typeChange}, {"Disable", typeChange},
	{"Stop", typeChange}, {"Start", typeChange}, {"Associate", typeChange}, {"Disassociate", typeChange}, {"Assume", typeStart},
}

func verbType(name string) []string {
	for i := range verbs {
		if strings.HasPrefix(name, verbs[i].verb) {
			return verbs[i].typ
		}
	}
	return typeInfo
}
