// Package gen holds what the log generators of every format share: options,
// a deterministic random source and the attack indicators they embed, so
// that generated attacks, the demo threat-intel list and the built-in rules
// agree.
package gen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Options drive a generator. The same options always produce the same bytes.
type Options struct {
	Count   int   // number of log entries (lines / events)
	Seed    int64 // random seed
	Attacks bool  // embed the format's attacks among clean traffic
	// Start is the time of the first entry; zero means DefaultStart.
	Start time.Time
}

// DefaultStart is the default time of the first generated entry.
var DefaultStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Account and Region are used by every generator.
const (
	Account = "123456789012"
	Region  = "eu-west-1"
)

// Attack indicators. The demo intel list (enrich) and the built-in rules
// (detect) use these values.
const (
	// AttackerIP brute-forces console logins, opens security groups, stops
	// CloudTrail, sends SQLi/XSS to the ALB and WAF, and port-scans.
	AttackerIP = "185.220.101.34"
	// ScannerIP is a second hostile address listed in the demo intel feed.
	ScannerIP = "45.155.205.233"
	// BadDomain is a known-bad parent domain; generated DNS queries ask for
	// subdomains of it.
	BadDomain = "evil-c2.example"
	// AttackerUser is the IAM user the attacker uses.
	AttackerUser = "mallory"
)

// Rand returns the deterministic random source for a seed.
func Rand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
}

// StartTime returns o.Start or DefaultStart.
func (o Options) StartTime() time.Time {
	if o.Start.IsZero() {
		return DefaultStart
	}
	return o.Start.UTC()
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.Count < 0 {
		return fmt.Errorf("count must be >= 0, got %d", o.Count)
	}
	return nil
}

// PublicIP returns a plausible public IPv4 address (never private or
// reserved), from a fixed pool of client networks so that addresses repeat
// the way real traffic does.
func PublicIP(r *rand.Rand) netip.Addr {
	nets := [...][2]byte{{81, 2}, {93, 184}, {104, 28}, {151, 101}, {172, 67}, {185, 199}, {52, 95}, {34, 240}, {62, 210}, {90, 84}}
	n := nets[r.IntN(len(nets))]
	return netip.AddrFrom4([4]byte{n[0], n[1], byte(r.IntN(8)), byte(1 + r.IntN(254))})
}

// PrivateIP returns an address in 10.0.0.0/16 (a VPC).
func PrivateIP(r *rand.Rand) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(16)), byte(1 + r.IntN(254))})
}

// Pick returns a random element of s.
func Pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// AttackEvery returns how often (in entries) an attack is inserted for count
// entries, so that every attack appears at least once and attacks stay a small share.
func AttackEvery(count, attacks int) int {
	if attacks <= 0 {
		return count + 1
	}
	every := count / (attacks * 4)
	if every < 1 {
		every = 1
	}
	return every
}
