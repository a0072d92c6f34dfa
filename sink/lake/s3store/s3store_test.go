package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/gannet-sec/gannet/stream"
	"net/http"
)

// memS3 is an in-memory S3 serving the calls of Calls, with call counts and
// an optional fault injector per operation.
type memS3 struct {
	mu      sync.Mutex
	objs    map[string][]byte
	sse     map[string]string
	uploads map[string]map[int32][]byte
	calls   map[string]int
	fail    func(op string, n int) error // n: 1-based call number of op
}

func newMem() *memS3 {
	return &memS3{objs: map[string][]byte{}, sse: map[string]string{}, uploads: map[string]map[int32][]byte{}, calls: map[string]int{}}
}

func (m *memS3) enter(op string) error {
	m.calls[op]++
	if m.fail != nil {
		return m.fail(op, m.calls[op])
	}
	return nil
}

func httpErr(status int, code string) error {
	return &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      &smithy.GenericAPIError{Code: code, Message: code},
	}
}

func (m *memS3) memCalls() Calls {
	return Calls{
		PutObject: PutObjectFunc(func(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if err := m.enter("PutObject"); err != nil {
				return nil, err
			}
			b, _ := io.ReadAll(in.Body)
			m.objs[*in.Key] = b
			m.sse[*in.Key] = aws.ToString(in.SSEKMSKeyId)
			return &s3.PutObjectOutput{}, nil
		}),
		CreateMultipartUpload: CreateMultipartUploadFunc(func(ctx context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if err := m.enter("CreateMultipartUpload"); err != nil {
				return nil, err
			}
			id := fmt.Sprintf("up%d", len(m.uploads))
			m.uploads[id] = map[int32][]byte{}
			return &s3.CreateMultipartUploadOutput{UploadId: &id}, nil
		}),
		UploadPart: UploadPartFunc(func(ctx context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if err := m.enter("UploadPart"); err != nil {
				return nil, err
			}
			b, _ := io.ReadAll(in.Body)
			m.uploads[*in.UploadId][*in.PartNumber] = b
			return &s3.UploadPartOutput{ETag: aws.String(fmt.Sprint("etag", *in.PartNumber))}, nil
		}),
		CompleteMultipartUpload: CompleteMultipartUploadFunc(func(ctx context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if err := m.enter("CompleteMultipartUpload"); err != nil {
				return nil, err
			}
			var all []byte
			for _, p := range in.MultipartUpload.Parts {
				all = append(all, m.uploads[*in.UploadId][*p.PartNumber]...)
			}
			delete(m.uploads, *in.UploadId)
			m.objs[*in.Key] = all
			return &s3.CompleteMultipartUploadOutput{}, nil
		}),
		AbortMultipartUpload: AbortMultipartUploadFunc(func(ctx context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.enter("AbortMultipartUpload")
			delete(m.uploads, *in.UploadId)
			return &s3.AbortMultipartUploadOutput{}, nil
		}),
		CopyObject: CopyObjectFunc(func(ctx context.Context, in *s3.CopyObjectInput, _ ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if err := m.enter("CopyObject"); err != nil {
				return nil, err
			}
			src, _ := url.PathUnescape(strings.SplitN(*in.CopySource, "/", 2)[1])
			b, ok := m.objs[src]
			if !ok {
				return nil, httpErr(404, "NoSuchKey")
			}
			m.objs[*in.Key] = slices.Clone(b)
			m.sse[*in.Key] = aws.ToString(in.SSEKMSKeyId)
			return &s3.CopyObjectOutput{}, nil
		}),
		GetObject: GetObjectFunc(func(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if err := m.enter("GetObject"); err != nil {
				return nil, err
			}
			b, ok := m.objs[*in.Key]
			if !ok {
				return nil, httpErr(404, "NoSuchKey")
			}
			var from, to int
			fmt.Sscanf(*in.Range, "bytes=%d-%d", &from, &to)
			return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b[from : to+1]))}, nil
		}),
		HeadObject: HeadObjectFunc(func(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.enter("HeadObject")
			b, ok := m.objs[*in.Key]
			if !ok {
				return nil, httpErr(404, "NotFound")
			}
			return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(b)))}, nil
		}),
		ListObjectsV2: ListObjectsV2Func(func(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.enter("ListObjectsV2")
			var keys []string
			for k := range m.objs {
				if strings.HasPrefix(k, *in.Prefix) {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			// Pages of 2 to exercise continuation.
			start := 0
			if in.ContinuationToken != nil {
				fmt.Sscan(*in.ContinuationToken, &start)
			}
			out := &s3.ListObjectsV2Output{}
			for i := start; i < len(keys) && i < start+2; i++ {
				out.Contents = append(out.Contents, types.Object{Key: aws.String(keys[i]), Size: aws.Int64(int64(len(m.objs[keys[i]])))})
			}
			if start+2 < len(keys) {
				out.IsTruncated = aws.Bool(true)
				out.NextContinuationToken = aws.String(fmt.Sprint(start + 2))
			}
			return out, nil
		}),
		DeleteObject: DeleteObjectFunc(func(ctx context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if err := m.enter("DeleteObject"); err != nil {
				return nil, err
			}
			delete(m.objs, *in.Key)
			return &s3.DeleteObjectOutput{}, nil
		}),
	}
}

