package lake

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/alb"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/format/guardduty"
	"github.com/gannet-sec/gannet/stream/format/jsonlog"
	"github.com/gannet-sec/gannet/stream/format/route53resolver"
	"github.com/gannet-sec/gannet/stream/format/s3access"
	"github.com/gannet-sec/gannet/stream/format/vpcflow"
	"github.com/gannet-sec/gannet/stream/format/waf"
)

// Native columns follow the common and lineage columns of each event table.
// They hold what the common columns do not: names are the snake_case of the
// format's own field names, prefixed with the table name where they would
// collide with a common column (cloudtrail_event_type). Sub-objects whose
// shape varies are JSON documents. Append only, as for commonColumns.

// native adapts a put function on the format's record; rows whose Native is
// not of that type get null.
func native[R any](name string, typ Type, since int, dict bool, put func(r *R, b *colBuf)) col[evRow] {
	return c(name, typ, since, dict, func(e *evRow, b *colBuf) {
		r, _ := any(e.Native).(*R)
		if r == nil {
			b.null()
			return
		}
		put(r, b)
	})
}

// jsonValue appends v encoded as JSON, or nothing for a nil or empty value.
func (b *colBuf) jsonValue(v any, empty bool) {
	if empty {
		b.null()
		return
	}
	p, err := json.Marshal(v)
	if err != nil || string(p) == "null" {
		b.null()
		return
	}
	b.bytes(p)
}

func (b *colBuf) addr(a netip.Addr) { b.ip(a) }

func (b *colBuf) tsv(t time.Time) { b.ts(t) }

// nativeColumns returns the format's own columns, in file order (append only).
func nativeColumns(f stream.Format) []col[evRow] {
	switch f {
	case stream.FormatCloudTrail:
		return cloudtrailColumns
	case stream.FormatALB:
		return albColumns
	case stream.FormatVPCFlow:
		return vpcflowColumns
	case stream.FormatWAF:
		return wafColumns
	case stream.FormatRoute53Resolver:
		return route53Columns
	case stream.FormatS3Access:
		return s3accessColumns
	case stream.FormatGuardDuty:
		return guarddutyColumns
	case stream.FormatJSON:
		return jsonColumns
	}
	return nil
}

type ctR = cloudtrail.Record

