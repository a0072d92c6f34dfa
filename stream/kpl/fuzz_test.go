package kpl

import (
	"crypto/md5"
	"testing"
)

func md5Of(b []byte) [16]byte { return md5.Sum(b) }

func FuzzDeaggregate(f *testing.F) {
	a := NewAggregator(0)
	a.Add("pk", "", []byte("hello"))
	a.Add("pk2", "170141183460469231731687303715884105728", []byte(`{"a":1}`))
	f.Add(a.Flush().Data)
	f.Add([]byte(Magic))
	f.Add([]byte("plain"))
	f.Add(wrap([]byte{0x0a, 0x80}))
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(data []byte) {
			var r Reader
			recs, err := r.Deaggregate(nil, data)
			if err != nil {
				if len(recs) != 0 {
					t.Fatalf("records returned with error %v", err)
				}
				return
			}
			// Re-aggregating what was read gives the same user records.
			a := NewAggregator(1 << 30)
			for _, u := range recs {
				if len(u.PartitionKey) == 0 || len(u.PartitionKey) > MaxPartitionKeyLen || (u.ExplicitHashKey != nil && !decimal(string(u.ExplicitHashKey))) {
					return
				}
				if _, err := a.Add(string(u.PartitionKey), string(u.ExplicitHashKey), u.Data); err != nil {
					t.Fatal(err)
				}
			}
			out := a.Flush()
			if out == nil {
				return
			}
			again, err := Deaggregate(out.Data)
			if err != nil {
				t.Fatal(err)
			}
			if len(again) != len(recs) {
				t.Fatalf("%d records, %d after round trip", len(recs), len(again))
			}
			for i := range recs {
				if string(again[i].Data) != string(recs[i].Data) || string(again[i].PartitionKey) != string(recs[i].PartitionKey) {
					t.Fatalf("record %d differs after round trip", i)
				}
			}
		}
		check(data)
		// Also as a body with a valid digest, so the fuzzer reaches the parser.
		check(wrap(data))
	})
}
