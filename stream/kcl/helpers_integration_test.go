package kcl

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"

	"github.com/gannet-sec/gannet/stream"
)

// localAWS gives the test its own kinesalite and dynalite (stacktest's
// private servers, from the stack's installed packages): the shared stack's
// servers are restarted by other work on this machine, and a private pair
// keeps the SIGKILL and split tests isolated. Elasticsearch, when wanted,
// comes from the shared stack.
func localAWS(t *testing.T) stacktest.Endpoints {
	t.Helper()
	e := stacktest.Lookup()
	e = e.StartPrivate(t, stacktest.Kinesis).Use(e)
	e = e.StartPrivate(t, stacktest.DynamoDB).Use(e)
	return e
}

// createStream makes a stream, waits until it is ACTIVE, returns its ARN and
// deletes it when the test ends.
func createStream(t *testing.T, kc *kinesis.Client, name string, shards int32) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("CreateStream %s: %v", name, err)
	}
	waitActive(t, kc, name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
	d, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("DescribeStreamSummary: %v", err)
	}
	return aws.ToString(d.StreamDescriptionSummary.StreamARN)
}

func waitActive(t *testing.T, kc *kinesis.Client, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 25*time.Second); err != nil {
		t.Fatalf("stream %s not ACTIVE: %v", name, err)
	}
}

// put is where one record landed.
type put struct{ shard, seq string }

// putJSON writes records from..from+n-1 as one JSON object each, in batches
// of 500, and returns where each landed.
func putJSON(t *testing.T, kc *kinesis.Client, name string, from, n int) []put {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out []put
	for start := from; start < from+n; start += 500 {
		var entries []ktypes.PutRecordsRequestEntry
		for i := start; i < from+n && i < start+500; i++ {
			entries = append(entries, ktypes.PutRecordsRequestEntry{
				Data:         fmt.Appendf(nil, `{"@timestamp":"2026-11-01T12:%02d:%02dZ","n":%d,"message":"kcl test record"}`, i/60%60, i%60, i),
				PartitionKey: aws.String(fmt.Sprintf("pk-%d", i)),
			})
		}
		res, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
		if err != nil {
			t.Fatalf("PutRecords: %v", err)
		}
		if c := aws.ToInt32(res.FailedRecordCount); c != 0 {
			t.Fatalf("PutRecords: %d records failed", c)
		}
		for _, r := range res.Records {
			out = append(out, put{shard: aws.ToString(r.ShardId), seq: aws.ToString(r.SequenceNumber)})
		}
	}
	return out
}

// eventIDs are the ids the pipeline gives the events of puts (one event per
// record, lineage as the Lambda path gives it).
func eventIDs(arn string, puts []put) map[string]bool {
	ids := make(map[string]bool, len(puts))
	for _, p := range puts {
		l := stream.Lineage{Kind: stream.OriginKinesis, Source: arn, Shard: p.shard, Sequence: p.seq, SubSequence: -1}
		ids[l.ID().String()] = true
	}
	return ids
}

// lakeIDs reads the event_id column of every committed Parquet file of the
// json table under dir and counts each id.
func lakeIDs(t *testing.T, dir string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	root := filepath.Join(dir, "json")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".parquet") {
			return nil
		}
		r, err := file.OpenParquetFile(path, false)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer r.Close()
		col := r.MetaData().Schema.ColumnIndexByName("event_id")
		if col < 0 {
			return fmt.Errorf("%s has no event_id column", path)
		}
		for g := 0; g < r.NumRowGroups(); g++ {
			cr, err := r.RowGroup(g).Column(col)
			if err != nil {
				return err
			}
			br := cr.(*file.ByteArrayColumnChunkReader)
			vals := make([]parquet.ByteArray, 1024)
			defs := make([]int16, 1024)
			for br.HasNext() {
				_, n, err := br.ReadBatch(int64(len(vals)), vals, defs, nil)
				if err != nil {
					return err
				}
				for _, v := range vals[:n] {
					ids[string(v)]++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the lake: %v", err)
	}
	return ids
}

// missing counts the expected ids absent from got.
func missing(want map[string]bool, got map[string]int) int {
	n := 0
	for id := range want {
		if got[id] == 0 {
			n++
		}
	}
	return n
}

// leaseItems returns the lease table's items by shard id.
func leaseItems(t *testing.T, ddb *dynamodb.Client, table string) map[string]map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	var notFound *dtypes.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return map[string]map[string]string{} // the first worker has not created it yet
	}
	if err != nil {
		t.Fatalf("scan %s: %v", table, err)
	}
	items := map[string]map[string]string{}
	for _, it := range out.Items {
		m := map[string]string{}
		for k, v := range it {
			if s, ok := v.(*dtypes.AttributeValueMemberS); ok {
				m[k] = s.Value
			}
		}
		items[m["ShardID"]] = m
	}
	return items
}

// lastSeqByShard is the sequence of the last record put to each shard.
func lastSeqByShard(puts []put) map[string]string {
	last := map[string]string{}
	for _, p := range puts {
		if cur, ok := last[p.shard]; !ok || seqLess(cur, p.seq) {
			last[p.shard] = p.seq
		}
	}
	return last
}

func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// reachable reports whether the optional component at rawURL accepts connections.
func reachable(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return false
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// testLogger writes the consumer's log to a file, printed when the test fails.
func testLogger(t *testing.T, name string) *slog.Logger {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = f.Close()
		if t.Failed() {
			dumpLog(t, name, path)
		}
	})
	return slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func dumpLog(t *testing.T, name, path string) {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	if len(lines) > 80 {
		lines = lines[len(lines)-80:]
	}
	t.Logf("--- last lines of %s (%s):\n%s", name, path, strings.Join(lines, "\n"))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
