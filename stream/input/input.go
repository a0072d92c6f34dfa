// Package input reads local inputs for `gannet run`: files, directories
// (recursively), gzip files and stdin, turned into batches of records with
// file/line lineage. Line-oriented files (NDJSON, text logs) become one
// record per line; whole JSON documents (CloudTrail delivery files, JSON
// arrays, pretty-printed objects) and Lambda Kinesis event files become one
// record, or the Kinesis records they carry.
package input

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
	"sort"

	"github.com/klauspost/compress/gzip"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/kinesisevent"
)

// Reader turns inputs into record batches.
type Reader struct {
	// BatchSize is the number of records per batch (default 1000).
	BatchSize int
	// MaxRecord caps one record (a line, or a whole JSON document) in bytes;
	// larger ones are rejected through Reject (default 64 MiB).
	MaxRecord int64
	// FormatFor gives the configured format of a source (path or stream
	// ARN); nil means sniff everything.
	FormatFor func(source string) stream.Format
	// Reject receives what cannot become a record (an oversized line, an
	// unreadable Kinesis event file) so it can be dead-lettered.
	Reject func(l stream.Lineage, raw []byte, err error)
	// Stdin replaces os.Stdin for "-".
	Stdin io.Reader
	// BytesRead counts input bytes as read (compressed size for .gz files),
	// for progress reports.
	BytesRead func(n int)
}

// Read walks inputs in order ("-" is stdin; directories recursively in
// lexical order) and calls fn with batches. A batch and its data are valid
// only during the call. Read stops at the first error from fn, a file that
// cannot be opened, or ctx.
func (r *Reader) Read(ctx context.Context, inputs []string, fn func([]stream.Record) error) error {
	b := &batcher{r: r, fn: fn, ctx: ctx}
	if r.BatchSize <= 0 {
		r.BatchSize = 1000
	}
	if r.MaxRecord <= 0 {
		r.MaxRecord = 64 << 20
	}
	for _, in := range inputs {
		if in == "-" {
			src := r.Stdin
			if src == nil {
				src = os.Stdin
			}
			if err := b.readStream("-", src); err != nil {
				return err
			}
			continue
		}
		files, err := expand(in)
		if err != nil {
			return err
		}
		for _, f := range files {
			if err := b.readFile(f); err != nil {
				return err
			}
		}
	}
	return b.flush()
}

func expand(in string) ([]string, error) {
	st, err := os.Stat(in)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", in, err)
	}
	if !st.IsDir() {
		return []string{in}, nil
	}
	var files []string
	err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", in, err)
	}
	return files, nil
}

type batcher struct {
	r    *Reader
	fn   func([]stream.Record) error
	ctx  context.Context
	recs []stream.Record
	buf  []byte // backing bytes of recs, reused
	// offsets of each record's data in buf (buf may grow while filling)
	spans [][2]int
}

func (b *batcher) add(rec stream.Record, data []byte) error {
	n := len(b.buf)
	b.buf = append(b.buf, data...)
	b.spans = append(b.spans, [2]int{n, len(b.buf)})
	b.recs = append(b.recs, rec)
	if len(b.recs) >= b.r.BatchSize || len(b.buf) >= 32<<20 {
		return b.flush()
	}
	return nil
}

func (b *batcher) flush() error {
	if len(b.recs) == 0 {
		return nil
	}
	if err := b.ctx.Err(); err != nil {
		return err
	}
	for i := range b.recs {
		s := b.spans[i]
		b.recs[i].Data = b.buf[s[0]:s[1]:s[1]]
	}
	err := b.fn(b.recs)
	clear(b.recs)
	b.recs, b.buf, b.spans = b.recs[:0], b.buf[:0], b.spans[:0]
	return err
}

type countingReader struct {
	r  io.Reader
	fn func(int)
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && c.fn != nil {
		c.fn(n)
	}
	return n, err
}

func (b *batcher) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("input %s: %w", path, err)
	}
	defer f.Close()
	return b.readStream(path, f)
}

