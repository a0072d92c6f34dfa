package intel

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// Set is an immutable, indexed collection of indicators, safe for
// concurrent matching. Matching allocates nothing unless it finds a match.
type Set struct {
	inds []Indicator
	win  []window // validity of inds[i], in unix nanoseconds

	v4     map[uint64][]int32 // key: prefix length << 32 | masked address
	v4lens []uint8            // prefix lengths present, longest first
	v6     map[v6key][]int32
	v6lens []uint8

	domains map[string][]int32
	urls    map[string][]int32
	hashes  map[string][]int32

	// Prefilters let most non-matching lookups skip the maps: a bit per
	// IPv4 /16 covered by some network, a bit per hashed IPv6 /32 (nil
	// when a network shorter than /32 is listed), and a bit per hashed
	// domain indicator.
	v4filter  *[1 << 16 / 64]uint64
	v6filter  *[1 << 16 / 64]uint64
	domFilter *[1 << 16 / 64]uint64
}

type bitmap = [1 << 16 / 64]uint64

func setBit(b *bitmap, i uint32) { b[(i&0xffff)>>6] |= 1 << (i & 63) }
func hasBit(b *bitmap, i uint32) bool {
	return b[(i&0xffff)>>6]&(1<<(i&63)) != 0
}

// domainHash is FNV-1a over a domain's bytes from the last to the first,
// lower-cased, so that the hash of every parent domain is a prefix of the
// computation (see AppendDomain).
func domainHash(s string) uint32 {
	h := uint32(2166136261)
	for i := len(s) - 1; i >= 0; i-- {
		h = (h ^ uint32(lower(s[i]))) * 16777619
	}
	return fold(h)
}

func fold(h uint32) uint32 { return (h ^ h>>16) & 0xffff }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func v6bucket(hi uint64) uint32 {
	h := uint32(hi>>32) * 2654435761
	return h >> 16
}

type window struct{ from, until int64 } // 0: unbounded

type v6key struct {
	hi, lo uint64
	bits   uint8
}

func (w window) valid(now int64) bool {
	return (w.from == 0 || now >= w.from) && (w.until == 0 || now < w.until)
}

// NewSet indexes indicators. Values that Detect rejects are returned as
// problems (indicators built by the loaders never are).
func NewSet(inds []Indicator) (*Set, []Problem) {
	s := &Set{
		v4:      make(map[uint64][]int32),
		v6:      make(map[v6key][]int32),
		domains: make(map[string][]int32),
		urls:    make(map[string][]int32),
		hashes:  make(map[string][]int32),
	}
	s.v4filter, s.v6filter, s.domFilter = new(bitmap), new(bitmap), new(bitmap)
	var probs []Problem
	var lens4, lens6 [129]bool
	for _, ind := range inds {
		k, norm, err := Detect(ind.Value, ind.Kind)
		if err != nil {
			probs = append(probs, problem(ind.Feed, 0, ind.Value, err.Error()))
			continue
		}
		ind.Kind = k
		i := int32(len(s.inds))
		s.inds = append(s.inds, ind)
		s.win = append(s.win, window{nanos(ind.ValidFrom), nanos(ind.ValidUntil)})
		switch k {
		case KindIPv4, KindIPv6, KindCIDR:
			var p netip.Prefix
			if k == KindCIDR {
				p = netip.MustParsePrefix(norm)
			} else {
				a := netip.MustParseAddr(norm)
				p = netip.PrefixFrom(a, a.BitLen())
			}
			if p.Addr().Is4() {
				key := v4Key(p.Addr(), p.Bits())
				s.v4[key] = append(s.v4[key], i)
				lens4[p.Bits()] = true
				first := uint32(key) >> 16
				last := first
				if p.Bits() < 16 {
					last = first | (1<<(16-p.Bits()) - 1)
				}
				for b := first; b <= last; b++ {
					setBit(s.v4filter, b)
				}
			} else {
				key := v6Key(p.Addr(), p.Bits())
				s.v6[key] = append(s.v6[key], i)
				lens6[p.Bits()] = true
				if p.Bits() >= 32 {
					setBit(s.v6filter, v6bucket(key.hi))
				}
			}
		case KindDomain:
			s.domains[norm] = append(s.domains[norm], i)
			setBit(s.domFilter, domainHash(norm))
		case KindURL:
			s.urls[norm] = append(s.urls[norm], i)
		default:
			s.hashes[norm] = append(s.hashes[norm], i)
		}
	}
	for l := range 32 {
		if lens6[l] {
			s.v6filter = nil // a network shorter than /32 covers many buckets
		}
	}
	for l := 128; l >= 0; l-- {
		if l <= 32 && lens4[l] {
			s.v4lens = append(s.v4lens, uint8(l))
		}
		if lens6[l] {
			s.v6lens = append(s.v6lens, uint8(l))
		}
	}
	return s, probs
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func v4Key(a netip.Addr, bits int) uint64 {
	b := a.As4()
	u := binary.BigEndian.Uint32(b[:])
	if bits < 32 {
		u &^= (1<<(32-bits) - 1)
	}
	return uint64(bits)<<32 | uint64(u)
}

func v6Key(a netip.Addr, bits int) v6key {
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	switch {
	case bits == 0:
		hi, lo = 0, 0
	case bits < 64:
		hi &^= 1<<(64-bits) - 1
		lo = 0
	case bits == 64:
		lo = 0
	case bits < 128:
		lo &^= 1<<(128-bits) - 1
	}
	return v6key{hi, lo, uint8(bits)}
}

// Len is the number of indicators in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.inds)
}

