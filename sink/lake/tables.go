package lake

import (
	"slices"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// Table names beside the per-format ones (stream.Format.String()).
const (
	AlertsTable     = "alerts"
	DeadLetterTable = "dead_letter"
)

// Table describes one lake table: its name and its columns in file order.
type Table struct {
	Name    string
	Columns []Column
}

// Version is the table's schema version: the highest Since of its columns.
func (t Table) Version() int {
	v := 0
	for _, c := range t.Columns {
		v = max(v, c.Since)
	}
	return v
}

// TableNames lists every table: one per format (in stream.Formats order), then alerts and dead_letter.
func TableNames() []string {
	var out []string
	for _, f := range stream.Formats() {
		out = append(out, f.String())
	}
	return append(out, AlertsTable, DeadLetterTable)
}

// Tables returns the named tables (all when names is empty), in TableNames
// order; ok is false if a name is unknown.
func Tables(names ...string) (ts []Table, ok bool) {
	all := TableNames()
	if len(names) == 0 {
		names = all
	}
	for _, n := range names {
		t, found := TableFor(n)
		if !found {
			return nil, false
		}
		ts = append(ts, t)
	}
	return ts, true
}

// TableFor returns the description of the named table.
func TableFor(name string) (Table, bool) {
	switch name {
	case AlertsTable:
		return alertTable.table(), true
	case DeadLetterTable:
		return deadLetterTable.table(), true
	}
	f, ok := stream.ParseFormat(name)
	if !ok {
		return Table{}, false
	}
	return eventTables[f].table(), true
}

// tableDef is a table with the functions that fill its columns from rows of type T.
type tableDef[T any] struct {
	name string
	cols []col[T]
	// info returns what partitions and names the row's file.
	info func(r *T) rowInfo
}

// rowInfo is what the writer needs of each row beside its columns.
type rowInfo struct {
	time            time.Time
	lineage         *stream.Lineage // may be nil
	id              stream.EventID
	account, region string
}

func (d *tableDef[T]) table() Table {
	t := Table{Name: d.name, Columns: make([]Column, len(d.cols))}
	for i, c := range d.cols {
		t.Columns[i] = c.Column
	}
	return t
}

// evRow is the row type of event tables.
type evRow = stream.Event

// c builds a column.
func c[T any](name string, typ Type, since int, dict bool, put func(r *T, b *colBuf)) col[T] {
	return col[T]{Column: Column{Name: name, Type: typ, Dict: dict, Since: since}, put: put}
}

const (
	dict   = true
	noDict = false
)

// commonColumns are the first columns of every event table, in file order.
// Append only, with Since set to a new schema version (bySince then places a
// new column after every existing one); never reorder, rename or retype
// (TestSchemaGolden enforces it).
var commonColumns = []col[evRow]{
	c("event_id", String, 1, noDict, func(e *evRow, b *colBuf) { b.id(e.ID) }),
	c("timestamp", Timestamp, 1, noDict, func(e *evRow, b *colBuf) { b.ts(e.Timestamp) }),
	c("ingested", Timestamp, 1, noDict, func(e *evRow, b *colBuf) { b.ts(e.Ingested) }),
	c("dataset", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Format.Dataset()) }),
	c("event_kind", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Kind) }),
	c("event_category", StringList, 1, dict, func(e *evRow, b *colBuf) { b.strList(e.Category) }),
	c("event_type", StringList, 1, dict, func(e *evRow, b *colBuf) { b.strList(e.Type) }),
	c("event_action", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Action) }),
	c("event_outcome", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Outcome) }),
	c("event_provider", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Provider) }),
	c("event_severity", Int32, 1, noDict, func(e *evRow, b *colBuf) { b.nz32(e.Severity) }),
	c("message", String, 1, noDict, func(e *evRow, b *colBuf) { b.str(e.Message) }),

	c("source_ip", String, 1, dict, func(e *evRow, b *colBuf) { b.ip(e.Source.IP) }),
	c("source_port", Int32, 1, noDict, func(e *evRow, b *colBuf) { b.nz32(e.Source.Port) }),
	c("source_address", String, 1, noDict, func(e *evRow, b *colBuf) { b.str(e.Source.Address) }),
	c("source_domain", String, 1, noDict, func(e *evRow, b *colBuf) { b.str(e.Source.Domain) }),
	c("source_bytes", Int64, 1, noDict, func(e *evRow, b *colBuf) { b.nz64(e.Source.Bytes) }),
	c("source_packets", Int64, 1, noDict, func(e *evRow, b *colBuf) { b.nz64(e.Source.Packets) }),
	c("source_geo_country_iso_code", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Source.Geo.CountryISOCode) }),
	c("source_geo_country_name", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Source.Geo.CountryName) }),
	c("source_geo_region_name", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Source.Geo.RegionName) }),
	c("source_geo_city_name", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Source.Geo.CityName) }),
	c("source_geo_lat", Float64, 1, noDict, func(e *evRow, b *colBuf) { b.f64v(e.Source.Geo.Location.Lat, e.Source.Geo.Location.Valid) }),
	c("source_geo_lon", Float64, 1, noDict, func(e *evRow, b *colBuf) { b.f64v(e.Source.Geo.Location.Lon, e.Source.Geo.Location.Valid) }),
	c("source_as_number", Int64, 1, noDict, func(e *evRow, b *colBuf) { b.nz64(e.Source.AS.Number) }),
	c("source_as_organization_name", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Source.AS.OrganizationName) }),

	c("destination_ip", String, 1, dict, func(e *evRow, b *colBuf) { b.ip(e.Destination.IP) }),
	c("destination_port", Int32, 1, noDict, func(e *evRow, b *colBuf) { b.nz32(e.Destination.Port) }),
	c("destination_address", String, 1, noDict, func(e *evRow, b *colBuf) { b.str(e.Destination.Address) }),
	c("destination_domain", String, 1, noDict, func(e *evRow, b *colBuf) { b.str(e.Destination.Domain) }),
	c("destination_bytes", Int64, 1, noDict, func(e *evRow, b *colBuf) { b.nz64(e.Destination.Bytes) }),
	c("destination_packets", Int64, 1, noDict, func(e *evRow, b *colBuf) { b.nz64(e.Destination.Packets) }),
	c("destination_geo_country_iso_code", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Destination.Geo.CountryISOCode) }),
	c("destination_geo_country_name", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Destination.Geo.CountryName) }),
	c("destination_geo_region_name", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Destination.Geo.RegionName) }),
	c("destination_geo_city_name", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Destination.Geo.CityName) }),
	c("destination_geo_lat", Float64, 1, noDict, func(e *evRow, b *colBuf) {
		b.f64v(e.Destination.Geo.Location.Lat, e.Destination.Geo.Location.Valid)
	}),
	c("destination_geo_lon", Float64, 1, noDict, func(e *evRow, b *colBuf) {
		b.f64v(e.Destination.Geo.Location.Lon, e.Destination.Geo.Location.Valid)
	}),
	c("destination_as_number", Int64, 1, noDict, func(e *evRow, b *colBuf) { b.nz64(e.Destination.AS.Number) }),
	c("destination_as_organization_name", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.Destination.AS.OrganizationName) }),

	c("user_name", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.UserName) }),
	c("user_id", String, 1, noDict, func(e *evRow, b *colBuf) { b.str(e.UserID) }),
	c("user_agent", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.UserAgent) }),

	c("http_request_method", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.HTTPMethod) }),
	c("http_version", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.HTTPVersion) }),
	c("http_response_status_code", Int32, 1, noDict, func(e *evRow, b *colBuf) { b.nz32(e.HTTPStatusCode) }),
	c("url_original", String, 1, noDict, func(e *evRow, b *colBuf) { b.str(e.URLOriginal) }),
	c("url_domain", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.URLDomain) }),
	c("url_path", String, 1, noDict, func(e *evRow, b *colBuf) { b.str(e.URLPath) }),
	c("url_query", String, 1, noDict, func(e *evRow, b *colBuf) { b.str(e.URLQuery) }),

	c("cloud_provider", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.CloudProvider) }),
	c("cloud_account_id", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.CloudAccountID) }),
	c("cloud_region", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.CloudRegion) }),

	c("network_transport", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.NetworkTransport) }),
	c("network_iana_number", Int32, 1, noDict, func(e *evRow, b *colBuf) { b.nz32(e.NetworkIANA) }),
	c("network_direction", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.NetworkDirection) }),
	c("network_bytes", Int64, 1, noDict, func(e *evRow, b *colBuf) { b.nz64(e.NetworkBytes) }),
	c("network_packets", Int64, 1, noDict, func(e *evRow, b *colBuf) { b.nz64(e.NetworkPackets) }),

	c("dns_question_name", String, 1, noDict, func(e *evRow, b *colBuf) { b.str(e.DNSQuestionName) }),
	c("dns_question_type", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.DNSQuestionType) }),
	c("dns_response_code", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.DNSResponseCode) }),

	c("error_code", String, 1, dict, func(e *evRow, b *colBuf) { b.str(e.ErrorCode) }),
	c("error_message", String, 1, noDict, func(e *evRow, b *colBuf) { b.str(e.ErrorMessage) }),

	c("threat_enrichments", JSON, 1, noDict, func(e *evRow, b *colBuf) {
		if len(e.Threat) == 0 {
			b.null()
			return
		}
		b.scratch = appendThreatJSON(b.scratch[:0], e.Threat)
		b.bytes(b.scratch)
	}),
}

