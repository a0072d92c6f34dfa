package alerts

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

func testAlert(rule, group string) stream.Alert {
	start := time.Date(2026, 11, 1, 0, 10, 0, 0, time.UTC)
	return stream.Alert{
		ID: stream.AlertID(rule, group, start), RuleID: rule, RuleTitle: "Console login brute force <test>", Level: "high",
		Tags: []string{"attack.t1110.001"}, Kind: "correlation", GroupKey: group, WindowStart: start,
		FirstSeen: start, LastSeen: start.Add(time.Minute), Count: 20, Description: "20 failures & more",
		Events: []stream.AlertEvent{{ID: stream.EventID{1, 2, 3}}},
	}
}

// recorder is a webhook receiver answering with the scripted statuses,
// then 200.
type recorder struct {
	mu       sync.Mutex
	statuses []int
	headers  []http.Header
	bodies   []map[string]any
	calls    atomic.Int64
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	r.mu.Lock()
	status := 200
	var h http.Header
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
		if len(r.headers) > 0 {
			h, r.headers = r.headers[0], r.headers[1:]
		}
	}
	if status == 200 {
		var body map[string]any
		data, _ := io.ReadAll(req.Body)
		if req.Header.Get("Content-Type") != "application/json" || json.Unmarshal(data, &body) != nil {
			status = 400
		} else {
			r.bodies = append(r.bodies, body)
		}
	}
	r.mu.Unlock()
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	io.WriteString(w, "ok")
}

const secretPath = "/services/T000/B000/s3cr3t-token"

func newTLS(t *testing.T, rec *recorder) (*httptest.Server, *Webhook) {
	t.Helper()
	srv := httptest.NewTLSServer(rec)
	t.Cleanup(srv.Close)
	w, err := NewWebhook(WebhookConfig{URL: srv.URL + secretPath, Client: srv.Client(),
		Retry: Retry{InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, w
}

func TestWebhookDelivers(t *testing.T) {
	rec := &recorder{}
	_, w := newTLS(t, rec)
	alerts := []stream.Alert{testAlert("r1", "sourceIPAddress=1.2.3.4"), testAlert("r2", "")}
	if err := w.Alerts(context.Background(), alerts); err != nil {
		t.Fatal(err)
	}
	if len(rec.bodies) != 2 {
		t.Fatalf("%d messages, want 2", len(rec.bodies))
	}
	text, _ := rec.bodies[0]["text"].(string)
	if !strings.Contains(text, "[HIGH]") || !strings.Contains(text, alerts[0].ID.String()) || !strings.Contains(text, "sourceIPAddress=1.2.3.4") {
		t.Errorf("text %q", text)
	}
	blocks, _ := rec.bodies[0]["blocks"].([]any)
	data, _ := json.Marshal(blocks)
	if len(blocks) != 4 || !strings.Contains(string(data), `20 failures \u0026amp; more`) || !strings.Contains(string(data), `"type":"header"`) {
		t.Errorf("blocks %s", data)
	}
}

func TestWebhookRetriesHonouringRetryAfter(t *testing.T) {
	rec := &recorder{statuses: []int{429, 503}, headers: []http.Header{{"Retry-After": {"1"}}, {}}}
	_, w := newTLS(t, rec)
	t0 := time.Now()
	if err := w.Alerts(context.Background(), []stream.Alert{testAlert("r1", "")}); err != nil {
		t.Fatal(err)
	}
	if n := rec.calls.Load(); n != 3 || len(rec.bodies) != 1 {
		t.Errorf("%d calls, %d delivered; want 3 and 1", n, len(rec.bodies))
	}
	if d := time.Since(t0); d < time.Second {
		t.Errorf("retried after %v, before Retry-After (1s)", d)
	}
}

func TestWebhookPermanentAndAttempts(t *testing.T) {
	rec := &recorder{statuses: []int{400}}
	_, w := newTLS(t, rec)
	err := w.Alerts(context.Background(), []stream.Alert{testAlert("r1", "")})
	if c, _ := stream.ClassOf(err); err == nil || c != stream.Permanent || rec.calls.Load() != 1 {
		t.Errorf("400: err %v class %v calls %d", err, c, rec.calls.Load())
	}
	rec = &recorder{statuses: []int{500, 500, 500, 500, 500, 500}}
	_, w = newTLS(t, rec)
	err = w.Alerts(context.Background(), []stream.Alert{testAlert("r1", "")})
	if c, _ := stream.ClassOf(err); err == nil || c != stream.Retryable || rec.calls.Load() != 5 {
		t.Errorf("5xx: err %v class %v calls %d (want 5 attempts)", err, c, rec.calls.Load())
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error reveals the webhook URL: %v", err)
	}
}

func TestWebhookIdempotentRetry(t *testing.T) {
	rec := &recorder{statuses: []int{200, 400}}
	_, w := newTLS(t, rec)
	batch := []stream.Alert{testAlert("r1", "a"), testAlert("r1", "b"), testAlert("r1", "c")}
	if err := w.Alerts(context.Background(), batch); err == nil {
		t.Fatal("second alert rejected, yet no error")
	}
	// The caller retries the whole batch: the first alert is not resent.
	if err := w.Alerts(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if err := w.Alerts(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range rec.bodies {
		got = append(got, b["text"].(string)[len(b["text"].(string))-32:])
	}
	want := []string{batch[0].ID.String(), batch[1].ID.String(), batch[2].ID.String()}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("delivered %v, want each alert once in order %v", got, want)
	}
}

func TestWebhookVerifiesTLSAndHidesURL(t *testing.T) {
	srv := httptest.NewTLSServer(&recorder{})
	defer srv.Close()
	// The default client does not trust the test server's certificate.
	w, err := NewWebhook(WebhookConfig{URL: srv.URL + secretPath, Retry: Retry{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Alerts(context.Background(), []stream.Alert{testAlert("r1", "")})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate accepted: %v", err)
	}
	if err != nil && (strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), srv.URL)) {
		t.Errorf("error reveals the webhook URL: %v", err)
	}
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if _, err := NewWebhook(WebhookConfig{URL: srv.URL, Client: insecure}); err == nil {
		t.Errorf("a client without TLS verification was accepted")
	}
	if _, err := NewWebhook(WebhookConfig{URL: "ftp://x" + secretPath}); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("bad URL: %v", err)
	}
}

func TestWebhookContextBoundsRetries(t *testing.T) {
	rec := &recorder{statuses: []int{429}, headers: []http.Header{{"Retry-After": {"30"}}}}
	_, w := newTLS(t, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	err := w.Alerts(ctx, []stream.Alert{testAlert("r1", "")})
	if err == nil || time.Since(t0) > 5*time.Second {
		t.Errorf("err %v after %v", err, time.Since(t0))
	}
	if c, _ := stream.ClassOf(err); c == stream.Permanent {
		t.Errorf("a cancelled delivery is permanent: %v", err)
	}
	var se *stream.Error
	if !errors.As(err, &se) {
		t.Errorf("unclassified error %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	if d := retryAfter("7"); d != 7*time.Second {
		t.Errorf("seconds: %v", d)
	}
	if d := retryAfter(time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)); d < time.Second || d > 3*time.Second {
		t.Errorf("date: %v", d)
	}
	if d := retryAfter("soon"); d != 0 {
		t.Errorf("garbage: %v", d)
	}
}
