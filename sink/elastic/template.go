package elastic

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gannet-sec/gannet/stream"
)

type m = map[string]any

var (
	kw      = m{"type": "keyword", "ignore_above": 1024}
	long    = m{"type": "long"}
	date    = m{"type": "date"}
	ipType  = m{"type": "ip"}
	text    = m{"type": "text"}
	stored  = m{"type": "keyword", "index": false, "doc_values": false}
	kwText  = m{"type": "keyword", "ignore_above": 1024, "fields": m{"text": m{"type": "text"}}}
	textKw  = m{"type": "text", "fields": m{"keyword": m{"type": "keyword", "ignore_above": 1024}}}
	urlType = m{"type": "keyword", "ignore_above": 8191, "fields": m{"text": m{"type": "text"}}}
)

func obj(props m) m { return m{"properties": props} }

func endpointMapping() m {
	return obj(m{
		"ip": ipType, "port": long, "address": kw, "domain": kw, "bytes": long, "packets": long,
		"geo": obj(m{
			"country_iso_code": kw, "country_name": kw, "region_name": kw, "city_name": kw,
			"location": m{"type": "geo_point"},
		}),
		"as": obj(m{"number": long, "organization": obj(m{"name": kwText})}),
	})
}

func lineageMapping() m {
	return obj(m{
		"kind": kw, "source": kw, "shard": kw, "sequence": kw, "sub_sequence": long,
		"offset": long, "index": long, "line": long, "log_event_id": kw,
	})
}

// Mapping types of the native objects.
var (
	double   = m{"type": "double"}
	boolType = m{"type": "boolean"}
	sec      = obj(m{"sec": double})
	// Free text whose words matter (URLs, keys, reasons): keyword for exact
	// match and aggregations, text sub-field for words.
	kwURL = urlType
)

// nativeMapping returns the mapping of aws.<f>: explicit properties for the
// typed objects of the text formats (nothing else is accepted: dynamic
// false), and for the embedded JSON records the stringified members (text)
// plus the few known members whose dynamic type could be wrong (GuardDuty's
// severity is 8 in one finding and 5.3 in the next: dynamically mapped as
// long, it would lose the fraction).
func nativeMapping(f stream.Format) m {
	switch f {
	case stream.FormatALB:
		return m{"dynamic": false, "properties": m{
			"type": kw, "name": kw,
			"request_processing_time": sec, "backend_processing_time": sec, "response_processing_time": sec,
			"backend":            obj(m{"http": obj(m{"response": obj(m{"status_code": long})})}),
			"target_status_code": kw, "target_port": kw,
			"ssl_cipher": kw, "ssl_protocol": kw,
			"target_group": obj(m{"arn": kw}), "trace_id": kw, "domain_name": kw, "chosen_cert": obj(m{"arn": kw}),
			"matched_rule_priority": long, "request_creation_time": date, "action_executed": kw,
			"redirect_url": kwURL, "classification": kw, "classification_reason": kw, "conn_trace_id": kw,
			"transformed_host": kw, "transformed_uri": kwURL, "request_transform_status": kw, "extra": kw,
		}}
	case stream.FormatVPCFlow:
		return m{"dynamic": false, "properties": m{
			"version": long, "account_id": kw, "interface_id": kw, "action": kw, "log_status": kw,
			"start": date, "end": date, "vpc_id": kw, "subnet_id": kw, "instance_id": kw,
			"tcp_flags": long, "tcp_flags_array": kw, "type": kw, "pkt_srcaddr": ipType, "pkt_dstaddr": ipType,
			"az_id": kw, "sublocation_type": kw, "sublocation_id": kw, "pkt_src_service": kw, "pkt_dst_service": kw,
			"traffic_path":    long,
			"ecs_cluster_arn": kw, "ecs_cluster_name": kw, "ecs_container_instance_arn": kw, "ecs_container_instance_id": kw,
			"ecs_container_id": kw, "ecs_second_container_id": kw, "ecs_service_name": kw, "ecs_task_definition_arn": kw,
			"ecs_task_arn": kw, "ecs_task_id": kw, "reject_reason": kw,
		}}
	case stream.FormatS3Access:
		return m{"dynamic": false, "properties": m{
			"bucket_owner": kw, "bucket": kw, "requester": kw, "request_id": kw, "operation": kw,
			"key": kwURL, "request_uri": kwURL, "http_status": long, "error_code": kw,
			"bytes_sent": long, "object_size": long, "total_time": long, "turn_around_time": long,
			"referrer": kwURL, "version_id": kw, "host_id": kw, "signature_version": kw, "cipher_suite": kw,
			"authentication_type": kw, "host_header": kw, "tls_version": kw, "access_point_arn": kw,
			"acl_required": boolType, "extra": kw,
		}}
	}
	spec := nativeSpecs[f]
	if spec == nil {
		return m{"dynamic": false, "properties": m{}}
	}
	props := specMapping(spec)
	if f == stream.FormatGuardDuty {
		for _, p := range []m{props, props["detail"].(m)["properties"].(m)} {
			p["severity"], p["confidence"] = double, double
		}
	}
	return m{"dynamic": true, "properties": props}
}

// specMapping maps the stringified members of spec as text.
func specMapping(spec *nativeSpec) m {
	props := m{}
	for _, name := range spec.stringify {
		props[name] = text
	}
	for _, n := range spec.nested {
		props[n.name] = m{"dynamic": true, "properties": specMapping(n.spec)}
	}
	return props
}

