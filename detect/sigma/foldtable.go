package sigma

import "unicode/utf8"

// foldTable maps index keys to rules, looked up case-insensitively
// (strings.EqualFold semantics) without copying or lower-casing the probe.
type foldTable struct {
	slots []foldSlot // open addressing, len a power of two
	mask  uint64
	// lens has bit n set when some key is n bytes long (n < 64); long says
	// some key is 64 bytes or longer. An ASCII probe of another length
	// cannot match, which skips hashing most long values (user agents).
	lens   uint64
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
)

// foldHash hashes s as foldString(s) would hash, for ASCII s; ok is false
// for non-ASCII s (the caller folds it first).
func foldHash(s string) (h uint64, ok bool) {
	h = fnvOffset
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return 0, false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h, true
}

// equalASCIIFold reports whether ASCII probe s folds to key.
func equalASCIIFold(s, key string) bool {
	if len(s) != len(key) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != key[i] {
			return false
		}
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

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
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
		// Folding shrinks a string at most 3× (a 3-byte rune to 1 byte).
		return nil
	}
	if len(s) < 64 && t.lens&(1<<len(s)) == 0 && isASCIIWords(s) {
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
		if equalASCIIFold(s, t.slots[i].key) || (!ascii && s == t.slots[i].key) {
			return t.slots[i].rules
		}
	}
	return nil
}

// isASCIIWords is isASCII, eight bytes at a time.
func isASCIIWords(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if w&0x8080808080808080 != 0 {
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
