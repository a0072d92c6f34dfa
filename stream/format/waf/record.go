// Package waf parses AWS WAF (v2) web ACL traffic logs, one JSON object per
// request, into Gannet's event model, sniffs them, and generates realistic
// WAF logs with embedded web attacks. The record follows "Log fields for
// protection pack (web ACL) traffic" of the AWS WAF Developer Guide.
package waf

import (
	"github.com/gannet-sec/gannet/stream"
)

// Record is one WAF log entry with every documented field typed. Strings
// alias the one string conversion of the unit. RuleGroup.CustomerConfig is
// kept as raw JSON; unknown fields are ignored.
type Record struct {
	// Timestamp is milliseconds since the Unix epoch.
	Timestamp     int64  `json:"timestamp"`
	FormatVersion int64  `json:"formatVersion"`
	WebACLID      string `json:"webaclId"`
	// TerminatingRuleID is the rule that terminated the request, or
	// "Default_Action".
	TerminatingRuleID string `json:"terminatingRuleId"`
	// TerminatingRuleType is REGULAR, RATE_BASED, GROUP or MANAGED_RULE_GROUP.
	TerminatingRuleType         string            `json:"terminatingRuleType"`
	Action                      string            `json:"action"` // ALLOW, BLOCK, CAPTCHA, CHALLENGE
	TerminatingRuleMatchDetails []RuleMatchDetail `json:"terminatingRuleMatchDetails,omitempty"`
	// HTTPSourceName is CF, APIGW, ALB, APPSYNC, COGNITOIDP, APPRUNNER or
	// VERIFIED_ACCESS.
	HTTPSourceName              string          `json:"httpSourceName"`
	HTTPSourceID                string          `json:"httpSourceId"`
	RuleGroupList               []RuleGroup     `json:"ruleGroupList,omitempty"`
	RateBasedRuleList           []RateBasedRule `json:"rateBasedRuleList,omitempty"`
	NonTerminatingMatchingRules []MatchingRule  `json:"nonTerminatingMatchingRules,omitempty"`
	RequestHeadersInserted      []Header        `json:"requestHeadersInserted,omitempty"`
	// ResponseCodeSent is the custom response code of a BLOCK action, 0 when
	// none was sent.
	ResponseCodeSent  int64           `json:"responseCodeSent,omitempty"`
	HTTPRequest       HTTPRequest     `json:"httpRequest"`
	Labels            []Label         `json:"labels,omitempty"`
	CaptchaResponse   *ActionResponse `json:"captchaResponse,omitempty"`
	ChallengeResponse *ActionResponse `json:"challengeResponse,omitempty"`
	JA3Fingerprint    string          `json:"ja3Fingerprint,omitempty"`
	JA4Fingerprint    string          `json:"ja4Fingerprint,omitempty"`
	// OversizeFields lists request parts larger than WAF inspects
	// (e.g. REQUEST_JSON_BODY).
	OversizeFields                []string `json:"oversizeFields,omitempty"`
	RequestBodySize               int64    `json:"requestBodySize,omitempty"`
	RequestBodySizeInspectedByWAF int64    `json:"requestBodySizeInspectedByWAF,omitempty"`
	// ClientASN is logged only when an ASN match statement is used.
	ClientASN              int64  `json:"clientAsn,omitempty"`
	CFDistributionTenantID string `json:"cfDistributionTenantId,omitempty"`

	hdr [16]Header // inline storage for HTTPRequest.Headers
}

// HTTPRequest is the request as WAF saw it.
type HTTPRequest struct {
	ClientIP    string   `json:"clientIp"`
	Country     string   `json:"country"` // ISO 3166-1 alpha-2, "-" when unknown
	Headers     []Header `json:"headers"`
	URI         string   `json:"uri"`
	Args        string   `json:"args"`
	HTTPVersion string   `json:"httpVersion"`
	HTTPMethod  string   `json:"httpMethod"`
	RequestID   string   `json:"requestId"`
	Fragment    string   `json:"fragment,omitempty"`
	Scheme      string   `json:"scheme,omitempty"`
	Host        string   `json:"host,omitempty"`
}

