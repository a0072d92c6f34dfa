package coldstart

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	for _, c := range []struct {
		name, size, gomemlimit string
		want                   int64
	}{
		{"128 MB function", "128", "", 96 << 20},
		{"1769 MB function", "1769", "", 1769 << 20 * 3 / 4},
		{"GOMEMLIMIT wins", "128", "200MiB", 0},
		{"not in Lambda", "", "", 0},
		{"nonsense size", "lots", "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", c.size)
			t.Setenv("GOMEMLIMIT", c.gomemlimit)
			if got := MemoryLimit(); got != c.want {
				t.Fatalf("MemoryLimit() = %d, want %d", got, c.want)
			}
			want := c.want
			if want == 0 {
				want = math.MaxInt64 // untouched
			}
			if got := debug.SetMemoryLimit(-1); got != want {
				t.Fatalf("runtime limit %d, want %d", got, want)
			}
		})
	}
}
