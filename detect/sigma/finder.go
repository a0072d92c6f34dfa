package sigma

import "strings"

// finder searches for one literal. On the short strings most fields hold
// it skips ahead as Horspool's algorithm does (a mismatch on the window's
// last byte moves by up to the literal's length); on long strings and
// short literals it leaves the work to strings.Index.
type finder struct {
	pat  string
	skip *[256]uint8 // nil: use strings.Contains
}

// finderMaxText is the longest text searched with the skip table.
const finderMaxText = 256

func newFinder(pat string) *finder {
	f := &finder{pat: pat}
	m := len(pat)
	if m < 4 || m > 255 {
		return f
	}
	f.skip = new([256]uint8)
	for i := range f.skip {
		f.skip[i] = uint8(m)
	}
	for i := 0; i < m-1; i++ {
		f.skip[pat[i]] = uint8(m - 1 - i)
	}
	return f
}

// in reports whether s contains the literal.
func (f *finder) in(s string) bool {
	if f.skip == nil || len(s) > finderMaxText {
		return strings.Contains(s, f.pat)
	}
	p := f.pat
	m := len(p)
	last := p[m-1]
	for i := 0; i+m <= len(s); {
		c := s[i+m-1]
		if c == last && s[i:i+m-1] == p[:m-1] {
			return true
		}
		i += int(f.skip[c])
	}
	return false
}
