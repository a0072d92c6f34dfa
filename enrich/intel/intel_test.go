package intel_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/enrich/intel"
	"github.com/gannet-sec/gannet/stream"
)

var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func mustSet(t testing.TB, inds ...intel.Indicator) *intel.Set {
	t.Helper()
	s, probs := intel.NewSet(inds)
	if len(probs) != 0 {
		t.Fatalf("problems: %v", probs)
	}
	return s
}

func TestCIDRMatchCarriesIndicatorAndFeed(t *testing.T) {
	set := mustSet(t,
		intel.Indicator{Value: "45.155.0.0/16", Feed: "wide", Confidence: 40},
		intel.Indicator{Value: "45.155.205.0/24", Feed: "narrow", Confidence: 80},
		intel.Indicator{Value: "2001:db8:bad::/48", Feed: "v6", Confidence: 70},
	)
	ev := stream.Event{
		Source:      stream.Endpoint{IP: netip.MustParseAddr("45.155.205.233")},
		Destination: stream.Endpoint{IP: netip.MustParseAddr("2001:db8:bad:1::5")},
	}
	set.EnrichEvent(&ev, now.UnixNano())
	if len(ev.Threat) != 2 {
		t.Fatalf("threat = %+v", ev.Threat)
	}
	want := stream.ThreatEnrichment{Indicator: "45.155.205.0/24", Type: "cidr", Feed: "narrow", Confidence: 80, MatchedField: "source.ip", MatchedValue: "45.155.205.233"}
	if ev.Threat[0] != want {
		t.Fatalf("got %+v\nwant %+v (longest prefix)", ev.Threat[0], want)
	}
	if ev.Threat[1].Feed != "v6" || ev.Threat[1].MatchedField != "destination.ip" {
		t.Fatalf("v6 match = %+v", ev.Threat[1])
	}
	// An address outside every network matches nothing.
	miss := stream.Event{Source: stream.Endpoint{IP: netip.MustParseAddr("45.156.0.1")}}
	set.EnrichEvent(&miss, now.UnixNano())
	if len(miss.Threat) != 0 {
		t.Fatalf("unexpected %+v", miss.Threat)
	}
}

func TestExpiredIndicatorDoesNotMatch(t *testing.T) {
	set := mustSet(t,
		intel.Indicator{Value: "185.220.101.34", Feed: "old", ValidUntil: now.Add(-time.Hour)},
		intel.Indicator{Value: "185.220.101.0/24", Feed: "current", ValidUntil: now.Add(time.Hour)},
		intel.Indicator{Value: "evil.example", Feed: "old", ValidUntil: now.Add(-time.Second)},
		intel.Indicator{Value: "later.example", Feed: "future", ValidFrom: now.Add(time.Hour)},
	)
	ev := stream.Event{Source: stream.Endpoint{IP: netip.MustParseAddr("185.220.101.34")}, DNSQuestionName: "evil.example"}
	set.EnrichEvent(&ev, now.UnixNano())
	// The expired /32 neither matches nor hides the valid /24.
	if len(ev.Threat) != 1 || ev.Threat[0].Feed != "current" {
		t.Fatalf("threat = %+v", ev.Threat)
	}
	ev2 := stream.Event{DNSQuestionName: "later.example"}
	set.EnrichEvent(&ev2, now.UnixNano())
	if len(ev2.Threat) != 0 {
		t.Fatalf("not-yet-valid indicator matched: %+v", ev2.Threat)
	}
	// Before expiry, the /32 wins.
	ev3 := stream.Event{Source: stream.Endpoint{IP: netip.MustParseAddr("185.220.101.34")}}
	set.EnrichEvent(&ev3, now.Add(-2*time.Hour).UnixNano())
	if len(ev3.Threat) != 1 || ev3.Threat[0].Feed != "old" {
		t.Fatalf("threat = %+v", ev3.Threat)
	}
}

func TestSubdomainMatches(t *testing.T) {
	set := mustSet(t, intel.Indicator{Value: "Evil-C2.example.", Feed: "dns"}, intel.Indicator{Value: "other.example", Feed: "x"})
	for _, tc := range []struct {
		name  string
		match bool
	}{
		{"evil-c2.example", true},
		{"a.b.EVIL-C2.example.", true},
		{"notevil-c2.example", false},
		{"evil-c2.example.com", false},
	} {
		ev := stream.Event{DNSQuestionName: tc.name, URLDomain: tc.name}
		set.EnrichEvent(&ev, now.UnixNano())
		got := 0
		for _, th := range ev.Threat {
			if th.Feed == "dns" {
				got++
				if th.MatchedValue != tc.name || th.Type != "domain-name" || th.Indicator != "Evil-C2.example." {
					t.Errorf("%s: %+v", tc.name, th)
				}
			}
		}
		if (got == 2) != tc.match || (got != 0 && got != 2) {
			t.Errorf("%s: %d dns matches (dns.question.name + url.domain), want match=%v", tc.name, got, tc.match)
		}
	}
}

