package elastic

import (
	"net/netip"
	"strconv"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/alb"
	"github.com/gannet-sec/gannet/stream/format/s3access"
	"github.com/gannet-sec/gannet/stream/format/vpcflow"
)

// Typed native objects of the text formats: aws.alb, aws.vpcflow and
// aws.s3access, written from the parser's typed record (Event.Native). Field
// names follow the Elastic AWS integration (aws.elb.*, aws.vpcflow.*,
// aws.s3access.*) where it has one; FIELDS.md lists every field and where
// each record field lands. Absent values are left out, never written as
// zero, so that range queries and aggregations see only what was logged.
// The mappings are in nativeMappings (template.go); TestNativeFieldsMapped
// checks that every field written here is mapped explicitly.

// appendTypedNative appends the `"aws":{"<format>":{…}}` member for an
// event of a text format whose typed record is at hand; ok is false when
// there is none (other formats, or an event built without its record).
func appendTypedNative(dst []byte, ev *stream.Event) ([]byte, bool) {
	switch r := ev.Native.(type) {
	case *alb.Record:
		if r == nil || ev.Format != stream.FormatALB {
			return dst, false
		}
		dst = append(key(dst, `"aws":`), `{"alb":{`...)
		dst = appendALB(dst, r)
	case *vpcflow.Record:
		if r == nil || ev.Format != stream.FormatVPCFlow {
			return dst, false
		}
		dst = append(key(dst, `"aws":`), `{"vpcflow":{`...)
		dst = appendVPCFlow(dst, r)
	case *s3access.Record:
		if r == nil || ev.Format != stream.FormatS3Access {
			return dst, false
		}
		dst = append(key(dst, `"aws":`), `{"s3access":{`...)
		dst = appendS3Access(dst, r)
	default:
		return dst, false
	}
	return append(dst, "}}"...), true
}

// appendALB writes the members of aws.alb. The ECS fields already hold the
// client (source.*), the target (destination.*), the ELB status code, bytes,
// method, URL, protocol, user agent and error reason.
func appendALB(dst []byte, r *alb.Record) []byte {
	dst = strField(dst, `"type":`, r.Type)
	dst = strField(dst, `"name":`, r.ELB)
	dst = secondsField(dst, `"request_processing_time":`, r.RequestProcessingTime)
	dst = secondsField(dst, `"backend_processing_time":`, r.TargetProcessingTime)
	dst = secondsField(dst, `"response_processing_time":`, r.ResponseProcessingTime)
	if r.TargetStatusCode != 0 {
		dst = append(key(dst, `"backend":`), `{"http":{"response":{"status_code":`...)
		dst = append(strconv.AppendInt(dst, int64(r.TargetStatusCode), 10), "}}}"...)
	}
	dst = splitList(dst, `"target_status_code":`, r.TargetStatusCodeList, ' ')
	dst = splitList(dst, `"target_port":`, r.TargetPortList, ' ')
	dst = strField(dst, `"ssl_cipher":`, r.SSLCipher)
	dst = strField(dst, `"ssl_protocol":`, r.SSLProtocol)
	if r.TargetGroupARN != "" {
		dst = append(key(dst, `"target_group":`), `{"arn":`...)
		dst = append(appendString(dst, r.TargetGroupARN), '}')
	}
	dst = strField(dst, `"trace_id":`, r.TraceID)
	dst = strField(dst, `"domain_name":`, r.DomainName)
	if r.ChosenCertARN != "" {
		dst = append(key(dst, `"chosen_cert":`), `{"arn":`...)
		dst = append(appendString(dst, r.ChosenCertARN), '}')
	}
	if r.MatchedRulePriority >= 0 {
		dst = strconv.AppendInt(key(dst, `"matched_rule_priority":`), int64(r.MatchedRulePriority), 10)
	}
	dst = timeField(dst, `"request_creation_time":`, r.RequestCreationTime)
	dst = splitList(dst, `"action_executed":`, r.ActionsExecuted, ',')
	dst = strField(dst, `"redirect_url":`, r.RedirectURL)
	dst = strField(dst, `"classification":`, r.Classification)
	dst = strField(dst, `"classification_reason":`, r.ClassificationReason)
	dst = strField(dst, `"conn_trace_id":`, r.ConnTraceID)
	dst = strField(dst, `"transformed_host":`, r.TransformedHost)
	dst = strField(dst, `"transformed_uri":`, r.TransformedURI)
	dst = strField(dst, `"request_transform_status":`, r.RequestTransformStatus)
	return strField(dst, `"extra":`, r.Extra)
}

