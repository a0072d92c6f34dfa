// Package gunzip inflates gzip data (one or more members) into a reusable
// buffer under a hard size limit, so that a gzip bomb costs at most about
// the limit in memory and ends as a Permanent gzip_too_large error.
package gunzip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"

	"github.com/gannet-sec/gannet/stream"
	"github.com/klauspost/compress/gzip"
)

// Reason codes of the Permanent errors Inflate returns.
const (
	CodeTooLarge = "gzip_too_large" // the content is larger than the limit
	CodeInvalid  = "gzip_invalid"   // bad header, corrupt or truncated stream, checksum mismatch
)

const (
	// maxRatio bounds how much DEFLATE can expand its input (about 1032:1),
	// so an honest-looking size hint cannot make us allocate more than the
	// input could ever produce.
	maxRatio = 1032
	minBuf   = 32 << 10
)

// IsGzip reports whether b starts with the gzip magic 1f 8b.
func IsGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// Inflater inflates gzip data, reusing its decompressor across calls. It is
// not safe for concurrent use; the zero value is ready.
type Inflater struct {
	zr  *gzip.Reader
	src bytes.Reader
	one [1]byte
}

// Inflate decompresses gz (all its members) into dst[:0], growing dst as
// needed but never past limit bytes, and returns the content. Memory used
// stays below about twice the limit even while growing. Errors are
// Permanent with code gzip_too_large or gzip_invalid; on error the returned
// slice holds what was inflated so far.
func (f *Inflater) Inflate(dst, gz []byte, limit int64) ([]byte, error) {
	dst = dst[:0]
	if limit <= 0 {
		limit = 0
	}
	f.src.Reset(gz)
	var err error
	if f.zr == nil {
		f.zr, err = gzip.NewReader(&f.src)
	} else {
		err = f.zr.Reset(&f.src)
	}
	if err != nil {
		f.src.Reset(nil)
		return dst, invalid(err)
	}
	defer f.src.Reset(nil) // keep no reference to the caller's bytes

	// Size hint: ISIZE of the last member (mod 2^32), bounded by what the
	// input can expand to and by the limit.
	want := int64(minBuf)
	if len(gz) >= 18 {
		hint := int64(binary.LittleEndian.Uint32(gz[len(gz)-4:]))
		want = max(want, min(hint, int64(len(gz))*maxRatio))
	}
	want = min(want, limit)
	if int64(cap(dst)) < want {
		dst = make([]byte, 0, want)
	}
	for {
		room := min(int64(cap(dst)), limit) - int64(len(dst))
		if room == 0 {
			if int64(len(dst)) >= limit {
				// Full at the limit: one more byte means too large.
				n, err := f.zr.Read(f.one[:])
				if n > 0 {
					return dst, stream.Permanentf(CodeTooLarge, "gzip content exceeds the limit of %d bytes", limit)
				}
				if err == io.EOF {
					return dst, nil
				}
				if err != nil {
					return dst, invalid(err)
				}
				continue
			}
			// Grow ×4 (few copies, little garbage), never past the limit.
			n := min(max(int64(cap(dst))*4, minBuf), limit)
			grown := make([]byte, len(dst), n)
			copy(grown, dst)
			dst = grown
			continue
		}
		n, err := f.zr.Read(dst[len(dst) : len(dst)+int(room)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, invalid(err)
		}
	}
}

func invalid(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return stream.Permanentf(CodeInvalid, "gzip stream is truncated")
	}
	return stream.NewPermanent(CodeInvalid, err)
}