// EventMapping returns the explicit mapping of format f's indices: ip for
// addresses, geo_point for *.geo.location, date for @timestamp and
// event.ingested, keyword for ids and enumerations, text (with a keyword or
// text sub-field) for messages, URLs and user agents. Unknown top-level
// fields are not mapped (dynamic: false). The native object aws.<format> is
// mapped explicitly for the text formats; the embedded JSON records are
// mapped dynamically (strings as keyword, integers as long, fractions as
// double, no date or numeric detection) except their stringified members
// (text) and the members nativeMapping names.
func EventMapping(f stream.Format) map[string]any {
	original := stored
	if f == stream.FormatJSON {
		// Generic JSON has no native object: its raw object is the only
		// place its own fields are, so it is indexed (words, as text).
		original = m{"type": "text"}
	}
	return m{
		"dynamic":           false,
		"date_detection":    false,
		"numeric_detection": false,
		"dynamic_templates": []any{
			m{"aws_strings": m{"path_match": "aws.*", "match_mapping_type": "string", "mapping": kw}},
			m{"aws_longs": m{"path_match": "aws.*", "match_mapping_type": "long", "mapping": long}},
			m{"aws_doubles": m{"path_match": "aws.*", "match_mapping_type": "double", "mapping": double}},
		},
		"properties": m{
			"@timestamp": date,
			"message":    text,
			"event": obj(m{
				"id": kw, "kind": kw, "category": kw, "type": kw, "action": kw, "outcome": kw,
				"dataset": kw, "module": kw, "provider": kw, "severity": long, "ingested": date,
				"original": original,
			}),
			"source":      endpointMapping(),
			"destination": endpointMapping(),
			"user":        obj(m{"name": kw, "id": kw}),
			"user_agent":  obj(m{"original": kwText}),
			"http": obj(m{
				"request":  obj(m{"method": kw}),
				"version":  kw,
				"response": obj(m{"status_code": long}),
			}),
			"url":     obj(m{"original": urlType, "domain": kw, "path": urlType, "query": urlType}),
			"cloud":   obj(m{"provider": kw, "account": obj(m{"id": kw}), "region": kw}),
			"network": obj(m{"transport": kw, "iana_number": kw, "direction": kw, "bytes": long, "packets": long}),
			"dns": obj(m{
				"question":      obj(m{"name": kw, "type": kw}),
				"response_code": kw,
			}),
			"error": obj(m{"code": kw, "message": textKw}),
			"threat": obj(m{"enrichments": m{"type": "nested", "properties": m{
				"indicator": obj(m{"name": kw, "type": kw, "provider": kw, "confidence": kw}),
				"matched":   obj(m{"field": kw, "atomic": kw, "type": kw}),
			}}}),
			"log":    obj(m{"level": kw}),
			"gannet": obj(m{"lineage": lineageMapping(), "json": obj(m{"time_key": kw})}),
			"aws":    m{"dynamic": false, "properties": m{f.String(): nativeMapping(f)}},
		},
	}
}

// AlertMapping returns the explicit mapping of the alerts indices.
func AlertMapping() map[string]any {
	return m{
		"dynamic":        false,
		"date_detection": false,
		"properties": m{
			"@timestamp": date,
			"message":    textKw,
			"event":      obj(m{"id": kw, "kind": kw, "dataset": kw, "severity": long, "start": date, "end": date}),
			"rule":       obj(m{"id": kw, "name": kwText, "description": text}),
			"tags":       kw,
			"gannet": obj(m{"alert": obj(m{
				"level": kw, "kind": kw, "group_key": kw,
				"window_start": date, "window_end": date, "first_seen": date, "last_seen": date,
				"count": long, "format": kw,
				"events": obj(m{"id": kw, "lineage": lineageMapping()}),
				"fields": obj(m{"name": kw, "value": kw}),
			})}),
		},
	}
}

// templatePriority is above Elasticsearch's built-in templates (100 for
// logs-*-*) so Gannet's mappings win for its own patterns.
const templatePriority = 200

func (s *Sink) template(pattern, alias string, mapping m) m {
	settings := m{
		"number_of_shards":                 s.cfg.Shards,
		"index.mapping.total_fields.limit": 2000,
	}
	if s.cfg.Replicas != nil {
		settings["number_of_replicas"] = *s.cfg.Replicas
	}
	return m{
		"index_patterns": []string{pattern},
		"priority":       templatePriority,
		"template": m{
			"settings": settings,
			"mappings": mapping,
			"aliases":  m{alias: m{}},
		},
		"_meta": m{"managed_by": "gannet"},
	}
}

// InstallTemplates puts one composable index template per format
// (<prefix>-<format>-* with alias <prefix>-<format>) and one for alerts
// (<prefix>-alerts-* with alias <prefix>-alerts). It is idempotent; New calls
// it unless Config.SkipTemplates is set.
func (s *Sink) InstallTemplates(ctx context.Context) error {
	p := s.cfg.IndexPrefix
	put := func(name string, body m) error {
		js, err := json.Marshal(body)
		if err != nil {
			return err
		}
		if _, err := s.client.IndexPutIndexTemplate(name).BodyString(string(js)).Do(ctx); err != nil {
			return fmt.Errorf("elastic: installing index template %s: %w", name, err)
		}
		return nil
	}
	for _, f := range stream.Formats() {
		name := p + "-" + f.String()
		if err := put(name, s.template(name+"-*", name, EventMapping(f))); err != nil {
			return err
		}
	}
	name := p + "-alerts"
	return put(name, s.template(name+"-*", name, AlertMapping()))
}
