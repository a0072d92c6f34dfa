package gunzip

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/gannet-sec/gannet/stream"
	"github.com/klauspost/compress/gzip"
)

func gz(parts ...string) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(p))
		zw.Close()
	}
	return b.Bytes()
}

func code(err error) string {
	var se *stream.Error
	if errors.As(err, &se) && se.Class == stream.Permanent {
		return se.Reason.Code
	}
	if err == nil {
		return ""
	}
	return "unclassified"
}

func TestInflate(t *testing.T) {
	big := strings.Repeat("0123456789", 10000)
	tests := []struct {
		name  string
		in    []byte
		limit int64
		want  string
		code  string
	}{
		{"simple", gz("hello"), 100, "hello", ""},
		{"empty", gz(""), 0, "", ""},
		{"multi-member", gz("a", "b", "c"), 100, "abc", ""},
		{"at limit", gz(big), int64(len(big)), big, ""},
		{"over limit", gz(big), int64(len(big)) - 1, "", CodeTooLarge},
		{"zero limit", gz("x"), 0, "", CodeTooLarge},
		{"not gzip", []byte("hello"), 100, "", CodeInvalid},
		{"truncated", gz(big)[:100], 1 << 20, "", CodeInvalid},
		{"bad checksum", func() []byte { b := gz("hello"); b[len(b)-6] ^= 1; return b }(), 100, "", CodeInvalid},
		{"trailing garbage", append(gz("hello"), "xx"...), 100, "", CodeInvalid},
		{"lying size", func() []byte { b := gz(big); copy(b[len(b)-4:], []byte{1, 0, 0, 0}); return b }(), 1 << 20, "", CodeInvalid},
	}
	var f Inflater
	var buf []byte
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.Inflate(buf, tt.in, tt.limit)
			buf = out
			if c := code(err); c != tt.code {
				t.Fatalf("code %q (%v), want %q", c, err, tt.code)
			}
			if tt.code == "" && string(out) != tt.want {
				t.Fatalf("got %d bytes, want %d", len(out), len(tt.want))
			}
			if int64(len(out)) > tt.limit {
				t.Fatalf("%d bytes past the limit %d", len(out), tt.limit)
			}
			// A fresh buffer never grows past the limit.
			var fresh Inflater
			if out, _ := fresh.Inflate(nil, tt.in, tt.limit); int64(cap(out)) > max(tt.limit, 0) {
				t.Fatalf("fresh buffer grew to %d, limit %d", cap(out), tt.limit)
			}
		})
	}
}

func FuzzInflate(f *testing.F) {
	f.Add(gz("hello"), uint16(10))
	f.Add(gz("a", "b"), uint16(1))
	f.Fuzz(func(t *testing.T, in []byte, limit uint16) {
		var inf Inflater
		out, err := inf.Inflate(nil, in, int64(limit))
		if c := code(err); c == "unclassified" {
			t.Fatal(err)
		}
		if len(out) > int(limit) {
			t.Fatalf("%d bytes past limit %d", len(out), limit)
		}
	})
}
