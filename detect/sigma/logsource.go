package sigma

import "github.com/gannet-sec/gannet/stream"

// LogsourceFormats maps a Sigma logsource to the Gannet formats whose
// events the rule applies to; nil when none does.
//
//	product aws, service cloudtrail            → cloudtrail
//	product aws, service alb | elb             → alb
//	product aws, service waf                   → waf
//	product aws, service vpcflow | vpc_flow    → vpcflow
//	product aws, service route53 | route53resolver | dns → route53resolver
//	product aws, service s3 | s3access | s3_access → s3access
//	product aws, service guardduty             → guardduty
//	category webserver                         → alb, waf
//	category dns                               → route53resolver
//	category firewall | network_connection     → vpcflow
//	product aws alone                          → every AWS format
//	product json (Gannet)                      → json
func LogsourceFormats(ls Logsource) []stream.Format {
	switch ls.Category {
	case "webserver":
		return []stream.Format{stream.FormatALB, stream.FormatWAF}
	case "dns":
		return []stream.Format{stream.FormatRoute53Resolver}
	case "firewall", "network_connection":
		return []stream.Format{stream.FormatVPCFlow}
	case "":
	default:
		return nil
	}
	switch ls.Product {
	case "aws":
		switch ls.Service {
		case "cloudtrail":
			return []stream.Format{stream.FormatCloudTrail}
		case "alb", "elb":
			return []stream.Format{stream.FormatALB}
		case "waf":
			return []stream.Format{stream.FormatWAF}
		case "vpcflow", "vpc_flow", "vpcflowlogs":
			return []stream.Format{stream.FormatVPCFlow}
		case "route53", "route53resolver", "dns":
			return []stream.Format{stream.FormatRoute53Resolver}
		case "s3", "s3access", "s3_access":
			return []stream.Format{stream.FormatS3Access}
		case "guardduty":
			return []stream.Format{stream.FormatGuardDuty}
		case "":
			var out []stream.Format
			for _, f := range stream.Formats() {
				if f != stream.FormatJSON {
					out = append(out, f)
				}
			}
			return out
		}
	case "json":
		return []stream.Format{stream.FormatJSON}
	}
	return nil
}
