package coldstart

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// MemoryLimitPercent is the share of the function's memory size
// (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, MB) that MemoryLimit gives the Go
// runtime as its soft limit. The rest is for what the Go runtime does not
// count: the binary's mapped text and the memory-mapped GeoIP pages.
const MemoryLimitPercent = 75

// MemoryLimit sets the Go runtime's soft memory limit
// (debug.SetMemoryLimit) to MemoryLimitPercent of the function's memory
// size, unless GOMEMLIMIT is set (then the runtime already honours it) or
// the size is unknown (not in Lambda). Without it the heap of a large batch
// may grow to twice its live size (GOGC=100) before the collector runs,
// and a 128 MB function is killed while most of that heap is garbage.
// It returns the limit in bytes, or 0 when it set none.
func MemoryLimit() int64 {
	if strings.TrimSpace(os.Getenv("GOMEMLIMIT")) != "" {
		return 0
	}
	mb, err := strconv.ParseInt(strings.TrimSpace(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")), 10, 64)
	if err != nil || mb <= 0 {
		return 0
	}
	limit := mb << 20 * MemoryLimitPercent / 100
	debug.SetMemoryLimit(limit)
	return limit
}
