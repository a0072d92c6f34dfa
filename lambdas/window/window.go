package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gannet-sec/gannet/detect/window"
	"github.com/gannet-sec/gannet/lambdas/emf"
	"github.com/gannet-sec/gannet/lambdas/handler"
	"github.com/gannet-sec/gannet/stream"
)

// Correlator is the pure window step (detect/window.Correlator fits).
type Correlator interface {
	Invoke(tw events.TimeWindowProperties, evs []stream.Event) (window.Result, error)
}

// Deliverer delivers alerts durably (coldstart.Alerts fits).
type Deliverer interface {
	Deliver(ctx context.Context, alerts []stream.Alert) error
}

// Handler folds each batch of a Kinesis tumbling window into the state the
// event source mapping carries between invocations, and on the window's
// final invocation delivers the correlation alerts.
type Handler struct {
	// Pipeline decodes and parses the records; its only sink is the
	// Capture of this handler (see newPipeline), so the events reach the correlator.
	Pipeline handler.Processor
	Capture  *Capture
	Corr     Correlator
	Alerts   Deliverer
	// FormatFor gives the configured format of a stream ARN (nil: sniff).
	FormatFor func(string) stream.Format
	Logger    *slog.Logger
	Metrics   *emf.Emitter

	recs []stream.Record
}

// Handle processes one invocation of a tumbling window.
func (h *Handler) Handle(ctx context.Context, ev events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error) {
	var resp events.KinesisTimeWindowEventResponse
	h.recs = handler.Records(h.recs[:0], ev.Records, h.FormatFor)
	h.Capture.reset(ev.TimeWindowProperties, h.Corr)
	res := h.Pipeline.Process(ctx, h.recs)
	clear(h.recs)
	if len(res.Failed) > 0 {
		// Nothing of this batch is folded in: keep the state as it came and
		// let the event source mapping retry from the first unfinished record.
		first := ev.Records[res.Failed[0]]
		h.logger().LogAttrs(ctx, slog.LevelWarn, "records not acknowledged; the window's state is kept and the batch retried",
			slog.String("sequence", first.Kinesis.SequenceNumber), slog.Any("error", res.Err))
		resp.State = ev.State
		resp.BatchItemFailures = []events.KinesisBatchItemFailure{{ItemIdentifier: first.Kinesis.SequenceNumber}}
		return resp, nil
	}
	out, err := h.Capture.result()
	if err != nil {
		return resp, fmt.Errorf("window %s: %w", ev.Window.Start, err)
	}
	if len(out.Alerts) > 0 {
		if err := h.Alerts.Deliver(ctx, out.Alerts); err != nil {
			// The final invocation is retried with the same state: alert ids are stable.
			return resp, fmt.Errorf("delivering %d correlation alerts: %w", len(out.Alerts), err)
		}
	}
	resp.State = out.State
	if h.Metrics != nil {
		_ = h.Metrics.Emit(nil,
			emf.Metric{Name: "RecordsIn", Unit: emf.Count, Value: float64(len(ev.Records))},
			emf.Metric{Name: "Alerts", Unit: emf.Count, Value: float64(len(out.Alerts))},
			emf.Metric{Name: "WindowGroups", Unit: emf.Count, Value: float64(out.Groups)},
			emf.Metric{Name: "StateBytes", Unit: emf.Bytes, Value: float64(out.StateBytes)},
			emf.Metric{Name: "DroppedGroups", Unit: emf.Count, Value: float64(out.DroppedGroups)},
			emf.Metric{Name: "IteratorAge", Unit: emf.Milliseconds, Value: float64(iteratorAge(ev).Milliseconds())},
		)
	}
	return resp, nil
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func iteratorAge(ev events.KinesisTimeWindowEvent) time.Duration {
	return emf.IteratorAge(time.Now(), func(yield func(t time.Time) bool) {
		for i := range ev.Records {
			if !yield(ev.Records[i].Kinesis.ApproximateArrivalTimestamp.Time) {
				return
			}
		}
	})
}

// Capture is the pipeline sink that hands a batch's events to the window
// correlator (one Write per invocation: the handler runs the whole batch
// as one pipeline batch). Events are owned by the pipeline; the correlator
// keeps nothing of them.
type Capture struct {
	tw     events.TimeWindowProperties
	corr   Correlator
	called bool
	res    window.Result
	err    error
}

func (c *Capture) reset(tw events.TimeWindowProperties, corr Correlator) {
	*c = Capture{tw: tw, corr: corr}
}

// result runs the correlator on an empty batch when no event reached Write
// (the final invocation of a window may carry no record).
func (c *Capture) result() (window.Result, error) {
	if !c.called {
		c.called = true
		c.res, c.err = c.corr.Invoke(c.tw, nil)
	}
	return c.res, c.err
}

// Name implements stream.Sink.
func (c *Capture) Name() string { return "window" }

// Write implements stream.Sink.
func (c *Capture) Write(ctx context.Context, evs []stream.Event) error {
	if c.called {
		return stream.NewRetryable(fmt.Errorf("window sink: a second batch in one invocation"))
	}
	c.called = true
	c.res, c.err = c.corr.Invoke(c.tw, evs)
	if c.err != nil {
		return stream.NewRetryable(c.err)
	}
	return nil
}

// Flush implements stream.Sink (the state is returned to Lambda, nothing to flush).
func (c *Capture) Flush(context.Context) error { return nil }

// Close implements stream.Sink.
func (c *Capture) Close(context.Context) error { return nil }

var _ stream.Sink = (*Capture)(nil)
