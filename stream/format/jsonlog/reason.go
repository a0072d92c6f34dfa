package jsonlog

import (
	"errors"

	"github.com/gannet-sec/gannet/stream"
)

// DecodeError turns a decoding error into the Permanent error a parser
// returns, with a reason code prefixed by the format name:
// "<prefix>_invalid_json" (syntax), "<prefix>_too_deep" (nesting beyond
// MaxDepth) or "<prefix>_field_type" (a field of the wrong JSON type). field
// names the member being read, when known; the detail carries the byte
// offset.
func DecodeError(prefix string, err error, field string) error {
	var se *SyntaxError
	if !errors.As(err, &se) {
		return stream.NewPermanent(prefix+"_invalid_json", err)
	}
	code := prefix + "_invalid_json"
	switch se.Kind {
	case ErrDepth:
		code = prefix + "_too_deep"
	case ErrType:
		code = prefix + "_field_type"
	}
	if field != "" {
		return stream.Permanentf(code, "%s (reading %q)", se.Error(), field)
	}
	return stream.Permanentf(code, "%s", se.Error())
}

// NotObject is the Permanent error for a unit that is valid JSON text but
// not an object, or empty.
func NotObject(prefix string, d *Decoder) error {
	switch d.Peek() {
	case KindNone:
		if d.Offset() >= len(d.s) && d.err == nil {
			return stream.Permanentf(prefix+"_invalid_json", "empty unit, expected a JSON object")
		}
	case KindArray:
		return stream.Permanentf(prefix+"_not_object", "expected a JSON object, found an array at byte %d", d.Offset())
	case KindString, KindNumber, KindBool, KindNull:
		return stream.Permanentf(prefix+"_not_object", "expected a JSON object, found a scalar at byte %d", d.Offset())
	}
	if d.err != nil {
		return DecodeError(prefix, d.err, "")
	}
	return stream.Permanentf(prefix+"_invalid_json", "invalid character %q looking for a JSON object at byte %d", d.s[d.i], d.i)
}
