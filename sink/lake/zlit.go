package lake

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/klauspost/compress/huff0"
)

// Literal-only zstd frames.
//
// Some columns are nearly random text: event ids and request ids are hex
// digits or UUIDs, which zstd cannot shorten by matches, only by Huffman-coding
// the literals (about 4 bits per hex digit). The zstd encoder still searches
// every position for a match first; on those columns that search is two
// thirds of its time (4.5 MB of request ids alone: 17.7 ms through the
// fastest zstd level, 6.3 ms through huff0, same size within 0.1 %; on
// PLAIN pages, whose 4-byte length prefixes zstd can match, 3–6 % larger
// — BenchmarkPageCompress). For such
// pages the writer builds the zstd frame itself: every block a Compressed
// block whose literals section is huff0's 4-stream output and whose
// sequences section is empty. That is exactly the block klauspost's encoder
// writes when it finds no match (blockEnc.encodeLits), so every zstd decoder
// reads it; the frame is a standard single-segment frame with its content
// size. Which pages qualify is decided per column chunk, by probing a sample
// of its first large page both ways (literalsFor).

// Literal-only probing: a zstd page of at least litProbeMin bytes is probed
// on litSample bytes from its middle, and written as literals only when the
// sample is then at most 1/litSlack larger than through zstd. On the plain
// pages of 32-digit hex ids the zstd frame is about 6 % smaller (it matches
// the repeated 4-byte length prefixes) at a third of the speed; on JSON
// documents it is 4.6 times smaller.
const (
	litProbeMin = 16 << 10
	litSample   = 8 << 10
	litSlack    = 8
)

// literalPages counts the pages written as literal-only frames (tests read it).
var literalPages atomic.Int64

// LiteralPages returns how many zstd pages this process wrote as literal-only
// frames.
func LiteralPages() int64 { return literalPages.Load() }

// A column chunk's literal-only choice: unknown until a data page is large
// enough to probe, then the same for the chunk's remaining pages.
const (
	litUnknown int8 = iota
	litYes
	litNo
)

// literalsFor reports whether page p is written as literals only, probing
// it when *lit is still unknown (or lit is nil) and recording the answer.
func (s *hwScratch) literalsFor(p []byte, lit *int8) bool {
	if lit != nil && *lit != litUnknown {
		return *lit == litYes
	}
	if len(p) < litProbeMin {
		return false
	}
	yes := s.literalsOnly(p)
	if lit != nil {
		*lit = litNo
		if yes {
			*lit = litYes
		}
	}
	return yes
}

// literalsOnly reports whether the zstd page p is written as literals only.
// It needs s.zenc.
func (s *hwScratch) literalsOnly(p []byte) bool {
	if len(p) < litProbeMin {
		return false
	}
	mid := (len(p) - litSample) / 2
	sample := p[mid : mid+litSample]
	s.probe = s.zenc.EncodeAll(sample, s.probe[:0])
	zs := len(s.probe)
	s.probe = appendZstdLiterals(s.probe[:0], sample, &s.huff)
	return len(s.probe) <= zs+zs/litSlack
}

const (
	zstdMagic    = 0xFD2FB528
	zstdMaxBlock = 128 << 10
	// blocks types and literals block type (RFC 8878, 3.1.1.2 and 3.1.1.3.1)
	zbRaw        = 0
	zbRLE        = 1
	zbCompressed = 2
	zlCompressed = 2
)

// appendZstdLiterals appends to dst one zstd frame whose content is p, coded
// as literal-only blocks. sc is reused between calls.
func appendZstdLiterals(dst, p []byte, sc *huff0.Scratch) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, zstdMagic)
	// Frame header: single segment (no window descriptor), no checksum,
	// no dictionary, content size in 1, 2, 4 or 8 bytes.
	n := uint64(len(p))
	switch {
	case n < 256:
		dst = append(dst, 0<<6|1<<5, byte(n))
	case n < 65536+256:
		dst = append(dst, 1<<6|1<<5)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(n-256))
	case n < 0xffffffff:
		dst = append(dst, 2<<6|1<<5)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	default:
		dst = append(dst, 3<<6|1<<5)
		dst = binary.LittleEndian.AppendUint64(dst, n)
	}
	for {
		blk := p[:min(len(p), zstdMaxBlock)]
		p = p[len(blk):]
		dst = appendLiteralBlock(dst, blk, len(p) == 0, sc)
		if len(p) == 0 {
			return dst
		}
	}
}

// appendLiteralBlock appends one block holding blk: Huffman-coded literals
// when that is shorter, else an RLE or raw block.
func appendLiteralBlock(dst, blk []byte, last bool, sc *huff0.Scratch) []byte {
	head := func(typ, size int) {
		v := uint32(size)<<3 | uint32(typ)<<1
		if last {
			v |= 1
		}
		dst = append(dst, byte(v), byte(v>>8), byte(v>>16))
	}
	if len(blk) >= 32 {
		sc.Reuse = huff0.ReusePolicyNone // every block carries its table
		var out []byte
		var err error
		single := len(blk) < 1024
		if single {
			out, _, err = huff0.Compress1X(blk, sc)
		} else {
			out, _, err = huff0.Compress4X(blk, sc)
		}
		switch err {
		case nil:
			lh, lsize := literalsHeader(len(blk), len(out), single)
			if size := lsize + len(out) + 1; size < len(blk) {
				head(zbCompressed, size)
				for i := range lsize {
					dst = append(dst, byte(lh>>(8*i)))
				}
				dst = append(dst, out...)
				return append(dst, 0) // Number_of_Sequences: none
			}
		case huff0.ErrUseRLE:
			head(zbRLE, len(blk))
			return append(dst, blk[0])
		}
	}
	head(zbRaw, len(blk))
	return append(dst, blk...)
}

// literalsHeader is the Literals_Section_Header of a Compressed_Literals_Block
// regenerating n bytes from c compressed bytes (1 stream only below 1 KiB),
// little-endian in its size bytes.
func literalsHeader(n, c int, single bool) (h uint64, size int) {
	switch {
	case n < 1<<10 && c < 1<<10:
		h, size = uint64(n)<<4|uint64(c)<<14, 3
		if !single {
			h |= 1 << 2
		}
	case n < 1<<14 && c < 1<<14:
		h, size = 2<<2|uint64(n)<<4|uint64(c)<<18, 4
	default:
		h, size = 3<<2|uint64(n)<<4|uint64(c)<<22, 5
	}
	return h | zlCompressed, size
}
