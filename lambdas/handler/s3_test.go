package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/klauspost/compress/gzip"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func collect(t *testing.T, body []byte, layout string, off, line int64, maxRec int) ([]Piece, *Splitter) {
	t.Helper()
	sp, err := NewSplitter(bytes.NewReader(body), layout, off, line, maxRec)
	if err != nil {
		t.Fatal(err)
	}
	var out []Piece
	for {
		p, err := sp.Next()
		if err == io.EOF {
			return out, sp
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Data = append([]byte(nil), p.Data...)
		out = append(out, p)
	}
}

func TestSplitterRecordsFileAndResume(t *testing.T) {
	doc := "{\"Records\":[\n {\"a\":1,\"s\":\"x}],\\\"y\"},\n {\"a\":[2,{\"b\":3}]} ,{\"a\":3}\n]}\n"
	for _, body := range [][]byte{[]byte(doc), gz([]byte(doc))} {
		ps, _ := collect(t, body, "", 0, 0, 1<<20)
		if len(ps) != 3 {
			t.Fatalf("%d pieces: %+v", len(ps), ps)
		}
		for _, p := range ps {
			if got := doc[p.Offset : p.Offset+int64(len(p.Data))]; got != string(p.Data) {
				t.Errorf("piece at %d = %q, object has %q there", p.Offset, p.Data, got)
			}
			if !json.Valid(p.Data) {
				t.Errorf("piece %q is not JSON", p.Data)
			}
		}
		if ps[0].Line != 2 || ps[2].Line != 3 {
			t.Errorf("lines %d %d", ps[0].Line, ps[2].Line)
		}
		// Resume after the first element, and at the start of the second.
		for _, off := range []int64{ps[0].Offset + int64(len(ps[0].Data)), ps[1].Offset} {
			rest, _ := collect(t, body, LayoutRecords, off, ps[1].Line, 1<<20)
			if len(rest) != 2 || string(rest[0].Data) != string(ps[1].Data) || rest[0].Offset != ps[1].Offset {
				t.Errorf("resume at %d: %+v", off, rest)
			}
		}
	}
}

func TestSplitterLines(t *testing.T) {
	doc := "one\r\n\n  \ntwo is longer than ten\nthree"
	ps, sp := collect(t, gz([]byte(doc)), "", 0, 0, 10)
	if sp.Layout != LayoutLines || len(ps) != 3 {
		t.Fatalf("%s %+v", sp.Layout, ps)
	}
	if string(ps[0].Data) != "one" || ps[0].Offset != 0 || ps[1].Offset != 9 || ps[1].Line != 4 || !ps[1].TooLarge || string(ps[2].Data) != "three" || ps[2].TooLarge {
		t.Errorf("%+v", ps)
	}
	rest, _ := collect(t, []byte(doc), LayoutLines, 9, 4, 100)
	if len(rest) != 2 || rest[0].Offset != 9 || rest[1].Line != 5 {
		t.Errorf("resume: %+v", rest)
	}
}

func TestParseNotificationShapes(t *testing.T) {
	s3ev := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"logs"},"object":{"key":"AWSLogs/a+b%3D.json.gz","size":10}}},{"eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"logs"},"object":{"key":"gone"}}}]}`
	sns := fmt.Sprintf(`{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":%q}`, s3ev)
	eb := `{"version":"0","detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"eb"},"object":{"key":"x y.gz","size":1}}}`
	cont := `{"gannet_s3_continuation":{"bucket":"b","key":"k","offset":123,"line":4,"layout":"records","part":2}}`
	snsEvent := fmt.Sprintf(`{"Records":[{"EventSource":"aws:sns","Sns":{"Message":%q}}]}`, s3ev)
	sqsEvent := fmt.Sprintf(`{"Records":[{"eventSource":"aws:sqs","messageId":"1","body":%q},{"eventSource":"aws:sqs","messageId":"2","body":%q},{"eventSource":"aws:sqs","messageId":"3","body":%q},{"eventSource":"aws:sqs","messageId":"4","body":%q},{"eventSource":"aws:sqs","messageId":"5","body":"{\"Event\":\"s3:TestEvent\"}"}]}`, s3ev, sns, eb, cont)

	for name, c := range map[string]struct {
		payload string
		sqs     bool
		want    []string
	}{
		"direct":      {s3ev, false, []string{"logs/AWSLogs/a b=.json.gz@0"}},
		"sns":         {snsEvent, false, []string{"logs/AWSLogs/a b=.json.gz@0"}},
		"eventbridge": {eb, false, []string{"eb/x y.gz@0"}},
		"sqs":         {sqsEvent, true, []string{"1:logs/AWSLogs/a b=.json.gz@0", "2:logs/AWSLogs/a b=.json.gz@0", "3:eb/x y.gz@0", "4:b/k@123", "5:"}},
	} {
		n, err := ParseNotification([]byte(c.payload))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for _, m := range n.Messages {
			var objs []string
			for _, o := range m.Objects {
				objs = append(objs, fmt.Sprintf("%s/%s@%d", o.Bucket, o.Key, o.Offset))
			}
			s := strings.Join(objs, ",")
			if n.SQS {
				s = m.ID + ":" + s
			}
			got = append(got, s)
		}
		if n.SQS != c.sqs || strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: sqs=%v %q, want %q", name, n.SQS, got, c.want)
		}
	}
	if _, err := ParseNotification([]byte(`{"foo":1}`)); err == nil {
		t.Error("accepted a non-notification")
	}
}

