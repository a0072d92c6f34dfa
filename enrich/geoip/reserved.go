package geoip

import "net/netip"

// reserved6 lists IPv6 special-purpose ranges (RFC 6890 and successors) that
// no GeoIP database locates. IPv4-mapped addresses are unmapped before the
// check, so ::ffff:0:0/96 is not listed.
var reserved6 = []netip.Prefix{
	netip.MustParsePrefix("::/96"),          // unspecified, loopback, IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64 well-known prefix
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001::/23"),      // IETF protocol assignments (Teredo, ORCHID, benchmarking…)
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("2002::/16"),      // 6to4
	netip.MustParsePrefix("3fff::/20"),      // documentation (RFC 9637)
	netip.MustParsePrefix("5f00::/16"),      // segment routing SIDs
	netip.MustParsePrefix("fc00::/7"),       // unique local
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
	netip.MustParsePrefix("ff00::/8"),       // multicast
}

// Reserved reports whether addr is private, loopback, link-local, CGNAT,
// documentation, multicast, benchmarking or otherwise special-purpose, i.e.
// an address that enrichment skips. IPv4-mapped IPv6 addresses are judged as
// IPv4. The invalid zero Addr is reserved.
func Reserved(addr netip.Addr) bool {
	if !addr.IsValid() {
		return true
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return reserved4(addr.As4())
	}
	hi := addr.As16()[0]
	// Global unicast is 2000::/3; everything outside it is special.
	if hi&0xe0 != 0x20 {
		return true
	}
	for _, p := range reserved6 {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func reserved4(a [4]byte) bool {
	switch a[0] {
	case 0, 10, 127: // "this network", private, loopback
		return true
	case 100:
		return a[1]&0xc0 == 64 // 100.64.0.0/10 shared address space (CGNAT)
	case 169:
		return a[1] == 254 // link-local
	case 172:
		return a[1]&0xf0 == 16 // 172.16.0.0/12
	case 192:
		switch {
		case a[1] == 168: // private
			return true
		case a[1] == 0 && (a[2] == 0 || a[2] == 2): // IETF protocol assignments, TEST-NET-1
			return true
		case a[1] == 88 && a[2] == 99: // 6to4 relay anycast (deprecated)
			return true
		}
	case 198:
		// 198.18.0.0/15 benchmarking, 198.51.100.0/24 TEST-NET-2
		return a[1]&0xfe == 18 || (a[1] == 51 && a[2] == 100)
	case 203:
		return a[1] == 0 && a[2] == 113 // TEST-NET-3
	}
	return a[0] >= 224 // multicast 224/4, reserved 240/4, broadcast
}
