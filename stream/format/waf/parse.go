package waf

import (
	"net/netip"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/jsonlog"
)

const prefix = "waf"

// NewParser returns the WAF log parser. It is stateless; one parser may
// serve any number of units, but not concurrently (see stream.Parser).
func NewParser() stream.Parser {
	return jsonlog.ObjectParser(stream.FormatWAF, (*Record).decode, fill)
}

// Sniff reports whether data looks like one WAF log entry: a JSON object
// naming "webaclId" and "httpRequest".
func Sniff(data []byte) bool {
	return jsonlog.SniffObject(data, `"webaclId"`, `"httpRequest"`)
}

func (r *Record) decode(src string) error {
	var d jsonlog.Decoder
	if err := d.Begin(prefix, src); err != nil {
		return err
	}
	seenTime := false
	for k, ok := d.Member(); ok; k, ok = d.Member() {
		switch k {
		case "timestamp":
			r.Timestamp = d.Int()
			seenTime = true
		case "formatVersion":
			r.FormatVersion = d.Int()
		case "webaclId":
			r.WebACLID = d.String()
		case "terminatingRuleId":
			r.TerminatingRuleID = d.String()
		case "terminatingRuleType":
			r.TerminatingRuleType = d.String()
		case "action":
			r.Action = d.String()
		case "terminatingRuleMatchDetails":
			r.TerminatingRuleMatchDetails = matchDetails(&d)
		case "httpSourceName":
			r.HTTPSourceName = d.String()
		case "httpSourceId":
			r.HTTPSourceID = d.String()
		case "ruleGroupList":
			if d.Array() {
				for d.Elem() {
					if g, ok := ruleGroup(&d); ok {
						r.RuleGroupList = append(r.RuleGroupList, g)
					}
				}
			}
		case "rateBasedRuleList":
			if d.Array() {
				for d.Elem() {
					if rb, ok := rateBased(&d); ok {
						r.RateBasedRuleList = append(r.RateBasedRuleList, rb)
					}
				}
			}
		case "nonTerminatingMatchingRules":
			r.NonTerminatingMatchingRules = matchingRules(&d)
		case "requestHeadersInserted":
			r.RequestHeadersInserted = headers(&d, nil)
		case "responseCodeSent":
			r.ResponseCodeSent = d.Int()
		case "httpRequest":
			r.decodeRequest(&d)
		case "labels":
			if d.Array() {
				for d.Elem() {
					if d.Object() {
						var l Label
						for {
							k, ok := d.Key()
							if !ok {
								break
							}
							if k == "name" {
								l.Name = d.String()
							} else {
								d.Skip()
							}
						}
						r.Labels = append(r.Labels, l)
					}
				}
			}
		case "captchaResponse":
			r.CaptchaResponse = actionResponse(&d)
		case "challengeResponse":
			r.ChallengeResponse = actionResponse(&d)
		case "ja3Fingerprint":
			r.JA3Fingerprint = d.String()
		case "ja4Fingerprint":
			r.JA4Fingerprint = d.String()
		case "oversizeFields":
			r.OversizeFields = d.Strings()
		case "requestBodySize":
			r.RequestBodySize = d.Int()
		case "requestBodySizeInspectedByWAF":
			r.RequestBodySizeInspectedByWAF = d.Int()
		case "clientAsn":
			r.ClientASN = d.Int()
		case "cfDistributionTenantId":
			r.CFDistributionTenantID = d.String()
		default:
			d.Skip()
		}
	}
	if err := d.Finish(prefix); err != nil {
		return err
	}
	if !seenTime || r.Timestamp <= 0 {
		return stream.Permanentf(prefix+"_missing_field", "timestamp (milliseconds since the epoch) is missing or not positive")
	}
	return nil
}

func (r *Record) decodeRequest(d *jsonlog.Decoder) {
	h := &r.HTTPRequest
	if !d.Object() {
		return
	}
	for {
		k, ok := d.Key()
		if !ok {
			return
		}
		switch k {
		case "clientIp":
			h.ClientIP = d.String()
		case "country":
			h.Country = d.String()
		case "headers":
			h.Headers = headers(d, r.hdr[:0])
		case "uri":
			h.URI = d.String()
		case "args":
			h.Args = d.String()
		case "httpVersion":
			h.HTTPVersion = d.String()
		case "httpMethod":
			h.HTTPMethod = d.String()
		case "requestId":
			h.RequestID = d.String()
		case "fragment":
			h.Fragment = d.String()
		case "scheme":
			h.Scheme = d.String()
		case "host":
			h.Host = d.String()
		case "clientAsn":
			r.ClientASN = d.Int()
		default:
			d.Skip()
		}
	}
}

