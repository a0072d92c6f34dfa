// Package intel holds threat-intelligence indicator sets: IP addresses and
// CIDRs (longest-prefix match), domains (exact and parent-domain match),
// URLs and file hashes, loaded from plain-text lists, CSV and STIX 2.1
// bundles, and matched against events (ECS threat.enrichments). Sets are
// immutable; a Store swaps in a reloaded set atomically.
package intel

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Kind is the type of an indicator.
type Kind uint8

const (
	KindInvalid Kind = iota
	KindIPv4         // a single IPv4 address
	KindIPv6         // a single IPv6 address
	KindCIDR         // an IPv4 or IPv6 network
	KindDomain       // a domain name; also matches its subdomains
	KindURL          // a URL, matched after normalization
	KindMD5          // a file hash
	KindSHA1
	KindSHA256
)

var kindNames = [...]string{"invalid", "ipv4-addr", "ipv6-addr", "cidr", "domain-name", "url", "md5", "sha1", "sha256"}

// String returns the kind's name: ipv4-addr, ipv6-addr, cidr, domain-name,
// url, md5, sha1, sha256.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// ThreatType is the stream.ThreatEnrichment Type of the kind: hashes are
// "file-hash", the others their String.
func (k Kind) ThreatType() string {
	switch k {
	case KindMD5, KindSHA1, KindSHA256:
		return "file-hash"
	}
	return k.String()
}

// ParseKind maps a kind name (as String returns, plus "ip", "domain",
// "hash", "sha-1", "sha-256" aliases) to a Kind; "hash" and "ip" return
// KindInvalid with ok true, meaning "detect".
func ParseKind(s string) (k Kind, ok bool) {
	switch strings.ToLower(s) {
	case "", "auto", "ip", "hash":
		return KindInvalid, true
	case "domain":
		return KindDomain, true
	case "sha-1":
		return KindSHA1, true
	case "sha-256":
		return KindSHA256, true
	}
	for i, n := range kindNames {
		if i > 0 && n == strings.ToLower(s) {
			return Kind(i), true
		}
	}
	return KindInvalid, false
}

// Indicator is one listed indicator of compromise.
type Indicator struct {
	Value      string // as listed by the feed
	Kind       Kind
	Feed       string
	Confidence int32     // 0–100
	ValidFrom  time.Time // zero: valid from the start
	ValidUntil time.Time // zero: never expires
}

// Problem is a feed entry that could not be used, kept so that nothing a
// feed lists is dropped silently.
type Problem struct {
	Feed   string
	Line   int    // 1-based line (text, CSV) or object index (STIX); 0 if unknown
	Text   string // the entry, shortened
	Reason string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %q", p.Feed, p.Line, p.Reason, p.Text)
}

func problem(feed string, line int, text, reason string) Problem {
	if len(text) > 120 {
		text = text[:120] + "…"
	}
	return Problem{Feed: feed, Line: line, Text: text, Reason: reason}
}

// refang undoes common defanging ("hxxp://", "evil[.]com", "1.2.3[.]4").
func refang(s string) string {
	if strings.Contains(s, "[.]") || strings.Contains(s, "(.)") {
		s = strings.NewReplacer("[.]", ".", "(.)", ".").Replace(s)
	}
	if len(s) > 4 && strings.EqualFold(s[:4], "hxxp") {
		s = "http" + s[4:]
	}
	return s
}

// Detect finds the kind of a listed value and returns its normalized form
// (the key it is matched by). want, when not KindInvalid, is the kind the
// feed declares; the value must agree with it.
func Detect(value string, want Kind) (Kind, string, error) {
	v := refang(strings.TrimSpace(value))
	if v == "" {
		return KindInvalid, "", errors.New("empty indicator")
	}
	k, norm, err := detect(v)
	if err != nil {
		return KindInvalid, "", err
	}
	if want != KindInvalid && want != k {
		// A declared IP kind accepts a network of that family and a
		// declared network accepts a single address.
		compatible := (want == KindCIDR && (k == KindIPv4 || k == KindIPv6)) ||
			((want == KindIPv4 || want == KindIPv6) && k == KindCIDR && strings.Contains(norm, ":") == (want == KindIPv6))
		if !compatible {
			return KindInvalid, "", fmt.Errorf("declared %s but value is %s", want, k)
		}
	}
	return k, norm, nil
}