// lineageColumns are the lineage columns shared by the event and dead_letter
// tables, for rows of type T reached through get.
func lineageColumns[T any](get func(*T) *stream.Lineage) []col[T] {
	return []col[T]{
		c("lineage_kind", String, 1, dict, func(r *T, b *colBuf) { b.str(originKind(get(r).Kind)) }),
		c("lineage_source", String, 1, dict, func(r *T, b *colBuf) { b.str(get(r).Source) }),
		c("lineage_shard", String, 1, dict, func(r *T, b *colBuf) { b.str(get(r).Shard) }),
		c("lineage_sequence", String, 1, noDict, func(r *T, b *colBuf) { b.str(get(r).Sequence) }),
		c("lineage_sub_sequence", Int64, 1, noDict, func(r *T, b *colBuf) {
			l := get(r)
			b.i64v(l.SubSequence, l.Kind == stream.OriginKinesis && l.SubSequence >= 0)
		}),
		c("lineage_offset", Int64, 1, noDict, func(r *T, b *colBuf) {
			l := get(r)
			b.i64v(l.Offset, l.Kind == stream.OriginS3 || l.Kind == stream.OriginFile)
		}),
		c("lineage_index", Int64, 1, noDict, func(r *T, b *colBuf) { b.i64v(get(r).Index, true) }),
		c("lineage_line", Int64, 1, noDict, func(r *T, b *colBuf) { b.nz64(get(r).Line) }),
		c("lineage_log_event_id", String, 1, noDict, func(r *T, b *colBuf) { b.str(get(r).LogEventID) }),
	}
}