func (b *batcher) readStream(name string, raw io.Reader) error {
	br := bufio.NewReaderSize(countingReader{raw, b.r.BytesRead}, 256<<10)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return b.reject(name, 0, 0, nil, stream.NewPermanent("gzip_invalid", err))
		}
		defer zr.Close()
		src = zr
	}
	in := bufio.NewReaderSize(src, 256<<10)
	head, _ := in.Peek(64 << 10)
	format := stream.FormatUnknown
	if b.r.FormatFor != nil {
		format = b.r.FormatFor(name)
	}
	switch {
	case kinesisevent.IsKinesisEvent(head):
		return b.readKinesisEvent(name, in)
	case wholeDocument(head):
		return b.readWhole(name, in, format)
	}
	return b.readLines(name, in, format)
}

// wholeDocument reports whether the data is one JSON document rather than
// NDJSON: a JSON array, a CloudTrail delivery file, or an object spread over
// several lines.
func wholeDocument(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n")
	if len(t) == 0 {
		return false
	}
	if t[0] == '[' {
		return true
	}
	if t[0] != '{' {
		return false
	}
	first, _, _ := bytes.Cut(t, []byte("\n"))
	first = bytes.TrimRight(first, " \t\r")
	if bytes.Contains(first, []byte(`"Records"`)) && bytes.HasPrefix(bytes.TrimLeft(first[1:], " \t"), []byte(`"Records"`)) {
		return true
	}
	return len(first) == 0 || first[len(first)-1] != '}'
}

func (b *batcher) lineage(name string, off, line int64) stream.Lineage {
	return stream.Lineage{Kind: stream.OriginFile, Source: name, SubSequence: -1, Offset: off, Line: line}
}

func (b *batcher) reject(name string, off, line int64, raw []byte, err error) error {
	if b.r.Reject == nil {
		return fmt.Errorf("input %s: %w", name, err)
	}
	b.r.Reject(b.lineage(name, off, line), raw, err)
	return nil
}

func (b *batcher) readWhole(name string, in io.Reader, format stream.Format) error {
	data, err := io.ReadAll(io.LimitReader(in, b.r.MaxRecord+1))
	if err != nil {
		return fmt.Errorf("input %s: %w", name, err)
	}
	if int64(len(data)) > b.r.MaxRecord {
		return b.reject(name, 0, 1, prefix(data, 1024), stream.Permanentf("record_too_large", "JSON document larger than the %d-byte record cap", b.r.MaxRecord))
	}
	l := b.lineage(name, 0, 1)
	return b.add(stream.Record{Lineage: l, Format: format}, data)
}

func (b *batcher) readKinesisEvent(name string, in io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(in, 6<<20*10+1))
	if err != nil {
		return fmt.Errorf("input %s: %w", name, err)
	}
	recs, err := kinesisevent.Read(data)
	if err != nil {
		return b.reject(name, 0, 1, data, stream.NewPermanent("kinesis_event_invalid", err))
	}
	for _, rec := range recs {
		if b.r.FormatFor != nil {
			rec.Format = b.r.FormatFor(rec.Lineage.Source)
		}
		data := rec.Data
		if err := b.add(rec, data); err != nil {
			return err
		}
	}
	return nil
}

func (b *batcher) readLines(name string, in *bufio.Reader, format stream.Format) error {
	var off, line int64
	var long []byte // a line longer than the read buffer, up to the cap
	var longN int64 // its full length so far
	for {
		chunk, err := in.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			longN += int64(len(chunk))
			if longN <= b.r.MaxRecord {
				long = append(long, chunk...)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("input %s line %d: %w", name, line+1, err)
		}
		n := longN + int64(len(chunk))
		data := chunk
		if longN > 0 {
			data = append(long, chunk...)
		}
		long, longN = long[:0], 0
		if n > 0 {
			line++
			trimmed := bytes.TrimRight(data, "\r\n")
			switch {
			case n-int64(len(data)-len(trimmed)) > b.r.MaxRecord:
				if rerr := b.reject(name, off, line, prefix(data, 1024), stream.Permanentf("record_too_large", "line %d is %d bytes, more than the %d-byte record cap", line, n, b.r.MaxRecord)); rerr != nil {
					return rerr
				}
			case len(bytes.TrimSpace(trimmed)) > 0:
				if aerr := b.add(stream.Record{Lineage: b.lineage(name, off, line), Format: format}, trimmed); aerr != nil {
					return aerr
				}
			}
			off += n
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

func prefix(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
