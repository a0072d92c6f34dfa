// Package cloudtrail parses AWS CloudTrail events (management, data,
// network-activity and Insights events, one JSON object per event) into
// Gannet's event model, sniffs them, and generates realistic CloudTrail logs
// with embedded attacks. The record follows "CloudTrail record contents"
// and "CloudTrail userIdentity element" of the AWS CloudTrail User Guide.
package cloudtrail

import (
	"iter"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/jsonlog"
)

// Record is one CloudTrail event with every documented field typed.
//
// Strings alias the one string conversion of the unit they were parsed
// from, so a Record holds its whole source text alive and costs one
// allocation for all its strings. Deeply variable sub-objects
// (requestParameters, responseElements, additionalEventData,
// serviceEventDetails, edgeDeviceDetails, eventContext,
// insightDetails.insightContext, webIdFederationData.attributes) are kept
// as their verbatim JSON text ("" when absent or null); read them with
// Values. Unknown fields are ignored (CloudTrail adds fields in minor
// versions).
type Record struct {
	EventVersion string       `json:"eventVersion"`
	EventTime    time.Time    `json:"eventTime"`
	UserIdentity UserIdentity `json:"userIdentity"`
	EventSource  string       `json:"eventSource"`
	EventName    string       `json:"eventName"`
	AWSRegion    string       `json:"awsRegion"`
	// SourceIPAddress is an IP address, or a service name such as
	// "ec2.amazonaws.com" or "AWS Internal".
	SourceIPAddress string `json:"sourceIPAddress"`
	UserAgent       string `json:"userAgent"`
	ErrorCode       string `json:"errorCode,omitempty"`
	ErrorMessage    string `json:"errorMessage,omitempty"`
	// RequestParameters is raw JSON ("" when null or absent).
	RequestParameters string `json:"requestParameters,omitempty"`
	// ResponseElements is raw JSON ("" when null or absent).
	ResponseElements string `json:"responseElements,omitempty"`
	// AdditionalEventData is raw JSON ("" when absent).
	AdditionalEventData string `json:"additionalEventData,omitempty"`
	RequestID           string `json:"requestID,omitempty"`
	EventID             string `json:"eventID"`
	// EventType is AwsApiCall, AwsServiceEvent, AwsConsoleAction,
	// AwsConsoleSignIn, AwsVpceEvent or AwsCloudTrailInsight.
	EventType       string     `json:"eventType"`
	APIVersion      string     `json:"apiVersion,omitempty"`
	ManagementEvent bool       `json:"managementEvent"`
	ReadOnly        bool       `json:"readOnly"`
	Resources       []Resource `json:"resources,omitempty"`
	// RecipientAccountID is the account that received the event.
	RecipientAccountID string `json:"recipientAccountId"`
	// ServiceEventDetails is raw JSON ("" when absent).
	ServiceEventDetails  string `json:"serviceEventDetails,omitempty"`
	SharedEventID        string `json:"sharedEventID,omitempty"`
	VPCEndpointID        string `json:"vpcEndpointId,omitempty"`
	VPCEndpointAccountID string `json:"vpcEndpointAccountId,omitempty"`
	// EventCategory is Management, Data, NetworkActivity or Insight.
	EventCategory string    `json:"eventCategory"`
	Addendum      *Addendum `json:"addendum,omitempty"`
	// SessionCredentialFromConsole is "true" when the request came from a
	// console session (the field is a string in CloudTrail).
	SessionCredentialFromConsole string `json:"sessionCredentialFromConsole,omitempty"`
	// EdgeDeviceDetails is raw JSON ("" when absent).
	EdgeDeviceDetails string          `json:"edgeDeviceDetails,omitempty"`
	TLSDetails        *TLSDetails     `json:"tlsDetails,omitempty"`
	InsightDetails    *InsightDetails `json:"insightDetails,omitempty"`
	// EventContext is raw JSON of enriched events ("" when absent).
	EventContext string `json:"eventContext,omitempty"`

	// Storage for the optional sub-objects, so that a Record and its parts
	// are one allocation.
	sc  SessionContext
	si  SessionIssuer
	tls TLSDetails
	res [2]Resource
}

// UserIdentity is the userIdentity element: who made the request and with
// which credentials.
type UserIdentity struct {
	// Type is Root, IAMUser, AssumedRole, Role, FederatedUser, Directory,
	// AWSAccount, AWSService, IdentityCenterUser or Unknown.
	Type             string          `json:"type"`
	PrincipalID      string          `json:"principalId,omitempty"`
	ARN              string          `json:"arn,omitempty"`
	AccountID        string          `json:"accountId,omitempty"`
	AccessKeyID      string          `json:"accessKeyId,omitempty"`
	UserName         string          `json:"userName,omitempty"`
	SessionContext   *SessionContext `json:"sessionContext,omitempty"`
	InvokedBy        string          `json:"invokedBy,omitempty"`
	IdentityProvider string          `json:"identityProvider,omitempty"`
	CredentialID     string          `json:"credentialId,omitempty"`
	OnBehalfOf       *OnBehalfOf     `json:"onBehalfOf,omitempty"`
	InScopeOf        *InScopeOf      `json:"inScopeOf,omitempty"`
}

