package reliability_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/sink/lake/s3store"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/decode"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/reliability"
	"github.com/gannet-sec/gannet/stream/reliability/faultproxy"
	"github.com/gannet-sec/gannet/stream/setup"
)

// chaosFull reports whether the full fault matrix was asked for (make chaos).
func chaosFull() bool { return os.Getenv("GANNET_CHAOS") == "full" }

const chaosBucket = "gannet-reliability"

// chaosEnv is the local stack behind two fault proxies.
type chaosEnv struct {
	ep      stacktest.Endpoints
	es, s3  *faultproxy.Proxy
	s3c     *s3.Client
	reports []*reliability.Report
	st      *streamEnv // private kinesalite/dynalite, started by the first stream row
	t       *testing.T // the matrix's test (owns the private servers)
}

func newChaosEnv(t *testing.T) *chaosEnv {
	ep := stacktest.Require(t, "s3", "elasticsearch")
	env := &chaosEnv{ep: ep, s3c: ep.S3(t), t: t}
	var err error
	if env.es, err = faultproxy.New(ep.ESURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.es.Close() })
	if env.s3, err = faultproxy.New(ep.S3Endpoint); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.s3.Close() })
	ctx := context.Background()
	if _, err := env.s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(chaosBucket)}); err != nil {
		var ae smithy.APIError
		if !errors.As(err, &ae) || (ae.ErrorCode() != "BucketAlreadyOwnedByYou" && ae.ErrorCode() != "BucketAlreadyExists") {
			t.Fatal(err)
		}
	}
	// The lake's S3 client (setup.LakeStore: the standard AWS configuration)
	// talks to versitygw through the proxy.
	t.Setenv("AWS_ENDPOINT_URL_S3", env.s3.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", ep.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ep.SecretAccessKey)
	t.Setenv("AWS_REGION", stacktest.Region)
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	return env
}

// scenario is one row of the fault matrix.
type scenario struct {
	name  string
	full  bool // only in the full matrix
	rules []faultproxy.Rule
	// on says which proxy the rules go to: "es" or "s3".
	on string
	// persistent faults stay until the first run ends (the run has a short
	// deadline, as a Lambda does); the records must then be unacknowledged
	// and a rerun of just those must complete them. Otherwise the sinks'
	// own retries must absorb the faults within the deadline.
	persistent bool
	// deadline of the first run.
	deadline time.Duration
	// lambdaRetry reruns from the lowest failed record onwards (what a
	// Lambda's Kinesis event source does with batchItemFailures), instead
	// of just the failed records.
	lambdaRetry bool
	// wantDead are reason codes that must appear among the dead letters.
	wantDead []string
}

