package lake

import (
	"math/bits"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// bufPool is the memory.Allocator of a table's Parquet writer: buffers
// arrow-go releases (page, level and encoder buffers of each column chunk)
// are kept by power-of-two size class and handed out again, zeroed, for the
// next column chunk, instead of becoming garbage once per column and row
// group. It holds at most what one row group of the table needed at once.
type bufPool struct {
	mu   sync.Mutex
	free [48][][]byte
}

var _ memory.Allocator = (*bufPool)(nil)

const (
	poolAlign    = 64      // arrow-go's buffer alignment
	poolMinClass = 6       // 64 bytes
	poolMaxClass = 26      // 64 MiB; larger buffers are not kept
	poolKeep     = 1 << 10 // buffers kept per class
)

func poolClass(size int) int {
	return max(bits.Len(uint(size-1)), poolMinClass)
}

// Allocate returns size zeroed bytes, 64-byte aligned.
func (p *bufPool) Allocate(size int) []byte {
	if size <= 0 {
		return memory.DefaultAllocator.Allocate(size)
	}
	c := poolClass(size)
	if c > poolMaxClass {
		return memory.DefaultAllocator.Allocate(size)
	}
	p.mu.Lock()
	if n := len(p.free[c]); n > 0 {
		b := p.free[c][n-1]
		p.free[c][n-1] = nil
		p.free[c] = p.free[c][:n-1]
		p.mu.Unlock()
		clear(b)
		return b[:size]
	}
	p.mu.Unlock()
	n := 1 << c
	buf := make([]byte, n+poolAlign)
	shift := int(-uintptr(unsafe.Pointer(unsafe.SliceData(buf))) & (poolAlign - 1))
	return buf[shift : shift+size : shift+n]
}

// Reallocate grows b to size, in place when its capacity allows. The old
// buffer is left to the garbage collector: a caller may still hold it.
func (p *bufPool) Reallocate(size int, b []byte) []byte {
	if cap(b) >= size {
		return b[:size]
	}
	nb := p.Allocate(size)
	copy(nb, b)
	return nb
}

// Free takes back a buffer of this pool that arrow-go released.
func (p *bufPool) Free(b []byte) {
	n := cap(b)
	if n < 1<<poolMinClass || n&(n-1) != 0 || n > 1<<poolMaxClass {
		return // not one of ours
	}
	c := bits.Len(uint(n - 1))
	p.mu.Lock()
	if len(p.free[c]) < poolKeep {
		p.free[c] = append(p.free[c], b[:n])
	}
	p.mu.Unlock()
}