func detect(v string) (Kind, string, error) {
	if a, err := netip.ParseAddr(v); err == nil {
		if a.Zone() != "" {
			return KindInvalid, "", errors.New("zoned address")
		}
		a = a.Unmap()
		if a.Is4() {
			return KindIPv4, a.String(), nil
		}
		return KindIPv6, a.String(), nil
	}
	if strings.Contains(v, "/") && !strings.Contains(v, "://") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return KindInvalid, "", fmt.Errorf("bad network: %v", err)
		}
		return KindCIDR, p.Masked().String(), nil
	}
	if strings.Contains(v, "://") {
		u, ok := normalizeURL(v)
		if !ok {
			return KindInvalid, "", errors.New("bad URL")
		}
		return KindURL, u, nil
	}
	if isHex(v) {
		switch len(v) {
		case 32:
			return KindMD5, strings.ToLower(v), nil
		case 40:
			return KindSHA1, strings.ToLower(v), nil
		case 64:
			return KindSHA256, strings.ToLower(v), nil
		}
	}
	if d, ok := normalizeDomain(v); ok {
		return KindDomain, d, nil
	}
	return KindInvalid, "", errors.New("not an IP, network, domain, URL or hash")
}

func isHex(s string) bool {
	if len(s) == 0 || len(s)%2 != 0 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// normalizeDomain lower-cases a domain name, drops a trailing dot and a
// leading "*." and checks its syntax (letters, digits, '-', '_', dots,
// labels of 1–63 bytes, at least two labels, at most 253 bytes).
func normalizeDomain(s string) (string, bool) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "*."), ".")
	if len(s) == 0 || len(s) > 253 || !strings.Contains(s, ".") {
		return "", false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return "", false
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return "", false
		}
		label++
		if label > 63 {
			return "", false
		}
	}
	if label == 0 {
		return "", false
	}
	return strings.ToLower(s), true
}

// normalizeURL lower-cases the scheme and host, drops the fragment and a
// lone trailing "/" path. It returns s itself (no allocation) when s is
// already normal.
func normalizeURL(s string) (string, bool) {
	if j := strings.IndexByte(s, '#'); j >= 0 {
		s = s[:j]
	}
	i := strings.Index(s, "://")
	if i <= 0 || i+3 >= len(s) {
		return "", false
	}
	hostEnd := len(s)
	if j := strings.IndexAny(s[i+3:], "/?"); j >= 0 {
		hostEnd = i + 3 + j
	}
	if hostEnd == i+3 {
		return "", false
	}
	if hostEnd == len(s)-1 && s[hostEnd] == '/' {
		s = s[:hostEnd]
	}
	if hasUpper(s[:hostEnd]) {
		s = strings.ToLower(s[:hostEnd]) + s[hostEnd:]
	}
	return s, true
}

// urlHost returns the host of a URL (without port, userinfo or brackets).
func urlHost(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return ""
	}
	h := s[i+3:]
	if j := strings.IndexAny(h, "/?#"); j >= 0 {
		h = h[:j]
	}
	if j := strings.LastIndexByte(h, '@'); j >= 0 {
		h = h[j+1:]
	}
	if strings.HasPrefix(h, "[") {
		if j := strings.IndexByte(h, ']'); j > 0 {
			return h[1:j]
		}
		return ""
	}
	if j := strings.LastIndexByte(h, ':'); j >= 0 {
		h = h[:j]
	}
	return h
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}
