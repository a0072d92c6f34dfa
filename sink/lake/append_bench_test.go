package lake

import (
	"testing"
	"time"
)

// BenchmarkLakeAppend measures filling the column buffers only (no encoding).
func BenchmarkLakeAppend(b *testing.B) {
	evs := cloudTrailEvents(1<<14, 1, time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC))
	td := eventTables[evs[0].Format]
	bufs := make([]colBuf, len(td.cols))
	for i, c := range td.cols {
		bufs[i] = newColBuf(c.Column)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i := range bufs {
			bufs[i].reset()
		}
		for j := range evs {
			for i := range td.cols {
				td.cols[i].put(&evs[j], &bufs[i])
			}
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/(processCPU()-cpu0).Seconds(), "rows/cpu-s")
}