func originKind(k stream.OriginKind) string {
	if k == stream.OriginUnknown {
		return ""
	}
	return k.String()
}

// eventTables holds the table of each format, indexed by stream.Format.
var eventTables = func() []*tableDef[evRow] {
	var ts []*tableDef[evRow]
	for f := stream.FormatUnknown; ; f++ {
		if f != stream.FormatUnknown && f.String() == "unknown" {
			break
		}
		if f == stream.FormatUnknown {
			ts = append(ts, nil)
			continue
		}
		cols := bySince(slices.Concat(commonColumns, lineageColumns(func(e *evRow) *stream.Lineage { return &e.Lineage }), nativeColumns(f)))
		ts = append(ts, &tableDef[evRow]{name: f.String(), cols: cols, info: eventInfo})
	}
	return ts
}()

// bySince orders columns by the schema version that added them, keeping
// list order within a version: a column added later (common, lineage or
// native) lands after every existing column of every table, so tables only
// ever grow at the end.
func bySince[T any](cols []col[T]) []col[T] {
	slices.SortStableFunc(cols, func(a, b col[T]) int { return a.Since - b.Since })
	return cols
}

func eventInfo(e *evRow) rowInfo {
	t := e.Timestamp
	if t.IsZero() {
		t = e.Ingested
	}
	return rowInfo{time: t, lineage: &e.Lineage, id: e.ID, account: e.CloudAccountID, region: e.CloudRegion}
}

// alertRow is the row type of the alerts table.
type alertRow = stream.Alert

