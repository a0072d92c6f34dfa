package elastic

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/olivere/elastic/v7"

	"github.com/gannet-sec/gannet/stream"
)

// Defaults and bounds of Config.
const (
	DefaultIndexPrefix    = "gannet"
	DefaultMaxBulkBytes   = 10 << 20
	MinMaxBulkBytes       = 5 << 20
	MaxMaxBulkBytes       = 15 << 20
	DefaultMaxBulkActions = 10000
	DefaultConcurrency    = 2
	DefaultRetryTimeout   = 2 * time.Minute
)

// Config configures a Sink. The zero value of every field but URL is a
// usable default.
type Config struct {
	// URL is the cluster's base URL (https://host:9200). Only this node is
	// used: sniffing and health checks are off (proxies and managed
	// services hide the nodes).
	URL string
	// IndexPrefix starts index, alias and template names; default "gannet".
	IndexPrefix string
	// MaxBulkBytes bounds a bulk request body; default 10 MiB, allowed
	// 5–15 MiB. A single document larger than it is sent alone.
	MaxBulkBytes int
	// MaxBulkActions bounds the number of documents of a bulk request;
	// default 10000.
	MaxBulkActions int
	// Concurrency is the number of bulk requests in flight per Sink; default 2.
	Concurrency int

	// Username and Password select HTTP basic authentication.
	Username, Password string
	// SigV4 selects AWS Signature V4 (Amazon OpenSearch Service).
	SigV4 *SigV4
	// InsecureSkipVerify turns TLS certificate verification off (logged as
	// a warning). Verification is on by default.
	InsecureSkipVerify bool
	// RootCAs, when set, replaces the system roots for TLS verification.
	RootCAs *x509.CertPool
	// Transport, when set, is the base transport (authentication is still
	// added on top); TLS options are then the transport's business.
	Transport http.RoundTripper

	// Shards and Replicas go into the index templates; Shards default 1,
	// Replicas nil keeps the cluster default.
	Shards   int
	Replicas *int
	// SkipTemplates skips installing index templates in New.
	SkipTemplates bool

	// InitialBackoff and MaxBackoff bound the jittered exponential backoff
	// between retries (default 100ms and 10s). Retry-After wins when larger.
	InitialBackoff, MaxBackoff time.Duration
	// RetryTimeout bounds retries when the context has no deadline;
	// default 2 minutes.
	RetryTimeout time.Duration
	// Refresh is passed as the bulk "refresh" parameter ("", "true",
	// "wait_for"); empty (the default) leaves refreshing to the cluster.
	Refresh string

	// Logger receives warnings (insecure TLS) and retry notes; default slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.URL == "" {
		return errors.New("elastic: Config.URL is required")
	}
	if c.IndexPrefix == "" {
		c.IndexPrefix = DefaultIndexPrefix
	}
	if c.IndexPrefix != strings.ToLower(c.IndexPrefix) || strings.ContainsAny(c.IndexPrefix, ` "*\<|,>/?#:`) {
		return fmt.Errorf("elastic: invalid index prefix %q", c.IndexPrefix)
	}
	if c.MaxBulkBytes == 0 {
		c.MaxBulkBytes = DefaultMaxBulkBytes
	}
	if c.MaxBulkBytes < MinMaxBulkBytes || c.MaxBulkBytes > MaxMaxBulkBytes {
		return fmt.Errorf("elastic: MaxBulkBytes %d outside %d–%d", c.MaxBulkBytes, MinMaxBulkBytes, MaxMaxBulkBytes)
	}
	if c.MaxBulkActions <= 0 {
		c.MaxBulkActions = DefaultMaxBulkActions
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Shards <= 0 {
		c.Shards = 1
	}
	if c.InitialBackoff <= 0 {
		c.InitialBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.RetryTimeout <= 0 {
		c.RetryTimeout = DefaultRetryTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.SigV4 != nil && (c.SigV4.Region == "" || c.SigV4.Credentials == nil) {
		return errors.New("elastic: SigV4 needs Region and Credentials")
	}
	if c.SigV4 != nil && c.Username != "" {
		return errors.New("elastic: choose basic auth or SigV4, not both")
	}
	switch c.Refresh {
	case "", "true", "false", "wait_for":
	default:
		return fmt.Errorf("elastic: invalid Refresh %q", c.Refresh)
	}
	return nil
}

// Sink indexes events (stream.Sink) and alerts (stream.AlertSink). It is
// safe for concurrent use.
//
// Write and Alerts return only when every document they were given is
// indexed or has failed for good: that is what lets them name the failed
// documents by index in stream.ItemErrors. Flush is therefore a barrier that
// waits for the calls still in flight in other goroutines.
type Sink struct {
	cfg     Config
	client  *elastic.Client
	httpc   *http.Client
	bulkURL string
	sem     chan struct{}
	enc     sync.Pool // *Encoder
	bufs    sync.Pool // *[]byte
	active  sync.WaitGroup
	closed  atomic.Bool
	stats   Stats
}

// Stats counts what a Sink did. Read it with Sink.Stats.
type Stats struct {
	Requests       atomic.Int64 // bulk requests sent, retries included
	Documents      atomic.Int64 // documents indexed
	BytesSent      atomic.Int64 // bulk body bytes sent, retries included
	ItemRetries    atomic.Int64 // items resent after a retryable item failure
	RequestRetries atomic.Int64 // items resent after a whole-request failure (413 splits excluded)
	Rejected       atomic.Int64 // items returned as errors
}

func (s *Stats) retried(n int, request bool) {
	if request {
		s.RequestRetries.Add(int64(n))
	} else {
		s.ItemRetries.Add(int64(n))
	}
}

// New connects a Sink (no request is made unless templates are installed)
// and installs the index templates unless cfg.SkipTemplates.
func New(ctx context.Context, cfg Config) (*Sink, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("elastic: invalid URL %q", redactURL(cfg.URL))
	}
	if u.User != nil {
		return nil, errors.New("elastic: put credentials in Config.Username/Password, not in the URL")
	}
	base := cfg.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = cfg.Concurrency + 2
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs}
		if cfg.InsecureSkipVerify {
			t.TLSClientConfig.InsecureSkipVerify = true
			cfg.Logger.Warn("elastic: TLS certificate verification is OFF (InsecureSkipVerify)", "url", u.Redacted())
		}
		base = t
	}
	switch {
	case cfg.SigV4 != nil:
		base = &sigv4Transport{base: base, cfg: *cfg.SigV4, signer: v4.NewSigner()}
	case cfg.Username != "" || cfg.Password != "":
		base = &basicTransport{base: base, user: cfg.Username, password: cfg.Password}
	}
	httpc := &http.Client{Transport: base}
	client, err := elastic.NewClient(
		elastic.SetURL(strings.TrimRight(cfg.URL, "/")),
		elastic.SetSniff(false),
		elastic.SetHealthcheck(false),
		elastic.SetHttpClient(httpc),
	)
	if err != nil {
		return nil, fmt.Errorf("elastic: client: %w", err)
	}
	bulk := strings.TrimRight(cfg.URL, "/") + "/_bulk"
	if cfg.Refresh != "" {
		bulk += "?refresh=" + cfg.Refresh
	}
	s := &Sink{
		cfg:     cfg,
		client:  client,
		httpc:   httpc,
		bulkURL: bulk,
		sem:     make(chan struct{}, cfg.Concurrency),
	}
	s.enc.New = func() any { return &Encoder{IndexPrefix: cfg.IndexPrefix} }
	if !cfg.SkipTemplates {
		if err := s.InstallTemplates(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "<unparsable>"
}

// Client returns the olivere client the Sink uses for cluster calls
// (templates, searches), sharing its transport and authentication.
func (s *Sink) Client() *elastic.Client { return s.client }

// Stats returns the Sink's counters.
func (s *Sink) Stats() *Stats { return &s.stats }

// Name implements stream.Sink and stream.AlertSink.
func (s *Sink) Name() string { return "elastic" }

// ErrClosed is returned by calls on a closed Sink.
var ErrClosed = errors.New("elastic: sink closed")

// Write indexes events. It returns nil when all are indexed, ItemErrors for
// the events that were not (Permanent: rejected by Elasticsearch, with its
// reason; Retryable/Throttled: still failing when the deadline came), or a
// whole-batch error when nothing could be indexed for one request-level cause.
func (s *Sink) Write(ctx context.Context, events []stream.Event) error {
	return s.index(ctx, len(events), func(e *Encoder, dst []byte, i int) []byte {
		return e.AppendBulkIndex(dst, &events[i])
	})
}

// Alerts implements stream.AlertSink: alerts go to <prefix>-alerts-YYYY.MM.DD
// with _id = the alert id, so re-raised alerts overwrite.
func (s *Sink) Alerts(ctx context.Context, alerts []stream.Alert) error {
	return s.index(ctx, len(alerts), func(e *Encoder, dst []byte, i int) []byte {
		return e.AppendBulkAlert(dst, &alerts[i])
	})
}

// index encodes n documents into bulk chunks, sends the chunks with bounded
// concurrency and collects per-item failures.
func (s *Sink) index(ctx context.Context, n int, appendDoc func(*Encoder, []byte, int) []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if n == 0 {
		return nil
	}
	s.active.Add(1)
	defer s.active.Done()

	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.cfg.RetryTimeout)
	}
	enc := s.enc.Get().(*Encoder)
	defer s.enc.Put(enc)

	errs := make([]error, n)
	var wg sync.WaitGroup
	dispatch := func(c *chunk) error {
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			for _, it := range c.items {
				errs[it.idx] = ctx.Err()
			}
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-s.sem }()
			s.send(ctx, deadline, c, errs)
			s.putBuf(c.buf)
		}()
		return nil
	}

	c := &chunk{buf: s.getBuf()}
	var stop error
	for i := 0; i < n && stop == nil; i++ {
		start := len(c.buf)
		c.buf = appendDoc(enc, c.buf, i)
		if len(c.buf) > s.cfg.MaxBulkBytes && len(c.items) > 0 {
			// This document does not fit: send the chunk without it and
			// start the next chunk with it.
			next := &chunk{buf: append(s.getBuf(), c.buf[start:]...)}
			c.buf = c.buf[:start]
			stop = dispatch(c)
			c = next
			start = 0
		}
		c.items = append(c.items, bulkItem{idx: i, start: start, end: len(c.buf)})
		if len(c.items) >= s.cfg.MaxBulkActions || len(c.buf) >= s.cfg.MaxBulkBytes {
			stop = dispatch(c)
			c = &chunk{buf: s.getBuf()}
		}
	}
	if stop == nil && len(c.items) > 0 {
		_ = dispatch(c)
	}
	wg.Wait()
	if stop != nil {
		for i := range errs {
			if errs[i] == nil {
				// Not encoded or not sent: nothing is known about it.
				errs[i] = stop
			}
		}
	}
	return s.collect(errs)
}

