package dlq

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/zeebo/xxh3"

	"github.com/gannet-sec/gannet/stream"
)

// flushAt is the buffered size at which DeadLetter writes a file on its own
// (dead letters are rare; this only bounds memory in a storm).
const flushAt = 8 << 20

// ErrClosed is returned by calls on a closed sink.
var ErrClosed = errors.New("dlq: sink closed")

// batch buffers encoded entries and the identity of the letters they hold
// (lineage, event id, stage, reason code, raw bytes). The identity names the
// file or object, so that writing the same letters again (a retried batch)
// gives the same name and overwrites instead of duplicating, while different
// letters never share a name.
type batch struct {
	buf []byte
	h   *xxh3.Hasher
	n   int
}

func (b *batch) add(letters []stream.DeadLetter) error {
	if b.h == nil {
		b.h = xxh3.New()
	}
	for i := range letters {
		dl := &letters[i]
		var err error
		if b.buf, err = AppendEntry(b.buf, dl); err != nil {
			return err
		}
		// Identity: where the letter came from and what it holds, never
		// when it was written. Every variable-length part is length-prefixed.
		id := dl.Lineage.ID()
		b.h.Write(id[:])
		b.h.Write(dl.EventID[:])
		var n [8]byte
		for _, part := range []string{dl.Stage, dl.Reason.Code, strconv.FormatInt(dl.Lineage.Line, 10)} {
			binary.LittleEndian.PutUint64(n[:], uint64(len(part)))
			b.h.Write(n[:])
			b.h.WriteString(part)
		}
		binary.LittleEndian.PutUint64(n[:], uint64(len(dl.Raw)))
		b.h.Write(n[:])
		b.h.Write(dl.Raw)
		b.n++
	}
	return nil
}

// name is "dlq-<32 hex of the letters' identity>-<count>.ndjson".
func (b *batch) name() string {
	s := b.h.Sum128()
	var id [16]byte
	binary.BigEndian.PutUint64(id[:8], s.Hi)
	binary.BigEndian.PutUint64(id[8:], s.Lo)
	return "dlq-" + stream.EventID(id).String() + "-" + strconv.Itoa(b.n) + ".ndjson"
}

func (b *batch) reset() {
	b.buf = b.buf[:0]
	b.h = nil
	b.n = 0
}

// Dir is a stream.DeadLetterSink writing NDJSON files into a local
// directory. Entries become durable on Flush: the file is written under a
// temporary name, fsynced, renamed to its final name and the directory
// fsynced, so a reader never sees a partial file. Safe for concurrent use.
type Dir struct {
	dir    string
	mu     sync.Mutex
	b      batch
	closed bool
}

// NewDir returns a sink writing into dir, creating it if needed.
func NewDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("dlq: %w", err)
	}
	return &Dir{dir: dir}, nil
}

// DeadLetter buffers letters (copying them); Flush makes them durable.
func (d *Dir) DeadLetter(ctx context.Context, letters []stream.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	if err := d.b.add(letters); err != nil {
		return err
	}
	if len(d.b.buf) >= flushAt {
		return d.flushLocked()
	}
	return nil
}

// Flush writes the buffered entries to one file and syncs it to disk.
func (d *Dir) Flush(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flushLocked()
}

func (d *Dir) flushLocked() error {
	if d.b.n == 0 {
		return nil
	}
	final := filepath.Join(d.dir, d.b.name())
	tmp, err := os.CreateTemp(d.dir, ".tmp-dlq-*")
	if err != nil {
		return stream.NewRetryable(fmt.Errorf("dlq: %w", err))
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return stream.NewRetryable(fmt.Errorf("dlq: writing %s: %w", final, err))
	}
	if _, err := tmp.Write(d.b.buf); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		os.Remove(tmp.Name())
		return stream.NewRetryable(fmt.Errorf("dlq: %w", err))
	}
	if err := syncDir(d.dir); err != nil {
		return stream.NewRetryable(fmt.Errorf("dlq: syncing %s: %w", d.dir, err))
	}
	d.b.reset()
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Close flushes and refuses further letters.
func (d *Dir) Close(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	err := d.flushLocked()
	d.closed = true
	return err
}

// PutObjectAPI is the one S3 call the S3 sink makes (satisfied by *s3.Client).
type PutObjectAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// S3 is a stream.DeadLetterSink writing one NDJSON object per Flush under
// an S3 prefix. The object key is derived from the letters' lineage
// (<prefix>dlq-<identity>-<count>.ndjson), so a retried Flush of the same
// letters overwrites the same object. Safe for concurrent use.
type S3 struct {
	api    PutObjectAPI
	bucket string
	prefix string
	// SSEKMSKeyID, when set, encrypts objects with this KMS key.
	SSEKMSKeyID string

	mu     sync.Mutex
	b      batch
	closed bool
}

// NewS3 returns a sink writing under s3://bucket/prefix. A non-empty prefix
// gets a trailing '/' if it has none.
func NewS3(api PutObjectAPI, bucket, prefix string) *S3 {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &S3{api: api, bucket: bucket, prefix: prefix}
}

// DeadLetter buffers letters (copying them); Flush makes them durable.
func (s *S3) DeadLetter(ctx context.Context, letters []stream.DeadLetter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.b.add(letters); err != nil {
		return err
	}
	if len(s.b.buf) >= flushAt {
		return s.flushLocked(ctx)
	}
	return nil
}

// Flush puts the buffered entries as one object. On failure the entries
// stay buffered and the (Retryable) error is returned.
func (s *S3) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked(ctx)
}

func (s *S3) flushLocked(ctx context.Context) error {
	if s.b.n == 0 {
		return nil
	}
	key := s.prefix + s.b.name()
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(s.b.buf),
		ContentLength: aws.Int64(int64(len(s.b.buf))),
		ContentType:   aws.String("application/x-ndjson"),
	}
	if s.SSEKMSKeyID != "" {
		in.ServerSideEncryption = "aws:kms"
		in.SSEKMSKeyId = aws.String(s.SSEKMSKeyID)
	}
	if _, err := s.api.PutObject(ctx, in); err != nil {
		return stream.NewRetryable(fmt.Errorf("dlq: putting s3://%s/%s: %w", s.bucket, key, err))
	}
	s.b.reset()
	return nil
}

// Close flushes and refuses further letters.
func (s *S3) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	err := s.flushLocked(ctx)
	s.closed = true
	return err
}

var (
	_ stream.DeadLetterSink = (*Dir)(nil)
	_ stream.DeadLetterSink = (*S3)(nil)
)

// Open returns the dead-letter sink for dst: "s3://bucket/prefix" writes
// through api (required then), anything else is a local directory.
func Open(dst string, api PutObjectAPI) (stream.DeadLetterSink, error) {
	if rest, ok := strings.CutPrefix(dst, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, fmt.Errorf("dlq: %q has no bucket", dst)
		}
		if api == nil {
			return nil, errors.New("dlq: an S3 client is needed for " + dst)
		}
		return NewS3(api, bucket, prefix), nil
	}
	return NewDir(dst)
}