// Header is one request header (or one inserted header).
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// RuleMatchDetail says what matched for SQL injection, XSS and regex
// pattern-set matches.
type RuleMatchDetail struct {
	ConditionType    string   `json:"conditionType"` // SQL_INJECTION, XSS, REGEX
	SensitivityLevel string   `json:"sensitivityLevel,omitempty"`
	Location         string   `json:"location"` // HEADER, QUERY_STRING, URI, BODY, …
	MatchedData      []string `json:"matchedData,omitempty"`
	MatchedFieldName string   `json:"matchedFieldName,omitempty"`
}

// RuleGroup is one rule group evaluated for the request.
type RuleGroup struct {
	RuleGroupID                 string         `json:"ruleGroupId"`
	TerminatingRule             *MatchingRule  `json:"terminatingRule,omitempty"`
	NonTerminatingMatchingRules []MatchingRule `json:"nonTerminatingMatchingRules,omitempty"`
	ExcludedRules               []ExcludedRule `json:"excludedRules,omitempty"`
	// CustomerConfig is raw JSON (managed rule group configuration).
	CustomerConfig string `json:"customerConfig,omitempty"`
}

// MatchingRule is a rule that matched: terminating in a rule group, or
// non-terminating (COUNT, or a CAPTCHA/CHALLENGE that did not terminate).
type MatchingRule struct {
	RuleID            string            `json:"ruleId"`
	Action            string            `json:"action"`
	OverriddenAction  string            `json:"overriddenAction,omitempty"`
	RuleMatchDetails  []RuleMatchDetail `json:"ruleMatchDetails,omitempty"`
	CaptchaResponse   *ActionResponse   `json:"captchaResponse,omitempty"`
	ChallengeResponse *ActionResponse   `json:"challengeResponse,omitempty"`
}

// ExcludedRule is a rule group rule excluded (set to count).
type ExcludedRule struct {
	ExclusionType string `json:"exclusionType"`
	RuleID        string `json:"ruleId"`
}

// RateBasedRule is a rate-based rule that applied to the request.
type RateBasedRule struct {
	RateBasedRuleID     string        `json:"rateBasedRuleId"`
	RateBasedRuleName   string        `json:"rateBasedRuleName,omitempty"`
	LimitKey            string        `json:"limitKey"` // IP, FORWARDED_IP, CUSTOMKEYS, CONSTANT
	MaxRateAllowed      int64         `json:"maxRateAllowed"`
	EvaluationWindowSec int64         `json:"evaluationWindowSec,omitempty"`
	CustomValues        []CustomValue `json:"customValues,omitempty"`
}

// CustomValue is one aggregation key value of a rate-based rule.
type CustomValue struct {
	Key   string `json:"key"`
	Name  string `json:"name,omitempty"`
	Value string `json:"value"`
}

// Label is a label added by a matching rule.
type Label struct {
	Name string `json:"name"`
}

// ActionResponse is the CAPTCHA or challenge status of the request.
type ActionResponse struct {
	ResponseCode   int64  `json:"responseCode"`
	SolveTimestamp int64  `json:"solveTimestamp,omitempty"`
	FailureReason  string `json:"failureReason,omitempty"`
}

// Format returns stream.FormatWAF.
func (*Record) Format() stream.Format { return stream.FormatWAF }

// Header returns the value of the first request header named name (ASCII
// case-insensitive), or "".
func (r *Record) Header(name string) string {
	for i := range r.HTTPRequest.Headers {
		if equalFold(r.HTTPRequest.Headers[i].Name, name) {
			return r.HTTPRequest.Headers[i].Value
		}
	}
	return ""
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x|0x20 != y|0x20 || (x|0x20) < 'a' && x != y || (x|0x20) > 'z' && x != y {
			return false
		}
	}
	return true
}
