// Package scheduled evaluates Sigma event_count, value_count, temporal and
// temporal_ordered correlations as periodic Elasticsearch aggregation
// queries over the indices sink/elastic writes (<prefix>-<format>-*), for
// windows longer than a stream holds (the paper's periodic pattern, DP1).
//
// Translate turns a correlation and the detection rules it refers to into a
// Query: a bool filter (the rules' conditions, OR-ed) over a time range, a
// terms aggregation per group-by field, and, in the innermost buckets, the
// count (doc_count, or a cardinality aggregation for value_count) and the
// condition, checked by Run on every bucket (and, with Options.Scripts, by a
// bucket_selector in the cluster). A temporal correlation adds, in each
// group, one filter sub-aggregation per referenced rule with the rule's
// first and last @timestamp: the group alerts when every rule matched in
// the window. temporal_ordered also needs events t1 ≤ t2 ≤ … ≤ tk, ti of
// the i-th listed rule, in the window (equal times are in order, as in
// detect/correlate; @timestamp is stored to the millisecond, so events of
// the same millisecond tie). Run checks it in two steps: a coarse filter on
// each rule's first and last time (rule i has an event at or after the
// first event of every rule before it), then, for the groups that pass, the
// greedy pick, exact for any number of rules: t1 is rule 1's first event,
// ti the earliest event of rule i at or after t(i-1). The bucket's first
// and last times settle a step when rule i's first event is at or after
// t(i-1), when its last is before, and for the last rule; otherwise a
// follow-up search (the group's terms, rule i's filter, the window from
// t(i-1) on, a min aggregation on @timestamp) finds ti. Two rules never
// need one. Options.MaxConfirm bounds the groups confirmed by follow-up
// searches per Run; see there for the groups over the bound.
//
// Run executes a query for one window with github.com/olivere/elastic/v7
// and turns the surviving buckets into alerts whose ids are
// stream.AlertID(rule id, group key, window start): running the same window
// again gives the same ids.
//
// Windows are tumbling and aligned to the timespan (LastWindow). Field
// names follow sink/elastic's mapping: ECS names as they are (text fields
// through their keyword sub-field), native names under aws.<format>. The
// members sink/elastic stores as one JSON string (CloudTrail
// requestParameters, responseElements, …) can only be searched as text: an
// equality on a path below them becomes a match_phrase of the last key and
// the value, which may over-match (the threshold still applies). Conditions
// ES cannot express this way (keywords, re, base64, windash, fieldref,
// threat.enrichments, which is nested) make Translate fail with the reason.
package scheduled

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gannet-sec/gannet/detect/sigma"
	"github.com/gannet-sec/gannet/stream"
	"github.com/olivere/elastic/v7"
)

type m = map[string]any

// Options configure Translate.
type Options struct {
	// IndexPrefix is sink/elastic's index prefix (default "gannet").
	IndexPrefix string
	// MaxGroups bounds the terms buckets per group-by level (default 10000).
	MaxGroups int
	// MaxEvents is the number of matched event ids an alert lists (default 10).
	MaxEvents int
	// Placeholders fill %name% placeholders of the expand modifier.
	Placeholders map[string][]string
	// Scripts adds a bucket_selector (a painless script) so that the
	// cluster drops the groups under the threshold itself. Off by default:
	// distributions without the lang-painless module (the integ-test
	// build, minimal OpenSearch) reject scripts. Either way Run checks the
	// condition on every bucket returned, and the terms are ordered so that
	// the groups nearest the condition come first within MaxGroups.
	Scripts bool
	// MaxConfirm bounds, per Run, the groups of a temporal_ordered
	// correlation whose order needs follow-up searches to confirm (three
	// rules or more; each such group costs at most rules−2 searches)
	// (default 100). The groups over the bound, in the order the terms
	// aggregation returned them, are not confirmed: they alert on the
	// coarse first/last check alone, as before the exact check existed,
	// with the field scheduled.unconfirmed=true, and Run logs a warning
	// and adds them to Runner.Unconfirmed. A missed sequence is the worse
	// failure for detection; the bound is about the run's time.
	MaxConfirm int
}

// Query is a correlation translated for Elasticsearch.
type Query struct {
	Rule     *sigma.Rule
	RuleID   string
	Indices  []string      // index patterns, e.g. gannet-cloudtrail-*
	Timespan time.Duration // the window length
	// GroupBy are the Sigma group-by names and Fields their index fields.
	GroupBy, Fields []string
	filter          m
	kind            string // event_count, value_count, temporal, temporal_ordered
	ruleFilters     []m    // temporal: each referenced rule's query, in order
	value           string // value_count: the counted index field
	op              string
	threshold       int64
	maxGroups       int
	maxEvents       int
	maxConfirm      int
	scripts         bool
}

