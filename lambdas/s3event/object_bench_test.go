package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gannet-sec/gannet/lambdas/coldstart"
	"github.com/gannet-sec/gannet/lambdas/handler"
)

// memObject serves one object from memory (GetObject only).
type memObject []byte

func (m memObject) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(m)), ContentLength: aws.Int64(int64(len(m)))}, nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkObject measures the s3event processing path on one gzip
// CloudTrail object of the big test's shape (16 MB gzip), from the object's
// start: gunzip, split, parse, enrich and the sinks of sink= (lake: Parquet
// files in a temp dir; out: NDJSON), detection off as in the integration test.
// resume=N starts at N/4 of the object (the gunzip-and-discard a follow-up
// invocation pays). cpu-ns/op is the process CPU time.
func BenchmarkObject(b *testing.B) {
	var buf bytes.Buffer
	o, err := writeBigObject(&buf, 16<<20, 3)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ sink, detect string }{{"lake", "false"}, {"lake", "true"}, {"out", "false"}} {
		sink := tc.sink
		b.Run("sink="+sink+"/detect="+tc.detect, func(b *testing.B) {
			dir := b.TempDir()
			b.Setenv("GANNET_ES_URL", "")
			b.Setenv("GANNET_LAKE", "")
			b.Setenv("GANNET_OUT", "")
			if sink == "lake" {
				b.Setenv("GANNET_LAKE", filepath.Join(dir, "lake"))
			} else {
				b.Setenv("GANNET_OUT", filepath.Join(dir, "out.ndjson"))
			}
			b.Setenv("GANNET_DLQ", filepath.Join(dir, "dlq"))
			b.Setenv("GANNET_DETECT", tc.detect)
			b.Setenv("GANNET_LOG_LEVEL", "warn")
			ctx := context.Background()
			c, err := coldstart.Pipeline(ctx, "s3event")
			if err != nil {
				b.Fatal(err)
			}
			defer c.Built.Close(ctx)
			h := newHandler(c, aws.Config{}, "")
			h.S3 = memObject(buf.Bytes())
			b.SetBytes(o.Raw)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				next, err := h.Object(ctx, handler.Continuation{Bucket: "b", Key: "k" + strconv.Itoa(i)})
				if next != nil || err != nil {
					b.Fatal(next, err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(o.Events)*float64(b.N)/(float64(cpuTime()-cpu)/1e9), "events/cpu-s")
		})
	}
}

// BenchmarkResumeSkip measures what a follow-up invocation pays before its
// first record: reaching the recorded offset (here 3/4 of the object) in the
// uncompressed stream. SetBytes is the skipped uncompressed bytes.
func BenchmarkResumeSkip(b *testing.B) {
	var buf bytes.Buffer
	o, err := writeBigObject(&buf, 16<<20, 3)
	if err != nil {
		b.Fatal(err)
	}
	off := o.Raw * 3 / 4
	b.SetBytes(off)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		sp, err := handler.NewSplitter(bytes.NewReader(buf.Bytes()), handler.LayoutRecords, off, 1, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		sp.Close()
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(off)*float64(b.N)/1e6/(float64(cpuTime()-cpu)/1e9), "MB/cpu-s")
}
