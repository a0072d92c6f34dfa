package lake

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/huff0"
	"github.com/klauspost/compress/zstd"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
)

var zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))

// checkLiteralFrame decodes a frame made by appendZstdLiterals with
// klauspost's decoder (arrow-go's) and checks its header.
func checkLiteralFrame(t testing.TB, p []byte) []byte {
	t.Helper()
	var sc huff0.Scratch
	frame := appendZstdLiterals(nil, p, &sc)
	var h zstd.Header
	if err := h.Decode(frame); err != nil {
		t.Fatalf("%d bytes: header: %v", len(p), err)
	}
	if !h.SingleSegment || !h.HasFCS || h.FrameContentSize != uint64(len(p)) || h.HasCheckSum || h.DictionaryID != 0 {
		t.Fatalf("%d bytes: header %+v", len(p), h)
	}
	got, err := zdec.DecodeAll(frame, nil)
	if err != nil {
		t.Fatalf("%d bytes: decode: %v", len(p), err)
	}
	if !bytes.Equal(got, p) {
		t.Fatalf("%d bytes: decoded %d bytes that differ", len(p), len(got))
	}
	return frame
}

func hexText(r *rand.Rand, n int) []byte {
	const digits = "0123456789abcdef"
	p := make([]byte, n)
	for i := range p {
		p[i] = digits[r.IntN(16)]
	}
	return p
}

func TestZstdLiteralsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	hex := hexText(r, 600<<10)
	cases := map[string][]byte{
		"empty":          {},
		"one byte":       {'x'},
		"31 bytes raw":   hex[:31],
		"one stream":     hex[:1000],
		"four streams":   hex[:1024],
		"fcs 1 byte max": hex[:255],
		"fcs 2 bytes":    hex[:256],
		"fcs 2 max":      hex[:65536+255],
		"fcs 4 bytes":    hex[:65536+256],
		"one block":      hex[:zstdMaxBlock],
		"block+1":        hex[:zstdMaxBlock+1],
		"many blocks":    hex,
		"rle":            bytes.Repeat([]byte{'a'}, 200<<10),
		"incompressible": random,
		"text":           []byte(strings.Repeat("arn:aws:iam::123456789012:user/alice ", 3000)),
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			frame := checkLiteralFrame(t, p)
			if name == "many blocks" && len(frame) > len(p)*53/100 {
				t.Errorf("hex: %d → %d bytes, want about half", len(p), len(frame))
			}
			if name == "incompressible" && len(frame) > len(p)+64 {
				t.Errorf("random: %d → %d bytes (raw blocks expected)", len(p), len(frame))
			}
			if name == "rle" && len(frame) > 64 {
				t.Errorf("rle: %d → %d bytes", len(p), len(frame))
			}
		})
	}
}

func FuzzZstdLiterals(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("0123456789abcdef0123456789abcdef"))
	f.Add(bytes.Repeat([]byte("7f3a"), 400))
	f.Add(bytes.Repeat([]byte{0}, 2000))
	f.Fuzz(func(t *testing.T, p []byte) {
		checkLiteralFrame(t, p)
	})
}

// plainPage builds the PLAIN page bytes of string values as the writer
// does (4-byte length, then the bytes).
func plainPage(vals []string) []byte {
	var p []byte
	for _, v := range vals {
		p = binary.LittleEndian.AppendUint32(p, uint32(len(v)))
		p = append(p, v...)
	}
	return p
}

