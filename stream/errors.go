package stream

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Class is how an error must be handled. Errors are classified once, where
// they are first understood, and handled by class everywhere else.
type Class uint8

const (
	// Retryable: transient; retry with jittered backoff within the deadline.
	Retryable Class = iota
	// Permanent: bad input or a rejection that will not change; dead-letter
	// with the reason and go on.
	Permanent
	// Throttled: the backend asked us to slow down; retry after the hinted delay.
	Throttled
)

func (c Class) String() string {
	switch c {
	case Permanent:
		return "permanent"
	case Throttled:
		return "throttled"
	}
	return "retryable"
}

// Reason is a dead-letter reason: a stable, low-cardinality code (used in
// counters and metrics) and a human detail.
type Reason struct {
	Code   string // e.g. "kpl_md5_mismatch", "gzip_too_large", "cloudtrail_invalid_json"
	Detail string
}

func (r Reason) String() string {
	if r.Detail == "" {
		return r.Code
	}
	return r.Code + ": " + r.Detail
}

// Error is a classified error.
type Error struct {
	Class  Class
	Reason Reason
	Delay  time.Duration // hint for Throttled
	Err    error         // the underlying error, if any
}

func (e *Error) Error() string {
	if e.Err != nil && e.Reason.Detail == "" {
		return e.Reason.Code + ": " + e.Err.Error()
	}
	return e.Reason.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Permanentf returns a Permanent error with a reason code and formatted detail.
func Permanentf(code, format string, args ...any) error {
	return &Error{Class: Permanent, Reason: Reason{Code: code, Detail: fmt.Sprintf(format, args...)}}
}

// NewPermanent wraps err as Permanent with a reason code.
func NewPermanent(code string, err error) error {
	return &Error{Class: Permanent, Reason: Reason{Code: code, Detail: err.Error()}, Err: err}
}

// NewThrottled wraps err as Throttled with a delay hint (0: use backoff).
func NewThrottled(err error, delay time.Duration) error {
	return &Error{Class: Throttled, Reason: Reason{Code: "throttled", Detail: err.Error()}, Delay: delay, Err: err}
}

// NewRetryable wraps err as Retryable.
func NewRetryable(err error) error {
	return &Error{Class: Retryable, Reason: Reason{Code: "retryable", Detail: err.Error()}, Err: err}
}

// ClassOf returns the class of err: the class of the first *Error in its
// chain; context cancellation and deadline are Retryable (the work is not
// done, the record must not be acked); anything unclassified is Retryable.
func ClassOf(err error) (Class, time.Duration) {
	var e *Error
	if errors.As(err, &e) {
		return e.Class, e.Delay
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Retryable, 0
	}
	return Retryable, 0
}

// ReasonOf returns the dead-letter reason of err.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		if e.Reason.Detail == "" && e.Err != nil {
			return Reason{Code: e.Reason.Code, Detail: e.Err.Error()}
		}
		return e.Reason
	}
	return Reason{Code: "error", Detail: err.Error()}
}

// ErrSkip is returned by a parser for a unit that carries no event (a header
// or comment line). The unit is counted as skipped, not dead-lettered.
var ErrSkip = errors.New("unit carries no event")