// appendVPCFlow writes the members of aws.vpcflow. The ECS fields already
// hold the addresses and ports (source.*, destination.*), protocol, packets,
// bytes, region and flow direction. Numbers are written when the line
// carried them (Record.Present), so a logged 0 is kept and an absent value
// is left out.
func appendVPCFlow(dst []byte, r *vpcflow.Record) []byte {
	p := r.Present
	if p.Has(vpcflow.FieldVersion) {
		dst = strconv.AppendInt(key(dst, `"version":`), int64(r.Version), 10)
	}
	dst = strField(dst, `"account_id":`, r.AccountID)
	dst = strField(dst, `"interface_id":`, r.InterfaceID)
	dst = strField(dst, `"action":`, r.Action)
	dst = strField(dst, `"log_status":`, r.LogStatus)
	dst = timeField(dst, `"start":`, r.Start)
	dst = timeField(dst, `"end":`, r.End)
	dst = strField(dst, `"vpc_id":`, r.VPCID)
	dst = strField(dst, `"subnet_id":`, r.SubnetID)
	dst = strField(dst, `"instance_id":`, r.InstanceID)
	if p.Has(vpcflow.FieldTCPFlags) {
		dst = strconv.AppendInt(key(dst, `"tcp_flags":`), int64(r.TCPFlags), 10)
		dst = tcpFlagsArray(dst, r.TCPFlags)
	}
	dst = strField(dst, `"type":`, r.Type)
	dst = ipField(dst, `"pkt_srcaddr":`, r.PktSrcAddr)
	dst = ipField(dst, `"pkt_dstaddr":`, r.PktDstAddr)
	dst = strField(dst, `"az_id":`, r.AZID)
	dst = strField(dst, `"sublocation_type":`, r.SublocationType)
	dst = strField(dst, `"sublocation_id":`, r.SublocationID)
	dst = strField(dst, `"pkt_src_service":`, r.PktSrcAWSService)
	dst = strField(dst, `"pkt_dst_service":`, r.PktDstAWSService)
	if p.Has(vpcflow.FieldTrafficPath) {
		dst = strconv.AppendInt(key(dst, `"traffic_path":`), int64(r.TrafficPath), 10)
	}
	dst = strField(dst, `"ecs_cluster_arn":`, r.ECSClusterARN)
	dst = strField(dst, `"ecs_cluster_name":`, r.ECSClusterName)
	dst = strField(dst, `"ecs_container_instance_arn":`, r.ECSContainerInstanceARN)
	dst = strField(dst, `"ecs_container_instance_id":`, r.ECSContainerInstanceID)
	dst = strField(dst, `"ecs_container_id":`, r.ECSContainerID)
	dst = strField(dst, `"ecs_second_container_id":`, r.ECSSecondContainerID)
	dst = strField(dst, `"ecs_service_name":`, r.ECSServiceName)
	dst = strField(dst, `"ecs_task_definition_arn":`, r.ECSTaskDefinitionARN)
	dst = strField(dst, `"ecs_task_arn":`, r.ECSTaskARN)
	dst = strField(dst, `"ecs_task_id":`, r.ECSTaskID)
	return strField(dst, `"reject_reason":`, r.RejectReason)
}

// tcpFlagNames are the TCP flags of the tcp-flags bit mask, as the Elastic
// integration's aws.vpcflow.tcp_flags_array names them.
var tcpFlagNames = [...]string{"fin", "syn", "rst", "psh", "ack", "urg"}

