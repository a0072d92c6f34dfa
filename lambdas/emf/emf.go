// Package emf writes CloudWatch Embedded Metric Format (EMF) lines: one JSON
// object per line on stdout, which the Lambda runtime ships to CloudWatch
// Logs and CloudWatch turns into metrics without any API call.
// See https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package emf

import (
	"encoding/json"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gannet-sec/gannet/stream/pipeline"
)

// Namespace is the default CloudWatch namespace of Gannet's metrics.
const Namespace = "Gannet"

// Units used by Gannet's metrics (CloudWatch StandardUnit names).
const (
	Count        = "Count"
	Bytes        = "Bytes"
	Milliseconds = "Milliseconds"
)

// Metric is one named value.
type Metric struct {
	Name  string
	Unit  string
	Value float64
}

// Dim is one dimension (name and value).
type Dim struct{ Name, Value string }

// Emitter writes EMF lines. Every line carries the emitter's base
// dimensions (normally Function=<name>) plus those given to Emit. It is safe
// for concurrent use.
type Emitter struct {
	W         io.Writer // default os.Stdout
	Namespace string    // default Namespace
	Base      []Dim
	Now       func() time.Time

	mu  sync.Mutex
	buf []byte
}

// New returns an emitter for a function: Base is Function=<function>.
func New(function string) *Emitter {
	return &Emitter{Base: []Dim{{"Function", function}}}
}

// FunctionName is the Lambda function name from the environment, or def.
func FunctionName(def string) string {
	if n := os.Getenv("AWS_LAMBDA_FUNCTION_NAME"); n != "" {
		return n
	}
	return def
}

// Emit writes one EMF line holding metrics under the base dimensions plus
// dims (one dimension set). Metrics with an empty name are left out; no
// line is written when none remain.
func (e *Emitter) Emit(dims []Dim, metrics ...Metric) error {
	n := 0
	for _, m := range metrics {
		if m.Name != "" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	ns := e.Namespace
	if ns == "" {
		ns = Namespace
	}
	w := e.W
	if w == nil {
		w = os.Stdout
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.buf[:0]
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, now().UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":`...)
	b = appendJSONString(b, ns)
	b = append(b, `,"Dimensions":[[`...)
	first := true
	for _, set := range [][]Dim{e.Base, dims} {
		for _, d := range set {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendJSONString(b, d.Name)
		}
	}
	b = append(b, `]],"Metrics":[`...)
	first = true
	for _, m := range metrics {
		if m.Name == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"Name":`...)
		b = appendJSONString(b, m.Name)
		if m.Unit != "" {
			b = append(b, `,"Unit":`...)
			b = appendJSONString(b, m.Unit)
		}
		b = append(b, '}')
	}
	b = append(b, `]}]}`...)
	for _, set := range [][]Dim{e.Base, dims} {
		for _, d := range set {
			b = append(b, ',')
			b = appendJSONString(b, d.Name)
			b = append(b, ':')
			b = appendJSONString(b, d.Value)
		}
	}
	for _, m := range metrics {
		if m.Name == "" {
			continue
		}
		b = append(b, ',')
		b = appendJSONString(b, m.Name)
		b = append(b, ':')
		b = strconv.AppendFloat(b, m.Value, 'f', -1, 64)
	}
	b = append(b, "}\n"...)
	e.buf = b
	_, err := w.Write(b)
	return err
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // never fails for a string
	return append(b, q...)
}

// Invocation is what one invocation did, for Report.
type Invocation struct {
	// Stats are the pipeline counters of this invocation only (see Delta).
	Stats pipeline.Stats
	// IteratorAge is the age of the oldest record of the event (now minus
	// its approximateArrivalTimestamp); 0 when unknown.
	IteratorAge time.Duration
	// Extra metrics of the function (e.g. OutputRecords of partition).
	Extra []Metric
}

// Report writes the standard metrics of an invocation: RecordsIn, Events,
// RecordsOut (acknowledged), RecordsFailed, DeadLetters, Alerts,
// IteratorAge, one line per dead-letter reason (dimension Reason) and one
// per stage (dimension Stage, metric StageTime).
func (e *Emitter) Report(inv Invocation) error {
	s := &inv.Stats
	ms := []Metric{
		{"RecordsIn", Count, float64(s.Records)},
		{"RecordBytes", Bytes, float64(s.RecordBytes)},
		{"Events", Count, float64(s.Events)},
		{"RecordsOut", Count, float64(s.Acked)},
		{"RecordsFailed", Count, float64(s.Failed)},
		{"DeadLetters", Count, float64(s.DeadLetters)},
		{"Alerts", Count, float64(s.Alerts)},
	}
	if inv.IteratorAge > 0 {
		ms = append(ms, Metric{"IteratorAge", Milliseconds, float64(inv.IteratorAge.Milliseconds())})
	}
	ms = append(ms, inv.Extra...)
	err := e.Emit(nil, ms...)
	for _, r := range pipeline.SortedKeys(s.DeadByReason) {
		if werr := e.Emit([]Dim{{"Reason", r}}, Metric{"DeadLetters", Count, float64(s.DeadByReason[r])}); err == nil {
			err = werr
		}
	}
	for _, st := range pipeline.SortedKeys(s.StageTime) {
		d := s.StageTime[st]
		if werr := e.Emit([]Dim{{"Stage", st}}, Metric{"StageTime", Milliseconds, float64(d.Microseconds()) / 1000}); err == nil {
			err = werr
		}
	}
	return err
}

// Delta returns cur minus prev: the counters of the work between two
// snapshots of a pipeline's cumulative Stats.
func Delta(prev, cur pipeline.Stats) pipeline.Stats {
	d := cur.Clone()
	d.Records -= prev.Records
	d.RecordBytes -= prev.RecordBytes
	d.Units -= prev.Units
	d.Skipped -= prev.Skipped
	d.Events -= prev.Events
	d.DeadLetters -= prev.DeadLetters
	d.Alerts -= prev.Alerts
	d.Acked -= prev.Acked
	d.Failed -= prev.Failed
	sub(d.EventsByFormat, prev.EventsByFormat)
	sub(d.DeadByReason, prev.DeadByReason)
	sub(d.DeadByStage, prev.DeadByStage)
	sub(d.AlertsByRule, prev.AlertsByRule)
	sub(d.StageTime, prev.StageTime)
	return d
}

func sub[V int64 | time.Duration](dst, prev map[string]V) {
	for k, v := range prev {
		if dst[k] -= v; dst[k] == 0 {
			delete(dst, k)
		}
	}
}

// IteratorAge is now minus the oldest non-zero arrival time (0 when none).
func IteratorAge(now time.Time, arrivals func(yield func(time.Time) bool)) time.Duration {
	var oldest time.Time
	for t := range arrivals {
		if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return max(now.Sub(oldest), 0)
}