// SessionContext describes temporary security credentials.
type SessionContext struct {
	SessionIssuer       *SessionIssuer       `json:"sessionIssuer,omitempty"`
	WebIDFederationData *WebIDFederationData `json:"webIdFederationData,omitempty"`
	Attributes          SessionAttributes    `json:"attributes"`
	SourceIdentity      string               `json:"sourceIdentity,omitempty"`
	EC2RoleDelivery     string               `json:"ec2RoleDelivery,omitempty"`
	// AssumedRoot is "true" for sessions of sts:AssumeRoot.
	AssumedRoot string `json:"assumedRoot,omitempty"`
}

// SessionIssuer is how the temporary credentials were obtained.
type SessionIssuer struct {
	Type        string `json:"type,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn,omitempty"`
	AccountID   string `json:"accountId,omitempty"`
	UserName    string `json:"userName,omitempty"`
}

// WebIDFederationData is set for web identity federation sessions.
type WebIDFederationData struct {
	FederatedProvider string `json:"federatedProvider,omitempty"`
	// Attributes is raw JSON ("" when absent).
	Attributes string `json:"attributes,omitempty"`
}

// SessionAttributes are sessionContext.attributes. MFAAuthenticated is the
// string "true" or "false" as CloudTrail writes it.
type SessionAttributes struct {
	CreationDate     string `json:"creationDate,omitempty"`
	MFAAuthenticated string `json:"mfaAuthenticated,omitempty"`
}

// OnBehalfOf names the IAM Identity Center user a request was made for.
type OnBehalfOf struct {
	UserID           string `json:"userId,omitempty"`
	IdentityStoreARN string `json:"identityStoreArn,omitempty"`
}

// InScopeOf is set when a service acted with credentials scoped to a
// resource of another account.
type InScopeOf struct {
	PrimaryAccountID    string `json:"primaryAccountId,omitempty"`
	IssuerAccountID     string `json:"issuerAccountId,omitempty"`
	IssuerType          string `json:"issuerType,omitempty"`
	CredentialsIssuedTo string `json:"credentialsIssuedTo,omitempty"`
}

// Resource is one element of resources.
type Resource struct {
	ARN       string `json:"ARN,omitempty"`
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type,omitempty"`
}

// Addendum explains a late or updated delivery.
type Addendum struct {
	Reason            string `json:"reason,omitempty"`
	UpdatedFields     string `json:"updatedFields,omitempty"`
	OriginalRequestID string `json:"originalRequestID,omitempty"`
	OriginalEventID   string `json:"originalEventID,omitempty"`
}

// TLSDetails is the TLS session of the API call.
type TLSDetails struct {
	TLSVersion               string `json:"tlsVersion,omitempty"`
	CipherSuite              string `json:"cipherSuite,omitempty"`
	ClientProvidedHostHeader string `json:"clientProvidedHostHeader,omitempty"`
}

// InsightDetails is the body of a CloudTrail Insights event.
type InsightDetails struct {
	State       string `json:"state,omitempty"`
	EventSource string `json:"eventSource,omitempty"`
	EventName   string `json:"eventName,omitempty"`
	ErrorCode   string `json:"errorCode,omitempty"`
	InsightType string `json:"insightType,omitempty"`
	// InsightContext is raw JSON (statistics and attributions).
	InsightContext string `json:"insightContext,omitempty"`
}

// Format returns stream.FormatCloudTrail.
func (*Record) Format() stream.Format { return stream.FormatCloudTrail }

// Values yields the values at a dotted field path, as Sigma rules name them
// ("eventName", "userIdentity.sessionContext.sessionIssuer.type",
// "requestParameters.ipPermissions.items.ipRanges.items.cidrIp",
// "additionalEventData.MFAUsed"). Typed fields yield their value when set;
// paths into raw sub-objects are looked up in their JSON, traversing arrays.
func (r *Record) Values(path string) iter.Seq[string] {
	head, rest, _ := strings.Cut(path, ".")
	switch head {
	case "requestParameters":
		return jsonlog.Values(r.RequestParameters, rest)
	case "responseElements":
		return jsonlog.Values(r.ResponseElements, rest)
	case "additionalEventData":
		return jsonlog.Values(r.AdditionalEventData, rest)
	case "serviceEventDetails":
		return jsonlog.Values(r.ServiceEventDetails, rest)
	case "edgeDeviceDetails":
		return jsonlog.Values(r.EdgeDeviceDetails, rest)
	case "eventContext":
		return jsonlog.Values(r.EventContext, rest)
	case "resources":
		return func(yield func(string) bool) {
			for _, res := range r.Resources {
				var v string
				switch rest {
				case "ARN":
					v = res.ARN
				case "accountId":
					v = res.AccountID
				case "type":
					v = res.Type
				}
				if v != "" && !yield(v) {
					return
				}
			}
		}
	}
	return func(yield func(string) bool) {
		if v, ok := r.Field(path); ok && v != "" {
			yield(v)
		}
	}
}

