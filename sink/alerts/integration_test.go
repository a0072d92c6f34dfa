package alerts

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/stream"
)

// subscribe makes an SQS queue subscribed to topic with raw delivery, so
// that each SNS message (and its attributes) arrives as one SQS message.
func subscribe(t *testing.T, ctx context.Context, sn *sns.Client, sq *sqs.Client, topicARN, name string, fifo bool) string {
	t.Helper()
	attrs := map[string]string{}
	if fifo {
		attrs["FifoQueue"] = "true"
		name += ".fifo"
	}
	q, err := sq.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := sq.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topicARN), Protocol: aws.String("sqs"),
		Endpoint: aws.String(qa.Attributes["QueueArn"]), Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(q.QueueUrl)
}

func receiveAll(t *testing.T, ctx context.Context, sq *sqs.Client, url string, want int) []sqstypes.Message {
	t.Helper()
	var out []sqstypes.Message
	deadline := time.Now().Add(5 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		r, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Messages...)
	}
	// One more short look for duplicates.
	r, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
		MessageAttributeNames: []string{"All"}, WaitTimeSeconds: 1})
	if err == nil {
		out = append(out, r.Messages...)
	}
	return out
}

// TestIntegrationSNSMoto publishes alerts to SNS topics of the local moto
// server and reads them back from subscribed SQS queues: every alert
// arrives with its level and rule id attributes; on a FIFO topic, the same
// alert published again by a fresh sink (a restarted process that
// remembers nothing) is deduplicated by its MessageDeduplicationId.
func TestIntegrationSNSMoto(t *testing.T) {
	ep := stacktest.Require(t, stacktest.Moto)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := ep.AWSConfig(t)
	sn, sq := sns.NewFromConfig(cfg), sqs.NewFromConfig(cfg)
	name := stacktest.UniqueName(t, "alerts")

	topic, err := sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	url := subscribe(t, ctx, sn, sq, aws.ToString(topic.TopicArn), name, false)
	s, err := NewSNS(sn, SNSConfig{TopicARN: aws.ToString(topic.TopicArn)})
	if err != nil {
		t.Fatal(err)
	}
	alerts := []stream.Alert{testAlert("rule-a", "sourceIPAddress=1.2.3.4"), testAlert("rule-b", "")}
	if err := s.Alerts(ctx, alerts); err != nil {
		t.Fatal(err)
	}
	msgs := receiveAll(t, ctx, sq, url, 2)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2", len(msgs))
	}
	var got []string
	for _, m := range msgs {
		var doc map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &doc); err != nil {
			t.Fatalf("body %q: %v", aws.ToString(m.Body), err)
		}
		level := aws.ToString(m.MessageAttributes["level"].StringValue)
		rule := aws.ToString(m.MessageAttributes["rule_id"].StringValue)
		if level != "high" || rule != doc["rule_id"] || aws.ToString(m.MessageAttributes["alert_id"].StringValue) != doc["id"] {
			t.Errorf("attributes %v for %v", m.MessageAttributes, doc["id"])
		}
		got = append(got, doc["id"].(string))
	}
	sort.Strings(got)
	want := []string{alerts[0].ID.String(), alerts[1].ID.String()}
	sort.Strings(want)
	if got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ids %v, want %v", got, want)
	}

	// FIFO topic: deduplication by alert id across sinks.
	fifo, err := sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name + ".fifo"),
		Attributes: map[string]string{"FifoTopic": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	furl := subscribe(t, ctx, sn, sq, aws.ToString(fifo.TopicArn), name+"-f", true)
	for i := 0; i < 2; i++ {
		fs, err := NewSNS(sn, SNSConfig{TopicARN: aws.ToString(fifo.TopicArn)})
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.Alerts(ctx, alerts[:1]); err != nil {
			t.Fatal(err)
		}
	}
	if msgs := receiveAll(t, ctx, sq, furl, 1); len(msgs) != 1 {
		t.Errorf("FIFO topic delivered %d messages for one alert published twice, want 1", len(msgs))
	}
}