var cloudtrailColumns = []col[evRow]{
	native("event_version", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.EventVersion) }),
	native("user_identity_type", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.UserIdentity.Type) }),
	native("user_identity_principal_id", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.UserIdentity.PrincipalID) }),
	native("user_identity_arn", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.UserIdentity.ARN) }),
	native("user_identity_account_id", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.UserIdentity.AccountID) }),
	native("user_identity_access_key_id", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.UserIdentity.AccessKeyID) }),
	native("user_identity_user_name", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.UserIdentity.UserName) }),
	native("user_identity_invoked_by", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.UserIdentity.InvokedBy) }),
	native("session_issuer_type", String, 1, dict, func(r *ctR, b *colBuf) {
		if sc := r.UserIdentity.SessionContext; sc != nil && sc.SessionIssuer != nil {
			b.str(sc.SessionIssuer.Type)
			return
		}
		b.null()
	}),
	native("session_issuer_arn", String, 1, dict, func(r *ctR, b *colBuf) {
		if sc := r.UserIdentity.SessionContext; sc != nil && sc.SessionIssuer != nil {
			b.str(sc.SessionIssuer.ARN)
			return
		}
		b.null()
	}),
	native("session_mfa_authenticated", String, 1, dict, func(r *ctR, b *colBuf) {
		if sc := r.UserIdentity.SessionContext; sc != nil {
			b.str(sc.Attributes.MFAAuthenticated)
			return
		}
		b.null()
	}),
	native("session_creation_date", String, 1, noDict, func(r *ctR, b *colBuf) {
		if sc := r.UserIdentity.SessionContext; sc != nil {
			b.str(sc.Attributes.CreationDate)
			return
		}
		b.null()
	}),
	native("request_parameters", JSON, 1, noDict, func(r *ctR, b *colBuf) { b.str(r.RequestParameters) }),
	native("response_elements", JSON, 1, noDict, func(r *ctR, b *colBuf) { b.str(r.ResponseElements) }),
	native("additional_event_data", JSON, 1, noDict, func(r *ctR, b *colBuf) { b.str(r.AdditionalEventData) }),
	native("request_id", String, 1, noDict, func(r *ctR, b *colBuf) { b.str(r.RequestID) }),
	native("cloudtrail_event_id", String, 1, noDict, func(r *ctR, b *colBuf) { b.str(r.EventID) }),
	native("cloudtrail_event_type", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.EventType) }),
	native("api_version", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.APIVersion) }),
	native("management_event", Bool, 1, noDict, func(r *ctR, b *colBuf) { b.boolv(r.ManagementEvent, true) }),
	native("read_only", Bool, 1, noDict, func(r *ctR, b *colBuf) { b.boolv(r.ReadOnly, true) }),
	native("resources", JSON, 1, noDict, func(r *ctR, b *colBuf) {
		if len(r.Resources) == 0 {
			b.null()
			return
		}
		b.scratch = appendResourcesJSON(b.scratch[:0], r.Resources)
		b.bytes(b.scratch)
	}),
	native("recipient_account_id", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.RecipientAccountID) }),
	native("service_event_details", JSON, 1, noDict, func(r *ctR, b *colBuf) { b.str(r.ServiceEventDetails) }),
	native("shared_event_id", String, 1, noDict, func(r *ctR, b *colBuf) { b.str(r.SharedEventID) }),
	native("vpc_endpoint_id", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.VPCEndpointID) }),
	native("cloudtrail_event_category", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.EventCategory) }),
	native("tls_version", String, 1, dict, func(r *ctR, b *colBuf) {
		if r.TLSDetails != nil {
			b.str(r.TLSDetails.TLSVersion)
			return
		}
		b.null()
	}),
	native("tls_cipher_suite", String, 1, dict, func(r *ctR, b *colBuf) {
		if r.TLSDetails != nil {
			b.str(r.TLSDetails.CipherSuite)
			return
		}
		b.null()
	}),
	native("tls_client_provided_host_header", String, 1, dict, func(r *ctR, b *colBuf) {
		if r.TLSDetails != nil {
			b.str(r.TLSDetails.ClientProvidedHostHeader)
			return
		}
		b.null()
	}),
	native("session_credential_from_console", String, 1, dict, func(r *ctR, b *colBuf) { b.str(r.SessionCredentialFromConsole) }),
	native("edge_device_details", JSON, 1, noDict, func(r *ctR, b *colBuf) { b.str(r.EdgeDeviceDetails) }),
	native("insight_details", JSON, 1, noDict, func(r *ctR, b *colBuf) { b.jsonValue(r.InsightDetails, r.InsightDetails == nil) }),
	native("event_context", JSON, 1, noDict, func(r *ctR, b *colBuf) { b.str(r.EventContext) }),
	native("addendum", JSON, 1, noDict, func(r *ctR, b *colBuf) { b.jsonValue(r.Addendum, r.Addendum == nil) }),
}

type albR = alb.Record

