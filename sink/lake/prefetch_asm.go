//go:build amd64 || arm64

package lake

import "unsafe"

// prefetchRange asks the CPU to start loading the n bytes at p (at least
// the cache line of p) into cache: PREFETCHT0 / PRFM PLDL1KEEP per 64-byte
// line. A prefetch never faults and changes nothing but the cache.
//
//go:noescape
func prefetchRange(p unsafe.Pointer, n uintptr)
