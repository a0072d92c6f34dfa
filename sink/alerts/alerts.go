// Package alerts delivers Gannet alerts to people and their tools: an SNS
// topic (SNS) and a Slack-compatible incoming webhook (Webhook). Both
// implement stream.AlertSink with the same promises:
//
//   - at least once: Alerts returns nil only when every alert given was
//     accepted by the receiver; otherwise a classified error (stream.ClassOf)
//     for the caller to retry the batch;
//   - idempotent by alert id where the receiver allows it: each sink
//     remembers the ids it delivered (bounded, most recent kept) and skips
//     them when a batch is retried, SNS FIFO topics get the alert id as
//     MessageDeduplicationId, and every message carries the id for receivers
//     to deduplicate;
//   - throttling (SNS throttling errors, HTTP 429) and transient failures
//     (5xx, connection errors) are retried inside Alerts with jittered
//     exponential backoff, honouring Retry-After, until MaxAttempts or the
//     context ends; rejections that will not change (4xx, invalid
//     parameters) are Permanent;
//   - secrets stay out of errors and logs: the webhook URL (which is the
//     credential) is never logged nor put in an error.
package alerts

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"time"

	"github.com/gannet-sec/gannet/sink/alertout"
	"github.com/gannet-sec/gannet/stream"
)

// Retry bounds the retries of one alert.
type Retry struct {
	// MaxAttempts is the number of tries per alert (default 5).
	MaxAttempts int
	// InitialBackoff and MaxBackoff bound the jittered exponential backoff
	// (default 200ms and 10s).
	InitialBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps the wait a receiver's Retry-After may ask for
	// (default 1 minute); a longer hint waits this long. Every wait also
	// ends with the context.
	MaxRetryAfter time.Duration
}

func (r *Retry) defaults() {
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 5
	}
	if r.InitialBackoff <= 0 {
		r.InitialBackoff = 200 * time.Millisecond
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 10 * time.Second
	}
	if r.MaxRetryAfter <= 0 {
		r.MaxRetryAfter = time.Minute
	}
}

// backoff is the wait before attempt n+1 (n from 0), at least hint.
func (r *Retry) backoff(n int, hint time.Duration) time.Duration {
	d := r.InitialBackoff << min(n, 20)
	d = min(d, r.MaxBackoff)
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) // jitter in [d/2, d]
	if hint > d {
		d = min(hint, r.MaxRetryAfter)
	}
	return d
}

// do runs fn until it succeeds, fails permanently, runs out of attempts or
// ctx ends; the error of the last attempt is returned (classified).
func (r *Retry) do(ctx context.Context, fn func() error) error {
	var err error
	for n := 0; n < r.MaxAttempts; n++ {
		if err = fn(); err == nil {
			return nil
		}
		class, hint := stream.ClassOf(err)
		if class == stream.Permanent || n == r.MaxAttempts-1 {
			return err
		}
		t := time.NewTimer(r.backoff(n, hint))
		select {
		case <-ctx.Done():
			t.Stop()
			return stream.NewRetryable(err)
		case <-t.C:
		}
	}
	return err
}

// delivered remembers the most recent delivered alert ids.
type delivered struct {
	max  int
	set  map[stream.EventID]struct{}
	ring []stream.EventID
	next int
}

func newDelivered(n int) *delivered {
	if n <= 0 {
		n = 10000
	}
	return &delivered{max: n, set: map[stream.EventID]struct{}{}}
}

func (d *delivered) has(id stream.EventID) bool { _, ok := d.set[id]; return ok }

func (d *delivered) add(id stream.EventID) {
	if d.has(id) {
		return
	}
	if len(d.ring) < d.max {
		d.ring = append(d.ring, id)
	} else {
		delete(d.set, d.ring[d.next])
		d.ring[d.next] = id
		d.next = (d.next + 1) % d.max
	}
	d.set[id] = struct{}{}
}

// document is the JSON form of an alert (the same as alertout's JSON lines).
func document(a *stream.Alert) ([]byte, error) { return json.Marshal(alertout.Document(a)) }
