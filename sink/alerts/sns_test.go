package alerts

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
	"github.com/gannet-sec/gannet/stream"
)

type fakeSNS struct {
	inputs []*sns.PublishInput
	errs   []error // returned by the first calls
}

func (f *fakeSNS) api() PublishAPI {
	return PublishFunc(func(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
		if len(f.errs) > 0 {
			err := f.errs[0]
			f.errs = f.errs[1:]
			if err != nil {
				return nil, err
			}
		}
		f.inputs = append(f.inputs, in)
		return &sns.PublishOutput{MessageId: aws.String("m")}, nil
	})
}

var fastRetry = Retry{InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

func TestSNSPublish(t *testing.T) {
	for _, topic := range []string{"arn:aws:sns:us-east-1:123456789012:alerts", "arn:aws:sns:us-east-1:123456789012:alerts.fifo"} {
		f := &fakeSNS{}
		s, err := NewSNS(f.api(), SNSConfig{TopicARN: topic, Retry: fastRetry})
		if err != nil {
			t.Fatal(err)
		}
		a := testAlert("rule-1", "sourceIPAddress=1.2.3.4")
		a.RuleTitle = "Brute force — über\nline"
		if err := s.Alerts(context.Background(), []stream.Alert{a}); err != nil {
			t.Fatal(err)
		}
		if len(f.inputs) != 1 {
			t.Fatalf("%d publishes", len(f.inputs))
		}
		in := f.inputs[0]
		var doc map[string]any
		if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &doc); err != nil || doc["id"] != a.ID.String() || doc["rule_id"] != "rule-1" {
			t.Errorf("message %s (%v)", aws.ToString(in.Message), err)
		}
		if sub := aws.ToString(in.Subject); sub != "[HIGH] Brute force    ber line" {
			t.Errorf("subject %q", sub)
		}
		if aws.ToString(in.MessageAttributes["level"].StringValue) != "high" || aws.ToString(in.MessageAttributes["rule_id"].StringValue) != "rule-1" ||
			aws.ToString(in.MessageAttributes["alert_id"].StringValue) != a.ID.String() || aws.ToString(in.MessageAttributes["level"].DataType) != "String" {
			t.Errorf("attributes %+v", in.MessageAttributes)
		}
		fifo := strings.HasSuffix(topic, ".fifo")
		if fifo && (aws.ToString(in.MessageDeduplicationId) != a.ID.String() || aws.ToString(in.MessageGroupId) != "rule-1") {
			t.Errorf("fifo: dedup %v group %v", aws.ToString(in.MessageDeduplicationId), aws.ToString(in.MessageGroupId))
		}
		if !fifo && (in.MessageDeduplicationId != nil || in.MessageGroupId != nil) {
			t.Errorf("standard topic got FIFO fields")
		}
	}
}

func TestSNSRetryAndClassify(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded", Fault: smithy.FaultClient}
	invalid := &smithy.GenericAPIError{Code: "InvalidParameter", Message: "bad", Fault: smithy.FaultClient}
	f := &fakeSNS{errs: []error{throttled, throttled}}
	s, _ := NewSNS(f.api(), SNSConfig{TopicARN: "arn:aws:sns:us-east-1:1:t", Retry: fastRetry})
	if err := s.Alerts(context.Background(), []stream.Alert{testAlert("r", "")}); err != nil || len(f.inputs) != 1 {
		t.Errorf("throttled twice then ok: %v, %d publishes", err, len(f.inputs))
	}
	f = &fakeSNS{errs: []error{invalid}}
	s, _ = NewSNS(f.api(), SNSConfig{TopicARN: "arn:aws:sns:us-east-1:1:t", Retry: fastRetry})
	err := s.Alerts(context.Background(), []stream.Alert{testAlert("r", "")})
	if c, _ := stream.ClassOf(err); c != stream.Permanent || len(f.errs) != 0 {
		t.Errorf("invalid parameter: %v class %v", err, c)
	}
	if c, _ := stream.ClassOf(classifySNS(throttled)); c != stream.Throttled {
		t.Errorf("throttling classified %v", c)
	}
	if c, _ := stream.ClassOf(classifySNS(context.DeadlineExceeded)); c != stream.Retryable {
		t.Errorf("deadline classified %v", c)
	}
}

func TestSNSIdempotentRetry(t *testing.T) {
	f := &fakeSNS{errs: []error{nil, &smithy.GenericAPIError{Code: "InternalError", Fault: smithy.FaultServer}}}
	s, _ := NewSNS(f.api(), SNSConfig{TopicARN: "arn:aws:sns:us-east-1:1:t", Retry: Retry{MaxAttempts: 1}})
	batch := []stream.Alert{testAlert("r", "a"), testAlert("r", "b")}
	if err := s.Alerts(context.Background(), batch); err == nil {
		t.Fatal("want an error for the second alert")
	}
	if err := s.Alerts(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if len(f.inputs) != 2 || aws.ToString(f.inputs[1].MessageAttributes["alert_id"].StringValue) != batch[1].ID.String() {
		t.Errorf("%d publishes; each alert must be published once", len(f.inputs))
	}
}
