package handler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gannet-sec/gannet/lambdas/emf"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

// GetObjectAPI is the one S3 call the s3event handler makes (*s3.Client fits).
type GetObjectAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// SendMessageAPI is the one SQS call the s3event handler makes to hand the
// rest of an object to a follow-up invocation (*sqs.Client fits).
type SendMessageAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Continuation is the state passed between invocations for an object that
// did not fit one: where to resume in the uncompressed object. It travels
// as the body of an SQS message {"gannet_s3_continuation":{…}} on the
// function's own queue.
type Continuation struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	// Offset is the uncompressed byte offset of the first record not yet
	// done; Line its line number; Layout how the object is split.
	Offset int64  `json:"offset"`
	Line   int64  `json:"line,omitempty"`
	Layout string `json:"layout,omitempty"`
	// Part counts the invocations the object has taken so far.
	Part int `json:"part"`
}

// maxParts bounds the invocations one object may take, so that a function
// whose timeout leaves no time for work does not loop forever.
const maxParts = 1000

type continuationBody struct {
	C *Continuation `json:"gannet_s3_continuation"`
}

// S3 handles S3 object-created notifications (direct S3 events, SNS, SQS
// or EventBridge) by streaming each object through the pipeline with
// bounded memory. An object that does not fit one invocation continues in
// the next: before the deadline the handler sends a Continuation to Queue
// and acknowledges the message it was working on.
type S3 struct {
	Pipeline Processor
	S3       GetObjectAPI
	// SQS and QueueURL receive continuations; without them an object that
	// does not fit one invocation fails (and is retried from its start).
	SQS      SendMessageAPI
	QueueURL string
	// DeadLetter receives records too large to process.
	DeadLetter stream.DeadLetterSink
	// FormatFor gives the configured format of "bucket/key" (nil: sniff).
	FormatFor func(source string) stream.Format
	// Margin: stop this long before the deadline (default 2s).
	Margin time.Duration
	// BatchRecords and BatchBytes bound one pipeline batch (default 1000, 4 MiB).
	BatchRecords, BatchBytes int
	// MaxRecord caps one line or element (default 64 MiB); longer ones are dead-lettered.
	MaxRecord int
	Logger    *slog.Logger
	Metrics   *emf.Emitter
	Stats     func() pipeline.Stats

	prev pipeline.Stats
}

// Handle accepts any of the notification shapes and answers an SQS event
// with its batch item failures (nil for the other shapes, which fail as a
// whole with an error).
func (h *S3) Handle(ctx context.Context, payload json.RawMessage) (any, error) {
	n, err := ParseNotification(payload)
	if err != nil {
		return nil, err
	}
	defer h.report()
	work, cancel := h.workContext(ctx)
	defer cancel()
	if n.SQS {
		resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
		for _, m := range n.Messages {
			if err := h.message(ctx, work, m); err != nil {
				h.logger().LogAttrs(ctx, slog.LevelWarn, "message not finished; SQS redelivers it",
					slog.String("message_id", m.ID), slog.Any("error", err))
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.ID})
			}
		}
		return resp, nil
	}
	var errs []error
	for _, m := range n.Messages {
		errs = append(errs, h.message(ctx, work, m))
	}
	return nil, errors.Join(errs...)
}

func (h *S3) workContext(ctx context.Context) (context.Context, context.CancelFunc) {
	margin := h.Margin
	if margin == 0 {
		margin = 2 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-margin))
	}
	return context.WithCancel(ctx)
}

func (h *S3) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func (h *S3) report() {
	if h.Metrics == nil || h.Stats == nil {
		return
	}
	cur := h.Stats()
	_ = h.Metrics.Report(emf.Invocation{Stats: emf.Delta(h.prev, cur)})
	h.prev = cur
}

