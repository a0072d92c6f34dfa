package route53resolver

import (
	"net/netip"
	"strings"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/jsonlog"
)

const prefix = "route53resolver"

// NewParser returns the Resolver query log parser. It is stateless; one
// parser may serve any number of units, but not concurrently.
func NewParser() stream.Parser {
	return jsonlog.ObjectParser(stream.FormatRoute53Resolver, (*Record).decode, fill)
}

// Sniff reports whether data looks like one Resolver query log entry: a JSON
// object naming "query_name" and "query_timestamp".
func Sniff(data []byte) bool {
	return jsonlog.SniffObject(data, `"query_name"`, `"query_timestamp"`)
}

func (r *Record) decode(src string) error {
	var d jsonlog.Decoder
	if err := d.Begin(prefix, src); err != nil {
		return err
	}
	var ts string
	for k, ok := d.Member(); ok; k, ok = d.Member() {
		switch k {
		case "version":
			r.Version = d.String()
		case "account_id":
			r.AccountID = d.String()
		case "region":
			r.Region = d.String()
		case "vpc_id":
			r.VPCID = d.String()
		case "query_timestamp":
			ts = d.String()
		case "query_name":
			r.QueryName = d.String()
		case "query_type":
			r.QueryType = d.String()
		case "query_class":
			r.QueryClass = d.String()
		case "rcode":
			r.Rcode = d.String()
		case "answers":
			if d.Array() {
				r.Answers = r.ans[:0]
				for d.Elem() {
					if !d.Object() {
						continue
					}
					var a Answer
					for {
						k, ok := d.Key()
						if !ok {
							break
						}
						switch k {
						case "Rdata":
							a.Rdata = d.String()
						case "Type":
							a.Type = d.String()
						case "Class":
							a.Class = d.String()
						default:
							d.Skip()
						}
					}
					r.Answers = append(r.Answers, a)
				}
			}
		case "srcaddr":
			r.SrcAddr = d.String()
		case "srcport":
			if d.Peek() == jsonlog.KindString {
				if n, ok := atoi(d.String()); ok {
					r.SrcPort = n
				}
			} else {
				r.SrcPort = d.Int()
			}
		case "transport":
			r.Transport = d.String()
		case "srcids":
			if d.Object() {
				for {
					k, ok := d.Key()
					if !ok {
						break
					}
					switch k {
					case "instance":
						r.SrcIDs.Instance = d.String()
					case "resolver_endpoint":
						r.SrcIDs.ResolverEndpoint = d.String()
					case "resolver_network_interface":
						r.SrcIDs.ResolverNetworkInterface = d.String()
					default:
						d.Skip()
					}
				}
			}
		case "firewall_rule_action":
			r.FirewallRuleAction = d.String()
		case "firewall_rule_group_id":
			r.FirewallRuleGroupID = d.String()
		case "firewall_domain_list_id":
			r.FirewallDomainListID = d.String()
		case "firewall_protection":
			r.FirewallProtection = d.String()
		default:
			d.Skip()
		}
	}
	if err := d.Finish(prefix); err != nil {
		return err
	}
	if ts == "" {
		return stream.Permanentf(prefix+"_missing_field", "query_timestamp is missing or empty")
	}
	t, ok := jsonlog.ParseTime(ts)
	if !ok {
		return stream.Permanentf(prefix+"_invalid_time", "query_timestamp %q is not an RFC 3339 timestamp", ts)
	}
	r.QueryTimestamp = t
	if r.QueryName == "" {
		return stream.Permanentf(prefix+"_missing_field", "query_name is missing or empty")
	}
	return nil
}

func atoi(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

var (
	catNetwork   = []string{"network"}
	typeProtocol = []string{"protocol"}
	typeDenied   = []string{"protocol", "denied"}
)

// fill sets the common fields of ev from r.
func fill(r *Record, ev *stream.Event) {
	ev.Format = stream.FormatRoute53Resolver
	ev.Native = r
	ev.Timestamp = r.QueryTimestamp
	ev.Kind = "event"
	ev.Category = catNetwork
	ev.Type = typeProtocol
	ev.Provider = "route53resolver"
	ev.Action = "query"
	switch r.FirewallRuleAction {
	case "BLOCK":
		ev.Action, ev.Type = "block", typeDenied
	case "ALERT":
		ev.Action = "alert"
	case "ALLOW":
		ev.Action = "allow"
	}
	switch r.Rcode {
	case "NOERROR":
		ev.Outcome = "success"
	case "":
		ev.Outcome = "unknown"
	default:
		ev.Outcome = "failure"
	}
	ev.Source.Address = r.SrcAddr
	if ip, err := netip.ParseAddr(r.SrcAddr); err == nil {
		ev.Source.IP = ip.Unmap()
	}
	ev.Source.Port = int32(r.SrcPort)
	ev.DNSQuestionName = strings.TrimSuffix(r.QueryName, ".")
	ev.DNSQuestionType = r.QueryType
	ev.DNSResponseCode = r.Rcode
	switch r.Transport {
	case "UDP", "udp":
		ev.NetworkTransport, ev.NetworkIANA = "udp", 17
	case "TCP", "tcp":
		ev.NetworkTransport, ev.NetworkIANA = "tcp", 6
	}
	ev.CloudProvider = "aws"
	ev.CloudAccountID = r.AccountID
	ev.CloudRegion = r.Region
}
