package handler

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
)

// Object layouts the splitter knows.
const (
	// LayoutLines: one record per line (NDJSON, ALB, VPC flow, WAF, S3 access logs).
	LayoutLines = "lines"
	// LayoutRecords: a CloudTrail delivery file {"Records":[…]}: one record per element.
	LayoutRecords = "records"
)

// Piece is one record found in an object: its bytes and the byte offset
// and line (1-based) where it starts in the uncompressed object.
type Piece struct {
	Offset int64
	Line   int64
	Data   []byte // valid until the next call to Next
	// TooLarge is set (and Data holds only a prefix) when the record is
	// longer than the splitter's limit; it must be dead-lettered.
	TooLarge bool
}

// Splitter streams an object (gzip or plain) and returns its records one at
// a time with bounded memory: at most the read buffer plus one record.
type Splitter struct {
	Layout string
	r      *bufio.Reader
	off    int64 // uncompressed bytes consumed
	line   int64 // line of r's next byte
	max    int
	buf    []byte
	close  func() error
	inArr  bool // LayoutRecords: positioned inside the Records array
	done   bool
}

const splitterBuffer = 256 << 10

// NewSplitter reads body from its start. layout may be empty (sniffed at
// offset 0) or a layout recorded by a previous invocation. When offset > 0
// the uncompressed stream is read and discarded up to offset (gzip streams
// cannot seek), line is the line number at offset, and the splitter resumes
// there: for LayoutRecords, inside the array, before an element or its comma.
func NewSplitter(body io.Reader, layout string, offset, line int64, maxRecord int) (*Splitter, error) {
	br := bufio.NewReaderSize(body, splitterBuffer)
	s := &Splitter{Layout: layout, max: maxRecord, line: max(line, 1), close: func() error { return nil }}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		s.close = zr.Close
		br = bufio.NewReaderSize(zr, splitterBuffer)
	}
	s.r = br
	if offset > 0 {
		n, err := io.CopyN(io.Discard, br, offset)
		s.off = n
		if err != nil {
			return nil, fmt.Errorf("skipping to offset %d: %w (object shorter than recorded: was it replaced?)", offset, err)
		}
		if s.Layout == "" {
			return nil, errors.New("resuming needs the layout recorded with the offset")
		}
		s.inArr = s.Layout == LayoutRecords
		return s, nil
	}
	if s.Layout == "" {
		s.Layout = LayoutLines
		if head, _ := br.Peek(4096); isRecordsFile(head) {
			s.Layout = LayoutRecords
		}
	}
	return s, nil
}

// Offset is the uncompressed offset the splitter has consumed up to: the
// place to resume from once every record returned so far is done.
func (s *Splitter) Offset() int64 { return s.off }

// LineNo is the line number at Offset.
func (s *Splitter) LineNo() int64 { return s.line }

// Close releases the decompressor.
func (s *Splitter) Close() error { return s.close() }

// isRecordsFile reports whether head starts {"Records":[ (spaces allowed).
func isRecordsFile(head []byte) bool {
	p := bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	for _, tok := range []string{"{", `"Records"`, ":", "["} {
		p = bytes.TrimLeft(p, " \t\r\n")
		if !bytes.HasPrefix(p, []byte(tok)) {
			return false
		}
		p = p[len(tok):]
	}
	return true
}

// Next returns the next record, or io.EOF after the last.
func (s *Splitter) Next() (Piece, error) {
	if s.done {
		return Piece{}, io.EOF
	}
	if s.Layout == LayoutRecords {
		return s.nextElement()
	}
	return s.nextLine()
}

func (s *Splitter) consume(n int, data []byte) {
	s.off += int64(n)
	s.line += int64(bytes.Count(data[:n], []byte{'\n'}))
	s.r.Discard(n)
}

func (s *Splitter) nextLine() (Piece, error) {
	for {
		p := Piece{Offset: s.off, Line: s.line}
		s.buf = s.buf[:0]
		total := 0
		for {
			chunk, err := s.r.ReadSlice('\n')
			s.off += int64(len(chunk))
			total += len(chunk)
			if room := s.max - len(s.buf); room > 0 {
				s.buf = append(s.buf, chunk[:min(len(chunk), room)]...)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil && err != io.EOF {
				return Piece{}, err
			}
			if err == io.EOF {
				s.done = true
			} else {
				total-- // the newline
			}
			break
		}
		s.line++
		p.TooLarge = total > s.max
		data := s.buf
		if !p.TooLarge {
			data = bytes.TrimRight(data, "\r\n")
		}
		if len(bytes.TrimSpace(data)) == 0 {
			if s.done {
				return Piece{}, io.EOF
			}
			continue
		}
		p.Data = data
		return p, nil
	}
}

// nextElement returns the next element of the Records array.
func (s *Splitter) nextElement() (Piece, error) {
	if !s.inArr {
		// Consume up to and including the '[' of "Records".
		for {
			c, err := s.r.ReadByte()
			if err != nil {
				return Piece{}, fmt.Errorf("CloudTrail file: no Records array: %w", err)
			}
			s.off++
			if c == '\n' {
				s.line++
			}
			if c == '[' {
				break
			}
		}
		s.inArr = true
	}
	// Skip spaces and the comma before the element.
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return Piece{}, fmt.Errorf("CloudTrail file ends inside the Records array: %w", err)
		}
		switch c {
		case ' ', '\t', '\r', ',':
			s.off++
			continue
		case '\n':
			s.off++
			s.line++
			continue
		case ']':
			s.off++
			s.done = true
			return Piece{}, io.EOF
		}
		s.r.UnreadByte()
		break
	}
	p := Piece{Offset: s.off, Line: s.line}
	s.buf = s.buf[:0]
	depth, inStr, esc, elemLen := 0, false, false, 0
	for {
		window, err := s.r.Peek(max(s.r.Buffered(), 1))
		if len(window) == 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return Piece{}, fmt.Errorf("CloudTrail file ends inside an element at offset %d: %w", p.Offset, err)
		}
		end := -1
	scan:
		for i, c := range window {
			switch {
			case esc:
				esc = false
			case inStr:
				if c == '\\' {
					esc = true
				} else if c == '"' {
					inStr = false
				}
			case c == '"':
				inStr = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				if depth <= 0 {
					end = i + 1
					break scan
				}
			case depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t'):
				end = i // a scalar element ends here
				break scan
			}
		}
		n := len(window)
		if end >= 0 {
			n = end
		}
		if room := s.max - len(s.buf); room > 0 {
			s.buf = append(s.buf, window[:min(n, room)]...)
		}
		elemLen += n
		s.consume(n, window)
		if end >= 0 {
			p.TooLarge = elemLen > s.max
			p.Data = s.buf
			return p, nil
		}
	}
}
