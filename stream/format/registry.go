// Package format binds Gannet's log formats together: the parser of each
// format, sniffing for `--format auto`, and the generators of `gannet gen`.
package format

import (
	"fmt"
	"io"
	"strings"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/alb"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/format/guardduty"
	"github.com/gannet-sec/gannet/stream/format/jsonlog"
	"github.com/gannet-sec/gannet/stream/format/route53resolver"
	"github.com/gannet-sec/gannet/stream/format/s3access"
	"github.com/gannet-sec/gannet/stream/format/vpcflow"
	"github.com/gannet-sec/gannet/stream/format/waf"
	"github.com/gannet-sec/gannet/stream/gen"
)

// Options configure the parsers.
type Options struct {
	// VPCFlowFields is the custom VPC Flow Logs field list (nil: default v2
	// format, or the header line found in the data).
	VPCFlowFields []string
}

// Set holds one parser per format. Like the parsers it holds, a Set is used
// by one goroutine.
type Set struct {
	parsers [16]stream.Parser
}

// NewSet returns the parsers of every format.
func NewSet(o Options) *Set {
	s := &Set{}
	for _, p := range []stream.Parser{
		cloudtrail.NewParser(), alb.NewParser(), vpcflow.NewParser(o.VPCFlowFields), waf.NewParser(),
		route53resolver.NewParser(), s3access.NewParser(), guardduty.NewParser(), jsonlog.NewParser(),
	} {
		s.parsers[p.Format()] = p
	}
	return s
}

// For returns the parser for f or, when f is FormatUnknown, the one chosen by Sniff.
func (s *Set) For(f stream.Format, data []byte) stream.Parser {
	if f == stream.FormatUnknown {
		f = Sniff(data)
	}
	if int(f) >= len(s.parsers) {
		return nil
	}
	return s.parsers[f]
}

// sniffers in priority order: specific formats first, generic JSON last.
var sniffers = []struct {
	f     stream.Format
	sniff func([]byte) bool
}{
	{stream.FormatCloudTrail, cloudtrail.Sniff},
	{stream.FormatWAF, waf.Sniff},
	{stream.FormatRoute53Resolver, route53resolver.Sniff},
	{stream.FormatGuardDuty, guardduty.Sniff},
	{stream.FormatALB, alb.Sniff},
	{stream.FormatS3Access, s3access.Sniff},
	{stream.FormatVPCFlow, vpcflow.Sniff},
	{stream.FormatJSON, jsonlog.Sniff},
}

// Sniff guesses the format of one unit; FormatUnknown when nothing fits.
func Sniff(data []byte) stream.Format {
	for _, s := range sniffers {
		if s.sniff(data) {
			return s.f
		}
	}
	return stream.FormatUnknown
}

var generators = map[stream.Format]func(io.Writer, gen.Options) error{
	stream.FormatCloudTrail:      cloudtrail.Generate,
	stream.FormatALB:             alb.Generate,
	stream.FormatVPCFlow:         vpcflow.Generate,
	stream.FormatWAF:             waf.Generate,
	stream.FormatRoute53Resolver: route53resolver.Generate,
	stream.FormatS3Access:        s3access.Generate,
	stream.FormatGuardDuty:       guardduty.Generate,
}

// Generatable lists the formats `gannet gen` can write.
func Generatable() []stream.Format {
	var out []stream.Format
	for _, f := range stream.Formats() {
		if generators[f] != nil {
			out = append(out, f)
		}
	}
	return out
}

// Generate writes o.Count deterministic log entries of format f to w.
func Generate(f stream.Format, w io.Writer, o gen.Options) error {
	g := generators[f]
	if g == nil {
		names := make([]string, 0, len(generators))
		for _, f := range Generatable() {
			names = append(names, f.String())
		}
		return fmt.Errorf("no generator for format %q (have: %s)", f, strings.Join(names, ", "))
	}
	if err := o.Validate(); err != nil {
		return err
	}
	return g(w, o)
}
