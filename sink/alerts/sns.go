package alerts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	"github.com/gannet-sec/gannet/stream"
)

// PublishAPI is the one SNS call the sink makes (sns.Client implements it;
// tests inject a function through PublishFunc).
type PublishAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// PublishFunc adapts a function to PublishAPI.
type PublishFunc func(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)

// Publish implements PublishAPI.
func (f PublishFunc) Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error) {
	return f(ctx, in, optFns...)
}

// SNSConfig configures an SNS sink.
type SNSConfig struct {
	// TopicARN is the topic; a FIFO topic (".fifo") gets the alert id as
	// MessageDeduplicationId and the rule id as MessageGroupId.
	TopicARN string
	Retry    Retry
	// Remember is the number of delivered alert ids remembered to skip
	// retried batches (default 10000).
	Remember int
}

// SNS publishes one message per alert: the alert's JSON document as the
// body, "[LEVEL] title" as the subject, and the message attributes level,
// rule_id, kind and alert_id for subscription filter policies.
type SNS struct {
	api  PublishAPI
	cfg  SNSConfig
	fifo bool
	mu   sync.Mutex
	done *delivered
}

// NewSNS returns an SNS sink publishing through api.
func NewSNS(api PublishAPI, cfg SNSConfig) (*SNS, error) {
	if api == nil || cfg.TopicARN == "" {
		return nil, errors.New("alerts: SNS needs a client and a topic ARN")
	}
	cfg.Retry.defaults()
	return &SNS{api: api, cfg: cfg, fifo: strings.HasSuffix(cfg.TopicARN, ".fifo"), done: newDelivered(cfg.Remember)}, nil
}

// Name implements stream.AlertSink.
func (s *SNS) Name() string { return "sns" }

// Alerts publishes each alert not delivered before, in order; it stops at
// the first alert that cannot be delivered and returns its error.
func (s *SNS) Alerts(ctx context.Context, alerts []stream.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range alerts {
		a := &alerts[i]
		if s.done.has(a.ID) {
			continue
		}
		in, err := s.input(a)
		if err != nil {
			return err
		}
		err = s.cfg.Retry.do(ctx, func() error {
			_, err := s.api.Publish(ctx, in)
			return classifySNS(err)
		})
		if err != nil {
			return fmt.Errorf("alerts: sns publish of alert %s: %w", a.ID, err)
		}
		s.done.add(a.ID)
	}
	return nil
}

func (s *SNS) input(a *stream.Alert) (*sns.PublishInput, error) {
	body, err := document(a)
	if err != nil {
		return nil, stream.NewPermanent("alert_encode", err)
	}
	str := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	attrs := map[string]types.MessageAttributeValue{"alert_id": str(a.ID.String())}
	for k, v := range map[string]string{"level": a.Level, "rule_id": a.RuleID, "kind": a.Kind} {
		if v != "" { // SNS rejects empty attribute values
			attrs[k] = str(v)
		}
	}
	in := &sns.PublishInput{
		TopicArn:          aws.String(s.cfg.TopicARN),
		Message:           aws.String(string(body)),
		Subject:           aws.String(subject(a)),
		MessageAttributes: attrs,
	}
	if s.fifo {
		in.MessageDeduplicationId = aws.String(a.ID.String())
		group := a.RuleID
		if group == "" {
			group = "gannet"
		}
		in.MessageGroupId = aws.String(truncate(group, 128))
	}
	return in, nil
}

// subject is "[LEVEL] title", made to fit SNS's rule for subjects: printable
// ASCII, no line breaks, at most 100 characters.
func subject(a *stream.Alert) string {
	s := "[" + strings.ToUpper(a.Level) + "] " + a.RuleTitle
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			r = ' '
		}
		b.WriteRune(r)
	}
	return truncate(b.String(), 100)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// classifySNS classifies an SNS error once: throttling → Throttled;
// rejections of the request → Permanent; anything else → Retryable.
func classifySNS(err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "Throttling", "ThrottlingException", "ThrottledException", "KMSThrottling", "RequestLimitExceeded":
			return stream.NewThrottled(err, 0)
		case "InvalidParameter", "InvalidParameterValue", "NotFound", "AuthorizationError", "InvalidSecurity",
			"KMSDisabled", "KMSNotFound", "KMSAccessDenied", "KMSInvalidState", "EndpointDisabled", "ValidationError":
			return stream.NewPermanent("sns_"+strings.ToLower(ae.ErrorCode()), err)
		}
		if ae.ErrorFault() == smithy.FaultClient {
			return stream.NewPermanent("sns_rejected", err)
		}
	}
	return stream.NewRetryable(err)
}

// Flush implements stream.AlertSink: Alerts publishes synchronously.
func (s *SNS) Flush(context.Context) error { return nil }

// Close implements stream.AlertSink.
func (s *SNS) Close(context.Context) error { return nil }

var _ stream.AlertSink = (*SNS)(nil)
