package main

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gannet-sec/gannet/lambdas/handler"
)

// esm plays the SQS event source mapping for the integration tests: it
// receives up to 10 messages, invokes the function with them as one SQS
// event, deletes the messages the function acknowledged and makes those it
// reported as batch item failures visible again at once (as the end of the
// visibility timeout would), until the queue stays empty. A message
// received more than maxReceives times fails the test: a redrive policy
// would move it to a dead-letter queue.
type esm struct {
	t           *testing.T
	sqs         *sqs.Client
	queueURL    string
	queueARN    string
	invoke      func(ctx context.Context, payload []byte) (events.SQSEventResponse, error)
	maxInvokes  int
	maxReceives int

	invocations  int
	redeliveries int
	// offsets are the uncompressed offsets the continuations resume at, in
	// the order they were first received.
	offsets []int64
	// stalls counts continuations that resume where the previous one did.
	stalls   int
	receives map[string]int
}

func (m *esm) drain(ctx context.Context) {
	t := m.t
	t.Helper()
	m.receives = map[string]int{}
	for {
		msgs, err := m.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(m.queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs.Messages) == 0 {
			return
		}
		var ev events.SQSEvent
		for _, msg := range msgs.Messages {
			id := *msg.MessageId
			m.receives[id]++
			if m.receives[id] > m.maxReceives {
				t.Fatalf("message %s received %d times: a redrive policy would dead-letter it: %.300s", id, m.receives[id], *msg.Body)
			}
			if m.receives[id] == 1 {
				m.continuation(*msg.Body)
			}
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: id, ReceiptHandle: *msg.ReceiptHandle, Body: *msg.Body,
				EventSource: "aws:sqs", EventSourceARN: m.queueARN})
		}
		payload, _ := json.Marshal(ev)
		m.invocations++
		if m.invocations > m.maxInvokes {
			t.Fatalf("the object does not finish in %d invocations (continuations at %v)", m.maxInvokes, m.offsets)
		}
		resp, err := m.invoke(ctx, payload)
		if err != nil {
			t.Fatalf("invocation %d: %v", m.invocations, err)
		}
		failed := map[string]bool{}
		for _, f := range resp.BatchItemFailures {
			failed[f.ItemIdentifier] = true
		}
		for _, msg := range msgs.Messages {
			if failed[*msg.MessageId] {
				m.redeliveries++
				t.Logf("invocation %d did not finish message %s (receive %d): redelivered", m.invocations, *msg.MessageId, m.receives[*msg.MessageId])
				if _, err := m.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(m.queueURL),
					ReceiptHandle: msg.ReceiptHandle, VisibilityTimeout: 0}); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if _, err := m.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(m.queueURL), ReceiptHandle: msg.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// continuation records the offset of a continuation message and checks
// that continuations come in order of parts, none earlier in the object
// than the one before.
func (m *esm) continuation(body string) {
	n, err := handler.ParseNotification([]byte(`{"Records":[{"eventSource":"aws:sqs","body":` + strconv.Quote(body) + `}]}`))
	if err != nil || len(n.Messages) != 1 || len(n.Messages[0].Objects) != 1 || n.Messages[0].Objects[0].Part == 0 {
		return // the S3 notification
	}
	c := n.Messages[0].Objects[0]
	if c.Part != len(m.offsets)+1 || c.Layout != handler.LayoutRecords {
		m.t.Errorf("continuation part %d (layout %q) after %d continuations", c.Part, c.Layout, len(m.offsets))
	}
	if k := len(m.offsets); k > 0 {
		switch prev := m.offsets[k-1]; {
		case c.Offset < prev:
			m.t.Errorf("continuation %d resumes at %d, before the previous one (%d): finished records would be emitted again", c.Part, c.Offset, prev)
		case c.Offset == prev:
			// The invocation reached its offset too close to the deadline to
			// finish a batch, and handed the same offset on.
			m.stalls++
		}
	}
	m.offsets = append(m.offsets, c.Offset)
}

// removeBucket deletes a test bucket and its objects when the test ends, so
// that big objects do not pile up on the shared local S3 server.
func removeBucket(t *testing.T, c *s3.Client, bucket string) {
	t.Cleanup(func() {
		ctx := context.Background()
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Logf("cleaning up bucket %s: %v", bucket, err)
				return
			}
			for _, o := range page.Contents {
				if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key}); err != nil {
					t.Logf("cleaning up s3://%s/%s: %v", bucket, *o.Key, err)
				}
			}
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Logf("cleaning up bucket %s: %v", bucket, err)
		}
	})
}
