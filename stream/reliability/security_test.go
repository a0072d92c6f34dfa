package reliability_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/sink/elastic"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/setup"
)

// fakeES answers what the Elasticsearch sink asks: index templates and bulk
// requests (every item created), after failing the first bulk requests
// with the statuses in fail (401, 429, 503…).
func fakeES(t *testing.T, user, pass string, fail ...int) http.Handler {
	var n atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if u, p, ok := r.BasicAuth(); user != "" && (!ok || u != user || p != pass) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"type":"security_exception","reason":"missing authentication credentials"},"status":401}`)
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/_bulk") {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, `{"acknowledged":true}`)
			return
		}
		if i := int(n.Add(1)) - 1; i < len(fail) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(fail[i])
			fmt.Fprintf(w, `{"error":{"type":"injected","reason":"status %d"},"status":%d}`, fail[i], fail[i])
			return
		}
		var items []string
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(nil, 64<<20)
		for line := 0; sc.Scan(); line++ {
			if line%2 == 0 {
				items = append(items, `{"index":{"status":201,"result":"created"}}`)
			}
		}
		fmt.Fprintf(w, `{"took":1,"errors":false,"items":[%s]}`, strings.Join(items, ","))
	})
}

// TestTLSVerificationOnByDefault: an Elasticsearch endpoint whose
// certificate is not trusted is refused unless verification is turned off
// explicitly or its CA is given.
func TestTLSVerificationOnByDefault(t *testing.T) {
	srv := httptest.NewUnstartedServer(fakeES(t, "", ""))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.StartTLS()
	defer srv.Close()
	ctx := context.Background()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))

	if _, err := elastic.New(ctx, elastic.Config{URL: srv.URL, Logger: logger, RetryTimeout: time.Second}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("elastic.New against an untrusted certificate: err = %v, want a certificate verification error", err)
	}
	cfg := config.Default()
	cfg.DLQ = filepath.Join(t.TempDir(), "dlq")
	cfg.ESURL = srv.URL
	if b, err := setup.Build(ctx, cfg, setup.Options{Logger: logger}); err == nil {
		b.Close(ctx)
		t.Errorf("setup.Build with es_url on an untrusted certificate succeeded; TLS verification must be on by default")
	} else if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("setup.Build: err = %v, want a certificate verification error", err)
	}

	// Trusting the CA works, and so does turning verification off — with a warning.
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	s, err := elastic.New(ctx, elastic.Config{URL: srv.URL, RootCAs: pool, Logger: logger})
	if err != nil {
		t.Fatalf("with the server's CA: %v", err)
	}
	s.Close(ctx)
	logs.Reset()
	s, err = elastic.New(ctx, elastic.Config{URL: srv.URL, InsecureSkipVerify: true, Logger: logger})
	if err != nil {
		t.Fatalf("InsecureSkipVerify: %v", err)
	}
	s.Close(ctx)
	if !strings.Contains(logs.String(), "verification is OFF") {
		t.Errorf("InsecureSkipVerify logged no warning: %q", logs.String())
	}
}

// TestCredentialsNeverLogged runs a pipeline configured with Elasticsearch
// basic-auth credentials, an S3 secret key and session token (for the
// lake) and a webhook URL carrying a token, against servers that fail
// (401, 429, 503; S3 403/500; webhook 500), captures every log line
// (setup's logger, slog's default logger and the process's stderr) and the
// errors the pipeline returns, and asserts that no secret appears.
func TestCredentialsNeverLogged(t *testing.T) {
	const (
		user        = "gannet-ingest"
		pass        = "pw-Zq8!vL2#secret-es"
		s3Secret    = "s3SECRETkeyQW9uZ2FubmV0c2VjcmV0"
		s3Token     = "IQoJb3JpZ2luX2VjEJr-session-token-secret"
		webhookPath = "/services/T000/B000/XXXXwebhookTOKENsecret"
	)
	secrets := map[string]string{
		"es password": pass, "basic auth header": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)),
		"s3 secret key": s3Secret, "s3 session token": s3Token, "webhook token": "XXXXwebhookTOKENsecret",
	}

	// Elasticsearch: wrong credentials are refused; ours meet 429, 503, then
	// 401 and 403 until the deadline.
	fail := []int{429, 503}
	for range 200 {
		fail = append(fail, 401, 403)
	}
	es := httptest.NewServer(fakeES(t, user, pass, fail...))
	defer es.Close()
	// S3: every write fails (InternalError, then AccessDenied).
	var s3n atomic.Int32
	s3srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		if s3n.Add(1) <= 2 {
			w.WriteHeader(500)
			io.WriteString(w, `<Error><Code>InternalError</Code><Message>injected</Message></Error>`)
			return
		}
		w.WriteHeader(403)
		io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>injected</Message></Error>`)
	}))
	defer s3srv.Close()
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(500)
	}))
	defer webhook.Close()

	t.Setenv("AWS_ENDPOINT_URL_S3", s3srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDGANNETTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3Secret)
	t.Setenv("AWS_SESSION_TOKEN", s3Token)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_MAX_ATTEMPTS", "2")

	cfg := config.Default()
	cfg.DLQ = filepath.Join(t.TempDir(), "dlq")
	cfg.Lake = "s3://lake-bucket/gannet"
	cfg.ESURL = es.URL
	cfg.ESUsername, cfg.ESPassword = user, pass
	cfg.AlertWebhookURL = webhook.URL + webhookPath
	cfg.IntelDemo = true
	cfg.LogLevel = "debug"

	// Capture everything: setup's logger, the default logger, stderr.
	var mu sync.Mutex
	var captured bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return captured.Write(p) })
	logger := slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}))
	prevDefault := slog.Default()
	slog.SetDefault(logger)
	defer slog.SetDefault(prevDefault)
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	prevStderr := os.Stderr
	os.Stderr = wr
	copied := make(chan struct{})
	go func() { io.Copy(w, rd); close(copied) }()
	restore := func() {
		os.Stderr = prevStderr
		wr.Close()
		<-copied
	}

	var errs []string
	func() {
		defer restore()
		ctx := context.Background()
		b, err := setup.Build(ctx, cfg, setup.Options{Logger: logger, AlertsTo: io.Discard})
		if err != nil {
			errs = append(errs, "build: "+err.Error())
			return
		}
		s := newStream(t)
		for range 2 {
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			res := b.Pipeline.Process(rctx, goodRecords(t, s, 10))
			cancel()
			if res.Err != nil {
				errs = append(errs, fmt.Sprintf("%v", res.Err), fmt.Sprintf("%+v", res.Err))
				logger.Error("batch failed", "error", res.Err, "failed", len(res.Failed))
			}
			for _, a := range res.Alerts {
				logger.Debug("alert", "alert", a)
			}
		}
		if err := b.Close(ctx); err != nil {
			errs = append(errs, err.Error())
			logger.Error("close", "error", err)
		}
		for _, o := range b.Outputs {
			logger.Info("output", "where", o)
		}
	}()
	all := captured.String() + "\n" + strings.Join(errs, "\n")
	if len(errs) == 0 {
		t.Errorf("the failing servers produced no error: the test exercised no error path")
	}
	if !strings.Contains(all, "records not acknowledged") {
		t.Errorf("no warning about unacknowledged records in the logs")
	}
	for what, secret := range secrets {
		if i := strings.Index(all, secret); i >= 0 {
			t.Errorf("the %s appears in the logs or errors: …%s…", what, all[max(0, i-200):min(len(all), i+len(secret)+50)])
		}
	}
	for _, want := range []string{"AccessDenied", "webhook", "sink elastic: es_injected"} {
		if !strings.Contains(all, want) {
			t.Errorf("the logs do not mention %q: an error path was not exercised", want)
		}
	}
	for _, e := range errs {
		t.Logf("error returned: %.300s", e)
	}
	t.Logf("scanned %d bytes of logs and errors for %d secrets", len(all), len(secrets))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
