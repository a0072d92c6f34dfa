// Package ndjson is the simplest durable sink: normalized events as one ECS
// JSON document per line (the same documents Elasticsearch receives), to a
// file or stdout. `gannet run --out` uses it.
package ndjson

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/gannet-sec/gannet/sink/elastic"
	"github.com/gannet-sec/gannet/stream"
)

// Sink writes events as NDJSON. Flush flushes the buffer and, for files,
// fsyncs, so acknowledged events are on disk.
type Sink struct {
	w    *bufio.Writer
	file *os.File // nil for a plain writer
	enc  elastic.Encoder
	buf  []byte
}

// New writes to w (e.g. stdout); Flush does not sync.
func New(w io.Writer) *Sink {
	return &Sink{w: bufio.NewWriterSize(w, 1<<20)}
}

// Create truncates or creates the file at path.
func Create(path string) (*Sink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("ndjson sink: %w", err)
	}
	s := New(f)
	s.file = f
	return s, nil
}

// Name implements stream.Sink.
func (s *Sink) Name() string { return "ndjson" }

// Write implements stream.Sink: every event is encoded and buffered.
func (s *Sink) Write(_ context.Context, events []stream.Event) error {
	for i := range events {
		s.buf = s.enc.AppendDocument(s.buf[:0], &events[i])
		s.buf = append(s.buf, '\n')
		if _, err := s.w.Write(s.buf); err != nil {
			return stream.NewRetryable(fmt.Errorf("ndjson sink: %w", err))
		}
	}
	return nil
}

// Flush implements stream.Sink.
func (s *Sink) Flush(context.Context) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("ndjson sink: %w", err)
	}
	if s.file != nil {
		if err := s.file.Sync(); err != nil {
			return fmt.Errorf("ndjson sink: %w", err)
		}
	}
	return nil
}

// Close implements stream.Sink.
func (s *Sink) Close(ctx context.Context) error {
	err := s.Flush(ctx)
	if s.file != nil {
		if cerr := s.file.Close(); err == nil {
			err = cerr
		}
		s.file = nil
	}
	return err
}