func (env *chaosEnv) run(t *testing.T, sc scenario) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []*faultproxy.Proxy{env.es, env.s3} {
		p.Clear()
		p.ResetStats()
	}
	prefix := fmt.Sprintf("chaos/%s-%d", strings.ReplaceAll(sc.name, " ", "_"), time.Now().UnixNano())
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DLQ = filepath.Join(dir, "dlq")
	cfg.Lake = "s3://" + chaosBucket + "/" + prefix
	cfg.ESURL = env.es.URL
	cfg.IntelDemo = true
	var logs bytes.Buffer
	b, err := setup.Build(ctx, cfg, setup.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("setup: %v", err)
	}
	defer b.Close(ctx)

	s := newStream(t)
	recs := goodRecords(t, s, 20)
	// Permanently bad input rides along: it must be dead-lettered under faults too.
	recs = append(recs, s.record([]byte("\x00\x01 garbage no parser knows")))
	var permIDs map[string]bool
	for _, r := range sc.rules {
		if r.Kind == faultproxy.BulkItems && r.Status < 500 && r.Status != http.StatusTooManyRequests {
			permIDs = map[string]bool{}
		}
	}
	if permIDs != nil {
		// Fail every 7th event for good (a mapping rejection).
		for i, u := range reliability.Expect(recs, decode.New(decode.Options{}), nil) {
			if i%7 == 3 && !u.DecodeFail {
				permIDs[u.ID.String()] = true
			}
		}
		for i := range sc.rules {
			if sc.rules[i].Kind == faultproxy.BulkItems && sc.rules[i].Items == nil {
				sc.rules[i].Items = func(id string) bool { return permIDs[id] }
			}
		}
	}
	proxy := env.es
	if sc.on == "s3" {
		proxy = env.s3
	}
	proxy.Add(sc.rules...)

	deadline := sc.deadline
	if deadline == 0 {
		deadline = 60 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, deadline)
	start := time.Now()
	res := b.Pipeline.Process(rctx, recs)
	cancel()
	took := time.Since(start)
	injected := proxy.Stats()
	t.Logf("%s: run 1 took %v, %d/%d records unacknowledged, faults injected %v, err %v", sc.name, took.Round(time.Millisecond), len(res.Failed), len(recs), injected.Injected, short(res.Err))
	if injected.Total() == 0 && len(sc.rules) > 0 {
		t.Errorf("%s: no fault was injected (the proxy saw %d requests)", sc.name, injected.Requests)
	}
	if sc.persistent {
		if len(res.Failed) == 0 {
			t.Errorf("%s: a fault that lasted the whole run left no record unacknowledged", sc.name)
		}
		if c, _ := stream.ClassOf(res.Err); res.Err != nil && c == stream.Permanent {
			t.Errorf("%s: a transient fault was reported as permanent: %v", sc.name, res.Err)
		}
	} else if len(res.Failed) > 0 {
		t.Errorf("%s: %d records unacknowledged although the sinks' retries should absorb the faults: %s", sc.name, len(res.Failed), short(res.Err))
	}
	if sc.persistent {
		// A transient fault must never dead-letter a record.
		n := 0
		_ = filepath.Walk(cfg.DLQ, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				data, _ := os.ReadFile(p)
				for _, code := range []string{`"es_http_503"`, `"es_unavailable"`, `"throttled"`, `"retryable"`, `s3_`} {
					n += bytes.Count(data, []byte(code))
				}
			}
			return nil
		})
		if n > 0 {
			t.Errorf("%s: %d dead letters carry a transient reason", sc.name, n)
		}
	}
	proxy.Clear()

	// Retry what was not acknowledged, as the Lambda's event source would.
	failed := res.Failed
	for attempt := 1; len(failed) > 0 && attempt <= 3; attempt++ {
		var again []stream.Record
		if sc.lambdaRetry {
			again = recs[failed[0]:]
		} else {
			for _, i := range failed {
				again = append(again, recs[i])
			}
		}
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		r2 := b.Pipeline.Process(rctx, again)
		cancel()
		t.Logf("%s: retry %d of %d records: %d unacknowledged (%v)", sc.name, attempt, len(again), len(r2.Failed), short(r2.Err))
		failed = nil
		for _, i := range r2.Failed {
			failed = append(failed, indexOf(recs, &again[i]))
		}
	}
	if len(failed) > 0 {
		t.Errorf("%s: %d records still unacknowledged after the faults ended", sc.name, len(failed))
	}
	if err := b.Close(ctx); err != nil {
		t.Errorf("%s: close: %v", sc.name, err)
	}

	// Accounting against the real servers, not through the proxies.
	st := s3store.New(s3store.FromClient(env.s3c), s3store.Options{Bucket: chaosBucket, Prefix: prefix + "/"})
	units := reliability.Expect(recs, decode.New(decode.Options{MaxDecompressed: int64(cfg.MaxRecordBytes)}), format.NewSet(format.Options{}))
	rep, err := reliability.Account(ctx, sc.name, len(recs), units, reliability.Outputs{
		Lake: st, ES: &reliability.ES{URL: env.ep.ESURL}, DLQ: cfg.DLQ})
	if err != nil {
		t.Fatal(err)
	}
	env.reports = append(env.reports, rep)
	reliability.Check(t, rep)
	for _, code := range append([]string{"format_unrecognised"}, sc.wantDead...) {
		if rep.ByReason[code] == 0 {
			t.Errorf("%s: no dead letter with reason %s (got %v)", sc.name, code, rep.ByReason)
		}
	}
	if permIDs != nil && rep.DeadLettered < len(permIDs) {
		t.Errorf("%s: %d dead letters for %d permanently rejected documents", sc.name, rep.DeadLettered, len(permIDs))
	}
	if strings.Contains(logs.String(), env.ep.SecretAccessKey) {
		t.Errorf("%s: the S3 secret key appears in the logs", sc.name)
	}
}

