package kcl

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Metrics holds the consumer's counters and gauges and serves them in the
// Prometheus text exposition format (version 0.0.4), written by hand: the
// handful of series here do not justify client_golang's dependency tree.
// Safe for concurrent use. The zero value is not usable; call NewMetrics.
type Metrics struct {
	mu  sync.Mutex
	fam map[string]*family
}

type family struct {
	name, help, typ string
	vals            map[string]float64 // rendered label set → value
}

// Metric names (all prefixed gannet_kcl_).
const (
	mRecords      = "gannet_kcl_records_total"
	mEvents       = "gannet_kcl_events_total"
	mRecordFails  = "gannet_kcl_record_failures_total"
	mCheckpointed = "gannet_kcl_records_checkpointed_total"
	mDeadLetters  = "gannet_kcl_dead_letters_total"
	mAlerts       = "gannet_kcl_alerts_total"
	mCheckpoints  = "gannet_kcl_checkpoints_total"
	mFlushes      = "gannet_kcl_flushes_total"
	mBehind       = "gannet_kcl_millis_behind_latest"
	mIteratorAge  = "gannet_kcl_iterator_age_seconds"
	mInflight     = "gannet_kcl_inflight_records"
	mStalls       = "gannet_kcl_gap_stalls_total"
	mLeaseEvents  = "gannet_kcl_lease_events_total"
	mLeases       = "gannet_kcl_leases_held"
	mGetRecords   = "gannet_kcl_get_records_seconds_total"
)

// NewMetrics returns an empty set of the consumer's metrics.
func NewMetrics() *Metrics {
	m := &Metrics{fam: map[string]*family{}}
	def := func(name, typ, help string) {
		m.fam[name] = &family{name: name, help: help, typ: typ, vals: map[string]float64{}}
	}
	def(mRecords, "counter", "Kinesis records received, by shard.")
	def(mEvents, "counter", "Events parsed from the records, by shard.")
	def(mRecordFails, "counter", "Record processing attempts that failed and will be retried, by shard.")
	def(mCheckpointed, "counter", "Records below a written checkpoint (acknowledged), by shard.")
	def(mDeadLetters, "counter", "Records or events dead-lettered, by stage and reason code.")
	def(mAlerts, "counter", "Alerts raised.")
	def(mCheckpoints, "counter", "Checkpoint writes, by shard and result (ok, lease_lost, error).")
	def(mFlushes, "counter", "Sink flushes, by result (ok, error).")
	def(mBehind, "gauge", "MillisBehindLatest of the last GetRecords, by shard (the consumer's lag).")
	def(mIteratorAge, "gauge", "Age of the newest record of the last batch (now - arrival), by shard.")
	def(mInflight, "gauge", "Records read but not yet below the checkpoint, by shard.")
	def(mStalls, "counter", "Times fetching stopped because the in-flight gap reached its cap, by shard.")
	def(mLeaseEvents, "counter", "Lease events, by event (gained, renewed, lost).")
	def(mLeases, "gauge", "Shard leases this worker holds.")
	def(mGetRecords, "counter", "Time spent in GetRecords calls, in seconds.")
	return m
}

func labels(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		for _, r := range kv[i+1] {
			switch r {
			case '\\':
				b.WriteString(`\\`)
			case '"':
				b.WriteString(`\"`)
			case '\n':
				b.WriteString(`\n`)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
	}
	return b.String()
}

func (m *Metrics) add(name, lbl string, d float64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.fam[name].vals[lbl] += d
	m.mu.Unlock()
}

func (m *Metrics) set(name, lbl string, v float64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.fam[name].vals[lbl] = v
	m.mu.Unlock()
}

func (m *Metrics) del(name, lbl string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	delete(m.fam[name].vals, lbl)
	m.mu.Unlock()
}

// Value returns the current value of one series (0 when absent); kv are
// label name/value pairs. Meant for tests and summaries.
func (m *Metrics) Value(name string, kv ...string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.fam[name]
	if f == nil {
		return 0
	}
	return f.vals[labels(kv...)]
}

// Sum returns the sum of every series of a metric.
func (m *Metrics) Sum(name string) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s float64
	if f := m.fam[name]; f != nil {
		for _, v := range f.vals {
			s += v
		}
	}
	return s
}

// WriteTo writes every metric in the text exposition format.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	m.mu.Lock()
	names := make([]string, 0, len(m.fam))
	for n := range m.fam {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		f := m.fam[n]
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
		keys := make([]string, 0, len(f.vals))
		for k := range f.vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 && !strings.Contains(f.name, "_total") {
			fmt.Fprintf(&b, "%s 0\n", f.name)
		}
		for _, k := range keys {
			b.WriteString(f.name)
			if k != "" {
				b.WriteString("{" + k + "}")
			}
			b.WriteByte(' ')
			b.WriteString(formatFloat(f.vals[k]))
			b.WriteByte('\n')
		}
	}
	m.mu.Unlock()
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// ServeHTTP serves the metrics (mount it at /metrics).
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = m.WriteTo(w)
}