// nativeText are the native members sink/elastic indexes as one JSON string
// (text), per format.
var nativeText = map[stream.Format]map[string]bool{
	stream.FormatCloudTrail: {"requestParameters": true, "responseElements": true, "additionalEventData": true,
		"serviceEventDetails": true, "insightDetails": true, "edgeDeviceDetails": true, "addendum": true},
	stream.FormatGuardDuty: {"service": true, "resource": true, "detail": true},
	stream.FormatWAF: {"ruleGroupList": true, "rateBasedRuleList": true, "nonTerminatingMatchingRules": true,
		"terminatingRuleMatchDetails": true, "captchaResponse": true, "challengeResponse": true},
}

// ecsText are ECS fields mapped as text: exact matching uses their keyword
// sub-field; message has none.
var ecsText = map[string]string{"error.message": "error.message.keyword", "message": ""}

// ecsFields are the ECS names sink/elastic maps (a subset of FIELDS.md).
var ecsFields = func() map[string]bool {
	out := map[string]bool{}
	for _, n := range sigma.FieldNames() {
		if !strings.HasPrefix(n, "threat.") && !strings.HasPrefix(n, "client.") && strings.Contains(n, ".") || n == "message" {
			out[n] = true
		}
	}
	return out
}()

// field is how a Sigma name is searched in the index.
type field struct {
	name   string // index field
	text   bool   // a text field: only phrase matching
	phrase string // for text fields under a native member: the key to phrase with the value
	ip     bool
}

// esField maps a Sigma field name to its index field for events of format f.
func esField(name string, f stream.Format) (field, error) {
	if strings.HasPrefix(name, "threat.") {
		return field{}, fmt.Errorf("field %s: threat.enrichments is a nested field, not supported in scheduled queries", name)
	}
	if strings.HasPrefix(name, "client.") {
		name = "source." + strings.TrimPrefix(name, "client.")
	}
	if ecsFields[name] {
		if kw, ok := ecsText[name]; ok {
			if kw == "" {
				return field{name: name, text: true}, nil
			}
			return field{name: kw}, nil
		}
		return field{name: name, ip: strings.HasSuffix(name, ".ip")}, nil
	}
	switch f {
	case stream.FormatCloudTrail, stream.FormatGuardDuty, stream.FormatWAF, stream.FormatRoute53Resolver:
	default:
		return field{}, fmt.Errorf("field %s is not indexed for %s events", name, f)
	}
	top, rest, nested := strings.Cut(name, ".")
	if nativeText[f][top] {
		if !nested {
			return field{name: "aws." + f.String() + "." + top, text: true}, nil
		}
		parts := strings.Split(rest, ".")
		return field{name: "aws." + f.String() + "." + top, text: true, phrase: parts[len(parts)-1]}, nil
	}
	return field{name: "aws." + f.String() + "." + name}, nil
}

func ruleID(r *sigma.Rule) string {
	if r.ID != "" {
		return r.ID
	}
	return r.Title
}