func headers(d *jsonlog.Decoder, out []Header) []Header {
	if !d.Array() {
		return out
	}
	for d.Elem() {
		if !d.Object() {
			continue
		}
		var h Header
		for {
			k, ok := d.Key()
			if !ok {
				break
			}
			switch k {
			case "name":
				h.Name = d.String()
			case "value":
				h.Value = d.String()
			default:
				d.Skip()
			}
		}
		out = append(out, h)
	}
	return out
}

func matchDetails(d *jsonlog.Decoder) []RuleMatchDetail {
	if !d.Array() {
		return nil
	}
	var out []RuleMatchDetail
	for d.Elem() {
		if !d.Object() {
			continue
		}
		var m RuleMatchDetail
		for {
			k, ok := d.Key()
			if !ok {
				break
			}
			switch k {
			case "conditionType":
				m.ConditionType = d.String()
			case "sensitivityLevel":
				m.SensitivityLevel = d.String()
			case "location":
				m.Location = d.String()
			case "matchedData":
				m.MatchedData = d.Strings()
			case "matchedFieldName":
				m.MatchedFieldName = d.String()
			default:
				d.Skip()
			}
		}
		out = append(out, m)
	}
	return out
}

func matchingRule(d *jsonlog.Decoder) (MatchingRule, bool) {
	var m MatchingRule
	if !d.Object() {
		return m, false
	}
	for {
		k, ok := d.Key()
		if !ok {
			return m, true
		}
		switch k {
		case "ruleId":
			m.RuleID = d.String()
		case "action":
			m.Action = d.String()
		case "overriddenAction":
			m.OverriddenAction = d.String()
		case "ruleMatchDetails":
			m.RuleMatchDetails = matchDetails(d)
		case "captchaResponse":
			m.CaptchaResponse = actionResponse(d)
		case "challengeResponse":
			m.ChallengeResponse = actionResponse(d)
		default:
			d.Skip()
		}
	}
}

func matchingRules(d *jsonlog.Decoder) []MatchingRule {
	if !d.Array() {
		return nil
	}
	var out []MatchingRule
	for d.Elem() {
		if m, ok := matchingRule(d); ok {
			out = append(out, m)
		}
	}
	return out
}

func ruleGroup(d *jsonlog.Decoder) (RuleGroup, bool) {
	var g RuleGroup
	if !d.Object() {
		return g, false
	}
	for {
		k, ok := d.Key()
		if !ok {
			return g, true
		}
		switch k {
		case "ruleGroupId":
			g.RuleGroupID = d.String()
		case "terminatingRule":
			if m, ok := matchingRule(d); ok {
				g.TerminatingRule = &m
			}
		case "nonTerminatingMatchingRules":
			g.NonTerminatingMatchingRules = matchingRules(d)
		case "excludedRules":
			if d.Array() {
				for d.Elem() {
					if !d.Object() {
						continue
					}
					var e ExcludedRule
					for {
						k, ok := d.Key()
						if !ok {
							break
						}
						switch k {
						case "exclusionType":
							e.ExclusionType = d.String()
						case "ruleId":
							e.RuleID = d.String()
						default:
							d.Skip()
						}
					}
					g.ExcludedRules = append(g.ExcludedRules, e)
				}
			}
		case "customerConfig":
			g.CustomerConfig = d.Raw()
		default:
			d.Skip()
		}
	}
}