func TestSmallObjectOnePut(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	st := New(m.memCalls(), Options{Bucket: "b", Prefix: "lake", SSEKMSKeyID: "alias/gannet", BaseDelay: time.Millisecond})
	w, _ := st.Create(ctx)
	if err := w.Write(ctx, []byte("hello ")); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, []byte("world")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, "t/dt=2026-11-01/hr=00/a.parquet"); err != nil {
		t.Fatal(err)
	}
	if got := string(m.objs["lake/t/dt=2026-11-01/hr=00/a.parquet"]); got != "hello world" {
		t.Fatalf("object = %q", got)
	}
	if m.calls["PutObject"] != 1 || m.calls["CreateMultipartUpload"] != 0 {
		t.Errorf("calls %v", m.calls)
	}
	if m.sse["lake/t/dt=2026-11-01/hr=00/a.parquet"] != "alias/gannet" {
		t.Errorf("no SSE-KMS key")
	}
}

func TestMultipartUploadsPartsAsTheyFill(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	st := New(m.memCalls(), Options{Bucket: "b", PartSize: 5 << 20, SSEKMSKeyID: "k", BaseDelay: time.Millisecond})
	w, _ := st.Create(ctx)
	data := bytes.Repeat([]byte("0123456789abcdef"), (12<<20)/16+3)
	for i := 0; i < len(data); i += 1 << 20 {
		if err := w.Write(ctx, data[i:min(i+1<<20, len(data))]); err != nil {
			t.Fatal(err)
		}
		if i == 6<<20 && m.calls["UploadPart"] != 1 {
			t.Fatalf("after 7 MiB: %d parts uploaded, want 1", m.calls["UploadPart"])
		}
	}
	if err := w.Commit(ctx, "x/y.parquet"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.objs["x/y.parquet"], data) {
		t.Fatal("object differs")
	}
	if m.calls["UploadPart"] != 3 || m.calls["CopyObject"] != 1 || m.sse["x/y.parquet"] != "k" {
		t.Errorf("calls %v sse %q", m.calls, m.sse["x/y.parquet"])
	}
	for k := range m.objs {
		if strings.HasPrefix(k, "_staging/") {
			t.Errorf("staging object %s left", k)
		}
	}
	// Ranged reads through Open.
	o, err := st.Open(ctx, "x/y.parquet")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := o.ReadAt(buf, 5<<20-50); err != nil || !bytes.Equal(buf, data[5<<20-50:5<<20+50]) {
		t.Fatalf("ReadAt: %v", err)
	}
	if o.Size() != int64(len(data)) {
		t.Errorf("size %d", o.Size())
	}
}

func TestRetriesSlowDownAnd5xx(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	m.fail = func(op string, n int) error {
		if op == "PutObject" && n == 1 {
			return httpErr(503, "SlowDown")
		}
		if op == "PutObject" && n == 2 {
			return httpErr(500, "InternalError")
		}
		return nil
	}
	st := New(m.memCalls(), Options{Bucket: "b", BaseDelay: time.Millisecond})
	w, _ := st.Create(ctx)
	w.Write(ctx, []byte("x"))
	if err := w.Commit(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if m.calls["PutObject"] != 3 {
		t.Errorf("PutObject calls = %d, want 3", m.calls["PutObject"])
	}
}

func TestPermanentErrorNotRetried(t *testing.T) {
	ctx := context.Background()
	m := newMem()
	m.fail = func(op string, n int) error { return httpErr(403, "AccessDenied") }
	st := New(m.memCalls(), Options{Bucket: "b", BaseDelay: time.Millisecond})
	w, _ := st.Create(ctx)
	w.Write(ctx, []byte("x"))
	err := w.Commit(ctx, "k")
	if c, _ := stream.ClassOf(err); c != stream.Permanent || m.calls["PutObject"] != 1 {
		t.Fatalf("class %v after %d calls: %v", c, m.calls["PutObject"], err)
	}
	if r := stream.ReasonOf(err); r.Code != "s3_AccessDenied" {
		t.Errorf("reason %v", r)
	}
	// The commit can be retried once the fault is gone.
	m.fail = nil
	if err := w.Commit(ctx, "k"); err != nil || string(m.objs["k"]) != "x" {
		t.Fatalf("retry commit: %v", err)
	}
}

func TestRetriesStopBeforeDeadline(t *testing.T) {
	m := newMem()
	m.fail = func(op string, n int) error { return httpErr(503, "SlowDown") }
	st := New(m.memCalls(), Options{Bucket: "b", BaseDelay: 50 * time.Millisecond, MaxAttempts: 100})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	w, _ := st.Create(ctx)
	w.Write(ctx, []byte("x"))
	err := w.Commit(ctx, "k")
	if el := time.Since(start); el > 300*time.Millisecond {
		t.Errorf("returned after %v, past the deadline", el)
	}
	if c, _ := stream.ClassOf(err); c != stream.Throttled && c != stream.Retryable {
		t.Errorf("class %v: %v", c, err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SlowDown" {
		t.Errorf("cause lost: %v", err)
	}
}
