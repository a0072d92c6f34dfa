package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/klauspost/compress/gzip"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/lambdas/coldstart"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/gen"
)

// writeCloudTrailObject writes a gzip'd {"Records":[…]} CloudTrail file of
// about size uncompressed bytes and returns its path and event count.
func writeCloudTrailObject(t *testing.T, size int64) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ct.json.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	bw := bufio.NewWriterSize(zw, 1<<20)
	bw.WriteString(`{"Records":[`)
	n, written := 0, int64(0)
	for chunk := 0; written < size; chunk++ {
		var buf bytes.Buffer
		if err := cloudtrail.Generate(&buf, gen.Options{Count: 5000, Seed: int64(chunk + 1), Start: gen.DefaultStart.Add(time.Duration(chunk) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
			if n > 0 {
				bw.WriteString(",\n")
			}
			bw.Write(line)
			written += int64(len(line)) + 2
			n++
		}
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, n
}

var idRE = regexp.MustCompile(`"event":\{"id":"([0-9a-f]{32})"`)

// TestIntegrationS3EventResumesAcrossInvocations streams a gzip CloudTrail
// object from the local S3 server with a very short deadline (300 ms of work
// an invocation), in process: the object takes several invocations chained
// through continuation messages on a real SQS queue (moto), and every event
// comes out exactly once by event id. GANNET_LONG_TESTS=1 makes the object
// 200 MB uncompressed; the default is 24 MB. The 200 MB *gzip* acceptance
// case, under the Lambda runtime emulator, is
// TestIntegrationS3EventResumes200MBGzipObject.
func TestIntegrationS3EventResumesAcrossInvocations(t *testing.T) {
	ep := stacktest.Require(t, stacktest.S3, stacktest.Moto)
	// 300 ms of work per invocation (deadline minus the 800 ms margin): the
	// object cannot fit one invocation on any machine this runs on, and a
	// follow-up still reaches its offset (inflating up to 24 MB and
	// discarding it, ~70 ms of CPU) on a machine loaded 3×; when it does not,
	// the message is redelivered, as SQS would.
	size, deadline := int64(24<<20), 1100*time.Millisecond
	if os.Getenv("GANNET_LONG_TESTS") == "1" {
		size, deadline = 200<<20, 4*time.Second
	}
	ctx := context.Background()
	awsCfg := ep.AWSConfig(t)
	s3c := ep.S3(t)
	sqsc := sqs.NewFromConfig(awsCfg)

	bucket := fmt.Sprintf("s3event-%d", time.Now().UnixNano())
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	removeBucket(t, s3c, bucket)
	path, events_ := writeCloudTrailObject(t, size)
	st, _ := os.Stat(path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	key := "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/big file.json.gz"
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: f, ContentLength: aws.Int64(st.Size())}); err != nil {
		t.Fatal(err)
	}
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqsc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })

	out := filepath.Join(t.TempDir(), "events.ndjson")
	t.Setenv("GANNET_OUT", out)
	t.Setenv("GANNET_ES_URL", "") // the stack's environment names Elasticsearch; this test counts ids in NDJSON
	t.Setenv("GANNET_LAKE", "")
	t.Setenv("GANNET_DLQ", filepath.Join(t.TempDir(), "dlq"))
	t.Setenv("GANNET_DETECT", "false")
	t.Setenv("GANNET_DEADLINE_MARGIN", "800ms")
	t.Setenv("GANNET_LOG_LEVEL", "warn")
	c, err := coldstart.Pipeline(ctx, "s3event")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Built.Close(ctx)
	h := newHandler(c, awsCfg, *q.QueueUrl)
	h.Metrics.W = io.Discard

	// The first message is the S3 notification (URL-encoded key, as S3 sends it).
	note := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q,"size":%d}}}]}`,
		bucket, "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/01/big+file.json.gz", st.Size())
	if _, err := sqsc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(note)}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m := &esm{t: t, sqs: sqsc, queueURL: *q.QueueUrl, queueARN: "arn:aws:sqs:us-east-1:123456789012:" + bucket, maxInvokes: 200, maxReceives: 3,
		invoke: func(ctx context.Context, payload []byte) (events.SQSEventResponse, error) {
			ictx, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			resp, err := h.Handle(ictx, payload)
			if err != nil {
				return events.SQSEventResponse{}, err
			}
			return resp.(events.SQSEventResponse), nil
		}}
	m.drain(ctx)
	invocations := m.invocations
	took := time.Since(start)
	if err := c.Built.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Every event exactly once by id.
	ids := map[string]int{}
	rf, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	sc := bufio.NewScanner(rf)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	lines := 0
	for sc.Scan() {
		lines++
		m := idRE.FindSubmatch(sc.Bytes())
		if m == nil {
			t.Fatalf("output line %d has no event.id: %.200s", lines, sc.Bytes())
		}
		ids[string(m[1])]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) != events_ {
		t.Errorf("%d distinct event ids, want %d events", len(ids), events_)
	}
	dups := 0
	for _, n := range ids {
		if n > 1 {
			dups++
		}
	}
	if dups > 0 || lines != events_ {
		t.Errorf("%d output lines for %d events, %d ids more than once: finished records were emitted again", lines, events_, dups)
	}
	if invocations < 2 {
		t.Errorf("%d invocations: a short deadline should split the object", invocations)
	}
	t.Logf("object: %d events, %.1f MB uncompressed target, %.1f MB gzip; %d invocations (%d redeliveries, %d without progress) with a %s deadline; %s",
		events_, float64(size)/1e6, float64(st.Size())/1e6, invocations, m.redeliveries, m.stalls, deadline, took.Round(time.Millisecond))
}
