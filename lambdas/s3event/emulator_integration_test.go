package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
)

// minGzipBytes is the acceptance size of the object: 200 MB of gzip.
const minGzipBytes = 200_000_000

// uploadStreaming uploads what r yields as a multipart object in parts of
// partSize, holding at most three parts in memory (one filling, one
// queued, one uploading).
func uploadStreaming(ctx context.Context, c *s3.Client, bucket, key string, r io.Reader, partSize int) (parts int, err error) {
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			c.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mp.UploadId})
		}
	}()
	type part struct {
		n   int32
		buf []byte
	}
	free := make(chan []byte, 3)
	for range 3 {
		free <- make([]byte, partSize)
	}
	todo := make(chan part, 1)
	done := make(chan error, 1)
	var completed []s3types.CompletedPart
	go func() {
		var uerr error
		for p := range todo {
			if uerr == nil {
				var out *s3.UploadPartOutput
				out, uerr = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mp.UploadId,
					PartNumber: aws.Int32(p.n), Body: bytes.NewReader(p.buf), ContentLength: aws.Int64(int64(len(p.buf)))})
				if uerr == nil {
					completed = append(completed, s3types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(p.n)})
				}
			}
			free <- p.buf[:cap(p.buf)]
		}
		done <- uerr
	}()
	var rerr error
	for n := int32(1); ; n++ {
		buf := <-free
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			todo <- part{n, buf[:k]}
			parts++
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(todo)
	if uerr := <-done; uerr != nil {
		return parts, uerr
	}
	if rerr != nil {
		return parts, rerr
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: mp.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: completed}})
	return parts, err
}

// procUsage returns the peak resident set (VmHWM) and the CPU time (user +
// system) so far of the running process whose executable is exe.
func procUsage(exe string) (rss int64, cpu time.Duration, err error) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if p, err := os.Readlink(filepath.Join(d, "exe")); err != nil || p != exe {
			continue
		}
		st, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil {
			return 0, 0, err
		}
		m := regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB`).FindSubmatch(st)
		if m == nil {
			return 0, 0, fmt.Errorf("no VmHWM in %s/status", d)
		}
		kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			return 0, 0, err
		}
		// Fields after the command name: state is the 3rd field, utime the 14th, stime the 15th.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			return 0, 0, fmt.Errorf("%s/stat: %q", d, stat)
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		stt, _ := strconv.ParseInt(f[12], 10, 64)
		const ticks = 100 // USER_HZ on Linux
		return kb << 10, time.Duration(ut+stt) * time.Second / ticks, nil
	}
	return 0, 0, fmt.Errorf("no process runs %s", exe)
}

// lakeCount reads the lake's cloudtrail table with DuckDB and pyarrow (the
// stack's python), independently of the Go writer.
const lakeCount = `
import json, os, sys
import duckdb, pyarrow.parquet as pq
root = sys.argv[1]
files = sorted(os.path.join(d, n) for d, _, ns in os.walk(os.path.join(root, "cloudtrail")) for n in ns if n.endswith(".parquet"))
rel = "read_parquet('%s', hive_partitioning=true)" % os.path.join(root, "cloudtrail", "**", "*.parquet")
c = duckdb.connect()
rows, ids, ctids, offs, lo, hi = c.execute("select count(*), count(distinct event_id), count(distinct cloudtrail_event_id), count(distinct lineage_offset), min(lineage_offset), max(lineage_offset) from " + rel).fetchone()
sources = [r[0] for r in c.execute("select distinct lineage_source || '/' || lineage_shard from " + rel).fetchall()]
print(json.dumps({"files": len(files), "rows": rows, "distinct_event_ids": ids, "distinct_cloudtrail_event_ids": ctids,
  "distinct_offsets": offs, "min_offset": lo, "max_offset": hi, "sources": sources,
  "pyarrow_rows": sum(pq.ParquetFile(f).metadata.num_rows for f in files)}))
