package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// WebhookConfig configures a Slack-compatible webhook sink.
type WebhookConfig struct {
	// URL is the incoming-webhook URL. It is a credential: it is never
	// logged nor put in an error.
	URL string
	// Client sends the requests (default: a client with a 10s timeout and
	// TLS verification on). A client whose transport skips TLS verification
	// is refused.
	Client *http.Client
	Retry  Retry
	// Remember is the number of delivered alert ids remembered to skip
	// retried batches (default 10000).
	Remember int
}

// Webhook posts one message per alert: {"text": …, "blocks": […]} as Slack
// incoming webhooks (and Mattermost, Rocket.Chat, Teams' Slack-compatible
// connectors) accept. The text carries the alert id for deduplication.
type Webhook struct {
	url    string
	client *http.Client
	retry  Retry
	mu     sync.Mutex
	done   *delivered
}

// NewWebhook returns a webhook sink.
func NewWebhook(cfg WebhookConfig) (*Webhook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("alerts: webhook URL must be an http(s) URL") // the URL itself is not echoed
	}
	c := cfg.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	if tr, ok := c.Transport.(*http.Transport); ok && tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify {
		return nil, errors.New("alerts: webhook client skips TLS verification; refusing")
	}
	cfg.Retry.defaults()
	return &Webhook{url: cfg.URL, client: c, retry: cfg.Retry, done: newDelivered(cfg.Remember)}, nil
}

// Name implements stream.AlertSink.
func (w *Webhook) Name() string { return "webhook" }

// Alerts posts each alert not delivered before, in order; it stops at the
// first alert that cannot be delivered and returns its error.
func (w *Webhook) Alerts(ctx context.Context, alerts []stream.Alert) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range alerts {
		a := &alerts[i]
		if w.done.has(a.ID) {
			continue
		}
		body, err := json.Marshal(Message(a))
		if err != nil {
			return stream.NewPermanent("alert_encode", err)
		}
		if err := w.retry.do(ctx, func() error { return w.post(ctx, body) }); err != nil {
			return fmt.Errorf("alerts: webhook delivery of alert %s: %w", a.ID, err)
		}
		w.done.add(a.ID)
	}
	return nil
}

func (w *Webhook) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return stream.NewPermanent("webhook_request", errors.New("cannot build the request"))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return stream.NewRetryable(redact(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return classifyHTTP(resp, snippet)
}

// redact strips the URL from a transport error (url.Error quotes it).
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s webhook: %w", ue.Op, ue.Err)
	}
	return err
}

// classifyHTTP classifies a webhook response once: 2xx ok; 429 throttled
// (Retry-After honoured); 5xx and 408 retryable; other statuses permanent.
func classifyHTTP(resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	err := fmt.Errorf("webhook answered %d: %s", code, strings.TrimSpace(string(body)))
	switch {
	case code == http.StatusTooManyRequests:
		return stream.NewThrottled(err, retryAfter(resp.Header.Get("Retry-After")))
	case code >= 500 || code == http.StatusRequestTimeout:
		e := stream.NewRetryable(err).(*stream.Error)
		e.Delay = retryAfter(resp.Header.Get("Retry-After"))
		return e
	}
	return stream.NewPermanent("webhook_"+strconv.Itoa(code), err)
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// Message is the webhook payload of an alert: a one-line text (the
// fallback notifications show) and Block Kit blocks with the details.
func Message(a *stream.Alert) map[string]any {
	text := fmt.Sprintf("[%s] %s (%s) count=%d", strings.ToUpper(a.Level), a.RuleTitle, a.RuleID, a.Count)
	if a.GroupKey != "" {
		text += " " + a.GroupKey
	}
	text += " id=" + a.ID.String()
	var fields []any
	add := func(k, v string) {
		if v != "" {
			fields = append(fields, map[string]any{"type": "mrkdwn", "text": "*" + k + "*\n" + escape(v)})
		}
	}
	add("Level", a.Level)
	add("Kind", a.Kind)
	add("Group", a.GroupKey)
	add("Count", strconv.FormatInt(a.Count, 10))
	if !a.FirstSeen.IsZero() {
		add("First seen", a.FirstSeen.UTC().Format(time.RFC3339))
		add("Last seen", a.LastSeen.UTC().Format(time.RFC3339))
	}
	if len(fields) > 10 { // Slack's limit per section
		fields = fields[:10]
	}
	blocks := []any{
		map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": truncate(a.RuleTitle, 150)}},
		map[string]any{"type": "section", "fields": fields},
	}
	if a.Description != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": truncate(escape(a.Description), 2900)}})
	}
	ctx := "alert " + a.ID.String() + " · rule " + a.RuleID
	if len(a.Events) > 0 {
		ctx += " · first event " + a.Events[0].ID.String()
	}
	if len(a.Tags) > 0 {
		ctx += " · " + strings.Join(a.Tags, ", ")
	}
	blocks = append(blocks, map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": truncate(escape(ctx), 2900)}}})
	return map[string]any{"text": text, "blocks": blocks}
}

// escape makes text safe for Slack mrkdwn (&, <, > are control characters).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Flush implements stream.AlertSink: Alerts posts synchronously.
func (w *Webhook) Flush(context.Context) error { return nil }

// Close implements stream.AlertSink.
func (w *Webhook) Close(context.Context) error {
	w.client.CloseIdleConnections()
	return nil
}

var _ stream.AlertSink = (*Webhook)(nil)
