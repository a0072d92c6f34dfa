package sigma

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
	"unsafe"
)

// foldTable maps index keys to rules, looked up case-insensitively
// (strings.EqualFold semantics) without copying or lower-casing the probe.
type foldTable struct {
	slots []foldSlot // open addressing, len a power of two
	mask  uint64
	// lens has bit n set when some key is n bytes long (n < 64); long says
	// some key is 64 bytes or longer. An ASCII probe of another length
	// cannot match, which skips hashing most long values (user agents).
	lens uint64
	// folds has bit n set when a probe of n bytes (n < 64) may fold to
	// some key: case folding never lengthens a string and shortens it at
	// most 3× (a 3-byte rune to 1 byte). A probe of another length cannot
	// match, ASCII or not.
	folds  uint64
	long   bool
	maxLen int
}

type foldSlot struct {
	key   string // foldString form
	rules []*Compiled
	used  bool
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	hiBits    = 0x8080808080808080
	mixPrime  = 0x9E3779B97F4A7C15
)

// word returns the 8 bytes of s at i, little-endian (i+8 <= len(s)).
func word(s string, i int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), len(s))[i:])
}

// tail returns a word holding the bytes of s from i on (i < len(s) <
// i+8): the last 8 bytes of s when it has 8, else its bytes packed (with
// overlap). Equal strings give equal words; the hash adds the length.
func tail(s string, i int) uint64 {
	n := len(s)
	if n >= 8 {
		return word(s, n-8)
	}
	b := unsafe.Slice(unsafe.StringData(s), n)
	if n >= 4 {
		return uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<32
	}
	return uint64(b[0]) | uint64(b[n/2])<<8 | uint64(b[n-1])<<16
}

// lowerWord lower-cases the ASCII letters of a word of ASCII bytes.
func lowerWord(w uint64) uint64 {
	ge := w + 0x3f3f3f3f3f3f3f3f // bit 7 set in bytes >= 'A'
	gt := w + 0x2525252525252525 // bit 7 set in bytes > 'Z'
	return w | (ge&^gt&hiBits)>>2
}

func mix(h, w uint64) uint64 { return bits.RotateLeft64((h^w)*mixPrime, 29) }

// foldHash hashes s as foldString(s) would hash, for ASCII s; ok is false
// for non-ASCII s (the caller folds it first).
func foldHash(s string) (h uint64, ok bool) {
	h = fnvOffset ^ uint64(len(s))
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := word(s, i)
		if w&hiBits != 0 {
			return 0, false
		}
		h = mix(h, lowerWord(w))
	}
	if i < len(s) {
		w := tail(s, i)
		if w&hiBits != 0 {
			return 0, false
		}
		h = mix(h, lowerWord(w))
	}
	return h ^ h>>32, true
}

// equalASCIIFold reports whether ASCII probe s folds to key.
func equalASCIIFold(s, key string) bool {
	if len(s) != len(key) {
		return false
	}
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if lowerWord(word(s, i)) != word(key, i) {
			return false
		}
	}
	if i < len(s) {
		return lowerWord(tail(s, i)) == tail(key, i)
	}
	return true
}

func newFoldTable(m map[string][]*Compiled) foldTable {
	n := 8
	for n < 2*len(m) {
		n *= 2
	}
	t := foldTable{slots: make([]foldSlot, n), mask: uint64(n - 1)}
	for k, rs := range m {
		if len(k) < 64 {
			t.lens |= 1 << len(k)
		} else {
			t.long = true
		}
		for p := len(k); p <= 3*len(k) && p < 64; p++ {
			t.folds |= 1 << p
		}
		t.maxLen = max(t.maxLen, len(k))
		h, _ := foldHash(k) // keys are folded; non-ASCII keys hash their bytes
		if !isASCII(k) {
			h = byteHash(k)
		}
		i := h & t.mask
		for t.slots[i].used {
			i = (i + 1) & t.mask
		}
		t.slots[i] = foldSlot{key: k, rules: rs, used: true}
	}
	return t
}

// isASCII reports whether s is all ASCII, eight bytes at a time.
func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if word(s, i)&hiBits != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func byteHash(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

// get returns the rules whose key s equals case-insensitively.
func (t *foldTable) get(s string) []*Compiled {
	if len(t.slots) == 0 || len(s) > 3*t.maxLen {
		return nil
	}
	if len(s) < 64 {
		if t.folds&(1<<len(s)) == 0 {
			return nil
		}
		if t.lens&(1<<len(s)) == 0 && isASCII(s) {
			return nil
		}
	} else if !t.long && isASCII(s) {
		return nil
	}
	h, ascii := foldHash(s)
	if !ascii {
		s = foldString(s)
		if isASCII(s) {
			h, _ = foldHash(s)
		} else {
			h = byteHash(s)
		}
	}
	for i := h & t.mask; t.slots[i].used; i = (i + 1) & t.mask {
		if ascii {
			if equalASCIIFold(s, t.slots[i].key) {
				return t.slots[i].rules
			}
		} else if s == t.slots[i].key {
			return t.slots[i].rules
		}
	}
	return nil
}