// Indicators returns the set's indicators (shared; do not modify).
func (s *Set) Indicators() []Indicator { return s.inds }

// CountByKind returns how many indicators of each kind the set holds.
func (s *Set) CountByKind() map[Kind]int {
	out := make(map[Kind]int)
	for _, ind := range s.inds {
		out[ind.Kind]++
	}
	return out
}

// appendValid appends an enrichment for each indicator of idx valid at now
// and reports whether any was.
func (s *Set) appendValid(dst []stream.ThreatEnrichment, idx []int32, now int64, field, value string) ([]stream.ThreatEnrichment, bool) {
	found := false
	for _, i := range idx {
		if !s.win[i].valid(now) {
			continue
		}
		ind := &s.inds[i]
		dst = append(dst, stream.ThreatEnrichment{
			Indicator:    ind.Value,
			Type:         ind.Kind.ThreatType(),
			Feed:         ind.Feed,
			Confidence:   ind.Confidence,
			MatchedField: field,
			MatchedValue: value,
		})
		found = true
	}
	return dst, found
}

// AppendIP appends the indicators matching addr at now (unix nanoseconds):
// those of the longest listed prefix containing addr that has an indicator
// valid at now (an expired /32 does not hide a valid /24). field names the
// event field ("source.ip").
func (s *Set) AppendIP(dst []stream.ThreatEnrichment, addr netip.Addr, now int64, field string) []stream.ThreatEnrichment {
	if s == nil || !addr.IsValid() {
		return dst
	}
	addr = addr.Unmap()
	if addr.Is4() {
		a := addr.As4()
		if !hasBit(s.v4filter, uint32(a[0])<<8|uint32(a[1])) {
			return dst
		}
		for _, l := range s.v4lens {
			if idx, ok := s.v4[v4Key(addr, int(l))]; ok {
				var found bool
				if dst, found = s.appendValid(dst, idx, now, field, addr.String()); found {
					return dst
				}
			}
		}
		return dst
	}
	if s.v6filter != nil && len(s.v6) > 0 {
		b := addr.As16()
		if !hasBit(s.v6filter, v6bucket(binary.BigEndian.Uint64(b[:8]))) {
			return dst
		}
	}
	for _, l := range s.v6lens {
		if idx, ok := s.v6[v6Key(addr, int(l))]; ok {
			var found bool
			if dst, found = s.appendValid(dst, idx, now, field, addr.WithZone("").String()); found {
				return dst
			}
		}
	}
	return dst
}

// AppendDomain appends the indicators matching name or one of its parent
// domains ("a.b.evil.com" matches "evil.com"), case-insensitively and
// ignoring a trailing dot; each matched indicator once.
func (s *Set) AppendDomain(dst []stream.ThreatEnrichment, name string, now int64, field string) []stream.ThreatEnrichment {
	if s == nil || len(s.domains) == 0 || name == "" {
		return dst
	}
	orig := name
	name = strings.TrimSuffix(name, ".")
	if !s.mayMatchDomain(name) {
		return dst
	}
	var buf [256]byte
	if hasUpper(name) {
		if len(name) > len(buf) {
			return dst
		}
		n := copy(buf[:], name)
		for i := range n {
			if c := buf[i]; c >= 'A' && c <= 'Z' {
				buf[i] = c + 'a' - 'A'
			}
		}
		// Map lookups with string(buf[…]) do not allocate.
		for i := 0; i < n; {
			if idx, ok := s.domains[string(buf[i:n])]; ok {
				dst, _ = s.appendValid(dst, idx, now, field, orig)
			}
			j := slices.Index(buf[i:n], '.')
			if j < 0 {
				break
			}
			i += j + 1
		}
		return dst
	}
	for {
		if idx, ok := s.domains[name]; ok {
			dst, _ = s.appendValid(dst, idx, now, field, orig)
		}
		j := strings.IndexByte(name, '.')
		if j < 0 {
			return dst
		}
		name = name[j+1:]
	}
}

