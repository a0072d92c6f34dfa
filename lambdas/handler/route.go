package handler

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gannet-sec/gannet/lambdas/emf"
	"github.com/gannet-sec/gannet/stream/partition"
)

// Router is the part of partition.Router a Route handler needs.
type Router interface {
	Route(ctx context.Context, recs []partition.Record) partition.Result
}

// Route handles Kinesis events for the partition and aggregate Lambdas:
// every user record goes to its output stream; the response names the first
// input record whose output did not land (ReportBatchItemFailures), so the
// event source mapping retries from there. Records after it that did land
// are sent again by that retry: outputs are at least once.
type Route struct {
	Router Router
	// Margin: stop resending this long before the deadline (default 2s).
	Margin  time.Duration
	Logger  *slog.Logger
	Metrics *emf.Emitter

	recs []partition.Record
}

// Handle routes one Kinesis event.
func (h *Route) Handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	margin := h.Margin
	if margin == 0 {
		margin = 2 * time.Second
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
	h.recs = h.recs[:0]
	for i := range ev.Records {
		h.recs = append(h.recs, partition.Record{Data: ev.Records[i].Kinesis.Data, PartitionKey: ev.Records[i].Kinesis.PartitionKey})
	}
	res := h.Router.Route(work, h.recs)
	clear(h.recs)
	var resp events.KinesisEventResponse
	failed := 0
	if res.FirstFailed >= 0 {
		failed = len(ev.Records) - res.FirstFailed
		r := ev.Records[res.FirstFailed]
		logger.LogAttrs(ctx, slog.LevelWarn, "output did not land; the event source mapping retries from this record",
			slog.String("sequence", r.Kinesis.SequenceNumber), slog.Int("records", len(ev.Records)), slog.Any("error", res.Err))
		resp.BatchItemFailures = failure(r)
	}
	if h.Metrics != nil {
		_ = h.Metrics.Emit(nil,
			emf.Metric{Name: "RecordsIn", Unit: emf.Count, Value: float64(len(ev.Records))},
			emf.Metric{Name: "UserRecords", Unit: emf.Count, Value: float64(res.UserRecords)},
			emf.Metric{Name: "RecordsOut", Unit: emf.Count, Value: float64(res.OutputRecords)},
			emf.Metric{Name: "Resent", Unit: emf.Count, Value: float64(res.Resent)},
			emf.Metric{Name: "RecordsFailed", Unit: emf.Count, Value: float64(failed)},
			emf.Metric{Name: "IteratorAge", Unit: emf.Milliseconds, Value: float64(iteratorAge(ev).Milliseconds())},
		)
		for _, s := range sortedKeys(res.PerOutput) {
			_ = h.Metrics.Emit([]emf.Dim{{Name: "Output", Value: s}}, emf.Metric{Name: "UserRecordsOut", Unit: emf.Count, Value: float64(res.PerOutput[s])})
		}
	}
	return resp, nil
}

func iteratorAge(ev events.KinesisEvent) time.Duration {
	return emf.IteratorAge(time.Now(), func(yield func(time.Time) bool) {
		for i := range ev.Records {
			if !yield(ev.Records[i].Kinesis.ApproximateArrivalTimestamp.Time) {
				return
			}
		}
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
