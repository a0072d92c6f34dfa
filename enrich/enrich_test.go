package enrich_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/gannet-sec/gannet/enrich"
	"github.com/gannet-sec/gannet/enrich/dbfile"
	"github.com/gannet-sec/gannet/enrich/geoip/geoiptest"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/gen"
)

var nets = []geoiptest.Network{
	{Prefix: "185.220.101.0/24", Country: "DE", CountryName: "Germany", Region: "Berlin", City: "Berlin", Lat: 52.52, Lon: 13.405, ASN: 208294, Org: "Relayon"},
	{Prefix: "81.2.69.0/24", Country: "GB", CountryName: "United Kingdom", Region: "England", City: "London", Lat: 51.51, Lon: -0.09, ASN: 20712, Org: "Andrews & Arnold"},
}

func setup(t testing.TB) (city, asn, feed string) {
	t.Helper()
	dir := t.TempDir()
	city, asn, feed = filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb"), filepath.Join(dir, "feed.csv")
	if _, err := geoiptest.Write(city, geoiptest.Flat, nets); err != nil {
		t.Fatal(err)
	}
	if _, err := geoiptest.Write(asn, geoiptest.ASN, nets); err != nil {
		t.Fatal(err)
	}
	csv := "indicator,score,valid_until\n185.220.101.0/24,90,2030-01-01\n45.155.205.233,80,2020-01-01\nevil-c2.example,70,\n"
	if err := os.WriteFile(feed, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	return city, asn, feed
}

func TestEnrich(t *testing.T) {
	city, asn, feed := setup(t)
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	e, err := enrich.New(context.Background(), enrich.Options{
		GeoIPPath:  city,
		ASNPath:    asn,
		IntelPaths: []string{feed + "#column=indicator&confidence_column=score&expiry_column=valid_until&feed=abuse"},
		Now:        func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	t.Log(e.Describe())
	events := []stream.Event{
		{Source: stream.Endpoint{IP: netip.MustParseAddr(gen.AttackerIP)}, Destination: stream.Endpoint{IP: netip.MustParseAddr("10.0.1.2")}},
		{Source: stream.Endpoint{IP: netip.MustParseAddr(gen.ScannerIP)}, DNSQuestionName: "x.y." + gen.BadDomain},
		{Source: stream.Endpoint{IP: netip.MustParseAddr("81.2.69.142")}},
	}
	if err := e.Enrich(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	a := events[0]
	if a.Source.Geo.CountryISOCode != "DE" || a.Source.Geo.CountryName != "Germany" || a.Source.Geo.CityName != "Berlin" || a.Source.AS.Number != 208294 {
		t.Fatalf("source = %+v", a.Source)
	}
	if a.Destination.Geo != (stream.Geo{}) {
		t.Fatalf("private destination enriched: %+v", a.Destination)
	}
	want := stream.ThreatEnrichment{Indicator: "185.220.101.0/24", Type: "cidr", Feed: "abuse", Confidence: 90, MatchedField: "source.ip", MatchedValue: gen.AttackerIP}
	if len(a.Threat) != 1 || a.Threat[0] != want {
		t.Fatalf("threat = %+v", a.Threat)
	}
	// The scanner's indicator expired in 2020; the subdomain of the bad
	// domain matches.
	if th := events[1].Threat; len(th) != 1 || th[0].MatchedField != "dns.question.name" || th[0].Indicator != gen.BadDomain {
		t.Fatalf("threat = %+v", th)
	}
	if len(events[2].Threat) != 0 || events[2].Source.Geo.CityName != "London" {
		t.Fatalf("event 2 = %+v", events[2])
	}
}

func TestDemoIntel(t *testing.T) {
	e, err := enrich.New(context.Background(), enrich.Options{DemoIntel: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ev := []stream.Event{{Destination: stream.Endpoint{IP: netip.MustParseAddr(gen.ScannerIP)}}}
	e.Enrich(context.Background(), ev)
	if len(ev[0].Threat) != 1 || ev[0].Threat[0].Feed != "gannet-demo" {
		t.Fatalf("threat = %+v", ev[0].Threat)
	}
}

func TestOptionsFromEnv(t *testing.T) {
	env := map[string]string{
		enrich.EnvGeoIP:     "a.mmdb, s3://b/k.mmdb",
		enrich.EnvASN:       "asn.mmdb",
		enrich.EnvIntel:     "f1.txt,f2.csv#column=ip\n f3.json",
		enrich.EnvIntelDemo: "true",
		enrich.EnvCacheSize: "1024",
		enrich.EnvCheck:     "quick",
		enrich.EnvReload:    "30s",
	}
	o, err := enrich.OptionsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.GeoIPPath != "a.mmdb, s3://b/k.mmdb" || o.ASNPath != "asn.mmdb" || len(o.IntelPaths) != 3 || o.IntelPaths[1] != "f2.csv#column=ip" ||
		!o.DemoIntel || o.CacheSize != 1024 || o.Check != 1 || o.Reload != 30*time.Second {
		t.Fatalf("%+v", o)
	}
	env[enrich.EnvReload] = "soon"
	if _, err := enrich.OptionsFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Fatal("bad duration accepted")
	}
}

// TestS3Database downloads the database once through the injected GetObject
// and checks its SHA-256.
func TestS3Database(t *testing.T) {
	city, _, _ := setup(t)
	data, _ := os.ReadFile(city)
	sum, _ := dbfile.SHA256File(city)
	var calls atomic.Int32
	get := dbfile.GetObjectFunc(func(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
		calls.Add(1)
		if *in.Bucket != "geo" || *in.Key != "db/city.mmdb" {
			return nil, errors.New("NoSuchKey")
		}
		n := int64(len(data))
		return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(data)), ContentLength: &n}, nil
	})
	e, err := enrich.New(context.Background(), enrich.Options{GeoIPPath: "s3://geo/db/city.mmdb", GeoIPSHA256: sum, S3: get})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ev := []stream.Event{{Source: stream.Endpoint{IP: netip.MustParseAddr("81.2.69.1")}}}
	e.Enrich(context.Background(), ev)
	if ev[0].Source.Geo.CityName != "London" || calls.Load() != 1 {
		t.Fatalf("geo=%+v calls=%d", ev[0].Source.Geo, calls.Load())
	}
	_, err = enrich.New(context.Background(), enrich.Options{GeoIPPath: "s3://geo/db/city.mmdb", GeoIPSHA256: strings.Repeat("0", 64), S3: get})
	if !errors.Is(err, dbfile.ErrChecksum) {
		t.Fatalf("wrong checksum: %v", err)
	}
	if _, err := enrich.New(context.Background(), enrich.Options{GeoIPPath: "s3://geo/missing.mmdb", S3: get}); err == nil {
		t.Fatal("missing object: no error")
	}
}

// TestFeedReplacedWhileConsuming consumes a stream of batches while the
// indicator file is replaced (and picked up by the file watch): every event
// is enriched exactly once, and events after the reload carry the new
// indicator. Run with -race.
func TestFeedReplacedWhileConsuming(t *testing.T) {
	dir := t.TempDir()
	feed := filepath.Join(dir, "feed.txt")
	os.WriteFile(feed, []byte(gen.AttackerIP+"\n"), 0o644)
	e, err := enrich.New(context.Background(), enrich.Options{IntelPaths: []string{feed + "#feed=rotating"}, Reload: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	const batches, size = 400, 16
	seen := make(map[int]int)
	var before, after int
	replaced := false
	for b := range batches {
		batch := make([]stream.Event, size)
		for i := range batch {
			batch[i].Lineage.Index = int64(b*size + i)
			batch[i].Source.IP = netip.MustParseAddr(gen.ScannerIP)
		}
		if err := e.Enrich(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
		for i := range batch {
			seen[int(batch[i].Lineage.Index)]++
			if len(batch[i].Threat) > 1 {
				t.Fatalf("event enriched twice: %+v", batch[i].Threat)
			}
			if len(batch[i].Threat) == 1 {
				after++
			} else if !replaced {
				before++
			}
		}
		if b == 50 {
			os.WriteFile(feed+".new", []byte(gen.ScannerIP+"\n"), 0o644)
			os.Rename(feed+".new", feed)
			replaced = true
		}
		time.Sleep(time.Millisecond)
	}
	if len(seen) != batches*size {
		t.Fatalf("%d distinct events, want %d", len(seen), batches*size)
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %d seen %d times", id, n)
		}
	}
	if after == 0 || before == 0 {
		t.Fatalf("before=%d after=%d: replacement not picked up", before, after)
	}
	if e.Intel().Reloads() == 0 {
		t.Fatal("no reload counted")
	}
}

func TestBadConfig(t *testing.T) {
	for _, o := range []enrich.Options{
		{GeoIPPath: "/nonexistent.mmdb"},
		{IntelPaths: []string{"/nonexistent.txt"}},
		{GeoIPPath: "a.mmdb,b.mmdb", GeoIPSHA256: "x"},
		{GeoIPPath: "s3://b/k"}, // no S3 client
	} {
		if e, err := enrich.New(context.Background(), o); err == nil {
			e.Close()
			t.Errorf("%+v: no error", o)
		} else {
			t.Log(err)
		}
	}
	e, err := enrich.New(context.Background(), enrich.Options{})
	if err != nil || e.Describe() != "no enrichment configured" {
		t.Fatalf("empty options: %v", err)
	}
	ev := []stream.Event{{Source: stream.Endpoint{IP: netip.MustParseAddr("8.8.8.8")}}}
	if err := e.Enrich(context.Background(), ev); err != nil || ev[0].Source.Geo != (stream.Geo{}) {
		t.Fatal(fmt.Sprint(err, ev[0].Source))
	}
}