// tcpFlagsArray writes aws.vpcflow.tcp_flags_array: the flags set in the
// mask, with SYN and ACK together (18) named "syn-ack" as VPC Flow Logs
// documents it.
func tcpFlagsArray(dst []byte, flags int32) []byte {
	if flags <= 0 {
		return dst
	}
	dst = append(key(dst, `"tcp_flags_array":`), '[')
	n := 0
	name := func(s string) {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(append(append(dst, '"'), s...), '"')
		n++
	}
	synAck := flags&0x12 == 0x12
	for i, s := range tcpFlagNames {
		if flags&(1<<i) == 0 || synAck && (i == 1 || i == 4) {
			continue
		}
		name(s)
	}
	if synAck {
		name("syn-ack")
	}
	return append(dst, ']')
}

// appendS3Access writes the members of aws.s3access, named as in the
// Elastic integration. source.ip, user_agent.original, http.request.method,
// url.* and http.version hold the rest.
func appendS3Access(dst []byte, r *s3access.Record) []byte {
	dst = strField(dst, `"bucket_owner":`, r.BucketOwner)
	dst = strField(dst, `"bucket":`, r.Bucket)
	dst = strField(dst, `"requester":`, r.Requester)
	dst = strField(dst, `"request_id":`, r.RequestID)
	dst = strField(dst, `"operation":`, r.Operation)
	dst = strField(dst, `"key":`, r.Key)
	dst = strField(dst, `"request_uri":`, r.RequestURI)
	dst = intField(dst, `"http_status":`, int64(r.HTTPStatus))
	dst = strField(dst, `"error_code":`, r.ErrorCode)
	dst = strconv.AppendInt(key(dst, `"bytes_sent":`), r.BytesSent, 10)
	dst = intField(dst, `"object_size":`, r.ObjectSize)
	dst = strconv.AppendInt(key(dst, `"total_time":`), r.TotalTime, 10)
	dst = strconv.AppendInt(key(dst, `"turn_around_time":`), r.TurnAroundTime, 10)
	dst = strField(dst, `"referrer":`, r.Referer)
	dst = strField(dst, `"version_id":`, r.VersionID)
	dst = strField(dst, `"host_id":`, r.HostID)
	dst = strField(dst, `"signature_version":`, r.SignatureVersion)
	dst = strField(dst, `"cipher_suite":`, r.CipherSuite)
	dst = strField(dst, `"authentication_type":`, r.AuthenticationType)
	dst = strField(dst, `"host_header":`, r.HostHeader)
	dst = strField(dst, `"tls_version":`, r.TLSVersion)
	dst = strField(dst, `"access_point_arn":`, r.AccessPointARN)
	if r.ACLRequired {
		dst = append(key(dst, `"acl_required":`), "true"...)
	}
	return strField(dst, `"extra":`, r.Extra)
}

// secondsField writes k as {"sec":v}, the Elastic integration's shape for
// ALB processing times; negative values (AWS's -1, "not applicable") and
// non-finite ones are left out.
func secondsField(dst []byte, k string, v float64) []byte {
	if v < 0 || !finite(v) {
		return dst
	}
	dst = append(key(dst, k), `{"sec":`...)
	return append(floatVal(dst, v), '}')
}

// ipField writes a valid address as a string an ES ip field takes.
func ipField(dst []byte, k string, a netip.Addr) []byte {
	if !a.IsValid() {
		return dst
	}
	dst = append(key(dst, k), '"')
	dst = a.Unmap().WithZone("").AppendTo(dst)
	return append(dst, '"')
}

// splitList writes the non-empty parts of s split at sep as an array of
// strings; nothing when there is none.
func splitList(dst []byte, k, s string, sep byte) []byte {
	n := 0
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != sep {
			i++
		}
		if i > 0 {
			if n == 0 {
				dst = append(key(dst, k), '[')
			} else {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s[:i])
			n++
		}
		if i == len(s) {
			break
		}
		s = s[i+1:]
	}
	if n > 0 {
		dst = append(dst, ']')
	}
	return dst
}