var albColumns = []col[evRow]{
	native("type", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.Type) }),
	native("elb", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.ELB) }),
	native("client_ip", String, 1, dict, func(r *albR, b *colBuf) { b.addr(r.ClientIP) }),
	native("client_port", Int32, 1, noDict, func(r *albR, b *colBuf) { b.nz32(r.ClientPort) }),
	native("target_ip", String, 1, dict, func(r *albR, b *colBuf) { b.addr(r.TargetIP) }),
	native("target_port", Int32, 1, noDict, func(r *albR, b *colBuf) { b.nz32(r.TargetPort) }),
	native("request_processing_time", Float64, 1, noDict, func(r *albR, b *colBuf) { b.f64v(r.RequestProcessingTime, r.RequestProcessingTime >= 0) }),
	native("target_processing_time", Float64, 1, noDict, func(r *albR, b *colBuf) { b.f64v(r.TargetProcessingTime, r.TargetProcessingTime >= 0) }),
	native("response_processing_time", Float64, 1, noDict, func(r *albR, b *colBuf) { b.f64v(r.ResponseProcessingTime, r.ResponseProcessingTime >= 0) }),
	native("elb_status_code", Int32, 1, noDict, func(r *albR, b *colBuf) { b.nz32(r.ELBStatusCode) }),
	native("target_status_code", Int32, 1, noDict, func(r *albR, b *colBuf) { b.nz32(r.TargetStatusCode) }),
	native("received_bytes", Int64, 1, noDict, func(r *albR, b *colBuf) { b.i64v(r.ReceivedBytes, true) }),
	native("sent_bytes", Int64, 1, noDict, func(r *albR, b *colBuf) { b.i64v(r.SentBytes, true) }),
	native("request", String, 1, noDict, func(r *albR, b *colBuf) { b.str(r.Request) }),
	native("request_method", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.RequestMethod) }),
	native("request_url", String, 1, noDict, func(r *albR, b *colBuf) { b.str(r.RequestURL) }),
	native("request_protocol", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.RequestProtocol) }),
	native("alb_user_agent", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.UserAgent) }),
	native("ssl_cipher", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.SSLCipher) }),
	native("ssl_protocol", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.SSLProtocol) }),
	native("target_group_arn", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.TargetGroupARN) }),
	native("trace_id", String, 1, noDict, func(r *albR, b *colBuf) { b.str(r.TraceID) }),
	native("domain_name", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.DomainName) }),
	native("chosen_cert_arn", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.ChosenCertARN) }),
	native("matched_rule_priority", Int32, 1, noDict, func(r *albR, b *colBuf) { b.i32v(r.MatchedRulePriority, r.MatchedRulePriority >= 0) }),
	native("request_creation_time", Timestamp, 1, noDict, func(r *albR, b *colBuf) { b.tsv(r.RequestCreationTime) }),
	native("actions_executed", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.ActionsExecuted) }),
	native("redirect_url", String, 1, noDict, func(r *albR, b *colBuf) { b.str(r.RedirectURL) }),
	native("error_reason", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.ErrorReason) }),
	native("target_port_list", String, 1, noDict, func(r *albR, b *colBuf) { b.str(r.TargetPortList) }),
	native("target_status_code_list", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.TargetStatusCodeList) }),
	native("classification", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.Classification) }),
	native("classification_reason", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.ClassificationReason) }),
	native("conn_trace_id", String, 1, noDict, func(r *albR, b *colBuf) { b.str(r.ConnTraceID) }),
	native("transformed_host", String, 1, noDict, func(r *albR, b *colBuf) { b.str(r.TransformedHost) }),
	native("transformed_uri", String, 1, noDict, func(r *albR, b *colBuf) { b.str(r.TransformedURI) }),
	native("request_transform_status", String, 1, dict, func(r *albR, b *colBuf) { b.str(r.RequestTransformStatus) }),
	native("extra", String, 1, noDict, func(r *albR, b *colBuf) { b.str(r.Extra) }),
}

type vpcR = vpcflow.Record

// vpcInt32 stores the field only when the log line carried it.
func vpcInt32(f vpcflow.Field, get func(*vpcR) int32) func(*vpcR, *colBuf) {
	return func(r *vpcR, b *colBuf) { b.i32v(get(r), r.Present.Has(f)) }
}

func vpcInt64(f vpcflow.Field, get func(*vpcR) int64) func(*vpcR, *colBuf) {
	return func(r *vpcR, b *colBuf) { b.i64v(get(r), r.Present.Has(f)) }
}