func rateBased(d *jsonlog.Decoder) (RateBasedRule, bool) {
	var rb RateBasedRule
	if !d.Object() {
		return rb, false
	}
	for {
		k, ok := d.Key()
		if !ok {
			return rb, true
		}
		switch k {
		case "rateBasedRuleId":
			rb.RateBasedRuleID = d.String()
		case "rateBasedRuleName":
			rb.RateBasedRuleName = d.String()
		case "limitKey":
			rb.LimitKey = d.String()
		case "maxRateAllowed":
			rb.MaxRateAllowed = d.Int()
		case "evaluationWindowSec":
			rb.EvaluationWindowSec = d.Int()
		case "customValues":
			if d.Array() {
				for d.Elem() {
					if !d.Object() {
						continue
					}
					var c CustomValue
					for {
						k, ok := d.Key()
						if !ok {
							break
						}
						switch k {
						case "key":
							c.Key = d.String()
						case "name":
							c.Name = d.String()
						case "value":
							c.Value = d.String()
						default:
							d.Skip()
						}
					}
					rb.CustomValues = append(rb.CustomValues, c)
				}
			}
		default:
			d.Skip()
		}
	}
}

func actionResponse(d *jsonlog.Decoder) *ActionResponse {
	if !d.Object() {
		return nil
	}
	a := new(ActionResponse)
	for {
		k, ok := d.Key()
		if !ok {
			return a
		}
		switch k {
		case "responseCode":
			a.ResponseCode = d.Int()
		case "solveTimestamp":
			a.SolveTimestamp = d.Int()
		case "failureReason":
			a.FailureReason = d.String()
		default:
			d.Skip()
		}
	}
}

var (
	catWeb       = []string{"web", "network"}
	typeAllowed  = []string{"access", "allowed"}
	typeDenied   = []string{"access", "denied"}
	typeAccessed = []string{"access"}
)

// fill sets the common fields of ev from r.
func fill(r *Record, ev *stream.Event) {
	h := &r.HTTPRequest
	ev.Format = stream.FormatWAF
	ev.Native = r
	ev.Timestamp = time.UnixMilli(r.Timestamp).UTC()
	ev.Kind = "event"
	ev.Category = catWeb
	ev.Action = r.Action
	switch r.Action {
	case "ALLOW":
		ev.Action, ev.Type, ev.Outcome = "allow", typeAllowed, "success"
	case "BLOCK":
		ev.Action, ev.Type, ev.Outcome = "block", typeDenied, "failure"
	case "CAPTCHA":
		ev.Action, ev.Type, ev.Outcome = "captcha", typeAccessed, "unknown"
	case "CHALLENGE":
		ev.Action, ev.Type, ev.Outcome = "challenge", typeAccessed, "unknown"
	default:
		ev.Type, ev.Outcome = typeAccessed, "unknown"
	}
	ev.Provider = "waf"

	ev.Source.Address = h.ClientIP
	if ip, err := netip.ParseAddr(h.ClientIP); err == nil {
		ev.Source.IP = ip.Unmap()
	}
	if h.Country != "" && h.Country != "-" {
		ev.Source.Geo.CountryISOCode = h.Country
	}
	ev.HTTPMethod = h.HTTPMethod
	ev.HTTPVersion = strings.TrimPrefix(h.HTTPVersion, "HTTP/")
	if r.ResponseCodeSent != 0 {
		ev.HTTPStatusCode = int32(r.ResponseCodeSent)
	}
	ev.URLPath = h.URI
	ev.URLQuery = h.Args
	ev.URLOriginal = h.URI
	if h.Args != "" {
		ev.URLOriginal = h.URI + "?" + h.Args
	}
	ev.URLDomain = h.Host
	if ev.URLDomain == "" {
		ev.URLDomain = r.Header("host")
	}
	ev.UserAgent = r.Header("user-agent")

	ev.CloudProvider = "aws"
	ev.CloudRegion, ev.CloudAccountID = arnRegionAccount(r.WebACLID)
}

// arnRegionAccount returns the region and account fields of an ARN
// ("arn:aws:wafv2:us-east-1:123456789012:regional/webacl/…"); CloudFront
// web ACLs have the global scope and region us-east-1 in their ARN.
func arnRegionAccount(arn string) (region, account string) {
	if !strings.HasPrefix(arn, "arn:") {
		return "", ""
	}
	parts := arn
	for i := 0; i < 3; i++ { // skip "arn", partition, service
		j := strings.IndexByte(parts, ':')
		if j < 0 {
			return "", ""
		}
		parts = parts[j+1:]
	}
	region, rest, ok := strings.Cut(parts, ":")
	if !ok {
		return "", ""
	}
	account, _, _ = strings.Cut(rest, ":")
	return region, account
}
