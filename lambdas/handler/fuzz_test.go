package handler

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// FuzzParseNotification: whatever arrives in the s3event Lambda's payload
// (S3 notifications, SNS envelopes, EventBridge events, SQS batches of any
// of those, continuations) is parsed or refused, never panics; every
// object it names has a bucket and a key.
func FuzzParseNotification(f *testing.F) {
	s3ev := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"logs"},"object":{"key":"AWSLogs/a+b%3D.json.gz","size":10}}}]}`
	sns := fmt.Sprintf(`{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":%q}`, s3ev)
	eb := `{"version":"0","detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"eb"},"object":{"key":"x y.gz","size":1}}}`
	cont := `{"gannet_s3_continuation":{"bucket":"b","key":"k","offset":123,"line":4,"layout":"records","part":2}}`
	for _, s := range []string{s3ev, sns, eb, cont,
		fmt.Sprintf(`{"Records":[{"EventSource":"aws:sns","Sns":{"Message":%q}}]}`, s3ev),
		fmt.Sprintf(`{"Records":[{"eventSource":"aws:sqs","messageId":"1","body":%q},{"eventSource":"aws:sqs","messageId":"2","body":%q},{"eventSource":"aws:sqs","messageId":"3","body":%q}]}`, s3ev, sns, cont),
		`{"Records":[{"eventSource":"aws:sqs","messageId":"5","body":"{\"Event\":\"s3:TestEvent\"}"}]}`,
		`{"foo":1}`, `[]`, `null`, `{"Records":[]}`, `{"detail-type":"Object Created","detail":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		n, err := ParseNotification(payload)
		if err != nil {
			return
		}
		for _, m := range n.Messages {
			for _, o := range m.Objects {
				if o.Bucket == "" || o.Key == "" {
					t.Fatalf("object without bucket or key: %+v from %q", o, payload)
				}
			}
		}
	})
}

// FuzzSplitter: an S3 object's bytes (gzip or not, lines or a CloudTrail
// Records document), from any offset: pieces are bounded by maxRecord
// (longer ones flagged TooLarge), lie inside the object and advance.
func FuzzSplitter(f *testing.F) {
	for _, s := range []string{
		`{"Records":[{"a":1},{"b":"x\"]}"},{"c":[1,{"d":2}]}]}`,
		"one\r\n\n  \ntwo is longer than ten\nthree",
		`{"Records":[`, `{"Records":[{"a":"\`, "\x1f\x8b\x08\x00",
	} {
		f.Add([]byte(s), "", int64(0), int64(0), 10)
		f.Add([]byte(s), LayoutRecords, int64(3), int64(1), 1<<20)
		f.Add(gz([]byte(s)), LayoutLines, int64(0), int64(0), 4)
	}
	f.Fuzz(func(t *testing.T, body []byte, layout string, off, line int64, maxRec int) {
		if maxRec <= 0 || maxRec > 1<<20 || off < 0 || line < 0 {
			return
		}
		sp, err := NewSplitter(bytes.NewReader(body), layout, off, line, maxRec)
		if err != nil {
			return
		}
		defer sp.Close()
		last := int64(-1)
		for range 1 << 16 {
			p, err := sp.Next()
			if err != nil {
				if err != io.EOF {
					return
				}
				return
			}
			if len(p.Data) > maxRec {
				t.Fatalf("piece of %d bytes with maxRecord %d", len(p.Data), maxRec)
			}
			if p.Offset < off || p.Offset <= last && last >= 0 && !p.TooLarge {
				t.Fatalf("piece at offset %d after %d (start %d)", p.Offset, last, off)
			}
			last = p.Offset
		}
	})
}