var alertTable = &tableDef[alertRow]{
	name: AlertsTable,
	cols: []col[alertRow]{
		c("alert_id", String, 1, noDict, func(a *alertRow, b *colBuf) { b.id(a.ID) }),
		c("timestamp", Timestamp, 1, noDict, func(a *alertRow, b *colBuf) { b.ts(alertTime(a)) }),
		c("rule_id", String, 1, dict, func(a *alertRow, b *colBuf) { b.str(a.RuleID) }),
		c("rule_title", String, 1, dict, func(a *alertRow, b *colBuf) { b.str(a.RuleTitle) }),
		c("level", String, 1, dict, func(a *alertRow, b *colBuf) { b.str(a.Level) }),
		c("kind", String, 1, dict, func(a *alertRow, b *colBuf) { b.str(a.Kind) }),
		c("tags", StringList, 1, dict, func(a *alertRow, b *colBuf) { b.strList(a.Tags) }),
		c("description", String, 1, dict, func(a *alertRow, b *colBuf) { b.str(a.Description) }),
		c("group_key", String, 1, noDict, func(a *alertRow, b *colBuf) { b.str(a.GroupKey) }),
		c("window_start", Timestamp, 1, noDict, func(a *alertRow, b *colBuf) { b.ts(a.WindowStart) }),
		c("window_end", Timestamp, 1, noDict, func(a *alertRow, b *colBuf) { b.ts(a.WindowEnd) }),
		c("first_seen", Timestamp, 1, noDict, func(a *alertRow, b *colBuf) { b.ts(a.FirstSeen) }),
		c("last_seen", Timestamp, 1, noDict, func(a *alertRow, b *colBuf) { b.ts(a.LastSeen) }),
		c("count", Int64, 1, noDict, func(a *alertRow, b *colBuf) { b.i64v(a.Count, true) }),
		c("dataset", String, 1, dict, func(a *alertRow, b *colBuf) {
			if a.Format == stream.FormatUnknown {
				b.null()
				return
			}
			b.str(a.Format.Dataset())
		}),
		c("event_ids", StringList, 1, noDict, func(a *alertRow, b *colBuf) { b.idList(a.Events) }),
		c("events", JSON, 1, noDict, func(a *alertRow, b *colBuf) {
			b.scratch = appendAlertEventsJSON(b.scratch[:0], a.Events)
			b.bytes(b.scratch)
		}),
		c("fields", JSON, 1, noDict, func(a *alertRow, b *colBuf) {
			if len(a.Fields) == 0 {
				b.null()
				return
			}
			keys := make([]string, 0, len(a.Fields))
			for k := range a.Fields {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			b.scratch = appendMapJSON(b.scratch[:0], a.Fields, keys)
			b.bytes(b.scratch)
		}),
	},
	info: func(a *alertRow) rowInfo {
		ri := rowInfo{time: alertTime(a), id: a.ID}
		if len(a.Events) > 0 {
			ri.lineage = &a.Events[0].Lineage
		}
		return ri
	},
}

// alertTime is the time an alert is filed under: the start of its window
// (part of its id, so a re-raised alert lands in the same partition), else
// when it was first seen.
func alertTime(a *alertRow) time.Time {
	if !a.WindowStart.IsZero() {
		return a.WindowStart
	}
	return a.FirstSeen
}

// letterRow is the row type of the dead_letter table.
type letterRow = stream.DeadLetter

var deadLetterTable = &tableDef[letterRow]{
	name: DeadLetterTable,
	cols: bySince(slices.Concat([]col[letterRow]{
		c("event_id", String, 1, noDict, func(d *letterRow, b *colBuf) { b.id(d.EventID) }),
		c("timestamp", Timestamp, 1, noDict, func(d *letterRow, b *colBuf) { b.ts(d.Time) }),
		c("stage", String, 1, dict, func(d *letterRow, b *colBuf) { b.str(d.Stage) }),
		c("reason_code", String, 1, dict, func(d *letterRow, b *colBuf) { b.str(d.Reason.Code) }),
		c("reason_detail", String, 1, noDict, func(d *letterRow, b *colBuf) { b.str(d.Reason.Detail) }),
		c("dataset", String, 1, dict, func(d *letterRow, b *colBuf) {
			if d.Format == stream.FormatUnknown {
				b.null()
				return
			}
			b.str(d.Format.Dataset())
		}),
		c("raw", Binary, 1, noDict, func(d *letterRow, b *colBuf) { b.bytes(d.Raw) }),
	}, lineageColumns(func(d *letterRow) *stream.Lineage { return &d.Lineage }))),
	info: func(d *letterRow) rowInfo {
		return rowInfo{time: d.Time, lineage: &d.Lineage, id: d.EventID}
	},
}
