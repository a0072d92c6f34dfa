// Package partition is DP4 streaming: it reads the records of one Kinesis
// event (or of several streams) and writes their user records to N output
// streams chosen by log type, partition key or size balance, KPL-aggregated
// (each aggregated record ≤ 1 MiB, each PutRecords call ≤ 500 entries and
// ≤ 5 MiB). Entries Kinesis rejects (ProvisionedThroughputExceeded,
// InternalFailure) are resent alone, with backoff, until the deadline; the
// result names the first input record whose output did not land, so a
// Lambda reports it as its batchItemFailure. Aggregating many streams into
// one is the same Router with one output.
package partition

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/kpl"
)

// PutRecordsAPI is the one Kinesis call a Router makes (*kinesis.Client fits).
type PutRecordsAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Limits of PutRecords.
const (
	MaxEntries      = 500
	MaxRequestBytes = 5 << 20
)

// Mode says how a user record chooses its output stream.
type Mode string

const (
	// ByFormat routes by log type (the sniffed format of the user record:
	// cloudtrail, alb, vpcflow, …) through Config.Routes; formats without a
	// route go to the "*" route.
	ByFormat Mode = "format"
	// ByKey routes by a hash of the partition key over the outputs: one key
	// always goes to the same output (per-key order is kept).
	ByKey Mode = "key"
	// BySize sends each user record to the output that has received the
	// fewest bytes so far in this call: the load is even, per-key order is not kept.
	BySize Mode = "size"
)

// Config configures a Router.
type Config struct {
	Mode Mode
	// Outputs are the output stream names or ARNs (ByKey, BySize; one for aggregate).
	Outputs []string
	// Routes map a format name (or "*") to an output stream (ByFormat).
	Routes map[string]string
	// MaxRecordSize caps the aggregated records (default and maximum 1 MiB).
	MaxRecordSize int
	// InitialBackoff and MaxBackoff bound the jittered exponential backoff
	// between resends (default 100ms and 5s).
	InitialBackoff, MaxBackoff time.Duration
}

// ParseOutputs reads GANNET_OUTPUT_STREAMS for mode: "stream-a,stream-b" for
// key and size; "cloudtrail=stream-a,alb=stream-b,*=stream-c" for format.
func ParseOutputs(mode Mode, spec string) (Config, error) {
	c := Config{Mode: mode}
	var items []string
	for _, s := range strings.Split(spec, ",") {
		if s = strings.TrimSpace(s); s != "" {
			items = append(items, s)
		}
	}
	if len(items) == 0 {
		return c, errors.New("partition: GANNET_OUTPUT_STREAMS is empty: want at least one output stream")
	}
	switch mode {
	case ByFormat:
		c.Routes = map[string]string{}
		for _, it := range items {
			k, v, ok := strings.Cut(it, "=")
			if !ok || v == "" {
				return c, fmt.Errorf("partition: output %q: want format=stream (or *=stream) in format mode", it)
			}
			if _, known := stream.ParseFormat(k); !known && k != "*" {
				return c, fmt.Errorf("partition: output %q: unknown format %q", it, k)
			}
			c.Routes[k] = v
		}
	case ByKey, BySize:
		for _, it := range items {
			if strings.Contains(it, "=") {
				return c, fmt.Errorf("partition: output %q: %s mode takes plain stream names", it, mode)
			}
		}
		c.Outputs = items
	default:
		return c, fmt.Errorf("partition: routing mode %q: want format, key or size", mode)
	}
	return c, nil
}

// Record is one input record: the data of a Kinesis record (possibly
// KPL-aggregated) and its partition key.
type Record struct {
	Data         []byte
	PartitionKey string
}

// Result of Route.
type Result struct {
	// FirstFailed is the index of the first input record whose user records
	// did not all land, or -1 when everything landed.
	FirstFailed int
	// Err says why (nil when everything landed).
	Err error
	// UserRecords counts user records routed; OutputRecords the aggregated
	// records that landed; Resent the entries sent again after a rejection.
	UserRecords, OutputRecords, Resent int
	// PerOutput counts landed user records by output stream.
	PerOutput map[string]int
}

// Router routes and puts records. It is used by one goroutine at a time.
type Router struct {
	api    PutRecordsAPI
	cfg    Config
	outs   []string // output streams, index = output id
	routes map[string]int
	def    int // ByFormat: output of "*", -1 when none
	aggs   []*kpl.Aggregator
	kr     kpl.Reader
	users  []kpl.UserRecord
	sizes  []int64
	sleep  func(ctx context.Context, d time.Duration) error
}

