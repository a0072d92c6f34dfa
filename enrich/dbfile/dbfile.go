// Package dbfile locates the files enrichment loads (GeoIP databases,
// threat-intel feeds): a local path, or an S3 object downloaded once per
// process and checked against an optional SHA-256; and it watches local files
// for replacement.
package dbfile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ObjectGetter is the one S3 call dbfile uses; *s3.Client implements it and
// tests inject a function.
type ObjectGetter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// GetObjectFunc adapts a function to ObjectGetter.
type GetObjectFunc func(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)

// GetObject calls f.
func (f GetObjectFunc) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return f(ctx, in, optFns...)
}

// IsS3 reports whether loc names an S3 object ("s3://bucket/key").
func IsS3(loc string) bool { return strings.HasPrefix(loc, "s3://") }

// ParseS3 splits "s3://bucket/key" into bucket and key.
func ParseS3(loc string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(loc, "s3://")
	if !ok {
		return "", "", fmt.Errorf("dbfile: %q is not an s3:// location", loc)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" || key == "" {
		return "", "", fmt.Errorf("dbfile: %q: want s3://bucket/key", loc)
	}
	return bucket, key, nil
}

// Fetcher turns locations into local files. An S3 object is downloaded at
// most once per Fetcher (so once per Lambda container when the Fetcher lives
// as long as the process) into Dir, via a temporary file renamed into place
// only after its checksum was verified. Fetcher is safe for concurrent use.
type Fetcher struct {
	// S3 performs GetObject for s3:// locations; nil makes them an error.
	S3 ObjectGetter
	// Dir holds downloaded objects; empty means os.TempDir()/gannet-enrich.
	Dir string

	mu   sync.Mutex
	done map[string]string // location → local path
}

// ErrChecksum is wrapped by errors about a SHA-256 mismatch.
var ErrChecksum = errors.New("sha-256 mismatch")

// Local returns a local path holding loc's content. For a local path, the
// file is checked against wantSHA256 (hex, empty to skip) and the path is
// returned as is. For "s3://bucket/key", the object is downloaded on the
// first call and the same local path is returned afterwards, unless refresh
// is true, which downloads it again.
func (f *Fetcher) Local(ctx context.Context, loc, wantSHA256 string, refresh bool) (string, error) {
	if !IsS3(loc) {
		if wantSHA256 != "" {
			got, err := SHA256File(loc)
			if err != nil {
				return "", err
			}
			if !strings.EqualFold(got, wantSHA256) {
				return "", fmt.Errorf("dbfile: %s: %w: got %s, want %s", loc, ErrChecksum, got, wantSHA256)
			}
		}
		return loc, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.done[loc]; ok && !refresh {
		return p, nil
	}
	p, err := f.download(ctx, loc, wantSHA256)
	if err != nil {
		return "", err
	}
	if f.done == nil {
		f.done = make(map[string]string)
	}
	f.done[loc] = p
	return p, nil
}

func (f *Fetcher) download(ctx context.Context, loc, wantSHA256 string) (string, error) {
	if f.S3 == nil {
		return "", fmt.Errorf("dbfile: %s: no S3 client configured", loc)
	}
	bucket, key, err := ParseS3(loc)
	if err != nil {
		return "", err
	}
	dir := f.Dir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "gannet-enrich")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("dbfile: %w", err)
	}
	out, err := f.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return "", fmt.Errorf("dbfile: get %s: %w", loc, err)
	}
	defer out.Body.Close()
	tmp, err := os.CreateTemp(dir, "download-*")
	if err != nil {
		return "", fmt.Errorf("dbfile: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), out.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("dbfile: download %s: %w", loc, err)
	}
	if out.ContentLength != nil && *out.ContentLength >= 0 && *out.ContentLength != n {
		return "", fmt.Errorf("dbfile: download %s: got %d bytes, object has %d", loc, n, *out.ContentLength)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if wantSHA256 != "" && !strings.EqualFold(got, wantSHA256) {
		return "", fmt.Errorf("dbfile: %s: %w: got %s, want %s", loc, ErrChecksum, got, wantSHA256)
	}
	// Name the file after the content so that a re-download never rewrites
	// a file another reader may still have memory-mapped.
	base := filepath.Base(key)
	final := filepath.Join(dir, got[:16]+"-"+base)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return "", fmt.Errorf("dbfile: %w", err)
	}
	return final, nil
}

// SHA256File returns the hex SHA-256 of a file's content.
func SHA256File(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("dbfile: %w", err)
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("dbfile: %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
