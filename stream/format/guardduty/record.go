// Package guardduty parses Amazon GuardDuty findings — in their EventBridge
// envelope ("detail-type": "GuardDuty Finding") or bare, as the
// GetFindings API and S3 exports give them — into Gannet's event model,
// sniffs them, and generates findings that name the attack indicators. The
// record follows the GuardDuty API Reference (Finding, Resource, Service)
// and "Amazon EventBridge event format for GuardDuty" of the GuardDuty
// User Guide.
package guardduty

import (
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// Record is one finding with its EventBridge envelope (empty when the
// finding came bare). Strings alias the one string conversion of the unit.
type Record struct {
	// Envelope fields (EventBridge).
	Version    string    `json:"version,omitempty"`
	ID         string    `json:"id,omitempty"`
	DetailType string    `json:"detail-type,omitempty"`
	Source     string    `json:"source,omitempty"`
	Account    string    `json:"account,omitempty"`
	Time       time.Time `json:"time,omitzero"`
	Region     string    `json:"region,omitempty"`
	Resources  []string  `json:"resources,omitempty"`

	Detail Finding `json:"detail"`
}

// Finding is the GuardDuty finding (the envelope's detail).
type Finding struct {
	SchemaVersion string `json:"schemaVersion"`
	AccountID     string `json:"accountId"`
	Region        string `json:"region"`
	Partition     string `json:"partition"`
	ID            string `json:"id"`
	ARN           string `json:"arn"`
	// Type is ThreatPurpose:ResourceTypeAffected/ThreatFamilyName.DetectionMechanism!Artifact,
	// e.g. "UnauthorizedAccess:EC2/SSHBruteForce".
	Type        string    `json:"type"`
	Resource    Resource  `json:"resource"`
	Service     Service   `json:"service"`
	Severity    float64   `json:"severity"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	// Confidence is present in older findings.
	Confidence float64 `json:"confidence,omitempty"`
}

// Resource is the affected resource: a few keys typed, the whole object
// kept as raw JSON (its details differ per resource type).
type Resource struct {
	ResourceType string `json:"resourceType"` // Instance, AccessKey, S3Bucket, EKSCluster, …
	// InstanceID is resource.instanceDetails.instanceId.
	InstanceID string `json:"instanceId,omitempty"`
	// AccessKeyID and UserName are from resource.accessKeyDetails.
	AccessKeyID string `json:"accessKeyId,omitempty"`
	UserName    string `json:"userName,omitempty"`
	// Raw is the whole resource object as JSON.
	Raw string `json:"raw"`
}

// Service is what GuardDuty observed: a few keys typed, the whole object
// kept as raw JSON (action details differ per finding type).
type Service struct {
	ServiceName    string    `json:"serviceName"`
	DetectorID     string    `json:"detectorId"`
	Archived       bool      `json:"archived"`
	Count          int64     `json:"count"`
	EventFirstSeen time.Time `json:"eventFirstSeen,omitzero"`
	EventLastSeen  time.Time `json:"eventLastSeen,omitzero"`
	ResourceRole   string    `json:"resourceRole,omitempty"` // TARGET or ACTOR
	FeatureName    string    `json:"featureName,omitempty"`
	// ActionType is service.action.actionType: NETWORK_CONNECTION,
	// PORT_PROBE, AWS_API_CALL, DNS_REQUEST, KUBERNETES_API_CALL, …
	ActionType string `json:"actionType,omitempty"`
	// RemoteIP, RemoteCountry and RemoteOrg are the remoteIpDetails of the
	// action (for a port probe, of its first probe).
	RemoteIP      string `json:"remoteIp,omitempty"`
	RemoteCountry string `json:"remoteCountry,omitempty"`
	RemoteOrg     string `json:"remoteOrg,omitempty"`
	// ConnectionDirection is INBOUND, OUTBOUND or UNKNOWN (network connections).
	ConnectionDirection string `json:"connectionDirection,omitempty"`
	Protocol            string `json:"protocol,omitempty"`
	LocalPort           int64  `json:"localPort,omitempty"`
	RemotePort          int64  `json:"remotePort,omitempty"`
	// API and APIServiceName describe an AWS_API_CALL action.
	API            string `json:"api,omitempty"`
	APIServiceName string `json:"apiServiceName,omitempty"`
	// Domain is the queried domain of a DNS_REQUEST action.
	Domain string `json:"domain,omitempty"`
	// Raw is the whole service object as JSON.
	Raw string `json:"raw"`
}

// Format returns stream.FormatGuardDuty.
func (*Record) Format() stream.Format { return stream.FormatGuardDuty }