// Translate builds the query of correlation corr; rules are where the
// rules it refers to (by name or id) are found.
func Translate(corr *sigma.Rule, rules []*sigma.Rule, opts Options) (*Query, error) {
	if opts.IndexPrefix == "" {
		opts.IndexPrefix = "gannet"
	}
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = 10000
	}
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 10
	}
	if opts.MaxConfirm <= 0 {
		opts.MaxConfirm = 100
	}
	cr := corr.Correlation
	if cr == nil {
		return nil, errors.New("not a correlation rule")
	}
	switch cr.Type {
	case "event_count", "value_count", "temporal", "temporal_ordered":
	default:
		return nil, fmt.Errorf("%s correlations are not supported by scheduled queries (event_count, value_count, temporal, temporal_ordered)", cr.Type)
	}
	if len(cr.Aliases) > 0 {
		return nil, errors.New("correlation aliases are not supported")
	}
	byName := map[string]*sigma.Rule{}
	for _, r := range rules {
		if r.Detection == nil {
			continue
		}
		if r.Name != "" {
			byName[r.Name] = r
		}
		if r.ID != "" {
			byName[r.ID] = r
		}
	}
	q := &Query{Rule: corr, RuleID: ruleID(corr), Timespan: cr.Timespan, GroupBy: cr.GroupBy,
		op: cr.Condition.Op, threshold: cr.Condition.Count, maxGroups: opts.MaxGroups, maxEvents: opts.MaxEvents,
		maxConfirm: opts.MaxConfirm, scripts: opts.Scripts, kind: cr.Type}
	if q.temporal() {
		// Every referenced rule must occur (as the inline windows decide
		// it); a condition, if given, is not used.
		q.op, q.threshold = "gte", 1
	}
	var should []any
	var format stream.Format
	seenIdx := map[string]bool{}
	for _, name := range cr.Rules {
		r, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("correlation refers to unknown rule %q", name)
		}
		formats := sigma.LogsourceFormats(r.Logsource)
		if len(formats) == 0 {
			return nil, fmt.Errorf("rule %s: logsource maps to no format", ruleID(r))
		}
		for _, f := range formats {
			if format != stream.FormatUnknown && f != format {
				return nil, fmt.Errorf("rule %s: correlations over several formats are not supported (field names differ)", ruleID(r))
			}
			format = f
			idx := opts.IndexPrefix + "-" + f.String() + "-*"
			if !seenIdx[idx] {
				seenIdx[idx] = true
				q.Indices = append(q.Indices, idx)
			}
		}
		t := translator{f: format, placeholders: opts.Placeholders}
		qq, err := t.detection(r.Detection)
		if err != nil {
			return nil, fmt.Errorf("rule %s: %w", ruleID(r), err)
		}
		should = append(should, qq)
		q.ruleFilters = append(q.ruleFilters, qq)
	}
	if len(should) == 1 {
		q.filter = should[0].(m)
	} else {
		q.filter = m{"bool": m{"should": should, "minimum_should_match": 1}}
	}
	for _, g := range cr.GroupBy {
		f, err := esField(g, format)
		if err != nil {
			return nil, fmt.Errorf("group-by: %w", err)
		}
		if f.text {
			return nil, fmt.Errorf("group-by %s: a text field cannot be aggregated", g)
		}
		q.Fields = append(q.Fields, f.name)
	}
	if cr.Type == "value_count" {
		f, err := esField(cr.Condition.Field, format)
		if err != nil {
			return nil, fmt.Errorf("value_count field: %w", err)
		}
		if f.text {
			return nil, fmt.Errorf("value_count field %s: a text field cannot be counted", cr.Condition.Field)
		}
		q.value = f.name
	}
	if _, ok := opSymbols[q.op]; !ok {
		return nil, fmt.Errorf("condition %q is not supported", q.op)
	}
	return q, nil
}

func (q *Query) temporal() bool { return q.kind == "temporal" || q.kind == "temporal_ordered" }

