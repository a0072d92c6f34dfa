package hotpath

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

// fixtureSize is the number of generated entries per format: the largest
// batch, so batches of 100 and 1,000 cycle through distinct data.
const fixtureSize = 10000

var (
	envOnce  sync.Once
	benchEnv *Env
	envErr   error
	fixtures sync.Map // stream.Format → *Fixture
)

func testEnv(tb testing.TB) *Env {
	tb.Helper()
	envOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gannet-bench-")
		if err != nil {
			envErr = err
			return
		}
		benchEnv, envErr = NewEnv(context.Background(), dir)
	})
	if envErr != nil {
		// The SigmaHQ corpus lives beside the repository (../shared/corpus);
		// outside CI a checkout without it skips, in CI it must be there.
		if _, err := SigmaDir(); err != nil && os.Getenv("CI") != "true" {
			tb.Skip(envErr)
		}
		tb.Fatal(envErr)
	}
	return benchEnv
}

func fixture(tb testing.TB, f stream.Format) *Fixture {
	tb.Helper()
	if fx, ok := fixtures.Load(f); ok {
		return fx.(*Fixture)
	}
	fx, err := Generate(f, fixtureSize, 7)
	if err != nil {
		tb.Fatal(err)
	}
	fixtures.Store(f, fx)
	return fx
}

func batchSizes() []int {
	if s := os.Getenv("GANNET_BENCH_BATCHES"); s != "" {
		var out []int
		for _, f := range splitComma(s) {
			n, err := strconv.Atoi(f)
			if err == nil && n > 0 {
				out = append(out, n)
			}
		}
		return out
	}
	return []int{100, 1000, 10000}
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// BenchmarkPipeline measures the whole hot path per format and batch size:
// one op is one batch. At -cpu N, N pipelines (one per shard) run in
// parallel goroutines sharing the enricher and the lake. Besides ns/op and
// MB/s it reports records/s (wall), records/cpu-s and cpu-ns/op (getrusage:
// all threads, GC included) and, per stage, ns per record (pipeline.Stats
// StageTime: wall time inside the stage, summed over the pipelines).
func BenchmarkPipeline(b *testing.B) {
	env := testEnv(b)
	for _, f := range Formats {
		for _, batch := range batchSizes() {
			b.Run(fmt.Sprintf("format=%s/batch=%d", f, batch), func(b *testing.B) {
				benchPipeline(b, env, fixture(b, f), batch)
			})
		}
	}
}

func benchPipeline(b *testing.B, env *Env, fx *Fixture, batch int) {
	ctx := context.Background()
	workers := runtime.GOMAXPROCS(0)
	lk, store := NewLake()
	rigs := make([]*Rig, workers)
	for i := range rigs {
		r, err := env.NewRig(lk)
		if err != nil {
			b.Fatal(err)
		}
		rigs[i] = r
	}
	// Warm up: one batch per pipeline (buffers, GeoIP cache, lake writers).
	if _, err := Run(ctx, rigs, fx, batch, workers); err != nil {
		b.Fatal(err)
	}
	_, sz := fx.Batch(0, batch)
	b.SetBytes(sz)
	b.ReportAllocs()
	runtime.GC()
	cpu0 := CPUTime()
	b.ResetTimer()
	start := time.Now()
	st, err := Run(ctx, rigs, fx, batch, b.N)
	wall := time.Since(start)
	b.StopTimer()
	cpu := CPUTime() - cpu0
	if err != nil {
		b.Fatal(err)
	}
	ReportStats(b, st, wall, cpu, b.N)
	b.ReportMetric(float64(store.Bytes.Load())/float64(st.Records), "parquet-B/rec")
}

// BenchmarkStages is the per-stage breakdown by CPU time: the hot path built
// up to each stage in turn (parse, +enrich, +detect, +lake, +es), one
// pipeline, batches of 1,000. A stage's cost is the difference between its
// cpu-ns/op and the previous stage's; CPU time, unlike the wall-clock
// StageTime, holds up on a loaded machine.
func BenchmarkStages(b *testing.B) {
	env := testEnv(b)
	for _, f := range Formats {
		for _, st := range Stages {
			b.Run(fmt.Sprintf("format=%s/upto=%s", f, st), func(b *testing.B) {
				ctx := context.Background()
				fx := fixture(b, f)
				lk, _ := NewLake()
				r, err := env.NewRigUpTo(lk, st)
				if err != nil {
					b.Fatal(err)
				}
				rigs := []*Rig{r}
				if _, err := Run(ctx, rigs, fx, 1000, 1); err != nil {
					b.Fatal(err)
				}
				_, sz := fx.Batch(0, 1000)
				b.SetBytes(sz)
				b.ReportAllocs()
				runtime.GC()
				cpu0 := CPUTime()
				b.ResetTimer()
				start := time.Now()
				s, err := Run(ctx, rigs, fx, 1000, b.N)
				wall := time.Since(start)
				b.StopTimer()
				cpu := CPUTime() - cpu0
				if err != nil {
					b.Fatal(err)
				}
				recs := float64(s.Records)
				b.ReportMetric(recs/wall.Seconds(), "records/s")
				b.ReportMetric(recs/cpu.Seconds(), "records/cpu-s")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// ReportStats reports the run's rates and the per-stage breakdown.
func ReportStats(b *testing.B, st pipeline.Stats, wall, cpu time.Duration, ops int) {
	recs := float64(st.Records)
	b.ReportMetric(recs/wall.Seconds(), "records/s")
	b.ReportMetric(recs/cpu.Seconds(), "records/cpu-s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(ops), "cpu-ns/op")
	b.ReportMetric(float64(st.Alerts)/float64(ops), "alerts/op")
	b.ReportMetric(float64(st.DeadLetters)/float64(ops), "dead/op")
	for _, k := range pipeline.SortedKeys(st.StageTime) {
		b.ReportMetric(float64(st.StageTime[k].Nanoseconds())/recs, "stage:"+k+"-ns/rec")
	}
}

// TestHotPathCorrect checks that the benchmarked work is the real work: every
// generated entry becomes an event, nothing is dead-lettered, rules and
// intel fire, and Parquet and bulk bytes come out.
func TestHotPathCorrect(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the full rule set")
	}
	env := testEnv(t)
	if env.Rules < 50 {
		t.Fatalf("only %d rules loaded (skipped %d)", env.Rules, env.Skipped)
	}
	alerts := int64(0)
	for _, f := range Formats {
		fx, err := Generate(f, 2000, 7)
		if err != nil {
			t.Fatal(err)
		}
		lk, store := NewLake()
		r, err := env.NewRig(lk)
		if err != nil {
			t.Fatal(err)
		}
		st, err := Run(context.Background(), []*Rig{r}, fx, 1000, 2)
		if err != nil {
			t.Fatal(err)
		}
		if st.Events != int64(len(fx.Records)) || st.DeadLetters != 0 {
			t.Errorf("%s: %d records → %d events, %d dead letters %v", f, len(fx.Records), st.Events, st.DeadLetters, st.DeadByReason)
		}
		if store.Bytes.Load() == 0 || r.ES.Bytes.Load() == 0 {
			t.Errorf("%s: parquet %d bytes, bulk %d bytes", f, store.Bytes.Load(), r.ES.Bytes.Load())
		}
		alerts += st.Alerts
		t.Logf("%s: %d events, %d alerts, parquet %d B in %d objects, bulk %d B", f, st.Events, st.Alerts,
			store.Bytes.Load(), store.Objects.Load(), r.ES.Bytes.Load())
	}
	if alerts == 0 {
		t.Error("no alerts raised on data with attacks")
	}
}