var vpcflowColumns = []col[evRow]{
	native("version", Int32, 1, noDict, vpcInt32(vpcflow.FieldVersion, func(r *vpcR) int32 { return r.Version })),
	native("account_id", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.AccountID) }),
	native("interface_id", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.InterfaceID) }),
	native("srcaddr", String, 1, dict, func(r *vpcR, b *colBuf) { b.addr(r.SrcAddr) }),
	native("dstaddr", String, 1, dict, func(r *vpcR, b *colBuf) { b.addr(r.DstAddr) }),
	native("srcport", Int32, 1, noDict, vpcInt32(vpcflow.FieldSrcPort, func(r *vpcR) int32 { return r.SrcPort })),
	native("dstport", Int32, 1, noDict, vpcInt32(vpcflow.FieldDstPort, func(r *vpcR) int32 { return r.DstPort })),
	native("protocol", Int32, 1, noDict, vpcInt32(vpcflow.FieldProtocol, func(r *vpcR) int32 { return r.Protocol })),
	native("packets", Int64, 1, noDict, vpcInt64(vpcflow.FieldPackets, func(r *vpcR) int64 { return r.Packets })),
	native("bytes", Int64, 1, noDict, vpcInt64(vpcflow.FieldBytes, func(r *vpcR) int64 { return r.Bytes })),
	native("start_time", Timestamp, 1, noDict, func(r *vpcR, b *colBuf) { b.tsv(r.Start) }),
	native("end_time", Timestamp, 1, noDict, func(r *vpcR, b *colBuf) { b.tsv(r.End) }),
	native("action", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.Action) }),
	native("log_status", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.LogStatus) }),
	native("vpc_id", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.VPCID) }),
	native("subnet_id", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.SubnetID) }),
	native("instance_id", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.InstanceID) }),
	native("tcp_flags", Int32, 1, noDict, vpcInt32(vpcflow.FieldTCPFlags, func(r *vpcR) int32 { return r.TCPFlags })),
	native("type", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.Type) }),
	native("pkt_srcaddr", String, 1, dict, func(r *vpcR, b *colBuf) { b.addr(r.PktSrcAddr) }),
	native("pkt_dstaddr", String, 1, dict, func(r *vpcR, b *colBuf) { b.addr(r.PktDstAddr) }),
	native("region", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.Region) }),
	native("az_id", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.AZID) }),
	native("sublocation_type", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.SublocationType) }),
	native("sublocation_id", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.SublocationID) }),
	native("pkt_src_aws_service", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.PktSrcAWSService) }),
	native("pkt_dst_aws_service", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.PktDstAWSService) }),
	native("flow_direction", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.FlowDirection) }),
	native("traffic_path", Int32, 1, noDict, vpcInt32(vpcflow.FieldTrafficPath, func(r *vpcR) int32 { return r.TrafficPath })),
	native("ecs_cluster_arn", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.ECSClusterARN) }),
	native("ecs_cluster_name", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.ECSClusterName) }),
	native("ecs_container_instance_arn", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.ECSContainerInstanceARN) }),
	native("ecs_container_instance_id", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.ECSContainerInstanceID) }),
	native("ecs_container_id", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.ECSContainerID) }),
	native("ecs_second_container_id", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.ECSSecondContainerID) }),
	native("ecs_service_name", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.ECSServiceName) }),
	native("ecs_task_definition_arn", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.ECSTaskDefinitionARN) }),
	native("ecs_task_arn", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.ECSTaskARN) }),
	native("ecs_task_id", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.ECSTaskID) }),
	native("reject_reason", String, 1, dict, func(r *vpcR, b *colBuf) { b.str(r.RejectReason) }),
}

type wafR = waf.Record