func TestURLAndHash(t *testing.T) {
	set := mustSet(t,
		intel.Indicator{Value: "hxxp://Bad.Example/payload.exe", Feed: "urls"},
		intel.Indicator{Value: "44d88612fea8a8f36de82e1278abb02f", Feed: "hashes"},
	)
	ev := stream.Event{URLOriginal: "http://bad.example/payload.exe#frag"}
	set.EnrichEvent(&ev, 0)
	if len(ev.Threat) != 1 || ev.Threat[0].MatchedField != "url.original" || ev.Threat[0].Type != "url" {
		t.Fatalf("threat = %+v", ev.Threat)
	}
	th := set.AppendHash(nil, "44D88612FEA8A8F36DE82E1278ABB02F", 0, "file.hash.md5")
	if len(th) != 1 || th[0].Type != "file-hash" {
		t.Fatalf("hash = %+v", th)
	}
	// An IP host in a URL is matched as an IP.
	set2 := mustSet(t, intel.Indicator{Value: "203.0.113.7", Feed: "ips"})
	ev2 := stream.Event{URLOriginal: "http://203.0.113.7:8080/x"}
	set2.EnrichEvent(&ev2, 0)
	if len(ev2.Threat) != 1 || ev2.Threat[0].MatchedField != "url.domain" {
		t.Fatalf("threat = %+v", ev2.Threat)
	}
}

func TestParseText(t *testing.T) {
	in := "\ufeff# comment\n\n1.2.3.4\n10.0.0.0/8 # private\nevil[.]example\nhttps://x.example/a\nd41d8cd98f00b204e9800998ecf8427e\n" +
		"da39a3ee5e6b4b0d3255bfef95601890afd80709\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n2001:db8::1\nnot an indicator!\n"
	inds, probs, err := intel.ParseText(strings.NewReader(in), "f", 60)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []intel.Kind{intel.KindIPv4, intel.KindCIDR, intel.KindDomain, intel.KindURL, intel.KindMD5, intel.KindSHA1, intel.KindSHA256, intel.KindIPv6}
	if len(inds) != len(kinds) {
		t.Fatalf("got %d indicators: %+v", len(inds), inds)
	}
	for i, k := range kinds {
		if inds[i].Kind != k || inds[i].Feed != "f" || inds[i].Confidence != 60 {
			t.Errorf("%d: %+v, want kind %s", i, inds[i], k)
		}
	}
	if inds[2].Value != "evil.example" {
		t.Errorf("refang: %q", inds[2].Value)
	}
	if len(probs) != 1 || probs[0].Line != 11 {
		t.Fatalf("problems = %v", probs)
	}
}

