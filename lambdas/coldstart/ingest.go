package coldstart

import "github.com/gannet-sec/gannet/lambdas/handler"

// Kinesis is the ingest Lambda's handler around a built pipeline: what
// lambdas/ingest passes to lambda.Start, and what the benchmarks measure.
func (c *Core) Kinesis() *handler.Kinesis {
	return &handler.Kinesis{
		Pipeline:  c.Built.Pipeline,
		FormatFor: c.Config.FormatFor,
		Margin:    c.Config.DeadlineMargin,
		Logger:    c.Logger,
		Metrics:   c.Metrics,
		Stats:     c.Built.Pipeline.Stats,
	}
}
