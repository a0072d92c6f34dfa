// Package s3store is the S3 backend of the Parquet lake: a lake.Store over
// aws-sdk-go-v2 with multipart uploads for large objects, optional SSE-KMS,
// and retries of 5xx and SlowDown within the context deadline.
package s3store

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/stream"
)

// Options configure a Store.
type Options struct {
	Bucket string
	// Prefix is prepended to every key ("lake/" → s3://bucket/lake/cloudtrail/…).
	Prefix string
	// PartSize is the multipart part size and the size above which an object
	// is uploaded in parts (default 8 MiB, at least 5 MiB). It bounds the
	// memory of each open object.
	PartSize int
	// SSEKMSKeyID, when set, encrypts every object with SSE-KMS under that key.
	SSEKMSKeyID string
	// MaxAttempts bounds the attempts of each call (default 8).
	MaxAttempts int
	// BaseDelay is the first retry delay of a 5xx (default 100ms); throttling
	// (SlowDown) starts at 10× that. Delays double, with full jitter.
	BaseDelay time.Duration
}

// Store is a lake.Store in an S3 bucket. Objects of up to PartSize bytes are
// written with one PutObject at Commit; larger ones stream as a multipart
// upload to a staging key (<prefix>_staging/…, outside every table) that
// Commit completes and copies to the final key. A bucket lifecycle rule
// should abort incomplete multipart uploads and expire _staging/ after a day
// (what a crashed writer leaves behind).
type Store struct {
	c    Calls
	opts Options
}

var _ lake.Store = (*Store)(nil)

// New returns a Store making its calls through c.
func New(c Calls, opts Options) *Store {
	if opts.PartSize < 5<<20 {
		if opts.PartSize == 0 {
			opts.PartSize = 8 << 20
		} else {
			opts.PartSize = 5 << 20
		}
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 100 * time.Millisecond
	}
	if opts.Prefix != "" && !strings.HasSuffix(opts.Prefix, "/") {
		opts.Prefix += "/"
	}
	return &Store{c: c, opts: opts}
}

// ParseURL splits "s3://bucket/prefix" into bucket and prefix.
func ParseURL(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok || rest == "" {
		return "", "", fmt.Errorf("s3store: %q is not s3://bucket[/prefix]", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	return bucket, prefix, nil
}

func (s *Store) key(k string) *string { return aws.String(s.opts.Prefix + k) }

// classify maps an S3 error to its class: SlowDown and other throttling
// codes are Throttled, 5xx and transport errors Retryable, the rest Permanent.
func classify(err error) stream.Class {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return stream.Retryable
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests", "TooManyRequestsException":
			return stream.Throttled
		case "InternalError", "ServiceUnavailable", "RequestTimeout", "RequestTimeTooSkewed", "BadDigest", "IncompleteBody":
			return stream.Retryable
		}
	}
	var hs interface{ HTTPStatusCode() int }
	if errors.As(err, &hs) {
		switch code := hs.HTTPStatusCode(); {
		case code == 429 || code == 503:
			return stream.Throttled
		case code >= 500:
			return stream.Retryable
		case code > 0:
			return stream.Permanent
		}
	}
	if ae != nil {
		return stream.Permanent
	}
	return stream.Retryable // transport errors: connection reset, timeouts
}

// do runs call with retries of Retryable and Throttled errors, jittered
// exponential backoff, and never sleeping past ctx's deadline. The error
// returned is a classified *stream.Error.
func (s *Store) do(ctx context.Context, op string, call func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		if err = call(); err == nil {
			return nil
		}
		class := classify(err)
		err = fmt.Errorf("s3store: %s: %w", op, err)
		if class == stream.Permanent || ctx.Err() != nil {
			break
		}
		if attempt+1 >= s.opts.MaxAttempts {
			break
		}
		base := s.opts.BaseDelay
		if class == stream.Throttled {
			base *= 10
		}
		delay := time.Duration(rand.Int64N(int64(base<<min(attempt, 16)) + 1))
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			break // the deadline comes first: report now, with time left to act
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return stream.NewRetryable(errors.Join(err, ctx.Err()))
		case <-t.C:
		}
	}
	switch classify(err) {
	case stream.Permanent:
		code := "s3_error"
		var ae smithy.APIError
		if errors.As(err, &ae) {
			code = "s3_" + ae.ErrorCode()
		}
		return stream.NewPermanent(code, err)
	case stream.Throttled:
		return stream.NewThrottled(err, s.opts.BaseDelay*10)
	}
	return stream.NewRetryable(err)
}

