package coldstart

import "github.com/gannet-sec/gannet/lambdas/handler"

// Kinesis is the ingest Lambda's handler around a built pipeline: what
// lambdas/ingest passes to lambda.Start, and what the benchmarks measure.
// It cuts an invocation into pipeline batches of the handler's default 500
// records, each flushed. Larger batches (handler.Kinesis.ChunkBytes) cost
// less per record but are not used yet: when one sink fails part of a
// batch, the lake still commits the rows of the records that are then
// retried, and larger batches make that duplication likely (see
// benchmarks/REPORT.md, "One ingest Lambda invocation").
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