var opSymbols = map[string]string{"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "==", "neq": "!="}

// Body returns the search request body for the window [start, start+Timespan).
func (q *Query) Body(start time.Time) map[string]any {
	end := start.Add(q.Timespan)
	leaf := m{
		"first":  m{"min": m{"field": "@timestamp"}},
		"last":   m{"max": m{"field": "@timestamp"}},
		"events": m{"top_hits": m{"size": q.maxEvents, "_source": false, "sort": []any{m{"@timestamp": m{"order": "asc"}}}}},
	}
	path := "_count"
	if q.value != "" {
		leaf["values"] = m{"cardinality": m{"field": q.value, "precision_threshold": 40000}}
		path = "values"
	}
	if q.temporal() {
		for i, f := range q.ruleFilters {
			leaf["r"+strconv.Itoa(i)] = m{"filter": f, "aggs": m{
				"first": m{"min": m{"field": "@timestamp"}},
				"last":  m{"max": m{"field": "@timestamp"}},
			}}
		}
	}
	if q.scripts && !q.temporal() {
		leaf["threshold"] = m{"bucket_selector": m{
			"buckets_path": m{"c": path},
			"script":       m{"source": "params.c " + opSymbols[q.op] + " params.n", "params": m{"n": q.threshold}},
		}}
	}
	// Groups nearest the condition first: the most events or values for
	// gt/gte, the fewest for the others.
	order := "desc"
	if q.op != "gt" && q.op != "gte" {
		order = "asc"
	}
	var aggs m
	if len(q.Fields) == 0 {
		// No group-by: one group, the whole window.
		aggs = m{"g0": m{"filters": m{"filters": m{"all": m{"match_all": m{}}}}, "aggs": leaf}}
	} else {
		inner := leaf
		for i := len(q.Fields) - 1; i >= 0; i-- {
			terms := m{"field": q.Fields[i], "size": q.maxGroups}
			if i == len(q.Fields)-1 {
				terms["order"] = m{path: order}
			}
			if i == len(q.Fields)-1 && q.value == "" && (q.op == "gte" || q.op == "gt") {
				n := q.threshold
				if q.op == "gt" {
					n++
				}
				terms["min_doc_count"] = max(n, 1)
			}
			inner = m{"g" + strconv.Itoa(i): m{"terms": terms, "aggs": inner}}
		}
		aggs = inner
	}
	return m{
		"size":             0,
		"track_total_hits": false,
		"query": m{"bool": m{"filter": []any{
			m{"range": m{"@timestamp": m{"gte": start.UTC().Format(time.RFC3339Nano), "lt": end.UTC().Format(time.RFC3339Nano)}}},
			q.filter,
		}}},
		"aggs": aggs,
	}
}

// LastWindow is the start of the last complete window of length span
// before now (windows are aligned to span from the Unix epoch).
func LastWindow(now time.Time, span time.Duration) time.Time {
	return now.UTC().Truncate(span).Add(-span)
}

// Runner executes queries. Its methods may be called concurrently.
type Runner struct {
	// Client is an olivere/elastic client (sniffing off, as for sink/elastic).
	Client *elastic.Client
	// Logger receives a warning when a Run reaches Options.MaxConfirm
	// (nil: slog.Default()).
	Logger *slog.Logger
	// Unconfirmed counts, over all runs, the temporal_ordered groups left
	// unconfirmed because their run reached Options.MaxConfirm.
	Unconfirmed atomic.Int64
	// Followups counts, over all runs, the follow-up searches of the
	// temporal_ordered check.
	Followups atomic.Int64
}

// groupTerm is one group-by value of a bucket, as a term query takes it.
type groupTerm struct {
	field string
	value any // key_as_string, or the key's JSON
}

// Run executes q for the window [start, start+q.Timespan) and returns an
// alert per group over the threshold, ordered by group key. Missing indices
// are not an error (no events, no alerts). A failed search, the
// aggregation's or a follow-up of the temporal_ordered check, fails the run
// with the cluster's reason.
func (r *Runner) Run(ctx context.Context, q *Query, start time.Time) ([]stream.Alert, error) {
	start = start.UTC()
	res, err := r.Client.Search(q.Indices...).Source(q.Body(start)).
		IgnoreUnavailable(true).AllowNoIndices(true).Do(ctx)
	if err != nil {
		return nil, searchError(q.RuleID, "", err)
	}
	st := &runState{ctx: ctx, q: q, start: start, earliest: r.earliest}
	var out []stream.Alert
	var walk func(raw json.RawMessage, level int, key []string, terms []groupTerm) error
	walk = func(raw json.RawMessage, level int, key []string, terms []groupTerm) error {
		if len(q.Fields) == 0 {
			var agg struct {
				Buckets map[string]json.RawMessage `json:"buckets"`
			}
			if err := json.Unmarshal(raw, &agg); err != nil {
				return err
			}
			if b, ok := agg.Buckets["all"]; ok {
				return st.leaf(b, "", nil, &out)
			}
			return nil
		}
		var agg struct {
			Buckets []json.RawMessage `json:"buckets"`
		}
		if err := json.Unmarshal(raw, &agg); err != nil {
			return err
		}
		for _, b := range agg.Buckets {
			var kb struct {
				Key         json.RawMessage `json:"key"`
				KeyAsString string          `json:"key_as_string"`
			}
			if err := json.Unmarshal(b, &kb); err != nil {
				return err
			}
			v := kb.KeyAsString
			var term any = kb.KeyAsString
			if v == "" {
				var k any
				if err := json.Unmarshal(kb.Key, &k); err != nil {
					return fmt.Errorf("bucket key: %w", err)
				}
				v, term = fmt.Sprint(k), kb.Key
			}
			k := append(key[:level:level], q.GroupBy[level]+"="+v)
			tk := append(terms[:level:level], groupTerm{field: q.Fields[level], value: term})
			if level == len(q.Fields)-1 {
				if err := st.leaf(b, strings.Join(k, ","), tk, &out); err != nil {
					return err
				}
				continue
			}
			var sub map[string]json.RawMessage
			if err := json.Unmarshal(b, &sub); err != nil {
				return err
			}
			if err := walk(sub["g"+strconv.Itoa(level+1)], level+1, k, tk); err != nil {
				return err
			}
		}
		return nil
	}
	if raw, ok := res.Aggregations["g0"]; ok {
		err := walk(raw, 0, nil, nil)
		r.Followups.Add(int64(st.queries))
		if st.failed != nil {
			return nil, st.failed
		}
		if err != nil {
			return nil, fmt.Errorf("scheduled %s: response: %w", q.RuleID, err)
		}
	}
	if st.unconfirmed > 0 {
		r.Unconfirmed.Add(int64(st.unconfirmed))
		log := r.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("scheduled: temporal_ordered groups over the confirmation bound alert on the first/last check alone",
			"rule", q.RuleID, "window_start", start, "max_confirm", q.maxConfirm,
			"confirmed", st.confirmed, "unconfirmed", st.unconfirmed)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GroupKey < out[j].GroupKey })
	return out, nil
}

