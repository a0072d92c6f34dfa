package geoip_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/enrich/geoip"
	"github.com/gannet-sec/gannet/enrich/geoip/geoiptest"
	"github.com/gannet-sec/gannet/stream"
)

// BenchmarkLookup measures Resolver.Enrich on one endpoint, with addresses
// drawn Zipf-distributed (s=1.1) from 10k addresses of a 20k-network city
// and ASN database.
func BenchmarkLookup(b *testing.B) {
	dir := b.TempDir()
	nets := make([]geoiptest.Network, 20000)
	for i := range nets {
		nets[i] = geoiptest.Network{Prefix: fmt.Sprintf("%d.%d.%d.0/24", 20+i>>16, (i>>8)&255, i&255), Country: "DE", CountryName: "Germany",
			City: fmt.Sprintf("City %d", i%1000), Region: "R", Lat: 1, Lon: 2, ASN: uint32(i % 500), Org: fmt.Sprintf("Org %d", i%500)}
	}
	city, asn := filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	geoiptest.Write(city, geoiptest.GeoIP2, nets)
	geoiptest.Write(asn, geoiptest.ASN, nets)
	r := rand.New(rand.NewPCG(1, 2))
	pool := make([]netip.Addr, 10000)
	for i := range pool {
		n := r.IntN(len(nets))
		pool[i] = netip.AddrFrom4([4]byte{byte(20 + n>>16), byte(n >> 8), byte(n), byte(1 + r.IntN(254))})
	}
	z := rand.NewZipf(r, 1.1, 1, uint64(len(pool)-1))
	seq := make([]netip.Addr, 1<<16)
	for i := range seq {
		seq[i] = pool[z.Uint64()]
	}
	for _, size := range []int{65536, -1} {
		name := "cache=64k"
		if size < 0 {
			name = "cache=off"
		}
		b.Run(name, func(b *testing.B) {
			res, err := geoip.New(context.Background(), geoip.Config{City: []geoip.Source{{Location: city}}, ASN: []geoip.Source{{Location: asn}}, CacheSize: size})
			if err != nil {
				b.Fatal(err)
			}
			defer res.Close()
			var ep stream.Endpoint
			for _, a := range seq {
				ep.IP = a
				res.Enrich(&ep)
			}
			miss0 := res.Stats().Misses
			cpu0 := cpuTime()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ep.IP = seq[i&(len(seq)-1)]
				res.Enrich(&ep)
				i++
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "lookups/s")
			b.ReportMetric(float64(i)/(cpuTime()-cpu0).Seconds(), "lookups/cpu-s")
			b.ReportMetric(float64(res.Stats().Misses-miss0)/float64(i), "missrate")
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