// New returns a Router.
func New(api PutRecordsAPI, cfg Config) (*Router, error) {
	r := &Router{api: api, cfg: cfg, def: -1, sleep: sleepCtx}
	if cfg.MaxRecordSize <= 0 || cfg.MaxRecordSize > kpl.DefaultMaxSize {
		r.cfg.MaxRecordSize = kpl.DefaultMaxSize
	}
	if r.cfg.InitialBackoff <= 0 {
		r.cfg.InitialBackoff = 100 * time.Millisecond
	}
	if r.cfg.MaxBackoff <= 0 {
		r.cfg.MaxBackoff = 5 * time.Second
	}
	index := map[string]int{}
	add := func(s string) int {
		if i, ok := index[s]; ok {
			return i
		}
		index[s] = len(r.outs)
		r.outs = append(r.outs, s)
		return len(r.outs) - 1
	}
	switch cfg.Mode {
	case ByFormat:
		if len(cfg.Routes) == 0 {
			return nil, errors.New("partition: format mode needs routes")
		}
		r.routes = map[string]int{}
		for _, k := range sortedKeys(cfg.Routes) {
			i := add(cfg.Routes[k])
			if k == "*" {
				r.def = i
			} else {
				r.routes[k] = i
			}
		}
	case ByKey, BySize:
		if len(cfg.Outputs) == 0 {
			return nil, errors.New("partition: no output streams")
		}
		for _, s := range cfg.Outputs {
			add(s)
		}
	default:
		return nil, fmt.Errorf("partition: routing mode %q: want format, key or size", cfg.Mode)
	}
	for range r.outs {
		r.aggs = append(r.aggs, kpl.NewAggregator(r.cfg.MaxRecordSize))
	}
	r.sizes = make([]int64, len(r.outs))
	return r, nil
}

// Outputs returns the output streams, in output-id order.
func (r *Router) Outputs() []string { return r.outs }

// entry is one aggregated record bound for one output, with the input
// records it carries user records of.
type entry struct {
	out      int
	rec      *kpl.Record
	firstIn  int // lowest input index among its user records
	users    int
	attempts int
}

func (e *entry) size() int { return len(e.rec.Data) + len(e.rec.PartitionKey) }

// Route routes every user record of recs, puts them and reports the first
// input record whose output did not land. It stops resending when ctx ends.
func (r *Router) Route(ctx context.Context, recs []Record) Result {
	res := Result{FirstFailed: -1, PerOutput: map[string]int{}}
	clear(r.sizes)
	var entries []*entry
	firstIn := make([]int, len(r.outs))
	users := make([]int, len(r.outs))
	for i := range firstIn {
		firstIn[i] = -1
	}
	flushOut := func(o int, rec *kpl.Record) {
		entries = append(entries, &entry{out: o, rec: rec, firstIn: firstIn[o], users: rec.UserRecords})
		firstIn[o] = -1
	}
	var routeErr error
	failIn := func(i int, err error) {
		if res.FirstFailed < 0 || i < res.FirstFailed {
			res.FirstFailed = i
		}
		if routeErr == nil {
			routeErr = err
		}
	}
	for i := range recs {
		in := &recs[i]
		us := r.userRecords(in)
		for _, u := range us {
			o, err := r.choose(u)
			if err != nil {
				failIn(i, err)
				continue
			}
			pk := u.PartitionKey
			if pk == "" {
				pk = "-"
			}
			out, err := r.aggs[o].Add(pk, u.ExplicitHashKey, u.Data)
			if err != nil {
				failIn(i, err)
				continue
			}
			if out != nil {
				flushOut(o, out)
			}
			if firstIn[o] < 0 {
				firstIn[o] = i
			}
			users[o]++
			res.UserRecords++
			r.sizes[o] += int64(len(u.Data))
		}
	}
	for o, a := range r.aggs {
		if rec := a.Flush(); rec != nil {
			flushOut(o, rec)
		}
	}
	failed, putErr := r.put(ctx, entries, &res)
	for _, e := range failed {
		failIn(e.firstIn, putErr)
	}
	res.Err = routeErr
	for _, e := range entries {
		if e.attempts > 0 && !contains(failed, e) {
			res.PerOutput[r.outs[e.out]] += e.users
		}
	}
	return res
}

func contains(es []*entry, e *entry) bool {
	for _, x := range es {
		if x == e {
			return true
		}
	}
	return false
}

// userRecord is one record to route.
type userRecord struct {
	PartitionKey, ExplicitHashKey string
	Data                          []byte
}

// userRecords de-aggregates a KPL record; anything else (or an aggregated
// record that does not verify) is passed on whole, as one user record:
// partition never drops or rewrites what it cannot read, ingest dead-letters it.
func (r *Router) userRecords(in *Record) []userRecord {
	if kpl.IsAggregated(in.Data) {
		us, err := r.kr.Deaggregate(r.users[:0], in.Data)
		r.users = us
		if err == nil {
			out := make([]userRecord, len(us))
			for i, u := range us {
				out[i] = userRecord{PartitionKey: string(u.PartitionKey), ExplicitHashKey: string(u.ExplicitHashKey), Data: u.Data}
			}
			return out
		}
	}
	return []userRecord{{PartitionKey: in.PartitionKey, Data: in.Data}}
}

