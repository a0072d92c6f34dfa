// Package handler adapts the pipeline core to Lambda event shapes. Each
// Lambda's main.go builds a handler once at cold start and passes its Handle
// method to lambda.Start.
package handler

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gannet-sec/gannet/lambdas/emf"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/kinesisevent"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

// Processor is the part of the pipeline a handler needs.
type Processor interface {
	Process(ctx context.Context, recs []stream.Record) pipeline.Result
}

// Kinesis handles Kinesis events with ReportBatchItemFailures semantics:
// records are processed in order, in chunks; the response names the lowest
// sequence number that is not durable, so the event source mapping retries
// from there and everything before it counts as done.
type Kinesis struct {
	Pipeline Processor
	// FormatFor gives the configured format of a stream ARN (nil: sniff).
	FormatFor func(source string) stream.Format
	// Margin: stop starting new chunks this long before the deadline, so the
	// function returns what it finished instead of timing out (default 2s).
	Margin time.Duration
	// ChunkSize is the largest number of Kinesis records per pipeline batch
	// (default 500).
	ChunkSize int
	// ChunkBytes, when positive, also ends a pipeline batch once its records
	// hold this many bytes of data (a record larger than it is a batch of
	// its own). Each pipeline batch is flushed, so each costs a lake file
	// per table and partition: a byte bound keeps batches of small records
	// (VPC flow lines) large, and batches of large ones (CloudTrail, gzip
	// or KPL aggregates) small.
	ChunkBytes int
	Logger     *slog.Logger
	// Metrics, when set, receives one EMF report per invocation: the
	// pipeline counters of the invocation (from Stats) and the iterator age.
	Metrics *emf.Emitter
	// Stats returns the pipeline's cumulative counters (for Metrics).
	Stats func() pipeline.Stats

	recs []stream.Record
	prev pipeline.Stats
}

// Handle processes one Kinesis event.
func (h *Kinesis) Handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	resp, err := h.handle(ctx, ev)
	if h.Metrics != nil {
		h.report(ev)
	}
	return resp, err
}

// report emits the invocation's metrics.
func (h *Kinesis) report(ev events.KinesisEvent) {
	inv := emf.Invocation{IteratorAge: iteratorAge(ev)}
	if h.Stats != nil {
		cur := h.Stats()
		inv.Stats = emf.Delta(h.prev, cur)
		h.prev = cur
	}
	_ = h.Metrics.Report(inv)
}

func (h *Kinesis) handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	margin := h.Margin
	if margin == 0 {
		margin = 2 * time.Second
	}
	chunk := h.ChunkSize
	if chunk <= 0 {
		chunk = 500
	}
	logger := h.Logger
	if logger == nil {
		logger = slog.Default()
	}
	work := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, dl.Add(-margin))
		defer cancel()
	}
	h.recs = Records(h.recs[:0], ev.Records, h.FormatFor)
	var resp events.KinesisEventResponse
	for start, end := 0, 0; start < len(h.recs); start = end {
		end = chunkEnd(h.recs, start, chunk, h.ChunkBytes)
		if work.Err() != nil {
			logger.LogAttrs(ctx, slog.LevelWarn, "deadline near: leaving the rest of the batch for a retry",
				slog.Int("done", start), slog.Int("records", len(h.recs)))
			resp.BatchItemFailures = failure(ev.Records[start])
			return resp, nil
		}
		res := h.Pipeline.Process(work, h.recs[start:end])
		if len(res.Failed) > 0 {
			first := start + res.Failed[0]
			logger.LogAttrs(ctx, slog.LevelWarn, "records not acknowledged; the event source mapping retries from the first",
				slog.Int("failed", len(res.Failed)), slog.String("sequence", ev.Records[first].Kinesis.SequenceNumber),
				slog.Any("error", res.Err))
			resp.BatchItemFailures = failure(ev.Records[first])
			return resp, nil
		}
	}
	clear(h.recs)
	return resp, nil
}

// chunkEnd returns the end of the pipeline batch that starts at start: at
// most size records and, when maxBytes > 0, at most maxBytes of data (but
// at least one record).
func chunkEnd(recs []stream.Record, start, size, maxBytes int) int {
	end := min(start+size, len(recs))
	if maxBytes <= 0 {
		return end
	}
	n := 0
	for i := start; i < end; i++ {
		n += len(recs[i].Data)
		if n > maxBytes && i > start {
			return i
		}
	}
	return end
}

func failure(r events.KinesisEventRecord) []events.KinesisBatchItemFailure {
	return []events.KinesisBatchItemFailure{{ItemIdentifier: r.Kinesis.SequenceNumber}}
}

// Records converts Kinesis event records to pipeline records with full
// lineage (stream ARN, shard, sequence number) and the configured format of
// their stream, appending to dst.
func Records(dst []stream.Record, in []events.KinesisEventRecord, formatFor func(string) stream.Format) []stream.Record {
	for i := range in {
		rec := kinesisevent.Record(&in[i])
		if formatFor != nil {
			rec.Format = formatFor(rec.Lineage.Source)
		}
		dst = append(dst, rec)
	}
	return dst
}
