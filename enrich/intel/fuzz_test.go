package intel_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/gannet-sec/gannet/enrich/intel"
	"github.com/gannet-sec/gannet/stream"
)

// checkLoaded asserts what every loader promises: each indicator has a kind
// that Detect agrees with, and the set built from them indexes all of them
// and can be matched.
func checkLoaded(t *testing.T, inds []intel.Indicator) {
	for _, ind := range inds {
		k, _, err := intel.Detect(ind.Value, ind.Kind)
		if err != nil || k != ind.Kind {
			t.Fatalf("loader returned %+v; Detect: %v %v", ind, k, err)
		}
	}
	set, probs := intel.NewSet(inds)
	if len(probs) != 0 || set.Len() != len(inds) {
		t.Fatalf("set of %d indicators: len %d, problems %v", len(inds), set.Len(), probs)
	}
	ev := stream.Event{Source: stream.Endpoint{IP: netip.MustParseAddr("1.2.3.4")}, DNSQuestionName: "a.b.example", URLOriginal: "http://a.b.example/x"}
	set.EnrichEvent(&ev, 0)
}

func FuzzParseText(f *testing.F) {
	f.Add([]byte("# c\n1.2.3.4\n10.0.0.0/8 x\nevil[.]example\nhxxp://x.example/\n"))
	f.Add([]byte("\ufeff2001:db8::/32\nd41d8cd98f00b204e9800998ecf8427e\n*.evil.example.\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inds, _, _ := intel.ParseText(bytes.NewReader(data), "fuzz", 50)
		checkLoaded(t, inds)
	})
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("indicator,score,until\n1.2.3.4,80,2027-01-01\nx.example,0.5,1790000000\n"), "indicator")
	f.Add([]byte("1.2.3.4\n\"a\"\"b\",c\n"), "0")
	f.Fuzz(func(t *testing.T, data []byte, col string) {
		inds, _, _ := intel.ParseCSV(bytes.NewReader(data), "fuzz", intel.CSVOptions{Column: col, ConfidenceColumn: "score", ExpiryColumn: "until"})
		checkLoaded(t, inds)
	})
}

func FuzzParseSTIX(f *testing.F) {
	f.Add([]byte(bundle))
	f.Add([]byte(`{"type":"indicator","pattern":"[ipv6-addr:value = '2001:db8::1'] OR [file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']"}`))
	f.Add([]byte(`[{"type":"indicator","pattern":"[url:value = 'http://x\\\\y']","valid_until":"2020-01-01T00:00:00Z"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inds, _, _ := intel.ParseSTIX(bytes.NewReader(data), "fuzz", 50)
		checkLoaded(t, inds)
	})
}

func FuzzParsePattern(f *testing.F) {
	f.Add("[ipv4-addr:value = '1.2.3.4' OR domain-name:value = 'x']")
	f.Add("[file:hashes.'SHA-256' = 'ab'] OR [url:value = 'u']")
	f.Fuzz(func(t *testing.T, p string) {
		terms, err := intel.ParsePattern(p)
		if err == nil && len(terms) == 0 {
			t.Fatal("no terms and no error")
		}
	})
}
