//go:build !amd64 && !arm64

package lake

import "unsafe"

// prefetchRange does nothing where the lake has no prefetch instruction.
func prefetchRange(p unsafe.Pointer, n uintptr) {}