`

var reportRE = regexp.MustCompile(`REPORT RequestId: \S+\s+(?:Init Duration: [\d.]+ ms\s+)?Duration: ([\d.]+) ms`)

// TestIntegrationS3EventResumes200MBGzipObject is the acceptance case of
// s3event: a ≥ 200 MB gzip CloudTrail delivery file (one gzip member,
// {"Records":[…]}, ~3.5× compression from high-entropy events: ~710 MB of
// JSON, ~350 000 events) generated and uploaded to versitygw with a
// streaming multipart upload, handled by the real s3event binary under
// aws-lambda-rie with a 20 s function timeout and a 12 s margin (8 s of work
// an invocation), so that it takes several invocations chained by
// continuation messages on a moto SQS queue, each resuming at the byte
// offset the previous one recorded. DuckDB and pyarrow then find every
// generated event in the lake exactly once by event id.
//
// The work window is a compromise: a follow-up invocation first inflates and
// discards the object up to its offset (a gzip stream cannot seek; ~300 MB
// of JSON per CPU-second), so the last invocations spend seconds before
// their first record. 8 s leaves room for that on a machine loaded ~2.5×
// while still splitting the object on a quiet one.
func TestIntegrationS3EventResumes200MBGzipObject(t *testing.T) {
	ep := stacktest.Require(t, stacktest.S3, stacktest.Moto, stacktest.LambdaRIE, stacktest.Python)
	const timeout, margin = 20, 12 * time.Second
	ctx := context.Background()
	awsCfg := ep.AWSConfig(t)
	s3c := ep.S3(t)
	sqsc := sqs.NewFromConfig(awsCfg)
	bucket := stacktest.UniqueName(t, "s3event-big")
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	removeBucket(t, s3c, bucket)
	key := "AWSLogs/123456789012/CloudTrail/eu-west-1/2026/11/01/123456789012_CloudTrail_eu-west-1_20261101T0000Z_big.json.gz"

	// Generate and upload: the generator writes through gzip into a pipe the
	// multipart upload reads 16 MiB at a time.
	phase, phaseCPU := time.Now(), cpuTime()
	pr, pw := io.Pipe()
	genDone := make(chan bigObject, 1)
	go func() {
		o, err := writeBigObject(pw, minGzipBytes, 1)
		pw.CloseWithError(err)
		genDone <- o
	}()
	parts, err := uploadStreaming(ctx, s3c, bucket, key, pr, 16<<20)
	pr.CloseWithError(err)
	obj := <-genDone
	if err != nil {
		t.Fatalf("streaming upload: %v", err)
	}
	upload, uploadCPU := time.Since(phase), cpuTime()-phaseCPU
	head, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if size := aws.ToInt64(head.ContentLength); size != obj.Gzip || size < minGzipBytes {
		t.Fatalf("object is %d bytes on S3, generator wrote %d gzip bytes; want ≥ %d", size, obj.Gzip, minGzipBytes)
	}
	t.Logf("object: %d events (%d high-entropy), %.1f MB JSON, %.1f MB gzip (ratio %.2f), %d parts; generated and uploaded in %s (test process CPU %s)",
		obj.Events, obj.HighEntropy, float64(obj.Raw)/1e6, float64(obj.Gzip)/1e6, float64(obj.Raw)/float64(obj.Gzip), parts, upload.Round(time.Millisecond), uploadCPU.Round(10*time.Millisecond))

	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqsc.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl}) })
	lakeDir, dlqDir := filepath.Join(t.TempDir(), "lake"), t.TempDir()
	fn := ep.RunLambdaEnv(t, "./lambdas/s3event",
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(timeout),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256", // a small function: coldstart sets the Go memory limit from it
		"GANNET_DEADLINE_MARGIN="+margin.String(),
		"GANNET_S3EVENT_QUEUE_URL="+*q.QueueUrl,
		"AWS_ENDPOINT_URL_S3="+ep.S3Endpoint,
		"AWS_ENDPOINT_URL_SQS="+ep.MotoEndpoint,
		"GANNET_LAKE="+lakeDir,
		"GANNET_DLQ="+dlqDir,
		"GANNET_OUT=",
		"GANNET_ES_URL=",
		"GANNET_DETECT=true",
		"GANNET_LOG_LEVEL=info",
	)

	// The event source mapping: receive, invoke, delete what the function acknowledged.
	note := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":%q},"object":{"key":%q,"size":%d}}}]}`,
		bucket, strings.ReplaceAll(key, " ", "+"), obj.Gzip)
	if _, err := sqsc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(note)}); err != nil {
		t.Fatal(err)
	}
	phase = time.Now()
	var took []string
	m := &esm{t: t, sqs: sqsc, queueURL: *q.QueueUrl, queueARN: "arn:aws:sqs:us-east-1:123456789012:" + bucket, maxInvokes: 60, maxReceives: 3,
		invoke: func(ctx context.Context, payload []byte) (events.SQSEventResponse, error) {
			var resp events.SQSEventResponse
			start := time.Now()
			body, err := fn.Invoke(ctx, payload)
			if err != nil {
				return resp, fmt.Errorf("%w\n%s", err, tailLog(fn.Log()))
			}
			took = append(took, time.Since(start).Round(100*time.Millisecond).String())
			if err := json.Unmarshal(body, &resp); err != nil {
				return resp, fmt.Errorf("answer %s: %w", body, err)
			}
			return resp, nil
		}}
	m.drain(ctx)
	invocations, offsets := m.invocations, m.offsets
	processing := time.Since(phase)
	rss, handlerCPU, rssErr := procUsage(fn.Bootstrap)
	log := fn.Log()
	fn.Stop()
	var durations []string
	for _, m := range reportRE.FindAllStringSubmatch(log, -1) {
		durations = append(durations, m[1]+"ms")
	}
	t.Logf("%d invocations (%d redeliveries, %d without progress) in %s (harness-measured each: %v; emulator REPORT durations: %v); continuations resumed at uncompressed offsets %v",
		invocations, m.redeliveries, m.stalls, processing.Round(time.Millisecond), took, durations, offsets)
	if invocations < 2 || len(offsets) != invocations-1-m.redeliveries {
		t.Errorf("%d invocations, %d continuations: a %ds timeout with a %s margin should split the object", invocations, len(offsets), timeout, margin)
	}
	if len(offsets) > 0 && offsets[len(offsets)-1] >= obj.Raw {
		t.Errorf("last continuation at %d, beyond the object's %d bytes", offsets[len(offsets)-1], obj.Raw)
	}
	if rssErr != nil {
		t.Errorf("peak RSS of the handler: %v", rssErr)
	} else {
		t.Logf("handler process: peak RSS (VmHWM) %.0f MiB, CPU time %s", float64(rss)/(1<<20), handlerCPU.Round(10*time.Millisecond))
		// Bounded memory: within the function's 256 MB, far below the object.
		if rss > 256<<20 {
			t.Errorf("handler peak RSS %d MiB for a %d MB object: memory is not bounded", rss>>20, obj.Gzip/1e6)
		}
	}
	if letters, _ := filepath.Glob(filepath.Join(dlqDir, "*")); len(letters) > 0 {
		t.Errorf("dead letters written: %v", letters)
	}

	// Every event exactly once by id, read back by DuckDB and pyarrow.
	phase = time.Now()
	cmd := exec.CommandContext(ctx, ep.Python, "-c", lakeCount, lakeDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reading the lake back: %v\n%s", err, stderr.String())
	}
	var got struct {
		Files                      int      `json:"files"`
		Rows                       int      `json:"rows"`
		DistinctEventIDs           int      `json:"distinct_event_ids"`
		DistinctCloudTrailEventIDs int      `json:"distinct_cloudtrail_event_ids"`
		DistinctOffsets            int      `json:"distinct_offsets"`
		MinOffset                  int64    `json:"min_offset"`
		MaxOffset                  int64    `json:"max_offset"`
		Sources                    []string `json:"sources"`
		PyArrowRows                int      `json:"pyarrow_rows"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	t.Logf("lake: %+v; read back in %s", got, time.Since(phase).Round(time.Millisecond))
	if got.Rows != obj.Events || got.PyArrowRows != obj.Events || got.DistinctEventIDs != obj.Events ||
		got.DistinctCloudTrailEventIDs != obj.Events || got.DistinctOffsets != obj.Events {
		t.Errorf("lake holds %d rows (pyarrow %d), %d distinct event ids, %d distinct CloudTrail eventIDs, %d distinct offsets; generated %d events: each must be there exactly once",
			got.Rows, got.PyArrowRows, got.DistinctEventIDs, got.DistinctCloudTrailEventIDs, got.DistinctOffsets, obj.Events)
	}
	if want := bucket + "/" + key; len(got.Sources) != 1 || got.Sources[0] != want {
		t.Errorf("lineage %v, want %s", got.Sources, want)
	}
}

func tailLog(s string) string {
	if len(s) > 4000 {
		return s[len(s)-4000:]
	}
	return s
}
