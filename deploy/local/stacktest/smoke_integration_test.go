package stacktest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/olivere/elastic/v7"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
)

// 1. A 2-shard stream on kinesalite: PutRecords, then read every shard back.
func TestIntegrationKinesisPutRecordsReadBack(t *testing.T) {
	ep := stacktest.Require(t, stacktest.Kinesis)
	kc := ep.Kinesis(t)
	stream := stacktest.UniqueName(t, "smoke")
	stacktest.CreateStream(t, kc, stream, 2)
	const n = 50
	stacktest.PutRecords(t, kc, stream, n)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatalf("ListShards: %v", err)
	}
	if len(shards.Shards) != 2 {
		t.Fatalf("got %d shards, want 2", len(shards.Shards))
	}
	var got []string
	perShard := map[string]int{}
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			t.Fatalf("GetShardIterator %s: %v", aws.ToString(sh.ShardId), err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
			if err != nil {
				t.Fatalf("GetRecords %s: %v", aws.ToString(sh.ShardId), err)
			}
			for _, r := range out.Records {
				got = append(got, string(r.Data))
			}
			perShard[aws.ToString(sh.ShardId)] += len(out.Records)
			if len(out.Records) == 0 || aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	sort.Strings(got)
	if len(got) != n {
		t.Fatalf("read back %d records, want %d (per shard %v)", len(got), n, perShard)
	}
	for i, s := range got {
		if want := fmt.Sprintf("record-%05d", i); s != want {
			t.Fatalf("record %d = %q, want %q", i, s, want)
		}
	}
	for id, c := range perShard {
		if c == 0 {
			t.Errorf("shard %s got no records; partition keys should spread over both shards (%v)", id, perShard)
		}
	}
}

// 3. S3 on versitygw: put/get/list and a multipart upload, all SigV4-signed.
func TestIntegrationS3PutGetListMultipart(t *testing.T) {
	ep := stacktest.Require(t, stacktest.S3)
	sc := ep.S3(t)
	bucket := stacktest.UniqueName(t, "smoke")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	for _, k := range []string{"logs/a.json", "logs/b.json", "other/c.json"} {
		if _, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("body of " + k)}); err != nil {
			t.Fatalf("PutObject %s: %v", k, err)
		}
	}
	get, err := sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("logs/b.json")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	b, _ := io.ReadAll(get.Body)
	_ = get.Body.Close()
	if string(b) != "body of logs/b.json" {
		t.Fatalf("GetObject body = %q", b)
	}
	list, err := sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("logs/")})
	if err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if strings.Join(keys, ",") != "logs/a.json,logs/b.json" {
		t.Fatalf("ListObjectsV2 prefix logs/ = %v", keys)
	}

	// Multipart: a 5 MiB part and a small last part.
	key := "multipart/object.bin"
	parts := [][]byte{bytes.Repeat([]byte("a"), 5<<20), []byte("tail")}
	mp, err := sc.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var done []s3types.CompletedPart
	for i, p := range parts {
		num := aws.Int32(int32(i + 1))
		up, err := sc.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mp.UploadId, PartNumber: num, Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", i+1, err)
		}
		done = append(done, s3types.CompletedPart{ETag: up.ETag, PartNumber: num})
	}
	if _, err := sc.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mp.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: done},
	}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	get, err = sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject multipart: %v", err)
	}
	b, _ = io.ReadAll(get.Body)
	_ = get.Body.Close()
	if want := bytes.Join(parts, nil); !bytes.Equal(b, want) {
		t.Fatalf("multipart object: got %d bytes, want %d", len(b), len(want))
	}
	if etag := aws.ToString(get.ETag); !strings.Contains(etag, "-2") {
		t.Errorf("multipart ETag %s does not end in -2", etag)
	}

	// Wrong credentials are refused: SigV4 is really checked.
	bad := stacktest.Lookup()
	bad.SecretAccessKey = "wrong-secret"
	if _, err := bad.S3(t).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}); err == nil {
		t.Errorf("ListObjectsV2 with a wrong secret succeeded; versitygw should check SigV4")
	}
}

