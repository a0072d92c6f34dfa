package elastic

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// bulkItem is one action of a bulk body: the index of its event (or alert)
// in the slice given to Write, and where its two lines are in the chunk's
// buffer.
type bulkItem struct {
	idx        int
	start, end int
}

// chunk is one bulk request's worth of actions.
type chunk struct {
	buf   []byte
	items []bulkItem
}

// bulkResponse is the part of a bulk response Gannet reads.
type bulkResponse struct {
	Errors bool                          `json:"errors"`
	Items  []map[string]bulkItemResponse `json:"items"`
}

type bulkItemResponse struct {
	Status int      `json:"status"`
	Error  *esError `json:"error"`
	Index  string   `json:"_index"`
	ID     string   `json:"_id"`
	Result string   `json:"result"`
}

type esError struct {
	Type     string   `json:"type"`
	Reason   string   `json:"reason"`
	CausedBy *esError `json:"caused_by"`
}

func (e *esError) text() string {
	if e == nil {
		return ""
	}
	s := e.Reason
	if e.CausedBy != nil && e.CausedBy.Reason != "" {
		s += " (caused by " + e.CausedBy.Type + ": " + e.CausedBy.Reason + ")"
	}
	return s
}

// errorsFalse detects the common all-success response without decoding the
// item list: Elasticsearch and OpenSearch write "took" then "errors" first.
var errorsFalse = []byte(`"errors":false`)

// post sends one bulk body and returns the per-item outcomes (nil error per
// successful item) or a request-level classified error with the HTTP status
// (0 without a response).
func (s *Sink) post(ctx context.Context, body []byte, n int) ([]error, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.bulkURL, bytes.NewReader(body))
	if err != nil {
		return nil, 0, stream.NewPermanent("es_request", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if s.cfg.SigV4 != nil {
		sum := sha256.Sum256(body)
		req.Header.Set(headerContentSHA256, hex.EncodeToString(sum[:]))
	}
	s.stats.Requests.Add(1)
	s.stats.BytesSent.Add(int64(len(body)))
	resp, err := s.httpc.Do(req)
	if err != nil {
		return nil, 0, classify(outcome{Err: err})
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, 0, classify(outcome{Err: err})
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var er struct {
			Error *esError `json:"error"`
		}
		_ = json.Unmarshal(data, &er)
		o := outcome{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
		if er.Error != nil {
			o.ErrType, o.Reason = er.Error.Type, er.Error.text()
		} else if len(data) > 0 && len(data) < 512 {
			o.Reason = string(bytes.TrimSpace(data))
		}
		return nil, resp.StatusCode, classify(o)
	}
	head := data
	if len(head) > 128 {
		head = head[:128]
	}
	if bytes.Contains(head, errorsFalse) {
		return make([]error, n), resp.StatusCode, nil
	}
	var br bulkResponse
	if err := json.Unmarshal(data, &br); err != nil {
		return nil, resp.StatusCode, &stream.Error{Class: stream.Retryable, Reason: stream.Reason{Code: "es_bad_response", Detail: err.Error()}, Err: err}
	}
	if len(br.Items) != n {
		return nil, resp.StatusCode, &stream.Error{Class: stream.Retryable, Reason: stream.Reason{Code: "es_bad_response",
			Detail: fmt.Sprintf("bulk response has %d items for %d actions", len(br.Items), n)}}
	}
	errs := make([]error, n)
	for i, m := range br.Items {
		for _, it := range m { // one key: the action name
			o := outcome{Item: true, Status: it.Status}
			if it.Error != nil {
				o.ErrType, o.Reason = it.Error.Type, it.Error.text()
			}
			errs[i] = classify(o)
		}
	}
	return errs, resp.StatusCode, nil
}

// send delivers one chunk: it posts the actions, resends only the items
// that failed with a retryable or throttled outcome (with jittered backoff,
// honouring Retry-After, within the deadline), and records the final error
// of every item that did not land in errs (indexed like the Write slice).
func (s *Sink) send(ctx context.Context, deadline time.Time, c *chunk, errs []error) {
	items := c.items
	body := c.buf
	for attempt := 0; ; attempt++ {
		itemErrs, status, reqErr := s.post(ctx, body, len(items))
		var retry []bulkItem
		var retryErrs []error
		var delay time.Duration
		if reqErr != nil {
			class, hint := stream.ClassOf(reqErr)
			if class == stream.Permanent {
				if len(items) > 1 && status == http.StatusRequestEntityTooLarge {
					// Split a request the server found too large and send
					// the halves on their own.
					h := len(items) / 2
					for _, part := range [][]bulkItem{items[:h], items[h:]} {
						sub := &chunk{items: make([]bulkItem, len(part))}
						for i, it := range part {
							st := len(sub.buf)
							sub.buf = append(sub.buf, c.buf[it.start:it.end]...)
							sub.items[i] = bulkItem{idx: it.idx, start: st, end: len(sub.buf)}
						}
						s.send(ctx, deadline, sub, errs)
					}
					return
				}
				for _, it := range items {
					errs[it.idx] = reqErr
				}
				return
			}
			retry, delay = items, hint
			for range items {
				retryErrs = append(retryErrs, reqErr)
			}
		} else {
			for i, e := range itemErrs {
				if e == nil {
					continue
				}
				class, hint := stream.ClassOf(e)
				if class == stream.Permanent {
					errs[items[i].idx] = e
					continue
				}
				retry = append(retry, items[i])
				retryErrs = append(retryErrs, e)
				delay = max(delay, hint)
			}
		}
		if len(retry) == 0 {
			return
		}
		giveUp := func() {
			for i, it := range retry {
				errs[it.idx] = retryErrs[i]
			}
		}
		wait := max(delay, s.backoff(attempt))
		if ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			giveUp()
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			giveUp()
			return
		case <-t.C:
		}
		s.stats.retried(len(retry), reqErr != nil)
		if len(retry) != len(items) {
			// Resend only the failed items.
			next := &chunk{items: make([]bulkItem, len(retry))}
			for i, it := range retry {
				st := len(next.buf)
				next.buf = append(next.buf, c.buf[it.start:it.end]...)
				next.items[i] = bulkItem{idx: it.idx, start: st, end: len(next.buf)}
			}
			c = next
			items, body = c.items, c.buf
		}
	}
}

// backoff is full-jitter exponential backoff: a random wait in
// [base/2, min(max, base·2^attempt)].
func (s *Sink) backoff(attempt int) time.Duration {
	ceil := s.cfg.InitialBackoff << min(attempt, 20)
	if ceil > s.cfg.MaxBackoff || ceil <= 0 {
		ceil = s.cfg.MaxBackoff
	}
	lo := s.cfg.InitialBackoff / 2
	if ceil <= lo {
		return ceil
	}
	return lo + rand.N(ceil-lo)
}
