// Package demo embeds Gannet's demo threat-intel feed, which lists the
// indicators the log generators embed (stream/gen), so that `make run` and
// tests show threat matches without any outside feed.
package demo

import (
	"bytes"
	_ "embed"

	"github.com/gannet-sec/gannet/enrich/intel"
)

// Text is the demo feed, a plain-text indicator list.
//
//go:embed demo-intel.txt
var Text []byte

// FeedName is the feed name demo indicators carry.
const FeedName = "gannet-demo"

// Confidence is the confidence demo indicators carry.
const Confidence = 90

// Set returns the demo feed as an indicator set.
func Set() *intel.Set {
	inds, _, _ := intel.ParseText(bytes.NewReader(Text), FeedName, Confidence)
	set, _ := intel.NewSet(inds)
	return set
}
