package kpl

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchRecord builds a ~1 MiB aggregated record of user records of about
// size bytes each with 64 distinct partition keys.
func benchRecord(b *testing.B, size int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	a := NewAggregator(0)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte('a' + rng.IntN(26))
	}
	for i := 0; ; i++ {
		out, err := a.Add(fmt.Sprintf("partition-%02d", i%64), "", data)
		if err != nil {
			b.Fatal(err)
		}
		if out != nil {
			return out.Data
		}
	}
}

func BenchmarkDeaggregate(b *testing.B) {
	for _, size := range []int{100, 900, 10000} {
		rec := benchRecord(b, size)
		b.Run(fmt.Sprintf("record=%d/verify=md5", size), func(b *testing.B) {
			var r Reader
			var dst []UserRecord
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				var err error
				dst, err = r.Deaggregate(dst[:0], rec)
				if err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu0, len(rec))
		})
		// The protobuf walk alone, to show what the MD5 digest costs.
		b.Run(fmt.Sprintf("record=%d/verify=none", size), func(b *testing.B) {
			var r Reader
			var dst []UserRecord
			body := rec[len(Magic) : len(rec)-DigestLen]
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				var err error
				dst, err = r.parse(dst[:0], body)
				if err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu0, len(rec))
		})
	}
}

func BenchmarkAggregate(b *testing.B) {
	data := make([]byte, 900)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	a := NewAggregator(0)
	i := 0
	for b.Loop() {
		if _, err := a.Add("partition-key", "", data); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// reportCPU reports MB per CPU second (see cpuTime).
func reportCPU(b *testing.B, cpu0 time.Duration, size int) {
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
	}
}