// 4. Bulk-index and search through olivere/elastic/v7 on Elasticsearch and OpenSearch.
func TestIntegrationSearchBulkIndexAndSearch(t *testing.T) {
	for _, engine := range []string{stacktest.Elasticsearch, stacktest.OpenSearch} {
		t.Run(engine, func(t *testing.T) {
			ep := stacktest.Require(t, engine)
			var es *elastic.Client
			if engine == stacktest.Elasticsearch {
				es = ep.Elastic(t)
			} else {
				es = ep.OpenSearch(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			index := stacktest.UniqueName(t, "gannet-smoke")
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, _ = es.DeleteIndex(index).Do(ctx)
			})
			bulk := es.Bulk().Index(index).Refresh("true")
			const n = 200
			for i := 0; i < n; i++ {
				action := "ConsoleLogin"
				if i%4 == 0 {
					action = "DeleteTrail"
				}
				bulk.Add(elastic.NewBulkIndexRequest().Id(fmt.Sprintf("evt-%d", i)).Doc(map[string]any{
					"event_id": fmt.Sprintf("evt-%d", i), "action": action, "seq": i,
					"@timestamp": time.Date(2026, 11, 1, 0, 0, i, 0, time.UTC).Format(time.RFC3339),
				}))
			}
			res, err := bulk.Do(ctx)
			if err != nil {
				t.Fatalf("bulk: %v", err)
			}
			if res.Errors || len(res.Items) != n {
				t.Fatalf("bulk: errors=%v items=%d failed=%v", res.Errors, len(res.Items), res.Failed())
			}
			sr, err := es.Search(index).Query(elastic.NewMatchQuery("action", "DeleteTrail")).Size(0).TrackTotalHits(true).Do(ctx)
			if err != nil {
				t.Fatalf("search: %v", err)
			}
			if got := sr.TotalHits(); got != n/4 {
				t.Fatalf("search action=DeleteTrail: %d hits, want %d", got, n/4)
			}
			sr, err = es.Search(index).Query(elastic.NewRangeQuery("seq").Gte(190)).Sort("seq", true).Size(20).Do(ctx)
			if err != nil {
				t.Fatalf("range search: %v", err)
			}
			if len(sr.Hits.Hits) != 10 || sr.Hits.Hits[0].Id != "evt-190" {
				t.Fatalf("range search seq>=190: %d hits, first %v", len(sr.Hits.Hits), sr.Hits.Hits)
			}
		})
	}
}

// 6. A component killed during a test makes the test's next call fail within a
// bounded time, with an error that names the component.
func TestIntegrationKilledComponentFailsFastNamingIt(t *testing.T) {
	for _, c := range []string{stacktest.Kinesis, stacktest.DynamoDB} {
		t.Run(c, func(t *testing.T) {
			base := stacktest.Require(t, c)
			srv := base.StartPrivate(t, c)
			ep := srv.Use(base)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			call := func(ctx context.Context) error {
				if c == stacktest.Kinesis {
					_, err := ep.Kinesis(t).ListStreams(ctx, &kinesis.ListStreamsInput{})
					return err
				}
				_, err := ep.DynamoDB(t).ListTables(ctx, &dynamodb.ListTablesInput{})
				return err
			}
			if err := call(ctx); err != nil {
				t.Fatalf("private %s before the kill: %v", c, err)
			}
			srv.Kill()
			start := time.Now()
			err := call(ctx)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatalf("call to the killed %s succeeded", c)
			}
			if elapsed > 15*time.Second {
				t.Fatalf("call to the killed %s took %s (bound 15s)", c, elapsed)
			}
			var ce *stacktest.ComponentError
			if !errors.As(err, &ce) || ce.Component != c {
				t.Fatalf("error does not carry the component %s: %v", c, err)
			}
			if !strings.Contains(err.Error(), c) || !strings.Contains(err.Error(), srv.Endpoint) {
				t.Fatalf("error %q names neither %s nor %s", err, c, srv.Endpoint)
			}
			t.Logf("killed %s: failed after %s with: %v", c, elapsed.Round(time.Millisecond), err)
		})
	}
}