// TestLiteralsOnlyChoice checks which real CloudTrail columns the probe
// writes as literal-only frames: the hex event ids and the UUID request ids,
// not the JSON request parameters (zstd makes those 4.6 times smaller), and no
// page under litProbeMin. Each page decodes back either way.
func TestLiteralsOnlyChoice(t *testing.T) {
	evs := parsedEvents(t, stream.FormatCloudTrail, 8000, 1)
	var ids, reqIDs, params []string
	for i := range evs {
		ids = append(ids, evs[i].ID.String())
		r := evs[i].Native.(*cloudtrail.Record)
		if r.RequestID != "" {
			reqIDs = append(reqIDs, r.RequestID)
		}
		if r.RequestParameters != "" {
			params = append(params, r.RequestParameters)
		}
	}
	var s hwScratch
	for _, tc := range []struct {
		name string
		page []byte
		lit  bool
	}{
		{"event_id", plainPage(ids), true},
		{"request_id", plainPage(reqIDs), true},
		{"request_parameters", plainPage(params), false},
		{"small event_id page", plainPage(ids[:400]), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := s.compress(codecZstd, DefaultZstdLevel, tc.page, nil)
			if lit := s.literalsOnly(tc.page); lit != tc.lit {
				t.Errorf("%d-byte page: literals only %v, want %v", len(tc.page), lit, tc.lit)
			}
			got, err := zdec.DecodeAll(out, nil)
			if err != nil || !bytes.Equal(got, tc.page) {
				t.Fatalf("page does not decode back: %v", err)
			}
			t.Logf("%s: %d → %d bytes", tc.name, len(tc.page), len(out))
		})
	}
}

// TestLiteralsChoicePerChunk: the first page large enough decides for the
// rest of its column chunk; smaller pages before it do not.
func TestLiteralsChoicePerChunk(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var ids []string
	for range 2000 {
		ids = append(ids, string(hexText(r, 32)))
	}
	hexPage := plainPage(ids)
	jsonPage := []byte(strings.Repeat(`{"bucketName":"logs","key":"a/b/c.gz"}`, 1000))
	var s hwScratch
	s.compress(codecZstd, DefaultZstdLevel, []byte("warm up"), nil)
	lit := litUnknown
	if s.literalsFor(hexPage[:litProbeMin-1], &lit) || lit != litUnknown {
		t.Fatalf("small page: choice %d, want none yet", lit)
	}
	if !s.literalsFor(hexPage, &lit) || lit != litYes {
		t.Fatalf("hex page: choice %d, want literals", lit)
	}
	if !s.literalsFor(jsonPage, &lit) {
		t.Fatal("a later page of the chunk was probed again")
	}
	lit = litUnknown
	if s.literalsFor(jsonPage, &lit) || lit != litNo {
		t.Fatalf("json page: choice %d, want zstd", lit)
	}
}

// BenchmarkPageCompress compares zstd (the default level) with the
// literal-only frame on 256 KiB PLAIN pages of real CloudTrail columns.
func BenchmarkPageCompress(b *testing.B) {
	evs := parsedEvents(b, stream.FormatCloudTrail, 1<<14, 1)
	cols := map[string][]string{}
	for i := range evs {
		r := evs[i].Native.(*cloudtrail.Record)
		cols["event_id"] = append(cols["event_id"], evs[i].ID.String())
		cols["request_id"] = append(cols["request_id"], r.RequestID)
		cols["request_parameters"] = append(cols["request_parameters"], r.RequestParameters)
	}
	var s hwScratch
	s.compress(codecZstd, DefaultZstdLevel, []byte("warm up"), nil)
	for _, name := range []string{"event_id", "request_id", "request_parameters"} {
		data := plainPage(cols[name])
		const pg = 256 << 10
		for _, m := range []string{"zstd", "literals"} {
			b.Run(fmt.Sprintf("column=%s/%s", name, m), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				out := 0
				for range b.N {
					out = 0
					for off := 0; off < len(data); off += pg {
						p := data[off:min(off+pg, len(data))]
						if m == "zstd" {
							out += len(s.zenc.EncodeAll(p, s.comp[:0]))
						} else {
							out += len(appendZstdLiterals(s.comp[:0], p, &s.huff))
						}
					}
				}
				b.ReportMetric(float64(out)/float64(len(data)), "ratio")
			})
		}
	}
}
