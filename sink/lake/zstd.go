package lake

import (
	"io"
	"sync"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// zstdPages is the ZSTD codec of Parquet pages, registered in arrow-go's
// codec table in place of its own: the same zstd frames, encoded by reused
// encoders (arrow-go resets a pooled encoder after every page) that skip the
// optional frame checksum. Literals are entropy-coded as arrow-go does, so
// files keep their size. Decoding and streaming are arrow-go's.
type zstdPages struct {
	base compress.Codec
	mu   sync.Mutex
	free map[zstd.EncoderLevel][]*zstd.Encoder // idle encoders (a sync.Pool would drop them at every GC)
}

// zstdKeep bounds the idle encoders kept per level.
const zstdKeep = 8

func init() {
	base, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		return
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &zstdPages{base: base, free: map[zstd.EncoderLevel][]*zstd.Encoder{}})
}

func (z *zstdPages) get(level zstd.EncoderLevel) *zstd.Encoder {
	z.mu.Lock()
	if f := z.free[level]; len(f) > 0 {
		enc := f[len(f)-1]
		z.free[level] = f[:len(f)-1]
		z.mu.Unlock()
		return enc
	}
	z.mu.Unlock()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1),
		zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false), zstd.WithAllLitEntropyCompression(true))
	if err != nil {
		panic(err)
	}
	return enc
}

func (z *zstdPages) put(level zstd.EncoderLevel, enc *zstd.Encoder) {
	z.mu.Lock()
	if len(z.free[level]) < zstdKeep {
		z.free[level] = append(z.free[level], enc)
	}
	z.mu.Unlock()
}

// Encode compresses src at zstd's default level.
func (z *zstdPages) Encode(dst, src []byte) []byte {
	return z.EncodeLevel(dst, src, compress.DefaultCompressionLevel)
}

// EncodeLevel compresses src at the given zstd level (1 … 22).
func (z *zstdPages) EncodeLevel(dst, src []byte, level int) []byte {
	l := zstd.SpeedDefault
	if level != compress.DefaultCompressionLevel {
		l = zstd.EncoderLevelFromZstd(level)
	}
	enc := z.get(l)
	dst = enc.EncodeAll(src, dst[:0])
	z.put(l, enc)
	return dst
}

func (z *zstdPages) CompressBound(n int64) int64 { return z.base.CompressBound(n) }

func (z *zstdPages) Decode(dst, src []byte) []byte { return z.base.Decode(dst, src) }

func (z *zstdPages) DecodeWithError(dst, src []byte) ([]byte, error) {
	return compress.Decode(z.base, dst, src)
}

func (z *zstdPages) NewReader(r io.Reader) io.ReadCloser {
	return z.base.(compress.StreamingCodec).NewReader(r)
}

func (z *zstdPages) NewWriter(w io.Writer) io.WriteCloser {
	return z.base.(compress.StreamingCodec).NewWriter(w)
}

func (z *zstdPages) NewWriterLevel(w io.Writer, level int) (io.WriteCloser, error) {
	return z.base.(compress.StreamingCodec).NewWriterLevel(w, level)
}