func TestParseCSV(t *testing.T) {
	in := "id,indicator,score,valid_until\n1,185.220.101.34,85,2027-01-01\n2,old.example,0.7,2026-01-01T00:00:00Z\n3,,50,\n4,bad value,50,\n5,1.2.3.4,200,\n"
	inds, probs, err := intel.ParseCSV(strings.NewReader(in), "abuse", intel.CSVOptions{Column: "indicator", ConfidenceColumn: "score", ExpiryColumn: "valid_until", Confidence: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(inds) != 2 || inds[0].Confidence != 85 || inds[1].Confidence != 70 || !inds[0].ValidUntil.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("indicators = %+v", inds)
	}
	if len(probs) != 2 {
		t.Fatalf("problems = %v", probs)
	}
	set := mustSet(t, inds...)
	ev := stream.Event{DNSQuestionName: "old.example"}
	set.EnrichEvent(&ev, now.UnixNano())
	if len(ev.Threat) != 0 {
		t.Fatal("expired CSV indicator matched")
	}
	// By index, no header; an unannounced header row is skipped.
	inds, probs, err = intel.ParseCSV(strings.NewReader("ip;note\n1.2.3.4;x\n5.6.7.8;y\n"), "f", intel.CSVOptions{Column: "0", Comma: ';'})
	if err != nil || len(inds) != 2 || len(probs) != 0 {
		t.Fatalf("inds=%v probs=%v err=%v", inds, probs, err)
	}
	if _, _, err := intel.ParseCSV(strings.NewReader("a,b\n"), "f", intel.CSVOptions{Column: "ip"}); err == nil {
		t.Fatal("missing column: no error")
	}
}

const bundle = `{
  "type": "bundle", "id": "bundle--1",
  "objects": [
    {"type": "identity", "id": "identity--1", "name": "feed owner"},
    {"type": "indicator", "id": "indicator--1", "pattern_type": "stix", "confidence": 75,
     "pattern": "[ipv4-addr:value = '185.220.101.34']", "valid_from": "2026-01-01T00:00:00Z"},
    {"type": "indicator", "id": "indicator--2", "pattern_type": "stix",
     "pattern": "[domain-name:value = 'evil-c2.example' OR url:value = 'http://evil-c2.example/a\\'b'] OR [ipv4-addr:value = '45.155.205.0/24']",
     "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2027-01-01T00:00:00Z"},
    {"type": "indicator", "id": "indicator--3", "pattern_type": "stix",
     "pattern": "[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855' OR file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"},
    {"type": "indicator", "id": "indicator--4", "pattern_type": "stix", "pattern": "[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '5.6.7.8']"},
    {"type": "indicator", "id": "indicator--5", "pattern_type": "stix", "pattern": "[network-traffic:dst_port = 443]"},
    {"type": "indicator", "id": "indicator--6", "pattern_type": "stix", "pattern": "[url:value LIKE '%evil%']"},
    {"type": "indicator", "id": "indicator--7", "pattern_type": "sigma", "pattern": "title: x"},
    {"type": "indicator", "id": "indicator--8", "pattern_type": "stix", "pattern": "[ipv4-addr:value = '9.9.9.9'] FOLLOWEDBY [ipv4-addr:value = '8.8.8.8']"},
    {"type": "indicator", "id": "indicator--9", "pattern_type": "stix", "pattern": "[ipv4-addr:value = '1.1.1.1']", "revoked": true},
    {"type": "indicator", "id": "indicator--10", "pattern_type": "stix", "pattern": "[ipv4-addr:value = 'not-an-ip']"}
  ]
}`

func TestParseSTIX(t *testing.T) {
	inds, probs, err := intel.ParseSTIX(strings.NewReader(bundle), "stix-feed", 50)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind intel.Kind
		val  string
	}{
		{intel.KindIPv4, "185.220.101.34"}, {intel.KindDomain, "evil-c2.example"}, {intel.KindURL, "http://evil-c2.example/a'b"},
		{intel.KindCIDR, "45.155.205.0/24"}, {intel.KindSHA256, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}, {intel.KindMD5, "d41d8cd98f00b204e9800998ecf8427e"},
	}
	if len(inds) != len(want) {
		t.Fatalf("got %+v", inds)
	}
	for i, w := range want {
		if inds[i].Kind != w.kind || inds[i].Value != w.val {
			t.Errorf("%d: %+v, want %v %q", i, inds[i], w.kind, w.val)
		}
	}
	if inds[0].Confidence != 75 || inds[1].Confidence != 50 || inds[1].ValidUntil.Year() != 2027 {
		t.Errorf("confidence/expiry: %+v %+v", inds[0], inds[1])
	}
	// Each unsupported or bad indicator is reported, none silently dropped.
	if len(probs) != 7 {
		t.Fatalf("problems (%d): %v", len(probs), probs)
	}
	for _, p := range probs {
		t.Log(p)
	}
}

// TestStoreReloadUnderLoad replaces the feed file while goroutines enrich
// batches: every batch sees either the old or the new set (never a failure
// or a partial set), and after the reload later matches change.
func TestStoreReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "feed.txt")
	write := func(content string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write("1.1.1.1\n")
	spec, _ := intel.ParseFeedSpec(path + "#feed=rot")
	st, err := intel.NewStore(context.Background(), []intel.FeedSpec{spec}, intel.StoreOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var bad atomic.Int64
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			batch := make([]stream.Event, 8)
			for !stop.Load() {
				for i := range batch {
					batch[i].Reset()
					if i%2 == 0 {
						batch[i].Source.IP = netip.MustParseAddr("1.1.1.1")
					} else {
						batch[i].Source.IP = netip.MustParseAddr("2.2.2.2")
					}
				}
				st.Enrich(batch)
				// Within one batch all events see the same set.
				a, b := len(batch[0].Threat), len(batch[1].Threat)
				if a+b != 1 {
					bad.Add(1)
				}
				for i := range batch {
					if len(batch[i].Threat) != len(batch[i%2].Threat) {
						bad.Add(1)
					}
				}
			}
		})
	}
	for i := range 10 {
		if i%2 == 0 {
			write("2.2.2.2\n")
		} else {
			write("1.1.1.1\n")
		}
		if err := st.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	write("2.2.2.2\n")
	if err := st.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d inconsistent batches", bad.Load())
	}
	ev := []stream.Event{{Source: stream.Endpoint{IP: netip.MustParseAddr("2.2.2.2")}}}
	st.Enrich(ev)
	if len(ev[0].Threat) != 1 || ev[0].Threat[0].Feed != "rot" {
		t.Fatalf("after reload: %+v", ev[0].Threat)
	}
	// A feed that fails to load leaves the current set in place.
	os.Remove(path)
	if err := st.Reload(context.Background()); err == nil {
		t.Fatal("reload of a missing feed: no error")
	}
	if st.Set().Len() != 1 {
		t.Fatal("failed reload replaced the set")
	}
}