func (s *Store) sse() (types.ServerSideEncryption, *string) {
	if s.opts.SSEKMSKeyID == "" {
		return "", nil
	}
	return types.ServerSideEncryptionAwsKms, aws.String(s.opts.SSEKMSKeyID)
}

// Create implements lake.Store.
func (s *Store) Create(ctx context.Context) (lake.ObjectWriter, error) {
	return &object{s: s, buf: make([]byte, 0, s.opts.PartSize)}, nil
}

// object is an S3 object being written.
type object struct {
	s         *Store
	buf       []byte
	staging   string // staging key (without prefix) once multipart started
	uploadID  string
	parts     []types.CompletedPart
	completed bool // multipart upload completed (staging object exists)
	done      bool // committed or aborted
}

func (o *object) Write(ctx context.Context, p []byte) error {
	if o.done || o.completed {
		return errors.New("s3store: write after commit")
	}
	for len(p) > 0 {
		n := min(len(p), o.s.opts.PartSize-len(o.buf))
		o.buf = append(o.buf, p[:n]...)
		p = p[n:]
		if len(o.buf) == o.s.opts.PartSize {
			if err := o.uploadPart(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o *object) uploadPart(ctx context.Context) error {
	s := o.s
	if o.uploadID == "" {
		var rnd [8]byte
		_, _ = crand.Read(rnd[:])
		o.staging = "_staging/" + hex.EncodeToString(rnd[:])
		sse, kms := s.sse()
		var out *s3.CreateMultipartUploadOutput
		err := s.do(ctx, "CreateMultipartUpload", func() (err error) {
			out, err = s.c.CreateMultipartUpload.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
				Bucket: &s.opts.Bucket, Key: s.key(o.staging), ServerSideEncryption: sse, SSEKMSKeyId: kms,
			})
			return err
		})
		if err != nil {
			return err
		}
		o.uploadID = aws.ToString(out.UploadId)
	}
	num := int32(len(o.parts) + 1)
	var out *s3.UploadPartOutput
	err := s.do(ctx, "UploadPart", func() (err error) {
		out, err = s.c.UploadPart.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &s.opts.Bucket, Key: s.key(o.staging), UploadId: &o.uploadID, PartNumber: &num,
			Body: bytes.NewReader(o.buf), ContentLength: aws.Int64(int64(len(o.buf))),
		})
		return err
	})
	if err != nil {
		return err
	}
	o.parts = append(o.parts, types.CompletedPart{ETag: out.ETag, PartNumber: &num})
	o.buf = o.buf[:0]
	return nil
}