// message processes the objects of one notification message. It returns
// nil when every object is done or handed to a continuation.
func (h *S3) message(ctx, work context.Context, m Message) error {
	var errs []error
	for _, c := range m.Objects {
		if work.Err() != nil {
			// Not started: hand the whole object on.
			errs = append(errs, h.continueLater(ctx, c, "deadline near before the object started"))
			continue
		}
		next, err := h.Object(work, c)
		switch {
		case next == nil:
			errs = append(errs, err)
		case err == nil || next.Offset > c.Offset:
			// The deadline came, or records failed after some progress: the
			// rest goes to a follow-up invocation.
			why := "deadline near"
			if err != nil {
				why = err.Error()
			}
			errs = append(errs, h.continueLater(ctx, *next, why))
		default:
			// No progress at all: let the queue's redrive policy count it.
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (h *S3) continueLater(ctx context.Context, c Continuation, why string) error {
	if c.Part >= maxParts {
		return fmt.Errorf("s3://%s/%s stopped at offset %d (%s) after %d invocations: giving up (raise the function's timeout)", c.Bucket, c.Key, c.Offset, why, c.Part+1)
	}
	if h.SQS == nil || h.QueueURL == "" {
		return fmt.Errorf("s3://%s/%s stopped at offset %d (%s) and no continuation queue is configured (GANNET_S3EVENT_QUEUE_URL)", c.Bucket, c.Key, c.Offset, why)
	}
	c.Part++
	body, _ := json.Marshal(continuationBody{C: &c})
	// The continuation is sent on the caller's context: the work context has ended.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := h.SQS.SendMessage(sctx, &sqs.SendMessageInput{QueueUrl: aws.String(h.QueueURL), MessageBody: aws.String(string(body))}); err != nil {
		return fmt.Errorf("s3://%s/%s: sending the continuation at offset %d: %w", c.Bucket, c.Key, c.Offset, err)
	}
	h.logger().LogAttrs(ctx, slog.LevelInfo, "object continues in a follow-up invocation",
		slog.String("bucket", c.Bucket), slog.String("key", c.Key), slog.Int64("offset", c.Offset), slog.Int("part", c.Part), slog.String("why", why))
	return nil
}

// Object streams one object from c.Offset through the pipeline. It returns
// (nil, nil) when the object is done; otherwise the continuation to resume
// from (the first record not done) and, when records failed, why.
func (h *S3) Object(ctx context.Context, c Continuation) (*Continuation, error) {
	out, err := h.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(c.Key)})
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", c.Bucket, c.Key, err)
	}
	defer out.Body.Close()
	maxRec := h.MaxRecord
	if maxRec <= 0 {
		maxRec = 64 << 20
	}
	sp, err := NewSplitter(out.Body, c.Layout, c.Offset, c.Line, maxRec)
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: %w", c.Bucket, c.Key, err)
	}
	defer sp.Close()
	c.Layout = sp.Layout
	f := stream.FormatUnknown
	if h.FormatFor != nil {
		f = h.FormatFor(c.Bucket + "/" + c.Key)
	}
	if f == stream.FormatUnknown && sp.Layout == LayoutRecords {
		f = stream.FormatCloudTrail
	}
	maxRecs, maxBytes := h.BatchRecords, h.BatchBytes
	if maxRecs <= 0 {
		maxRecs = 1000
	}
	if maxBytes <= 0 {
		maxBytes = 4 << 20
	}
	var (
		recs  []stream.Record
		arena []byte
		ends  []int64 // offset just after each record
		lines []int64 // line at that offset
	)
	resume := c // where to resume: after the last finished batch
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		res := h.Pipeline.Process(ctx, recs)
		if len(res.Failed) > 0 {
			k := res.Failed[0]
			resume.Offset, resume.Line = recs[k].Lineage.Offset, recs[k].Lineage.Line
			if res.Err == nil {
				res.Err = errors.New("records not acknowledged")
			}
			return res.Err
		}
		resume.Offset, resume.Line = ends[len(ends)-1], lines[len(lines)-1]
		recs, arena, ends, lines = recs[:0], arena[:0], ends[:0], lines[:0]
		return nil
	}
	for {
		if ctx.Err() != nil {
			return &resume, nil
		}
		p, err := sp.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// The object is unreadable from here on (truncated gzip, broken
			// JSON): finish what was read, dead-letter the rest with the reason.
			if ferr := flush(); ferr != nil {
				return &resume, ferr
			}
			if derr := h.deadLetter(ctx, c, sp.Offset(), sp.LineNo(), nil, stream.NewPermanent("s3_object_unreadable", err)); derr != nil {
				return &resume, derr
			}
			return nil, nil
		}
		if p.TooLarge {
			if ferr := flush(); ferr != nil {
				return &resume, ferr
			}
			if derr := h.deadLetter(ctx, c, p.Offset, p.Line, p.Data[:min(len(p.Data), 4096)],
				stream.Permanentf("s3_record_too_large", "record at offset %d is longer than %d bytes", p.Offset, maxRec)); derr != nil {
				return &resume, derr
			}
			resume.Offset, resume.Line = sp.Offset(), sp.LineNo()
			continue
		}
		// Records alias arena; a new arena is started instead of growing
		// under records already queued.
		if cap(arena)-len(arena) < len(p.Data) {
			if len(recs) > 0 {
				if ferr := flush(); ferr != nil {
					return &resume, ferr
				}
			}
			if cap(arena) < len(p.Data) || cap(arena) < maxBytes {
				arena = make([]byte, 0, max(maxBytes, len(p.Data)))
			}
		}
		n := len(arena)
		arena = append(arena, p.Data...)
		recs = append(recs, stream.Record{
			Data:   arena[n:len(arena):len(arena)],
			Format: f,
			Lineage: stream.Lineage{Kind: stream.OriginS3, Source: c.Bucket, Shard: c.Key,
				SubSequence: -1, Offset: p.Offset, Line: p.Line},
		})
		ends = append(ends, sp.Offset())
		lines = append(lines, sp.LineNo())
		if len(recs) >= maxRecs || len(arena) >= maxBytes {
			if ferr := flush(); ferr != nil {
				return &resume, ferr
			}
		}
	}
	if ferr := flush(); ferr != nil {
		return &resume, ferr
	}
	h.logger().LogAttrs(ctx, slog.LevelInfo, "object done", slog.String("bucket", c.Bucket), slog.String("key", c.Key),
		slog.Int64("bytes", sp.Offset()), slog.Int("parts", c.Part+1))
	return nil, nil
}

