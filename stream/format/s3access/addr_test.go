package s3access

import (
	"net/netip"
	"testing"
)

func FuzzIPv4(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.", "1..2.3", "1.2.3.4 ", "2001:db8::1", "::ffff:1.2.3.4", "", "1.2.3.04", "100.200.300.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := netip.ParseAddr(s)
		got, ok := parseAddr(s)
		if ok != (err == nil) || got != want {
			t.Fatalf("parseAddr(%q) = %v, %v; netip: %v, %v", s, got, ok, want, err)
		}
	})
}

func TestIndexSpace(t *testing.T) {
	for _, s := range []string{"", " ", "a", "abcdefgh", "abcdefg ", "abcdefgh ", "abcdefghijklmno p", "\xa0\xa0\xa0\xa0\xa0\xa0\xa0\xa0 ", "!!!!!!!! "} {
		for i := 0; i <= len(s); i++ {
			want := len(s)
			for j := i; j < len(s); j++ {
				if s[j] == ' ' {
					want = j
					break
				}
			}
			if got := indexSpace(s, i); got != want {
				t.Errorf("indexSpace(%q, %d) = %d, want %d", s, i, got, want)
			}
		}
	}
}
