package jsonlog

import (
	"bytes"

	"github.com/gannet-sec/gannet/stream"
)

// ObjectParser returns the stream.Parser of a JSON format whose unit is one
// object: each unit's text (invalid UTF-8 replaced, see Text) is decoded by
// decode into a new R, then fill sets the event from it. Errors of decode
// are returned as they are. The parser is stateless.
func ObjectParser[R any](f stream.Format, decode func(r *R, src string) error, fill func(r *R, ev *stream.Event)) stream.Parser {
	return stream.ParserFunc{F: f, Fn: func(u *stream.Unit, ev *stream.Event) error {
		src, _ := Text(u.Data)
		r := new(R)
		if err := decode(r, src); err != nil {
			return err
		}
		fill(r, ev)
		return nil
	}}
}

// SniffObject reports whether data, after leading blanks, starts a JSON
// object and contains every one of keys (given with their quotes, e.g.
// `"eventSource"`) somewhere.
func SniffObject(data []byte, keys ...string) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '{' {
		return false
	}
	for _, k := range keys {
		if !bytes.Contains(data, []byte(k)) {
			return false
		}
	}
	return true
}

// Begin resets d to src and enters its top-level object. A unit that is not
// an object (or not JSON) gives the error NotObject describes.
func (d *Decoder) Begin(prefix, src string) error {
	d.Reset(src)
	if d.Peek() != KindObject {
		return NotObject(prefix, d)
	}
	d.Object()
	return nil
}

// Member reads the next key of the object Begin entered; false at its end or
// after an error. The caller reads (or skips) the member's value before the
// next call.
func (d *Decoder) Member() (string, bool) {
	k, ok := d.Key()
	if ok {
		d.member = k
	}
	return k, ok
}

// Finish checks that the object ended the input and returns the first
// decoding error as DecodeError gives it, naming the last member read.
func (d *Decoder) Finish(prefix string) error {
	if err := d.End(); err != nil {
		return DecodeError(prefix, err, d.member)
	}
	return nil
}