// memS3 serves objects from memory.
type memS3 map[string][]byte

func (m memS3) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	b, ok := m[*in.Bucket+"/"+*in.Key]
	if !ok {
		return nil, fmt.Errorf("NoSuchKey %s", *in.Key)
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

type memQueue struct{ bodies []string }

func (q *memQueue) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	q.bodies = append(q.bodies, *in.MessageBody)
	return &sqs.SendMessageOutput{}, nil
}

// countProc acknowledges everything, counts records by offset and stops
// the work context after a number of batches (as a deadline would).
type countProc struct {
	seen    map[int64]int
	batches int
	cancel  func()
	every   int
	failAt  int64 // offset of a record to fail once (-1: none)
}

func (p *countProc) Process(ctx context.Context, recs []stream.Record) pipeline.Result {
	var res pipeline.Result
	for i, r := range recs {
		if r.Lineage.Offset == p.failAt {
			p.failAt = -1
			res.Failed = append(res.Failed, i)
			res.Err = fmt.Errorf("sink down")
			continue
		}
		if len(res.Failed) > 0 {
			res.Failed = append(res.Failed, i)
			continue
		}
		p.seen[r.Lineage.Offset]++
	}
	p.batches++
	if p.every > 0 && p.batches%p.every == 0 {
		p.cancel()
	}
	return res
}

func TestS3HandlerContinuesAcrossInvocations(t *testing.T) {
	t.Run("deadline", func(t *testing.T) { testS3Continues(t, false) })
	t.Run("failed-record", func(t *testing.T) { testS3Continues(t, true) })
}

func testS3Continues(t *testing.T, failMidway bool) {
	var doc bytes.Buffer
	doc.WriteString(`{"Records":[`)
	for i := range 5000 {
		if i > 0 {
			doc.WriteString(",\n")
		}
		fmt.Fprintf(&doc, `{"eventID":"%d","eventName":"GetObject"}`, i)
	}
	doc.WriteString("]}")
	store := memS3{"b/k.json.gz": gz(doc.Bytes())}
	q := &memQueue{}
	proc := &countProc{seen: map[int64]int{}, every: 3, failAt: -1}
	if failMidway {
		proc.failAt = int64(bytes.Index(doc.Bytes(), []byte(`{"eventID":"2550"`)))
	}
	h := &S3{Pipeline: proc, S3: store, SQS: q, QueueURL: "q", BatchRecords: 100}
	payload := fmt.Sprintf(`{"Records":[{"eventSource":"aws:sqs","messageId":"m0","body":%q}]}`,
		`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k.json.gz"}}}]}`)
	invocations := 0
	for payload != "" {
		invocations++
		ctx, cancel := context.WithCancel(context.Background())
		proc.cancel = cancel
		out, err := h.Handle(ctx, json.RawMessage(payload))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if resp, ok := out.(events.SQSEventResponse); !ok || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("response %#v", out)
		}
		payload = ""
		if len(q.bodies) > 0 {
			payload = fmt.Sprintf(`{"Records":[{"eventSource":"aws:sqs","messageId":"m%d","body":%q}]}`, invocations, q.bodies[0])
			q.bodies = q.bodies[1:]
		}
		if invocations > 100 {
			t.Fatal("does not finish")
		}
	}
	if len(proc.seen) != 5000 {
		t.Fatalf("%d distinct records processed, want 5000", len(proc.seen))
	}
	for off, n := range proc.seen {
		if n != 1 {
			t.Fatalf("record at %d processed %d times", off, n)
		}
	}
	if invocations < 10 {
		t.Errorf("%d invocations: the simulated deadline did not split the object", invocations)
	}
}