// short keeps error messages in the log readable.
func short(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := err.Error()
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func indexOf(recs []stream.Record, r *stream.Record) int {
	for i := range recs {
		if recs[i].Lineage == r.Lineage {
			return i
		}
	}
	return -1
}

func bulkItems(name string, status int, errType string, times int, every int) faultproxy.Rule {
	r := faultproxy.Rule{Name: name, Match: faultproxy.IsBulk, Kind: faultproxy.BulkItems, Status: status, ErrType: errType, Times: times}
	if every > 0 {
		// By id, so that the same documents fail on every attempt.
		r.Items = func(id string) bool { return len(id) > 0 && int(id[len(id)-1])%every == 0 }
	}
	return r
}

func times(r faultproxy.Rule, n int) faultproxy.Rule { r.Times = n; return r }

func named(r faultproxy.Rule, name string) faultproxy.Rule { r.Name = name; return r }

// matrix is the fault matrix; rows marked full run only with GANNET_CHAOS=full.
func matrix() []scenario {
	hang := faultproxy.Rule{Name: "es-timeout", Match: faultproxy.IsBulk, Kind: faultproxy.Hang}
	s3hang := faultproxy.Rule{Name: "s3-timeout", Match: faultproxy.IsS3Write, Kind: faultproxy.Hang}
	reset := faultproxy.Rule{Name: "s3-reset", Match: faultproxy.IsS3Write, Kind: faultproxy.Reset}
	esReset := faultproxy.Rule{Name: "es-reset", Match: faultproxy.IsBulk, Kind: faultproxy.Reset}
	return []scenario{
		{name: "no fault"},
		{name: "es 429 ×3, Retry-After 1", on: "es", rules: []faultproxy.Rule{times(faultproxy.ESThrottle("1"), 3)}},
		{name: "es 503 whole run", on: "es", rules: []faultproxy.Rule{faultproxy.ESUnavailable()}, persistent: true, deadline: 4 * time.Second},
		{name: "es timeout whole run", on: "es", rules: []faultproxy.Rule{hang}, persistent: true, deadline: 4 * time.Second},
		{name: "es partial bulk: item 429 ×10", on: "es", rules: []faultproxy.Rule{bulkItems("es-item-429", 429, "es_rejected_execution_exception", 10, 3)}},
		{name: "es partial bulk: item 400 mapping", on: "es", rules: []faultproxy.Rule{bulkItems("es-item-400", 400, "mapper_parsing_exception", 0, 0)},
			wantDead: []string{"es_mapper_parsing_exception"}},
		{name: "s3 500 InternalError ×2", on: "s3", rules: []faultproxy.Rule{times(faultproxy.S3Error(500, "InternalError"), 2)}},
		{name: "s3 503 SlowDown whole run", on: "s3", rules: []faultproxy.Rule{faultproxy.S3Error(503, "SlowDown")}, persistent: true, deadline: 4 * time.Second},
		{name: "s3 connection reset ×2", on: "s3", rules: []faultproxy.Rule{times(reset, 2)}},

		// full matrix only
		{name: "es 429 whole run", full: true, on: "es", rules: []faultproxy.Rule{faultproxy.ESThrottle("1")}, persistent: true, deadline: 4 * time.Second},
		{name: "es 503 ×2", full: true, on: "es", rules: []faultproxy.Rule{times(faultproxy.ESUnavailable(), 2)}},
		{name: "es timeout ×1 (5 s), then ok", full: true, on: "es", rules: []faultproxy.Rule{times(faultproxy.Rule{Name: "es-slow-hang", Match: faultproxy.IsBulk, Kind: faultproxy.Hang, Delay: 5 * time.Second}, 1)}},
		{name: "es connection reset ×3", full: true, on: "es", rules: []faultproxy.Rule{times(esReset, 3)}},
		{name: "es partial bulk: item 429 whole run", full: true, on: "es", rules: []faultproxy.Rule{bulkItems("es-item-429", 429, "es_rejected_execution_exception", 0, 2)}, persistent: true, deadline: 4 * time.Second},
		{name: "es partial bulk: item 503 whole run, lambda retry", full: true, on: "es", rules: []faultproxy.Rule{bulkItems("es-item-503", 503, "unavailable_shards_exception", 0, 5)}, persistent: true, deadline: 4 * time.Second, lambdaRetry: true},
		{name: "es 503 whole run, lambda retry", full: true, on: "es", rules: []faultproxy.Rule{faultproxy.ESUnavailable()}, persistent: true, deadline: 4 * time.Second, lambdaRetry: true},
		{name: "s3 503 SlowDown ×3", full: true, on: "s3", rules: []faultproxy.Rule{times(faultproxy.S3Error(503, "SlowDown"), 3)}},
		{name: "s3 500 whole run", full: true, on: "s3", rules: []faultproxy.Rule{named(faultproxy.S3Error(500, "InternalError"), "s3-500")}, persistent: true, deadline: 4 * time.Second},
		{name: "s3 connection reset whole run", full: true, on: "s3", rules: []faultproxy.Rule{reset}, persistent: true, deadline: 4 * time.Second},
		{name: "s3 timeout whole run", full: true, on: "s3", rules: []faultproxy.Rule{s3hang}, persistent: true, deadline: 4 * time.Second},
		{name: "s3 SlowDown whole run, lambda retry", full: true, on: "s3", rules: []faultproxy.Rule{faultproxy.S3Error(503, "SlowDown")}, persistent: true, deadline: 4 * time.Second, lambdaRetry: true},
	}
}

func subtestName(s string) string {
	return strings.NewReplacer(" ", "_", ",", "", "×", "x", ":", "").Replace(s)
}

// TestIntegrationFaultMatrix runs the pipeline (setup.Build: S3 lake,
// Elasticsearch, dead-letter directory) against the local stack through
// fault-injecting proxies, scenario by scenario, and accounts for every
// input record afterwards: in the lake, in Elasticsearch exactly once, or
// dead-lettered with a reason. GANNET_CHAOS=full runs every row.
func TestIntegrationFaultMatrix(t *testing.T) {
	env := newChaosEnv(t)
	for _, sc := range matrix() {
		if sc.full && !chaosFull() {
			continue
		}
		t.Run(subtestName(sc.name), func(t *testing.T) { env.run(t, sc) })
	}
	// The stream rows: partition, the KCL consumer, the ingest handler.
	rows := []struct {
		name string
		run  func(t *testing.T, name string)
	}{
		{"partition: PutRecords partial failures", env.runPartition},
		{"ingest: deadline mid-batch", env.runIngestDeadline},
		{"kcl: 3 workers racing, lease writes refused", func(t *testing.T, name string) {
			env.runKCL(t, kclRow{name: name, seed: 1, workers: 3, ddbFaults: 12})
		}},
	}
	seeds := 2
	if chaosFull() {
		seeds = 20
	}
	for s := 1; s <= seeds; s++ {
		seed := uint64(s)
		rows = append(rows, struct {
			name string
			run  func(t *testing.T, name string)
		}{fmt.Sprintf("kcl: SIGKILL a worker, seed %d", s), func(t *testing.T, name string) {
			env.runKCL(t, kclRow{name: name, seed: seed, workers: 2, kill: true})
		}})
	}
	for _, r := range rows {
		t.Run(subtestName(r.name), func(t *testing.T) { r.run(t, r.name) })
	}
	reliability.Log(t, env.reports...)
}
