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

// EventMapping returns the explicit mapping of format f's indices: ip for
// addresses, geo_point for *.geo.location, date for @timestamp and
// event.ingested, keyword for ids and enumerations, text (with a keyword or
// text sub-field) for messages, URLs and user agents. Unknown top-level
// fields are not mapped (dynamic: false); the native record under aws.<format>
// is mapped dynamically (strings as keyword, no date or numeric detection),
// except its stringified members, which are text.
func EventMapping(f stream.Format) map[string]any {
	awsProps := m{}
	for _, name := range nativeStringified[f] {
		awsProps[name] = text
	}
	return m{
		"dynamic":           false,
		"date_detection":    false,
		"numeric_detection": false,
		"dynamic_templates": []any{
			m{"aws_strings": m{"path_match": "aws.*", "match_mapping_type": "string", "mapping": kw}},
		},
		"properties": m{
			"@timestamp": date,
			"message":    text,
			"event": obj(m{
				"id": kw, "kind": kw, "category": kw, "type": kw, "action": kw, "outcome": kw,
				"dataset": kw, "module": kw, "provider": kw, "severity": long, "ingested": date,
				"original": stored,
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
			"gannet": obj(m{"lineage": lineageMapping()}),
			"aws": m{"dynamic": true, "properties": m{
				f.String(): m{"dynamic": true, "properties": awsProps},
			}},
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