// choose picks the output of one user record.
func (r *Router) choose(u userRecord) (int, error) {
	switch r.cfg.Mode {
	case ByKey:
		h := fnv.New64a()
		h.Write([]byte(u.PartitionKey))
		return int(h.Sum64() % uint64(len(r.outs))), nil
	case BySize:
		best := 0
		for i, s := range r.sizes {
			if s < r.sizes[best] {
				best = i
			}
		}
		return best, nil
	}
	f := LogType(u.Data)
	if o, ok := r.routes[f]; ok {
		return o, nil
	}
	if r.def >= 0 {
		return r.def, nil
	}
	return 0, stream.Permanentf("partition_no_route", "no output stream for log type %q and no * route", f)
}

// LogType is the format name of a user record ("cloudtrail", "alb", …),
// sniffed from its first line; "gzip" for compressed payloads (CloudWatch
// Logs subscriptions) and "unknown" when nothing fits.
func LogType(data []byte) string {
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		return "gzip"
	}
	line := data
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return format.Sniff(line).String()
}

// put sends the entries in PutRecords calls per output stream, resending
// rejected entries with backoff, and returns those that never landed.
func (r *Router) put(ctx context.Context, entries []*entry, res *Result) ([]*entry, error) {
	var failed []*entry
	var lastErr error
	for o := range r.outs {
		var pending []*entry
		for _, e := range entries {
			if e.out == o {
				pending = append(pending, e)
			}
		}
		backoff := r.cfg.InitialBackoff
		for len(pending) > 0 {
			var next []*entry
			for start := 0; start < len(pending); {
				end, bytes := start, 0
				for end < len(pending) && end-start < MaxEntries && bytes+pending[end].size() <= MaxRequestBytes {
					bytes += pending[end].size()
					end++
				}
				rejected, err := r.putBatch(ctx, o, pending[start:end], res)
				if err != nil {
					lastErr = err
				}
				next = append(next, rejected...)
				start = end
			}
			if len(next) == 0 {
				break
			}
			// Resend only what was rejected, after a jittered backoff, while time remains.
			d := backoff/2 + rand.N(backoff/2+1)
			if err := r.sleep(ctx, d); err != nil {
				lastErr = fmt.Errorf("%w; last rejection: %w", err, lastErr)
				failed = append(failed, next...)
				break
			}
			backoff = min(backoff*2, r.cfg.MaxBackoff)
			res.Resent += len(next)
			pending = next
		}
	}
	return failed, lastErr
}

// putBatch sends one PutRecords call and returns the entries to resend.
func (r *Router) putBatch(ctx context.Context, o int, batch []*entry, res *Result) ([]*entry, error) {
	in := &kinesis.PutRecordsInput{Records: make([]types.PutRecordsRequestEntry, len(batch))}
	if strings.HasPrefix(r.outs[o], "arn:") {
		in.StreamARN = aws.String(r.outs[o])
	} else {
		in.StreamName = aws.String(r.outs[o])
	}
	for i, e := range batch {
		e.attempts++
		in.Records[i] = types.PutRecordsRequestEntry{Data: e.rec.Data, PartitionKey: aws.String(e.rec.PartitionKey)}
		if e.rec.ExplicitHashKey != "" {
			in.Records[i].ExplicitHashKey = aws.String(e.rec.ExplicitHashKey)
		}
	}
	if err := ctx.Err(); err != nil {
		return batch, err
	}
	out, err := r.api.PutRecords(ctx, in)
	if err != nil {
		return batch, fmt.Errorf("PutRecords to %s: %w", r.outs[o], err)
	}
	if len(out.Records) != len(batch) {
		return batch, fmt.Errorf("PutRecords to %s: %d results for %d entries", r.outs[o], len(out.Records), len(batch))
	}
	var rejected []*entry
	var first error
	for i, rr := range out.Records {
		if rr.ErrorCode != nil && *rr.ErrorCode != "" {
			rejected = append(rejected, batch[i])
			if first == nil {
				first = fmt.Errorf("PutRecords to %s: entry rejected: %s: %s", r.outs[o], *rr.ErrorCode, aws.ToString(rr.ErrorMessage))
			}
			continue
		}
		res.OutputRecords++
	}
	return rejected, first
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return fmt.Errorf("no time left to resend (deadline in %s): %w", time.Until(dl).Round(time.Millisecond), context.DeadlineExceeded)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
