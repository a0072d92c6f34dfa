package dlq

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gannet-sec/gannet/stream"
)

// MaxLine bounds one entry line when reading (a 64 MiB raw record encodes
// to about 86 MiB of base64).
const MaxLine = 128 << 20

// Read calls fn for every entry found at src: a directory (every *.ndjson
// file below it, in name order; temporary files of an unfinished Flush are
// skipped), one file, or "-" for standard input. It stops at the first
// error from fn, a malformed line (reported with file and line number) or
// ctx. S3 sources ("s3://…") are read with ReadS3.
func Read(ctx context.Context, src string, fn func(stream.DeadLetter) error) error {
	if strings.HasPrefix(src, "s3://") {
		return errors.New("dlq: use ReadS3 for s3:// sources")
	}
	if src == "-" {
		return decode(ctx, os.Stdin, "stdin", fn)
	}
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	var files []string
	if st.IsDir() {
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".ndjson") && !strings.HasPrefix(d.Name(), ".") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("dlq: %w", err)
		}
		slices.Sort(files)
	} else {
		files = []string{src}
	}
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("dlq: %w", err)
		}
		err = decode(ctx, f, p, fn)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// Decode calls fn for every entry of an NDJSON stream (blank lines are
// skipped). Raw slices given to fn are fresh and may be kept.
func Decode(ctx context.Context, r io.Reader, fn func(stream.DeadLetter) error) error {
	return decode(ctx, r, "input", fn)
}

func decode(ctx context.Context, r io.Reader, name string, fn func(stream.DeadLetter) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		line = line[:0]
		var err error
		for {
			var part []byte
			part, err = br.ReadSlice('\n')
			line = append(line, part...)
			if len(line) > MaxLine {
				return fmt.Errorf("dlq: %s:%d: line longer than %d bytes", name, n, MaxLine)
			}
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("dlq: reading %s: %w", name, err)
		}
		if t := bytes.TrimSpace(line); len(t) > 0 {
			dl, perr := ParseEntry(t)
			if perr != nil {
				return fmt.Errorf("%s:%d: %w", name, n, perr)
			}
			if ferr := fn(dl); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// S3ReadAPI is the pair of S3 calls ReadS3 makes (satisfied by *s3.Client).
type S3ReadAPI interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// ReadS3 calls fn for every entry of every *.ndjson object under src
// ("s3://bucket/prefix"), in key order.
func ReadS3(ctx context.Context, api S3ReadAPI, src string, fn func(stream.DeadLetter) error) error {
	rest, ok := strings.CutPrefix(src, "s3://")
	if !ok {
		return fmt.Errorf("dlq: %q is not an s3:// source", src)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return fmt.Errorf("dlq: %q has no bucket", src)
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	for {
		out, err := api.ListObjectsV2(ctx, in)
		if err != nil {
			return fmt.Errorf("dlq: listing %s: %w", src, err)
		}
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if !strings.HasSuffix(key, ".ndjson") {
				continue
			}
			obj, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				return fmt.Errorf("dlq: getting s3://%s/%s: %w", bucket, key, err)
			}
			err = decode(ctx, obj.Body, "s3://"+bucket+"/"+key, fn)
			obj.Body.Close()
			if err != nil {
				return err
			}
		}
		if !aws.ToBool(out.IsTruncated) || out.NextContinuationToken == nil {
			return nil
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}
