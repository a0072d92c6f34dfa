package elastic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// outcome is what Elasticsearch (or the network) said about a bulk request
// or one of its items.
type outcome struct {
	Item       bool   // an item of a bulk response (else the whole request)
	Status     int    // HTTP status (request) or item status
	RetryAfter string // Retry-After header of the response, if any
	ErrType    string // Elasticsearch error type (mapper_parsing_exception…)
	Reason     string // Elasticsearch reason, with its cause
	Err        error  // transport error, when no response came back
}

// classify is the one place where Elasticsearch and transport outcomes are
// turned into classified errors; nil means success.
//
//   - transport errors, 408 and 5xx: Retryable (context errors stay as they
//     are, which stream.ClassOf also reports as Retryable);
//   - 429: Throttled, with the Retry-After delay when the server sent one;
//   - 401 and 403: Retryable (credentials, permissions or a cluster block
//     such as a full disk: not the event's fault, it must not be dead-lettered);
//   - any other 4xx (mapping conflicts, malformed values, a request too
//     large): Permanent, with Elasticsearch's error type as the reason code
//     ("es_mapper_parsing_exception") and its reason as the detail.
func classify(o outcome) error {
	if o.Err != nil {
		if errors.Is(o.Err, context.Canceled) || errors.Is(o.Err, context.DeadlineExceeded) {
			return o.Err
		}
		return &stream.Error{Class: stream.Retryable, Reason: stream.Reason{Code: "es_unavailable", Detail: o.Err.Error()}, Err: o.Err}
	}
	if o.Status >= 200 && o.Status < 300 {
		return nil
	}
	code := "es_http_" + strconv.Itoa(o.Status)
	if o.ErrType != "" {
		code = "es_" + sanitizeCode(o.ErrType)
	}
	detail := o.Reason
	if detail == "" {
		detail = http.StatusText(o.Status)
	}
	where := "bulk request"
	if o.Item {
		where = "bulk item"
	}
	detail = fmt.Sprintf("%s: status %d: %s", where, o.Status, detail)
	reason := stream.Reason{Code: code, Detail: detail}
	switch {
	case o.Status == http.StatusTooManyRequests:
		return &stream.Error{Class: stream.Throttled, Reason: reason, Delay: parseRetryAfter(o.RetryAfter, time.Now())}
	case o.Status >= 500, o.Status == http.StatusRequestTimeout,
		o.Status == http.StatusUnauthorized, o.Status == http.StatusForbidden:
		return &stream.Error{Class: stream.Retryable, Reason: reason}
	case o.Status >= 400:
		return &stream.Error{Class: stream.Permanent, Reason: reason}
	}
	// 1xx/3xx: not something the bulk API answers; try again.
	return &stream.Error{Class: stream.Retryable, Reason: reason}
}

// parseRetryAfter reads a Retry-After header (delta seconds or an HTTP
// date); 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// sanitizeCode keeps reason codes low-cardinality and metric-safe.
func sanitizeCode(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