var wafColumns = []col[evRow]{
	native("format_version", Int64, 1, noDict, func(r *wafR, b *colBuf) { b.i64v(r.FormatVersion, true) }),
	native("webacl_id", String, 1, dict, func(r *wafR, b *colBuf) { b.str(r.WebACLID) }),
	native("terminating_rule_id", String, 1, dict, func(r *wafR, b *colBuf) { b.str(r.TerminatingRuleID) }),
	native("terminating_rule_type", String, 1, dict, func(r *wafR, b *colBuf) { b.str(r.TerminatingRuleType) }),
	native("action", String, 1, dict, func(r *wafR, b *colBuf) { b.str(r.Action) }),
	native("terminating_rule_match_details", JSON, 1, noDict, func(r *wafR, b *colBuf) {
		b.jsonValue(r.TerminatingRuleMatchDetails, len(r.TerminatingRuleMatchDetails) == 0)
	}),
	native("http_source_name", String, 1, dict, func(r *wafR, b *colBuf) { b.str(r.HTTPSourceName) }),
	native("http_source_id", String, 1, dict, func(r *wafR, b *colBuf) { b.str(r.HTTPSourceID) }),
	native("rule_group_list", JSON, 1, noDict, func(r *wafR, b *colBuf) { b.jsonValue(r.RuleGroupList, len(r.RuleGroupList) == 0) }),
	native("rate_based_rule_list", JSON, 1, noDict, func(r *wafR, b *colBuf) { b.jsonValue(r.RateBasedRuleList, len(r.RateBasedRuleList) == 0) }),
	native("non_terminating_matching_rules", JSON, 1, noDict, func(r *wafR, b *colBuf) {
		b.jsonValue(r.NonTerminatingMatchingRules, len(r.NonTerminatingMatchingRules) == 0)
	}),
	native("request_headers_inserted", JSON, 1, noDict, func(r *wafR, b *colBuf) {
		b.jsonValue(r.RequestHeadersInserted, len(r.RequestHeadersInserted) == 0)
	}),
	native("response_code_sent", Int64, 1, noDict, func(r *wafR, b *colBuf) { b.nz64(r.ResponseCodeSent) }),
	native("client_ip", String, 1, dict, func(r *wafR, b *colBuf) { b.str(r.HTTPRequest.ClientIP) }),
	native("country", String, 1, dict, func(r *wafR, b *colBuf) { b.str(r.HTTPRequest.Country) }),
	native("headers", JSON, 1, noDict, func(r *wafR, b *colBuf) {
		b.jsonValue(r.HTTPRequest.Headers, len(r.HTTPRequest.Headers) == 0)
	}),
	native("uri", String, 1, noDict, func(r *wafR, b *colBuf) { b.str(r.HTTPRequest.URI) }),
	native("args", String, 1, noDict, func(r *wafR, b *colBuf) { b.str(r.HTTPRequest.Args) }),
	native("request_id", String, 1, noDict, func(r *wafR, b *colBuf) { b.str(r.HTTPRequest.RequestID) }),
	native("host", String, 1, dict, func(r *wafR, b *colBuf) { b.str(r.HTTPRequest.Host) }),
	native("labels", JSON, 1, noDict, func(r *wafR, b *colBuf) { b.jsonValue(r.Labels, len(r.Labels) == 0) }),
	native("ja3_fingerprint", String, 1, dict, func(r *wafR, b *colBuf) { b.str(r.JA3Fingerprint) }),
	native("ja4_fingerprint", String, 1, dict, func(r *wafR, b *colBuf) { b.str(r.JA4Fingerprint) }),
	native("request_body_size", Int64, 1, noDict, func(r *wafR, b *colBuf) { b.nz64(r.RequestBodySize) }),
	native("client_asn", Int64, 1, noDict, func(r *wafR, b *colBuf) { b.nz64(r.ClientASN) }),
}

type r53R = route53resolver.Record

var route53Columns = []col[evRow]{
	native("version", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.Version) }),
	native("account_id", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.AccountID) }),
	native("region", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.Region) }),
	native("vpc_id", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.VPCID) }),
	native("query_timestamp", Timestamp, 1, noDict, func(r *r53R, b *colBuf) { b.tsv(r.QueryTimestamp) }),
	native("query_name", String, 1, noDict, func(r *r53R, b *colBuf) { b.str(r.QueryName) }),
	native("query_type", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.QueryType) }),
	native("query_class", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.QueryClass) }),
	native("rcode", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.Rcode) }),
	native("answers", JSON, 1, noDict, func(r *r53R, b *colBuf) { b.jsonValue(r.Answers, len(r.Answers) == 0) }),
	native("srcaddr", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.SrcAddr) }),
	native("srcport", Int64, 1, noDict, func(r *r53R, b *colBuf) { b.nz64(r.SrcPort) }),
	native("transport", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.Transport) }),
	native("srcids_instance", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.SrcIDs.Instance) }),
	native("srcids_resolver_endpoint", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.SrcIDs.ResolverEndpoint) }),
	native("srcids_resolver_network_interface", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.SrcIDs.ResolverNetworkInterface) }),
	native("firewall_rule_action", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.FirewallRuleAction) }),
	native("firewall_rule_group_id", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.FirewallRuleGroupID) }),
	native("firewall_domain_list_id", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.FirewallDomainListID) }),
	native("firewall_protection", String, 1, dict, func(r *r53R, b *colBuf) { b.str(r.FirewallProtection) }),
}

