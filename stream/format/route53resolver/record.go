// Package route53resolver parses Amazon Route 53 Resolver query logs (one
// JSON object per DNS query, as delivered to CloudWatch Logs, S3 or
// Firehose) into Gannet's event model, sniffs them, and generates realistic
// query logs with queries to a known-bad domain. The record follows
// "Values that appear in Resolver query logs" of the Amazon Route 53
// Developer Guide.
package route53resolver

import (
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// Record is one Resolver query log entry with every documented field typed.
// Strings alias the one string conversion of the unit; unknown fields are
// ignored.
type Record struct {
	Version        string    `json:"version"`
	AccountID      string    `json:"account_id"`
	Region         string    `json:"region"`
	VPCID          string    `json:"vpc_id"`
	QueryTimestamp time.Time `json:"query_timestamp"`
	// QueryName is the queried name as logged, with its trailing dot.
	QueryName  string `json:"query_name"`
	QueryType  string `json:"query_type"`
	QueryClass string `json:"query_class"`
	// Rcode is the DNS response code (NOERROR, NXDOMAIN, SERVFAIL, …).
	Rcode   string   `json:"rcode"`
	Answers []Answer `json:"answers"`
	SrcAddr string   `json:"srcaddr"`
	// SrcPort is logged as a string; 0 when absent or not a number.
	SrcPort   int64  `json:"srcport"`
	Transport string `json:"transport"` // UDP or TCP
	SrcIDs    SrcIDs `json:"srcids"`
	// FirewallRuleAction is ALERT, BLOCK or ALLOW when a DNS Firewall rule
	// matched, else "".
	FirewallRuleAction   string `json:"firewall_rule_action,omitempty"`
	FirewallRuleGroupID  string `json:"firewall_rule_group_id,omitempty"`
	FirewallDomainListID string `json:"firewall_domain_list_id,omitempty"`
	// FirewallProtection names the DNS Firewall Advanced protection that
	// matched (e.g. DGA, DNS_TUNNELING), else "".
	FirewallProtection string `json:"firewall_protection,omitempty"`

	ans [4]Answer // inline storage for Answers
}

// Answer is one answer of the response.
type Answer struct {
	Rdata string `json:"Rdata"`
	Type  string `json:"Type"`
	Class string `json:"Class"`
}

// SrcIDs identifies where the query came from.
type SrcIDs struct {
	Instance                 string `json:"instance,omitempty"`
	ResolverEndpoint         string `json:"resolver_endpoint,omitempty"`
	ResolverNetworkInterface string `json:"resolver_network_interface,omitempty"`
}

// Format returns stream.FormatRoute53Resolver.
func (*Record) Format() stream.Format { return stream.FormatRoute53Resolver }