// mayMatchDomain reports whether name or a parent of it may be listed: the
// hash of each suffix starting at a label is checked against domFilter,
// computed in one pass from the end of the name.
func (s *Set) mayMatchDomain(name string) bool {
	h := uint32(2166136261)
	for i := len(name) - 1; i >= 0; i-- {
		c := name[i]
		if c == '.' && hasBit(s.domFilter, fold(h)) {
			return true
		}
		h = (h ^ uint32(lower(c))) * 16777619
	}
	return hasBit(s.domFilter, fold(h))
}

// AppendURL appends the indicators listing the URL u (after normalization:
// scheme and host lower-cased, fragment and a lone trailing "/" dropped).
func (s *Set) AppendURL(dst []stream.ThreatEnrichment, u string, now int64, field string) []stream.ThreatEnrichment {
	if s == nil || len(s.urls) == 0 || u == "" {
		return dst
	}
	norm, ok := normalizeURL(u)
	if !ok {
		return dst
	}
	if idx, ok := s.urls[norm]; ok {
		dst, _ = s.appendValid(dst, idx, now, field, u)
	}
	return dst
}

// AppendHash appends the indicators listing the hex file hash h (any case).
func (s *Set) AppendHash(dst []stream.ThreatEnrichment, h string, now int64, field string) []stream.ThreatEnrichment {
	if s == nil || len(s.hashes) == 0 || h == "" {
		return dst
	}
	key := h
	if hasUpper(h) {
		key = strings.ToLower(h)
	}
	if idx, ok := s.hashes[key]; ok {
		dst, _ = s.appendValid(dst, idx, now, field, h)
	}
	return dst
}

// Event field names used in ThreatEnrichment.MatchedField.
const (
	FieldSourceIP          = "source.ip"
	FieldDestinationIP     = "destination.ip"
	FieldSourceDomain      = "source.domain"
	FieldDestinationDomain = "destination.domain"
	FieldDNSQuestionName   = "dns.question.name"
	FieldURLDomain         = "url.domain"
	FieldURLOriginal       = "url.original"
)

// EnrichEvent appends to ev.Threat every indicator matching the event's
// source.ip, destination.ip, source.domain, destination.domain,
// dns.question.name, url.domain (or the host of url.original when
// url.domain is empty; an IP host is matched as an IP) and url.original,
// valid at now (unix nanoseconds).
func (s *Set) EnrichEvent(ev *stream.Event, now int64) {
	if s == nil || len(s.inds) == 0 {
		return
	}
	th := ev.Threat
	th = s.AppendIP(th, ev.Source.IP, now, FieldSourceIP)
	th = s.AppendIP(th, ev.Destination.IP, now, FieldDestinationIP)
	th = s.AppendDomain(th, ev.Source.Domain, now, FieldSourceDomain)
	th = s.AppendDomain(th, ev.Destination.Domain, now, FieldDestinationDomain)
	th = s.AppendDomain(th, ev.DNSQuestionName, now, FieldDNSQuestionName)
	host := ev.URLDomain
	if host == "" && ev.URLOriginal != "" {
		host = urlHost(ev.URLOriginal)
	}
	if host != "" {
		if a, ok := parseIPHost(host); ok {
			th = s.AppendIP(th, a, now, FieldURLDomain)
		} else {
			th = s.AppendDomain(th, host, now, FieldURLDomain)
		}
	}
	th = s.AppendURL(th, ev.URLOriginal, now, FieldURLOriginal)
	ev.Threat = th
}

// parseIPHost parses host as an IP address, without the allocation of
// netip.ParseAddr's error for the common case of a name.
func parseIPHost(host string) (netip.Addr, bool) {
	for i := 0; i < len(host); i++ {
		if c := host[i]; c != '.' && c != ':' && (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(host)
	return a, err == nil
}