func (h *S3) deadLetter(ctx context.Context, c Continuation, off, line int64, raw []byte, err error) error {
	if h.DeadLetter == nil {
		return fmt.Errorf("s3://%s/%s at offset %d: %w (no dead-letter sink)", c.Bucket, c.Key, off, err)
	}
	l := stream.Lineage{Kind: stream.OriginS3, Source: c.Bucket, Shard: c.Key, SubSequence: -1, Offset: off, Line: line}
	d := stream.DeadLetter{Time: time.Now().UTC(), Stage: pipeline.StageDecode, Reason: stream.ReasonOf(err), Lineage: l, Raw: raw}
	if err := h.DeadLetter.DeadLetter(ctx, []stream.DeadLetter{d}); err != nil {
		return err
	}
	return h.DeadLetter.Flush(ctx)
}

// Notification is what an invocation carries: messages (one per SQS
// message, or one for the whole event otherwise), each naming objects.
type Notification struct {
	SQS      bool
	Messages []Message
}

// Message is one SQS message (ID = messageId) or the whole event.
type Message struct {
	ID      string
	Objects []Continuation
}

// ParseNotification reads a direct S3 event, an SNS event carrying S3
// events, an SQS event whose bodies are S3 events, SNS envelopes,
// EventBridge events or continuations, or an EventBridge "Object Created"
// event. s3:TestEvent messages and other event names name no object.
func ParseNotification(payload []byte) (Notification, error) {
	var probe struct {
		Records []struct {
			EventSource  string `json:"eventSource"`
			EventSource2 string `json:"EventSource"`
		} `json:"Records"`
		DetailType string `json:"detail-type"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return Notification{}, stream.NewPermanent("s3event_invalid", err)
	}
	if len(probe.Records) > 0 && probe.Records[0].EventSource == "aws:sqs" {
		var ev events.SQSEvent
		if err := json.Unmarshal(payload, &ev); err != nil {
			return Notification{}, stream.NewPermanent("s3event_invalid", err)
		}
		n := Notification{SQS: true}
		for _, r := range ev.Records {
			objs, err := objectsOf([]byte(r.Body), 0)
			if err != nil {
				// An unreadable message is acknowledged with a log line, not
				// redelivered forever: it names no object we could process.
				slog.Warn("SQS message is not an S3 notification; skipped", "message_id", r.MessageId, "error", err.Error())
			}
			n.Messages = append(n.Messages, Message{ID: r.MessageId, Objects: objs})
		}
		return n, nil
	}
	objs, err := objectsOf(payload, 0)
	if err != nil {
		return Notification{}, err
	}
	return Notification{Messages: []Message{{Objects: objs}}}, nil
}

// objectsOf reads one document: S3 event, SNS event or envelope, EventBridge event or continuation.
func objectsOf(doc []byte, depth int) ([]Continuation, error) {
	if depth > 3 {
		return nil, stream.Permanentf("s3event_invalid", "notification nested too deep")
	}
	var d struct {
		Records []struct {
			EventSource string `json:"eventSource"`
			EventName   string `json:"eventName"`
			S3          struct {
				Bucket struct {
					Name string `json:"name"`
				} `json:"bucket"`
				Object struct {
					Key string `json:"key"`
				} `json:"object"`
			} `json:"s3"`
			SNS *struct {
				Message string `json:"Message"`
			} `json:"Sns"`
		} `json:"Records"`
		Type       string `json:"Type"`    // SNS envelope
		Message    string `json:"Message"` // SNS envelope
		DetailType string `json:"detail-type"`
		Source     string `json:"source"`
		Detail     struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"detail"`
		Event        string        `json:"Event"` // s3:TestEvent
		Continuation *Continuation `json:"gannet_s3_continuation"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, stream.NewPermanent("s3event_invalid", err)
	}
	switch {
	case d.Continuation != nil:
		if d.Continuation.Bucket == "" || d.Continuation.Key == "" {
			return nil, stream.Permanentf("s3event_invalid", "continuation without bucket or key")
		}
		return []Continuation{*d.Continuation}, nil
	case d.Type == "Notification" && d.Message != "":
		return objectsOf([]byte(d.Message), depth+1)
	case d.DetailType != "":
		if d.DetailType != "Object Created" || d.Detail.Bucket.Name == "" || d.Detail.Object.Key == "" {
			return nil, nil // names no object
		}
		// EventBridge keys are not URL-encoded.
		return []Continuation{{Bucket: d.Detail.Bucket.Name, Key: d.Detail.Object.Key}}, nil
	case d.Event == "s3:TestEvent":
		return nil, nil
	}
	var out []Continuation
	for _, r := range d.Records {
		switch {
		case r.SNS != nil:
			objs, err := objectsOf([]byte(r.SNS.Message), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		case r.EventSource == "aws:s3":
			if len(r.EventName) < 13 || r.EventName[:13] != "ObjectCreated" {
				continue
			}
			// S3 event keys are URL-encoded, spaces as '+'.
			key, err := url.QueryUnescape(r.S3.Object.Key)
			if err != nil {
				return nil, stream.NewPermanent("s3event_invalid", fmt.Errorf("object key %q: %w", r.S3.Object.Key, err))
			}
			if r.S3.Bucket.Name == "" || key == "" {
				return nil, stream.Permanentf("s3event_invalid", "S3 event record without bucket or key")
			}
			out = append(out, Continuation{Bucket: r.S3.Bucket.Name, Key: key})
		}
	}
	if out == nil && len(d.Records) == 0 {
		return nil, stream.Permanentf("s3event_invalid", "not an S3, SNS, SQS or EventBridge notification")
	}
	return out, nil
}
