package demo_test

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/gannet-sec/gannet/enrich/intel"
	"github.com/gannet-sec/gannet/enrich/intel/demo"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/gen"
)

// TestDemoListsGeneratorIndicators keeps the demo feed in step with the
// indicators the generators embed.
func TestDemoListsGeneratorIndicators(t *testing.T) {
	inds, probs, err := intel.ParseText(bytes.NewReader(demo.Text), demo.FeedName, demo.Confidence)
	if err != nil || len(probs) != 0 {
		t.Fatalf("err=%v problems=%v", err, probs)
	}
	listed := map[string]bool{}
	for _, ind := range inds {
		listed[ind.Value] = true
	}
	for _, want := range []string{gen.AttackerIP, gen.ScannerIP, gen.BadDomain} {
		if !listed[want] {
			t.Errorf("demo feed does not list %s", want)
		}
	}
	set := demo.Set()
	ev := stream.Event{Source: stream.Endpoint{IP: netip.MustParseAddr(gen.AttackerIP)}, DNSQuestionName: "beacon." + gen.BadDomain}
	set.EnrichEvent(&ev, 0)
	if len(ev.Threat) != 2 || ev.Threat[0].Feed != demo.FeedName {
		t.Fatalf("threat = %+v", ev.Threat)
	}
}