// Field returns a typed scalar field by its CloudTrail path ("eventName",
// "userIdentity.arn", "tlsDetails.tlsVersion"…); ok is false for paths that
// are not typed scalar fields. Booleans are "true"/"false"; eventTime is
// RFC 3339.
func (r *Record) Field(path string) (string, bool) {
	switch path {
	case "eventVersion":
		return r.EventVersion, true
	case "eventTime":
		return r.EventTime.Format(time.RFC3339Nano), true
	case "eventSource":
		return r.EventSource, true
	case "eventName":
		return r.EventName, true
	case "awsRegion":
		return r.AWSRegion, true
	case "sourceIPAddress":
		return r.SourceIPAddress, true
	case "userAgent":
		return r.UserAgent, true
	case "errorCode":
		return r.ErrorCode, true
	case "errorMessage":
		return r.ErrorMessage, true
	case "requestID":
		return r.RequestID, true
	case "eventID":
		return r.EventID, true
	case "eventType":
		return r.EventType, true
	case "apiVersion":
		return r.APIVersion, true
	case "managementEvent":
		return boolText(r.ManagementEvent), true
	case "readOnly":
		return boolText(r.ReadOnly), true
	case "recipientAccountId":
		return r.RecipientAccountID, true
	case "sharedEventID":
		return r.SharedEventID, true
	case "vpcEndpointId":
		return r.VPCEndpointID, true
	case "vpcEndpointAccountId":
		return r.VPCEndpointAccountID, true
	case "eventCategory":
		return r.EventCategory, true
	case "sessionCredentialFromConsole":
		return r.SessionCredentialFromConsole, true
	}
	u := &r.UserIdentity
	switch path {
	case "userIdentity.type":
		return u.Type, true
	case "userIdentity.principalId":
		return u.PrincipalID, true
	case "userIdentity.arn":
		return u.ARN, true
	case "userIdentity.accountId":
		return u.AccountID, true
	case "userIdentity.accessKeyId":
		return u.AccessKeyID, true
	case "userIdentity.userName":
		return u.UserName, true
	case "userIdentity.invokedBy":
		return u.InvokedBy, true
	case "userIdentity.identityProvider":
		return u.IdentityProvider, true
	case "userIdentity.credentialId":
		return u.CredentialID, true
	}
	if sc := u.SessionContext; sc != nil {
		switch path {
		case "userIdentity.sessionContext.attributes.creationDate":
			return sc.Attributes.CreationDate, true
		case "userIdentity.sessionContext.attributes.mfaAuthenticated":
			return sc.Attributes.MFAAuthenticated, true
		case "userIdentity.sessionContext.sourceIdentity":
			return sc.SourceIdentity, true
		case "userIdentity.sessionContext.ec2RoleDelivery":
			return sc.EC2RoleDelivery, true
		case "userIdentity.sessionContext.assumedRoot":
			return sc.AssumedRoot, true
		}
		if si := sc.SessionIssuer; si != nil {
			switch path {
			case "userIdentity.sessionContext.sessionIssuer.type":
				return si.Type, true
			case "userIdentity.sessionContext.sessionIssuer.principalId":
				return si.PrincipalID, true
			case "userIdentity.sessionContext.sessionIssuer.arn":
				return si.ARN, true
			case "userIdentity.sessionContext.sessionIssuer.accountId":
				return si.AccountID, true
			case "userIdentity.sessionContext.sessionIssuer.userName":
				return si.UserName, true
			}
		}
		if w := sc.WebIDFederationData; w != nil && path == "userIdentity.sessionContext.webIdFederationData.federatedProvider" {
			return w.FederatedProvider, true
		}
	}
	if t := r.TLSDetails; t != nil {
		switch path {
		case "tlsDetails.tlsVersion":
			return t.TLSVersion, true
		case "tlsDetails.cipherSuite":
			return t.CipherSuite, true
		case "tlsDetails.clientProvidedHostHeader":
			return t.ClientProvidedHostHeader, true
		}
	}
	return "", false
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
