package decode

import (
	"errors"
	"testing"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/cwlogs"
	"github.com/gannet-sec/gannet/stream/decode/jsonscan"
)

// FuzzDecode: no input panics; everything becomes units or classified
// Fail calls, and Decode itself returns nil (the sink never stops it).
func FuzzDecode(f *testing.F) {
	f.Add([]byte("a b c\nd e f\n"), uint8(0))
	f.Add([]byte(`{"a":1}`+"\n"+`{"b":2}`), uint8(1))
	f.Add([]byte("[\n{\"a\":1},\n{\"a\":2}\n]"), uint8(1))
	f.Add([]byte(`{"Records":[{"eventName":"X"},{"eventName":"Y"}]}`), uint8(0))
	f.Add([]byte("{\n\"a\":1\n}\n{\n\"b\":2\n}\n"), uint8(1))
	f.Add(gz(f, "x\ny\n"), uint8(0))
	f.Add(cwPayload(f, cwlogs.DataMessage, "m1", `{"k":"v"}`), uint8(0))
	f.Add(cwPayload(f, cwlogs.ControlMessage, "c"), uint8(0))
	f.Add(aggregate(f, []byte("u1"), gz(f, "u2"), []byte(`[1,2]`)), uint8(0))
	f.Add([]byte("[2026-11-01] text"), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		rec := kinesisRec(data)
		if kind%2 == 1 {
			rec = fileRec(data)
		}
		if kind%4 >= 2 {
			rec.Format = stream.FormatVPCFlow
		}
		d := New(Options{MaxDecompressed: 1 << 20})
		units := 0
		sink := funcSink{
			unit: func(u *stream.Unit) error {
				units++
				if len(u.Data) == 0 {
					t.Fatal("empty unit")
				}
				return nil
			},
			fail: func(l *stream.Lineage, raw []byte, err error) {
				var se *stream.Error
				if !errors.As(err, &se) || se.Class != stream.Permanent || se.Reason.Code == "" {
					t.Fatalf("unclassified failure %v", err)
				}
			},
		}
		if err := d.Decode(rec, sink); err != nil {
			t.Fatalf("Decode returned %v", err)
		}
		if st := d.Stats(); st.Units != int64(units) {
			t.Fatalf("stats say %d units, sink saw %d", st.Units, units)
		}
		// The scanner agrees with itself on whatever it accepts.
		if end, err := jsonscan.SkipValue(data, 0); err == nil && end > len(data) {
			t.Fatal("SkipValue past the end")
		}
	})
}
