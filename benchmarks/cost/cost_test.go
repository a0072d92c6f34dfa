package cost

import (
	"math"
	"testing"
	"time"
)

// TestPaperFigures reproduces §2.7 with the paper's own assumptions.
func TestPaperFigures(t *testing.T) {
	light := Workload{RequestsPerMinute: 200, EntriesPerRequest: 5000}
	heavy := Workload{RequestsPerMinute: 200, EntriesPerRequest: 300000}
	if r := light.Requests(); r != 8_640_000 {
		t.Fatalf("requests/month = %v", r)
	}
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"256 MB, 1 s", LambdaMonthly(light, PaperX86, 256, time.Second), 37.74},
		{"256 MB, 60 s", LambdaMonthly(heavy, PaperX86, 256, time.Minute), 2162.16},
		{"2×m5.large", InstancesMonthly(PaperX86), 138.24},
	} {
		if math.Abs(tc.got-tc.want) > 0.005 {
			t.Errorf("%s: $%.4f, paper $%.2f", tc.name, tc.got, tc.want)
		}
	}
	if got := light.EntriesPerSecond(); math.Abs(got-16666.67) > 0.01 {
		t.Errorf("entries/s %v", got)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		cpu  time.Duration
		mem  int
		want time.Duration
	}{
		{100 * time.Millisecond, 1769, 100 * time.Millisecond},
		{100 * time.Millisecond, 3538, 100 * time.Millisecond}, // a single-threaded batch gains nothing past 1 vCPU
		{100 * time.Millisecond, 256, 692 * time.Millisecond},  // 100 ms / (256/1769) = 691.02 → billed 692
		{1500 * time.Microsecond, 1769, 2 * time.Millisecond},
	} {
		if got := Duration(tc.cpu, tc.mem); got != tc.want {
			t.Errorf("Duration(%v, %d) = %v, want %v", tc.cpu, tc.mem, got, tc.want)
		}
	}
}

func TestBestRespectsMemory(t *testing.T) {
	w := Workload{RequestsPerMinute: 200, EntriesPerRequest: 5000}
	c := Best(w, ARM64, 50*time.Millisecond, 300)
	if !c.Fits || c.MemoryMB < 300 || c.MemoryMB > OneVCPUMB {
		t.Fatalf("best = %+v", c)
	}
	if a := At(w, ARM64, 50*time.Millisecond, 300, 256); a.Fits {
		t.Fatal("256 MB cannot hold a 300 MB batch")
	}
}