// searchError describes a failed search of correlation id (what: which
// one, "" for the aggregation): with the cluster's reason, root causes and
// details when it answered with an error.
func searchError(id, what string, err error) error {
	prefix := "scheduled " + id
	if what != "" {
		prefix += ": " + what
	}
	var ee *elastic.Error
	if errors.As(err, &ee) && ee.Details != nil {
		reason := ee.Details.Reason
		for _, rc := range ee.Details.RootCause {
			reason += "; " + rc.Type + ": " + rc.Reason
		}
		d, _ := json.Marshal(ee.Details)
		return fmt.Errorf("%s: %w: %s %s", prefix, err, reason, d)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// earliestFunc returns the earliest @timestamp (Unix ms) of an event of
// rule (an index into the correlation's rules) in the group of terms, at or
// after from and before the end of the window starting at start; found is
// false when there is none.
type earliestFunc func(ctx context.Context, q *Query, terms []groupTerm, rule int, from int64, start time.Time) (t int64, found bool, err error)

// earliest asks the cluster (earliestBody).
func (r *Runner) earliest(ctx context.Context, q *Query, terms []groupTerm, rule int, from int64, start time.Time) (int64, bool, error) {
	res, err := r.Client.Search(q.Indices...).Source(q.earliestBody(terms, rule, from, start)).
		IgnoreUnavailable(true).AllowNoIndices(true).Do(ctx)
	if err != nil {
		return 0, false, err
	}
	agg, ok := res.Aggregations.Min("t")
	if !ok || agg.Value == nil {
		return 0, false, nil
	}
	return int64(*agg.Value), true, nil
}

// earliestBody is the follow-up search of the temporal_ordered check: the
// events of rule in the group of terms from from (Unix ms) to the end of
// the window starting at start, and their earliest @timestamp.
func (q *Query) earliestBody(terms []groupTerm, rule int, from int64, start time.Time) map[string]any {
	gte := start
	if t := time.UnixMilli(from); t.After(start) {
		gte = t
	}
	filter := []any{m{"range": m{"@timestamp": m{
		"gte": gte.UTC().Format(time.RFC3339Nano), "lt": start.Add(q.Timespan).UTC().Format(time.RFC3339Nano)}}}}
	for _, t := range terms {
		filter = append(filter, m{"term": m{t.field: t.value}})
	}
	filter = append(filter, q.ruleFilters[rule])
	return m{
		"size":             0,
		"track_total_hits": false,
		"query":            m{"bool": m{"filter": filter}},
		"aggs":             m{"t": m{"min": m{"field": "@timestamp"}}},
	}
}

// runState is one Run's progress through the buckets.
type runState struct {
	ctx      context.Context
	q        *Query
	start    time.Time
	earliest earliestFunc
	// confirmed are the groups that took follow-up searches, unconfirmed
	// those over q.maxConfirm, queries the searches made.
	confirmed, unconfirmed, queries int
	failed                          error // a follow-up search failed
}

// errBound stops a group's check when the run reached q.maxConfirm.
var errBound = errors.New("confirmation bound reached")

// leaf turns one surviving bucket (group key, its terms) into an alert.
func (st *runState) leaf(raw json.RawMessage, key string, terms []groupTerm, out *[]stream.Alert) error {
	q := st.q
	var b struct {
		DocCount int64 `json:"doc_count"`
		First    struct {
			Value float64 `json:"value"`
		} `json:"first"`
		Last struct {
			Value float64 `json:"value"`
		} `json:"last"`
		Values *struct {
			Value int64 `json:"value"`
		} `json:"values"`
		Events struct {
			Hits struct {
				Hits []struct {
					ID string `json:"_id"`
				} `json:"hits"`
			} `json:"hits"`
		} `json:"events"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return err
	}
	unconfirmed := false
	if q.temporal() {
		spans, ok, err := q.sequence(raw)
		if err != nil || !ok {
			return err
		}
		if q.kind == "temporal_ordered" && len(spans) > 2 {
			if ok, unconfirmed, err = st.confirm(spans, key, terms); err != nil || !ok {
				return err
			}
		}
	}
	count := b.DocCount
	if b.Values != nil {
		count = b.Values.Value
	}
	if count == 0 || !q.holds(count) {
		return nil
	}
	r := q.Rule
	a := stream.Alert{
		ID: stream.AlertID(q.RuleID, key, st.start), RuleID: q.RuleID, RuleTitle: r.Title, Level: r.Level,
		Tags: r.Tags, Description: r.Description, Kind: "correlation", GroupKey: key,
		WindowStart: st.start, WindowEnd: st.start.Add(q.Timespan),
		FirstSeen: time.UnixMilli(int64(b.First.Value)).UTC(), LastSeen: time.UnixMilli(int64(b.Last.Value)).UTC(),
		Count:  count,
		Fields: map[string]string{"scheduled.indices": strings.Join(q.Indices, ","), "events.total": strconv.FormatInt(b.DocCount, 10)},
	}
	if unconfirmed {
		a.Fields["scheduled.unconfirmed"] = "true"
	}
	for _, h := range b.Events.Hits.Hits {
		if id, err := stream.ParseEventID(h.ID); err == nil {
			a.Events = append(a.Events, stream.AlertEvent{ID: id})
		}
	}
	*out = append(*out, a)
	return nil
}

// confirm runs the greedy pick on a group that passed the coarse check,
// with follow-up searches as needed, within the run's bound: over it, the
// group is kept unconfirmed.
func (st *runState) confirm(spans []ruleSpan, key string, terms []groupTerm) (ok, unconfirmed bool, err error) {
	counted := false
	ok, err = pick(spans, func(rule int, from int64) (int64, bool, error) {
		if !counted {
			if st.confirmed >= st.q.maxConfirm {
				return 0, false, errBound
			}
			st.confirmed++
			counted = true
		}
		st.queries++
		t, found, err := st.earliest(st.ctx, st.q, terms, rule, from, st.start)
		if err != nil {
			st.failed = searchError(st.q.RuleID, fmt.Sprintf("temporal_ordered check of group %q, rule %d", key, rule), err)
			return 0, false, st.failed
		}
		return t, found, nil
	})
	if errors.Is(err, errBound) {
		st.unconfirmed++
		return true, true, nil
	}
	return ok, false, err
}

// ruleSpan is what a group bucket tells of one rule's events: how many,
// the first and last @timestamp (Unix ms).
type ruleSpan struct {
	count       int64
	first, last int64
}

// sequence reports whether every rule of a temporal correlation matched in
// the group's bucket (temporal_ordered: and the rules pass coarse), and
// returns what the bucket tells of each rule.
func (q *Query) sequence(raw json.RawMessage) ([]ruleSpan, bool, error) {
	var b map[string]json.RawMessage
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, false, err
	}
	spans := make([]ruleSpan, len(q.ruleFilters))
	for i := range q.ruleFilters {
		var r struct {
			DocCount int64 `json:"doc_count"`
			First    struct {
				Value *float64 `json:"value"`
			} `json:"first"`
			Last struct {
				Value *float64 `json:"value"`
			} `json:"last"`
		}
		sub, ok := b["r"+strconv.Itoa(i)]
		if !ok {
			return nil, false, fmt.Errorf("bucket lacks aggregation r%d", i)
		}
		if err := json.Unmarshal(sub, &r); err != nil {
			return nil, false, err
		}
		if r.DocCount == 0 {
			return nil, false, nil
		}
		spans[i].count = r.DocCount
		if q.kind != "temporal_ordered" {
			continue
		}
		if r.First.Value == nil || r.Last.Value == nil {
			return nil, false, fmt.Errorf("rule %d matched events without @timestamp", i)
		}
		spans[i].first, spans[i].last = int64(*r.First.Value), int64(*r.Last.Value)
	}
	if q.kind == "temporal_ordered" && !coarse(spans) {
		return nil, false, nil
	}
	return spans, true, nil
}

// coarse is the cheap necessary condition of an ordered pick: each rule's
// last event at or after the first event of every rule before it. It is
// sufficient for two rules, not for more.
func coarse(spans []ruleSpan) bool {
	var prev int64 // earliest time the next rule's event may have
	for i, s := range spans {
		if i > 0 && s.last < prev {
			return false
		}
		prev = max(prev, s.first)
	}
	return true
}

// pick decides whether events t1 ≤ t2 ≤ … ≤ tk exist, ti of rule i, given
// each rule's first and last time in the group: the greedy pick, t1 the
// first event of rule 1, ti the earliest event of rule i at or after
// t(i-1) — if any ordered pick exists, the greedy one does (each greedy ti
// is at or before the i-th time of any ordered pick). A step is settled by
// the spans when rule i's first event is at or after t(i-1) (it is ti), when
// its last is before (no pick) and for the last rule (its last event is at
// or after t(i-1): a pick); otherwise earliest(i, t(i-1)) finds ti. Equal
// times are in order, as in detect/correlate's inline windows.
func pick(spans []ruleSpan, earliest func(rule int, from int64) (t int64, found bool, err error)) (bool, error) {
	if len(spans) == 0 {
		return false, nil
	}
	t := spans[0].first
	for i := 1; i < len(spans); i++ {
		s := spans[i]
		switch {
		case s.first >= t:
			t = s.first
		case s.last < t:
			return false, nil
		case i == len(spans)-1:
			return true, nil
		default:
			next, found, err := earliest(i, t)
			if err != nil || !found {
				return false, err
			}
			if next < t {
				return false, fmt.Errorf("rule %d: earliest event at or after %d is at %d", i, t, next)
			}
			t = next
		}
	}
	return true, nil
}

// holds reports whether a group's count meets the correlation's condition.
func (q *Query) holds(n int64) bool {
	switch q.op {
	case "gt":
		return n > q.threshold
	case "gte":
		return n >= q.threshold
	case "lt":
		return n < q.threshold
	case "lte":
		return n <= q.threshold
	case "eq":
		return n == q.threshold
	case "neq":
		return n != q.threshold
	}
	return false
}

// ---------------------------------------------------------------- detection → query

type translator struct {
	f            stream.Format
	placeholders map[string][]string
}

func (t *translator) detection(d *sigma.Detection) (m, error) {
	searches := map[string]m{}
	var names []string
	for _, s := range d.Searches {
		q, err := t.search(s)
		if err != nil {
			return nil, fmt.Errorf("search %s: %w", s.Name, err)
		}
		searches[s.Name] = q
		names = append(names, s.Name)
	}
	var conds []any
	for _, cs := range d.Conditions {
		c, err := sigma.ParseCondition(cs)
		if err != nil {
			return nil, err
		}
		q, err := t.cond(c, searches, names)
		if err != nil {
			return nil, err
		}
		conds = append(conds, q)
	}
	return or(conds), nil
}

func and(qs []any) m {
	if len(qs) == 1 {
		return qs[0].(m)
	}
	return m{"bool": m{"filter": qs}}
}

func or(qs []any) m {
	if len(qs) == 1 {
		return qs[0].(m)
	}
	return m{"bool": m{"should": qs, "minimum_should_match": 1}}
}

func not(q m) m { return m{"bool": m{"must_not": []any{q}}} }

func (t *translator) cond(c sigma.Cond, searches map[string]m, names []string) (m, error) {
	switch c := c.(type) {
	case sigma.CondAnd, sigma.CondOr:
		var list []sigma.Cond
		if a, ok := c.(sigma.CondAnd); ok {
			list = a
		} else {
			list = c.(sigma.CondOr)
		}
		var qs []any
		for _, x := range list {
			q, err := t.cond(x, searches, names)
			if err != nil {
				return nil, err
			}
			qs = append(qs, q)
		}
		if _, ok := c.(sigma.CondAnd); ok {
			return and(qs), nil
		}
		return or(qs), nil
	case sigma.CondNot:
		q, err := t.cond(c.X, searches, names)
		if err != nil {
			return nil, err
		}
		return not(q), nil
	case sigma.CondRef:
		q, ok := searches[c.Name]
		if !ok {
			return nil, fmt.Errorf("condition names undefined search %q", c.Name)
		}
		return q, nil
	case sigma.CondOf:
		var qs []any
		for _, n := range names {
			if ok, _ := path.Match(c.Pattern, n); ok || c.Pattern == "them" {
				qs = append(qs, searches[n])
			}
		}
		if len(qs) == 0 {
			return nil, fmt.Errorf("%q matches no search", c.Pattern)
		}
		if c.All {
			return and(qs), nil
		}
		return or(qs), nil
	}
	return nil, fmt.Errorf("unsupported condition %T", c)
}

func (t *translator) search(s *sigma.Search) (m, error) {
	if len(s.Keywords) > 0 {
		return nil, errors.New("keyword searches are not supported in scheduled queries")
	}
	var ors []any
	for _, fms := range s.Matchers {
		var ands []any
		for _, fm := range fms {
			q, err := t.fieldMatcher(fm)
			if err != nil {
				return nil, err
			}
			ands = append(ands, q)
		}
		if len(ands) == 0 {
			ands = append(ands, m{"match_all": m{}})
		}
		ors = append(ors, and(ands))
	}
	return or(ors), nil
}

func (t *translator) fieldMatcher(fm sigma.FieldMatcher) (m, error) {
	f, err := esField(fm.Field, t.f)
	if err != nil {
		return nil, err
	}
	cmp, all := "", false
	values := fm.Values
	for _, mod := range fm.Modifiers {
		switch mod {
		case "contains", "startswith", "endswith", "exists", "gt", "gte", "lt", "lte", "cidr":
			if cmp != "" {
				return nil, fmt.Errorf("%s: modifiers %s and %s", fm.Field, cmp, mod)
			}
			cmp = mod
		case "all":
			all = true
		case "expand":
			values = nil
			for _, v := range fm.Values {
				list, ok := t.placeholders[strings.Trim(v.S, "%")]
				if !ok {
					return nil, fmt.Errorf("%s|expand: placeholder %s is not defined", fm.Field, v.S)
				}
				for _, x := range list {
					values = append(values, sigma.Value{S: x})
				}
			}
		default:
			return nil, fmt.Errorf("%s: modifier %s is not supported in scheduled queries", fm.Field, mod)
		}
	}
	if cmp == "exists" {
		q := m{"exists": m{"field": f.name}}
		if len(values) == 1 && values[0].S == "false" {
			return not(q), nil
		}
		return q, nil
	}
	var qs []any
	for _, v := range values {
		q, err := t.value(f, cmp, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fm.Field, err)
		}
		qs = append(qs, q)
	}
	if all {
		return and(qs), nil
	}
	return or(qs), nil
}

func (t *translator) value(f field, cmp string, v sigma.Value) (m, error) {
	if v.Null {
		return not(m{"exists": m{"field": f.name}}), nil
	}
	switch cmp {
	case "gt", "gte", "lt", "lte":
		n, err := strconv.ParseFloat(v.S, 64)
		if err != nil {
			return nil, fmt.Errorf("%s needs a number, got %q", cmp, v.S)
		}
		return m{"range": m{f.name: m{cmp: n}}}, nil
	case "cidr":
		if !f.ip {
			return nil, fmt.Errorf("cidr on a field that is not an ip field")
		}
		return m{"term": m{f.name: v.S}}, nil
	}
	lit, hasWild := unescape(v.S)
	if f.text {
		// Phrase search in a text field: wildcards and the comparison are
		// approximated by the words of the value.
		words := strings.NewReplacer("*", " ", "?", " ").Replace(lit)
		if f.phrase != "" {
			words = f.phrase + " " + words
		}
		return m{"match_phrase": m{f.name: strings.TrimSpace(words)}}, nil
	}
	if f.ip {
		if cmp != "" || hasWild {
			return nil, fmt.Errorf("%s on an ip field", cmp)
		}
		return m{"term": m{f.name: lit}}, nil
	}
	pat := wildcardPattern(v.S)
	switch cmp {
	case "contains":
		return m{"wildcard": m{f.name: m{"value": "*" + pat + "*", "case_insensitive": true}}}, nil
	case "startswith":
		if !hasWild {
			return m{"prefix": m{f.name: m{"value": lit, "case_insensitive": true}}}, nil
		}
		return m{"wildcard": m{f.name: m{"value": pat + "*", "case_insensitive": true}}}, nil
	case "endswith":
		return m{"wildcard": m{f.name: m{"value": "*" + pat, "case_insensitive": true}}}, nil
	}
	if hasWild {
		return m{"wildcard": m{f.name: m{"value": pat, "case_insensitive": true}}}, nil
	}
	return m{"term": m{f.name: m{"value": lit, "case_insensitive": true}}}, nil
}

// unescape returns the literal text of a Sigma value (escapes removed,
// wildcards kept as characters) and whether it has unescaped wildcards.
func unescape(s string) (string, bool) {
	var b strings.Builder
	wild := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
			b.WriteByte(s[i+1])
			i++
			continue
		}
		if c == '*' || c == '?' {
			wild = true
		}
		b.WriteByte(c)
	}
	return b.String(), wild
}

// wildcardPattern turns a Sigma value into an Elasticsearch wildcard
// pattern: Sigma wildcards stay, escaped ones are escaped for Lucene.
func wildcardPattern(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
			b.WriteByte('\\')
			b.WriteByte(s[i+1])
			i++
			continue
		}
		if c == '\\' {
			b.WriteString(`\\`)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