type s3R = s3access.Record

var s3accessColumns = []col[evRow]{
	native("bucket_owner", String, 1, dict, func(r *s3R, b *colBuf) { b.str(r.BucketOwner) }),
	native("bucket", String, 1, dict, func(r *s3R, b *colBuf) { b.str(r.Bucket) }),
	native("remote_ip", String, 1, dict, func(r *s3R, b *colBuf) { b.addr(r.RemoteIP) }),
	native("requester", String, 1, dict, func(r *s3R, b *colBuf) { b.str(r.Requester) }),
	native("request_id", String, 1, noDict, func(r *s3R, b *colBuf) { b.str(r.RequestID) }),
	native("operation", String, 1, dict, func(r *s3R, b *colBuf) { b.str(r.Operation) }),
	native("key", String, 1, noDict, func(r *s3R, b *colBuf) { b.str(r.Key) }),
	native("request_uri", String, 1, noDict, func(r *s3R, b *colBuf) { b.str(r.RequestURI) }),
	native("http_status", Int32, 1, noDict, func(r *s3R, b *colBuf) { b.nz32(r.HTTPStatus) }),
	native("s3_error_code", String, 1, dict, func(r *s3R, b *colBuf) { b.str(r.ErrorCode) }),
	native("bytes_sent", Int64, 1, noDict, func(r *s3R, b *colBuf) { b.i64v(r.BytesSent, true) }),
	native("object_size", Int64, 1, noDict, func(r *s3R, b *colBuf) { b.nz64(r.ObjectSize) }),
	native("total_time", Int64, 1, noDict, func(r *s3R, b *colBuf) { b.i64v(r.TotalTime, true) }),
	native("turn_around_time", Int64, 1, noDict, func(r *s3R, b *colBuf) { b.i64v(r.TurnAroundTime, true) }),
	native("referer", String, 1, noDict, func(r *s3R, b *colBuf) { b.str(r.Referer) }),
	native("version_id", String, 1, noDict, func(r *s3R, b *colBuf) { b.str(r.VersionID) }),
	native("host_id", String, 1, noDict, func(r *s3R, b *colBuf) { b.str(r.HostID) }),
	native("signature_version", String, 1, dict, func(r *s3R, b *colBuf) { b.str(r.SignatureVersion) }),
	native("cipher_suite", String, 1, dict, func(r *s3R, b *colBuf) { b.str(r.CipherSuite) }),
	native("authentication_type", String, 1, dict, func(r *s3R, b *colBuf) { b.str(r.AuthenticationType) }),
	native("host_header", String, 1, dict, func(r *s3R, b *colBuf) { b.str(r.HostHeader) }),
	native("tls_version", String, 1, dict, func(r *s3R, b *colBuf) { b.str(r.TLSVersion) }),
	native("access_point_arn", String, 1, dict, func(r *s3R, b *colBuf) { b.str(r.AccessPointARN) }),
	native("acl_required", Bool, 1, noDict, func(r *s3R, b *colBuf) { b.boolv(r.ACLRequired, true) }),
	native("extra", String, 1, noDict, func(r *s3R, b *colBuf) { b.str(r.Extra) }),
}

type gdR = guardduty.Record

