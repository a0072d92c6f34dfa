// Command window is the Kinesis tumbling-window correlation Lambda: the
// event source mapping (TumblingWindowInSeconds, ReportBatchItemFailures)
// passes the window's state between invocations; detect/window folds each
// batch's events into it and, on the window's final invocation, the Sigma
// correlations over their threshold become alerts for the alert outputs.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/gannet-sec/gannet/detect"
	"github.com/gannet-sec/gannet/detect/sigma"
	"github.com/gannet-sec/gannet/detect/window"
	"github.com/gannet-sec/gannet/lambdas/coldstart"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

func main() {
	ctx := context.Background()
	c := coldstart.Must(coldstart.Pipeline(ctx, "window"))
	h := coldstart.Must(newHandler(ctx, c))
	lambda.Start(h.Handle)
}

// newHandler builds the window's pipeline from the parts setup built
// (decoder, enrichment, dead-letter store) with the window sink in place of
// the configured sinks, the correlator from the built-in and configured rules,
// and the alert outputs.
func newHandler(ctx context.Context, c *coldstart.Core) (*Handler, error) {
	var rules []*sigma.Rule
	if !c.Config.NoBuiltinRules {
		rs, err := detect.BuiltinRules()
		if err != nil {
			return nil, err
		}
		rules = rs
	}
	for _, dir := range c.Config.Rules {
		rs, _, err := detect.LoadDir(dir)
		if err != nil {
			return nil, err
		}
		rules = append(rules, rs...)
	}
	corr, err := window.New(rules, window.Options{})
	if err != nil {
		return nil, err
	}
	c.Logger.Info("window correlations", "rules", corr.Rules())
	capture := &Capture{}
	var enricher stream.Enricher
	if c.Built.Enricher != nil {
		enricher = c.Built.Enricher
	}
	p, err := pipeline.New(pipeline.Config{
		Decoder:    c.Built.Decoder,
		Parsers:    format.NewSet(format.Options{VPCFlowFields: c.Config.VPCFlowFieldList()}),
		Enricher:   enricher,
		Sinks:      []stream.Sink{capture},
		DeadLetter: c.Built.DeadLetter,
		Logger:     c.Logger,
	})
	if err != nil {
		return nil, err
	}
	alerts, err := coldstart.AlertSinks(ctx, c.Config, c.Logger)
	if err != nil {
		return nil, err
	}
	return &Handler{Pipeline: p, Capture: capture, Corr: corr, Alerts: alerts, FormatFor: c.Config.FormatFor,
		Logger: c.Logger, Metrics: c.Metrics}, nil
}
