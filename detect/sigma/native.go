package sigma

import (
	"strings"
	"unsafe"

	"github.com/gannet-sec/gannet/detect/jsonscan"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
)

// ctString reads one string field of a *cloudtrail.Record (Event.Native).
// The Record types every documented field, so an empty field is absent (an
// empty string, null and a missing key read alike) and Raw is not scanned.
func ctString(get func(r *cloudtrail.Record) string) func(m *Matcher) bool {
	return func(m *Matcher) bool {
		r, ok := m.ev.Native.(*cloudtrail.Record)
		if !ok {
			return false
		}
		if s := get(r); s != "" {
			m.vals = append(m.vals, val{s: s, kind: jsonscan.String})
		}
		return true
	}
}

// ctJSON walks a path inside one of the Record's verbatim JSON sub-objects
// (requestParameters, responseElements, additionalEventData, …).
func ctJSON(get func(r *cloudtrail.Record) string, rest []string) func(m *Matcher) bool {
	return func(m *Matcher) bool {
		r, ok := m.ev.Native.(*cloudtrail.Record)
		if !ok {
			return false
		}
		if s := get(r); s != "" {
			jsonscan.Walk(unsafe.Slice(unsafe.StringData(s), len(s)), 0, rest, m)
		}
		return true
	}
}

// cloudtrailNative returns the accessor of a CloudTrail-native field name
// over *cloudtrail.Record, or nil when the Record does not type it; str is
// set besides when the name is one string field of the Record (read
// directly, without a value list, on the hot path).
func cloudtrailNative(name string) (acc func(m *Matcher) bool, str func(r *cloudtrail.Record) string) {
	hot := map[string]func(r *cloudtrail.Record) string{
		"eventSource":        func(r *cloudtrail.Record) string { return r.EventSource },
		"eventName":          func(r *cloudtrail.Record) string { return r.EventName },
		"eventType":          func(r *cloudtrail.Record) string { return r.EventType },
		"eventCategory":      func(r *cloudtrail.Record) string { return r.EventCategory },
		"awsRegion":          func(r *cloudtrail.Record) string { return r.AWSRegion },
		"sourceIPAddress":    func(r *cloudtrail.Record) string { return r.SourceIPAddress },
		"userAgent":          func(r *cloudtrail.Record) string { return r.UserAgent },
		"errorCode":          func(r *cloudtrail.Record) string { return r.ErrorCode },
		"errorMessage":       func(r *cloudtrail.Record) string { return r.ErrorMessage },
		"recipientAccountId": func(r *cloudtrail.Record) string { return r.RecipientAccountID },
		"userIdentity.type":  func(r *cloudtrail.Record) string { return r.UserIdentity.Type },
		"userIdentity.arn":   func(r *cloudtrail.Record) string { return r.UserIdentity.ARN },
		"userIdentity.userName": func(r *cloudtrail.Record) string {
			return r.UserIdentity.UserName
		},
		"userIdentity.accountId":   func(r *cloudtrail.Record) string { return r.UserIdentity.AccountID },
		"userIdentity.principalId": func(r *cloudtrail.Record) string { return r.UserIdentity.PrincipalID },
		"userIdentity.accessKeyId": func(r *cloudtrail.Record) string { return r.UserIdentity.AccessKeyID },
		"userIdentity.invokedBy":   func(r *cloudtrail.Record) string { return r.UserIdentity.InvokedBy },
		"userIdentity.sessionContext.sessionIssuer.type": func(r *cloudtrail.Record) string {
			if sc := r.UserIdentity.SessionContext; sc != nil && sc.SessionIssuer != nil {
				return sc.SessionIssuer.Type
			}
			return ""
		},
		"userIdentity.sessionContext.sessionIssuer.arn": func(r *cloudtrail.Record) string {
			if sc := r.UserIdentity.SessionContext; sc != nil && sc.SessionIssuer != nil {
				return sc.SessionIssuer.ARN
			}
			return ""
		},
		"userIdentity.sessionContext.sessionIssuer.userName": func(r *cloudtrail.Record) string {
			if sc := r.UserIdentity.SessionContext; sc != nil && sc.SessionIssuer != nil {
				return sc.SessionIssuer.UserName
			}
			return ""
		},
		"userIdentity.sessionContext.attributes.mfaAuthenticated": func(r *cloudtrail.Record) string {
			if sc := r.UserIdentity.SessionContext; sc != nil {
				return sc.Attributes.MFAAuthenticated
			}
			return ""
		},
	}
	if get, ok := hot[name]; ok {
		return ctString(get), get
	}
	head, rest, _ := strings.Cut(name, ".")
	sub := map[string]func(r *cloudtrail.Record) string{
		"requestParameters":   func(r *cloudtrail.Record) string { return r.RequestParameters },
		"responseElements":    func(r *cloudtrail.Record) string { return r.ResponseElements },
		"additionalEventData": func(r *cloudtrail.Record) string { return r.AdditionalEventData },
		"serviceEventDetails": func(r *cloudtrail.Record) string { return r.ServiceEventDetails },
		"eventContext":        func(r *cloudtrail.Record) string { return r.EventContext },
	}
	if get, ok := sub[head]; ok {
		var path []string
		if rest != "" {
			path = strings.Split(rest, ".")
		}
		return ctJSON(get, path), nil
	}
	return nil, nil
}

var _ stream.Native = (*cloudtrail.Record)(nil)