// collect turns per-document errors into the Write result.
func (s *Sink) collect(errs []error) error {
	var items stream.ItemErrors
	var first error
	same := true
	for i, e := range errs {
		if e == nil {
			continue
		}
		if first == nil {
			first = e
		} else if e != first {
			same = false
		}
		items = append(items, stream.ItemError{Index: i, Err: e})
	}
	s.stats.Documents.Add(int64(len(errs) - len(items)))
	s.stats.Rejected.Add(int64(len(items)))
	if len(items) == 0 {
		return nil
	}
	if len(items) == len(errs) && same {
		if c, _ := stream.ClassOf(first); c != stream.Permanent {
			// One request-level cause for the whole batch.
			return first
		}
	}
	slices.SortFunc(items, func(a, b stream.ItemError) int { return a.Index - b.Index })
	return items
}

func (s *Sink) getBuf() []byte {
	if p, ok := s.bufs.Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, s.cfg.MaxBulkBytes+s.cfg.MaxBulkBytes/8)
}

func (s *Sink) putBuf(b []byte) {
	if cap(b) > 2*MaxMaxBulkBytes {
		return
	}
	s.bufs.Put(&b)
}

// Flush waits until every Write or Alerts call in flight has finished;
// documents are indexed (or reported failed) by the time those calls
// return.
func (s *Sink) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close waits for calls in flight, then refuses new ones and releases idle
// connections.
func (s *Sink) Close(ctx context.Context) error {
	s.closed.Store(true)
	err := s.Flush(ctx)
	s.client.Stop()
	s.httpc.CloseIdleConnections()
	return err
}

var (
	_ stream.Sink      = (*Sink)(nil)
	_ stream.AlertSink = (*Sink)(nil)
)