// Commit implements lake.ObjectWriter; it may be retried after an error.
func (o *object) Commit(ctx context.Context, key string) error {
	if o.done {
		return nil
	}
	s := o.s
	sse, kms := s.sse()
	if o.uploadID == "" {
		err := s.do(ctx, "PutObject", func() error {
			_, err := s.c.PutObject.PutObject(ctx, &s3.PutObjectInput{
				Bucket: &s.opts.Bucket, Key: s.key(key), Body: bytes.NewReader(o.buf),
				ContentLength: aws.Int64(int64(len(o.buf))), ServerSideEncryption: sse, SSEKMSKeyId: kms,
			})
			return err
		})
		if err != nil {
			return err
		}
		o.done = true
		return nil
	}
	if !o.completed {
		if len(o.buf) > 0 {
			if err := o.uploadPart(ctx); err != nil {
				return err
			}
		}
		err := s.do(ctx, "CompleteMultipartUpload", func() error {
			_, err := s.c.CompleteMultipartUpload.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
				Bucket: &s.opts.Bucket, Key: s.key(o.staging), UploadId: &o.uploadID,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: o.parts},
			})
			return err
		})
		if err != nil {
			return err
		}
		o.completed = true
	}
	err := s.do(ctx, "CopyObject", func() error {
		_, err := s.c.CopyObject.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: &s.opts.Bucket, Key: s.key(key), CopySource: aws.String(copySource(s.opts.Bucket, s.opts.Prefix+o.staging)),
			ServerSideEncryption: sse, SSEKMSKeyId: kms,
		})
		return err
	})
	if err != nil {
		return err
	}
	o.done = true
	_ = s.Delete(ctx, o.staging) // a leftover staging object expires by lifecycle rule
	return nil
}

func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, p := range segs {
		segs[i] = url.PathEscape(p)
	}
	return bucket + "/" + strings.Join(segs, "/")
}

// Abort implements lake.ObjectWriter.
func (o *object) Abort(ctx context.Context) error {
	if o.done {
		return nil
	}
	o.done = true
	s := o.s
	switch {
	case o.completed:
		return s.Delete(ctx, o.staging)
	case o.uploadID != "":
		return s.do(ctx, "AbortMultipartUpload", func() error {
			_, err := s.c.AbortMultipartUpload.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: &s.opts.Bucket, Key: s.key(o.staging), UploadId: &o.uploadID,
			})
			return err
		})
	}
	return nil
}

// Open implements lake.Store: reads are ranged GETs.
func (s *Store) Open(ctx context.Context, key string) (lake.Object, error) {
	var out *s3.HeadObjectOutput
	err := s.do(ctx, "HeadObject", func() (err error) {
		out, err = s.c.HeadObject.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.opts.Bucket, Key: s.key(key)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &reader{ctx: ctx, s: s, key: key, size: aws.ToInt64(out.ContentLength)}, nil
}

type reader struct {
	ctx  context.Context
	s    *Store
	key  string
	size int64
	off  int64
}

func (r *reader) Size() int64  { return r.size }
func (r *reader) Close() error { return nil }

func (r *reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, errors.New("s3store: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("s3store: negative position")
	}
	r.off = offset
	return offset, nil
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	return n, err
}

func (r *reader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	if want == 0 {
		return 0, nil
	}
	var n int
	err := r.s.do(r.ctx, "GetObject", func() error {
		out, err := r.s.c.GetObject.GetObject(r.ctx, &s3.GetObjectInput{
			Bucket: &r.s.opts.Bucket, Key: r.s.key(r.key), Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+want-1)),
		})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		n, err = io.ReadFull(out.Body, p[:want])
		return err
	})
	if err != nil {
		return n, err
	}
	if want < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// List implements lake.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]lake.ObjectInfo, error) {
	var out []lake.ObjectInfo
	var token *string
	for {
		var page *s3.ListObjectsV2Output
		err := s.do(ctx, "ListObjectsV2", func() (err error) {
			page, err = s.c.ListObjectsV2.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
				Bucket: &s.opts.Bucket, Prefix: s.key(prefix), ContinuationToken: token,
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			k := strings.TrimPrefix(aws.ToString(o.Key), s.opts.Prefix)
			if strings.HasPrefix(k, "_staging/") {
				continue
			}
			out = append(out, lake.ObjectInfo{Key: k, Size: aws.ToInt64(o.Size)})
		}
		if !aws.ToBool(page.IsTruncated) || page.NextContinuationToken == nil {
			return out, nil
		}
		token = page.NextContinuationToken
	}
}

// Delete implements lake.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.do(ctx, "DeleteObject", func() error {
		_, err := s.c.DeleteObject.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.opts.Bucket, Key: s.key(key)})
		return err
	})
}