func TestWatchReloadsFeed(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "feed.txt")
	os.WriteFile(path, []byte("1.1.1.1\n"), 0o644)
	st, err := intel.NewStore(context.Background(), []intel.FeedSpec{{Location: path}}, intel.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go st.Watch(ctx, 10*time.Millisecond, func(err error) { t.Error(err) })
	time.Sleep(30 * time.Millisecond)
	os.WriteFile(path+".new", []byte("1.1.1.1\n3.3.3.3\n"), 0o644)
	os.Rename(path+".new", path)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if st.Set().Len() == 2 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("watch did not reload the replaced feed")
}

func TestParseFeedSpec(t *testing.T) {
	s, err := intel.ParseFeedSpec("feeds/abuse.txt#column=ip&expiry_column=until&feed=abuse&confidence=80")
	if err != nil {
		t.Fatal(err)
	}
	if s.Location != "feeds/abuse.txt" || s.Format != intel.FormatCSV || s.Feed != "abuse" || s.Confidence != 80 || s.CSV.Column != "ip" || s.CSV.ExpiryColumn != "until" {
		t.Fatalf("%+v", s)
	}
	if _, err := intel.ParseFeedSpec("x.txt#bogus=1"); err == nil {
		t.Fatal("unknown key accepted")
	}
}

func TestMatchNoAllocs(t *testing.T) {
	set := mustSet(t, intel.Indicator{Value: "45.155.205.0/24"}, intel.Indicator{Value: "evil.example"}, intel.Indicator{Value: "http://evil.example/x"})
	ev := stream.Event{
		Source: stream.Endpoint{IP: netip.MustParseAddr("81.2.69.142")}, Destination: stream.Endpoint{IP: netip.MustParseAddr("10.0.0.1")},
		DNSQuestionName: "www.Example.COM", URLOriginal: "https://shop.example.com/cart?id=1", Threat: make([]stream.ThreatEnrichment, 0, 4),
	}
	n := testing.AllocsPerRun(1000, func() {
		ev.Threat = ev.Threat[:0]
		set.EnrichEvent(&ev, 1)
	})
	if n != 0 {
		t.Fatalf("%v allocs per non-matching event", n)
	}
}

// TestLPMAgainstBruteForce compares AppendIP (prefilters, per-length maps)
// with a linear longest-prefix search over random networks.
func TestLPMAgainstBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var inds []intel.Indicator
	var prefixes []netip.Prefix
	for i := range 3000 {
		var p netip.Prefix
		if i%3 == 0 {
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, byte(r.IntN(4)), byte(r.IntN(256))
			p = netip.PrefixFrom(netip.AddrFrom16(b), 24+r.IntN(105)).Masked()
		} else {
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(1 + r.IntN(3)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}), 8+r.IntN(25)).Masked()
		}
		prefixes = append(prefixes, p)
		inds = append(inds, intel.Indicator{Value: p.String(), Feed: "f"})
	}
	set := mustSet(t, inds...)
	for range 4000 {
		var a netip.Addr
		if r.IntN(3) == 0 {
			var b [16]byte
			b[0], b[1], b[2], b[3] = 0x20, 0x01, byte(r.IntN(4)), byte(r.IntN(256))
			b[4], b[15] = byte(r.IntN(256)), byte(r.IntN(256))
			a = netip.AddrFrom16(b)
		} else {
			a = netip.AddrFrom4([4]byte{byte(1 + r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		}
		best := -1
		for _, p := range prefixes {
			if p.Contains(a) && p.Bits() > best {
				best = p.Bits()
			}
		}
		got := set.AppendIP(nil, a, 0, "x")
		if best < 0 {
			if len(got) != 0 {
				t.Fatalf("%s: got %+v, want no match", a, got)
			}
			continue
		}
		if len(got) == 0 || netip.MustParsePrefix(got[0].Indicator).Bits() != best {
			t.Fatalf("%s: got %+v, want a /%d", a, got, best)
		}
	}
}