var guarddutyColumns = []col[evRow]{
	native("finding_id", String, 1, noDict, func(r *gdR, b *colBuf) { b.str(r.Detail.ID) }),
	native("finding_arn", String, 1, noDict, func(r *gdR, b *colBuf) { b.str(r.Detail.ARN) }),
	native("finding_type", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Type) }),
	native("schema_version", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.SchemaVersion) }),
	native("account_id", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.AccountID) }),
	native("region", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Region) }),
	native("partition", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Partition) }),
	native("severity_score", Float64, 1, noDict, func(r *gdR, b *colBuf) { b.f64v(r.Detail.Severity, true) }),
	native("confidence", Float64, 1, noDict, func(r *gdR, b *colBuf) { b.f64v(r.Detail.Confidence, r.Detail.Confidence != 0) }),
	native("created_at", Timestamp, 1, noDict, func(r *gdR, b *colBuf) { b.tsv(r.Detail.CreatedAt) }),
	native("updated_at", Timestamp, 1, noDict, func(r *gdR, b *colBuf) { b.tsv(r.Detail.UpdatedAt) }),
	native("title", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Title) }),
	native("description", String, 1, noDict, func(r *gdR, b *colBuf) { b.str(r.Detail.Description) }),
	native("resource_type", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Resource.ResourceType) }),
	native("resource_instance_id", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Resource.InstanceID) }),
	native("resource_access_key_id", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Resource.AccessKeyID) }),
	native("resource_user_name", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Resource.UserName) }),
	native("resource", JSON, 1, noDict, func(r *gdR, b *colBuf) { b.str(r.Detail.Resource.Raw) }),
	native("service_name", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.ServiceName) }),
	native("detector_id", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.DetectorID) }),
	native("archived", Bool, 1, noDict, func(r *gdR, b *colBuf) { b.boolv(r.Detail.Service.Archived, true) }),
	native("count", Int64, 1, noDict, func(r *gdR, b *colBuf) { b.nz64(r.Detail.Service.Count) }),
	native("event_first_seen", Timestamp, 1, noDict, func(r *gdR, b *colBuf) { b.tsv(r.Detail.Service.EventFirstSeen) }),
	native("event_last_seen", Timestamp, 1, noDict, func(r *gdR, b *colBuf) { b.tsv(r.Detail.Service.EventLastSeen) }),
	native("resource_role", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.ResourceRole) }),
	native("action_type", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.ActionType) }),
	native("remote_ip", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.RemoteIP) }),
	native("remote_country", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.RemoteCountry) }),
	native("remote_org", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.RemoteOrg) }),
	native("connection_direction", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.ConnectionDirection) }),
	native("protocol", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.Protocol) }),
	native("local_port", Int64, 1, noDict, func(r *gdR, b *colBuf) { b.nz64(r.Detail.Service.LocalPort) }),
	native("remote_port", Int64, 1, noDict, func(r *gdR, b *colBuf) { b.nz64(r.Detail.Service.RemotePort) }),
	native("api", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.API) }),
	native("api_service_name", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.APIServiceName) }),
	native("domain", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.Domain) }),
	native("service", JSON, 1, noDict, func(r *gdR, b *colBuf) { b.str(r.Detail.Service.Raw) }),
	native("eventbridge_id", String, 1, noDict, func(r *gdR, b *colBuf) { b.str(r.ID) }),
	native("eventbridge_detail_type", String, 1, dict, func(r *gdR, b *colBuf) { b.str(r.DetailType) }),
}

type jsonR = jsonlog.Record

var jsonColumns = []col[evRow]{
	native("object", JSON, 1, noDict, func(r *jsonR, b *colBuf) { b.str(r.Object) }),
	native("time_key", String, 1, dict, func(r *jsonR, b *colBuf) { b.str(r.TimeKey) }),
	native("level", String, 1, dict, func(r *jsonR, b *colBuf) { b.str(r.Level) }),
}

// appendResourcesJSON appends CloudTrail resources as a JSON array.
func appendResourcesJSON(p []byte, rs []cloudtrail.Resource) []byte {
	p = append(p, '[')
	for i := range rs {
		res := &rs[i]
		if i > 0 {
			p = append(p, ',')
		}
		p = append(p, '{')
		first := true
		for _, kv := range [3][2]string{{"ARN", res.ARN}, {"accountId", res.AccountID}, {"type", res.Type}} {
			if kv[1] != "" {
				p = appendJSONField(p, first, kv[0], kv[1])
				first = false
			}
		}
		p = append(p, '}')
	}
	return append(p, ']')
}
