package geoip

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"sync/atomic"
	"unsafe"
)

// DefaultCacheSize is the number of cached addresses when none is configured.
const DefaultCacheSize = 1 << 16

// entry is one cached answer. Entries are immutable once published, so a
// reader never sees a torn entry; rec is nil when the databases have nothing
// for the address. gen ties the entry to the database set that produced it.
type entry struct {
	addr netip.Addr
	gen  uint64
	rec  *Record
}

// cache is a direct-mapped, lock-free address cache: a fixed array of slots,
// each an atomic pointer to an immutable entry. A lookup is one hash, one
// atomic load and one comparison, and allocates nothing; an insert replaces
// whatever the slot held. Its memory is bounded by the slot count.
type cache struct {
	slots []atomic.Pointer[entry]
	shift uint
}

// newCache returns a cache of at least n slots (rounded up to a power of
// two), or nil when n < 0 (no cache).
func newCache(n int) *cache {
	if n < 0 {
		return nil
	}
	if n == 0 {
		n = DefaultCacheSize
	}
	b := bits.Len(uint(n - 1))
	if b < 4 {
		b = 4
	}
	return &cache{slots: make([]atomic.Pointer[entry], 1<<b), shift: uint(64 - b)}
}

func (c *cache) slot(addr netip.Addr) *atomic.Pointer[entry] {
	a := addr.As16()
	hi := binary.LittleEndian.Uint64(a[:8])
	lo := binary.LittleEndian.Uint64(a[8:])
	h := (lo ^ bits.RotateLeft64(hi, 31)) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	return &c.slots[h>>c.shift]
}

// get returns the entry for addr made by database set gen, or nil.
func (c *cache) get(addr netip.Addr, gen uint64) *entry {
	e := c.slot(addr).Load()
	if e != nil && e.gen == gen && e.addr == addr {
		return e
	}
	return nil
}

func (c *cache) put(e *entry) { c.slot(e.addr).Store(e) }

// entryBytes is the heap footprint of one entry (rounded to its size class).
const entryBytes = 48

// recordBytes bounds the heap footprint of one interned record and its map
// slot, without its strings (shared with the database decoder's string cache).
const recordBytes = int(unsafe.Sizeof(Record{})) + 64

// bytesBound returns an upper bound of the cache's memory: the slot array,
// one entry per slot and up to two interned records per slot (the live
// intern table and records still referenced by entries from before its last
// reset).
func (c *cache) bytesBound() int {
	if c == nil {
		return 0
	}
	n := len(c.slots)
	return n*8 + n*entryBytes + 2*n*recordBytes
}
