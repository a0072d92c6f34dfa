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

// cache is a two-way set-associative, lock-free address cache: a fixed
// array of slots in pairs, each slot an atomic pointer to an immutable
// entry. A lookup is one hash, at most two atomic loads (same cache line)
// and comparisons, and allocates nothing; an insert fills an empty or
// stale slot of the pair, else replaces one picked by a hash bit. Its
// memory is bounded by the slot count.
type cache struct {
	slots []atomic.Pointer[entry]
	shift uint
}

// newCache returns a cache of at least n slots (rounded up to a power of
// two, at least 16), or nil when n < 0 (no cache).
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

func hash(addr netip.Addr) uint64 {
	a := addr.As16()
	hi := binary.LittleEndian.Uint64(a[:8])
	lo := binary.LittleEndian.Uint64(a[8:])
	h := (lo ^ bits.RotateLeft64(hi, 31)) * 0x9e3779b97f4a7c15
	h ^= h >> 29
	return h * 0xbf58476d1ce4e5b9
}

// pair returns the first slot of addr's pair and the hash.
func (c *cache) pair(addr netip.Addr) (int, uint64) {
	h := hash(addr)
	return int(h>>c.shift) &^ 1, h
}

// get returns the entry for addr made by database set gen, or nil.
func (c *cache) get(addr netip.Addr, gen uint64) *entry {
	i, _ := c.pair(addr)
	if e := c.slots[i].Load(); e != nil && e.addr == addr && e.gen == gen {
		return e
	}
	if e := c.slots[i+1].Load(); e != nil && e.addr == addr && e.gen == gen {
		return e
	}
	return nil
}

func (c *cache) put(e *entry) {
	i, h := c.pair(e.addr)
	for j := i; j < i+2; j++ {
		if old := c.slots[j].Load(); old == nil || old.gen != e.gen || old.addr == e.addr {
			c.slots[j].Store(e)
			return
		}
	}
	c.slots[i+int(h&1)].Store(e)
}

// entryBytes is the heap footprint of one entry (rounded to its size class).
const entryBytes = 48

// recordBytes bounds the heap footprint of one interned record and its map
// slot, without its strings (shared with the database decoder's string cache).
const recordBytes = int(unsafe.Sizeof(Record{})) + 64

// minInternCap is the smallest intern table: a tiny cache must not force
// every miss to decode its record again.
const minInternCap = 4096

// internCap is the bound of the intern table for a cache of slots entries.
func internCap(slots int) int { return max(slots, minInternCap) }

// bytesBound returns an upper bound of the memory of a cache of slots
// entries: the slot array, one entry per slot, and the interned records
// (those in the intern table plus those entries still reference after a
// table reset). Strings are not counted: they are shared with the database
// decoder's string cache.
func bytesBound(slots int) int {
	return slots*8 + slots*entryBytes + (slots+internCap(slots))*recordBytes
}
