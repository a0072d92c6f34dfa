package lake

import (
	"math/bits"
	"sync"
)

// poolAllocator is an arrow memory.Allocator that recycles freed buffers in
// power-of-two size classes, so the Parquet writer's page and compression
// buffers are reused across row groups instead of becoming garbage.
// Recycled buffers are zeroed, as fresh Go memory is.
type poolAllocator struct {
	mu     sync.Mutex
	free   [40][][]byte
	pooled int // bytes held in free lists
	limit  int // most bytes held in free lists
}

const minClass = 12 // 4 KiB

func newPoolAllocator(limit int) *poolAllocator { return &poolAllocator{limit: limit} }

func class(n int) int {
	if n <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(n - 1))
}

// Allocate implements memory.Allocator.
func (a *poolAllocator) Allocate(size int) []byte {
	c := class(size)
	a.mu.Lock()
	if l := len(a.free[c]); l > 0 {
		b := a.free[c][l-1]
		a.free[c][l-1] = nil
		a.free[c] = a.free[c][:l-1]
		a.pooled -= cap(b)
		a.mu.Unlock()
		clear(b[:cap(b)])
		return b[:size]
	}
	a.mu.Unlock()
	return make([]byte, size, 1<<c)
}

// Reallocate implements memory.Allocator.
func (a *poolAllocator) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

// Free implements memory.Allocator.
func (a *poolAllocator) Free(b []byte) {
	c := cap(b)
	if c < 1<<minClass || c&(c-1) != 0 {
		return
	}
	k := bits.Len(uint(c)) - 1
	a.mu.Lock()
	if a.pooled+c <= a.limit {
		a.free[k] = append(a.free[k], b[:0])
		a.pooled += c
	}
	a.mu.Unlock()
}
