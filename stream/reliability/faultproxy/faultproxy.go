// Package faultproxy is a fault-injecting HTTP reverse proxy for tests: it
// stands on 127.0.0.1 in front of a real server (Elasticsearch, an S3
// API) and, on the requests a rule selects, answers an error status
// (429/503, S3 500 InternalError and 503 SlowDown), holds the request past
// the client's patience (timeouts), resets the connection, or rewrites a
// bulk response so that chosen items fail (partial bulk failures). Every
// other request is forwarded untouched, Host header included, so SigV4
// signatures made for the proxy's address still verify.
package faultproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is what a rule does to a request it selects.
type Kind int

const (
	// Status answers Rule.Status with Rule.Body (and Retry-After when set)
	// without forwarding the request.
	Status Kind = iota
	// Hang holds the request, unanswered, for Rule.Delay or until the client
	// gives up (a timeout seen from the client); it is not forwarded.
	Hang
	// Reset closes the TCP connection with RST (SO_LINGER 0) without an
	// answer; the request is not forwarded.
	Reset
	// Delay forwards the request after Rule.Delay.
	Delay
	// BulkItems forwards an Elasticsearch _bulk request, then rewrites the
	// response so that the items Rule.Items selects fail with
	// Rule.Status / Rule.ErrType (the server did index them: a retry must
	// overwrite, not duplicate).
	BulkItems
)

func (k Kind) String() string {
	switch k {
	case Status:
		return "status"
	case Hang:
		return "hang"
	case Reset:
		return "reset"
	case Delay:
		return "delay"
	case BulkItems:
		return "bulk-items"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Rule selects requests and injects one fault into them.
type Rule struct {
	// Name labels the rule in Stats.
	Name string
	// Match selects requests; nil matches every request.
	Match func(*http.Request) bool
	// Skip lets this many matching requests through before injecting.
	Skip int
	// Times bounds the injections (0 or less: every matching request until
	// the rule is removed).
	Times int
	Kind  Kind

	Status     int               // Status, BulkItems (item status)
	Body       string            // Status: response body
	Header     map[string]string // Status: extra headers (Content-Type…)
	RetryAfter string            // Status: Retry-After header
	Delay      time.Duration     // Hang (0: until the client gives up), Delay
	// Items selects bulk items by _id for BulkItems (nil: every item).
	Items func(id string) bool
	// ErrType is the Elasticsearch error type of rewritten items
	// (default es_rejected_execution_exception).
	ErrType string
}

// Predefined faults.

// ESThrottle answers 429 es_rejected_execution_exception, as a busy cluster does.
func ESThrottle(retryAfter string) Rule {
	return Rule{Name: "es-429", Match: IsBulk, Kind: Status, Status: http.StatusTooManyRequests, RetryAfter: retryAfter,
		Header: map[string]string{"Content-Type": "application/json"},
		Body:   `{"error":{"type":"es_rejected_execution_exception","reason":"injected by faultproxy"},"status":429}`}
}

// ESUnavailable answers 503, as a cluster without a master does.
func ESUnavailable() Rule {
	return Rule{Name: "es-503", Match: IsBulk, Kind: Status, Status: http.StatusServiceUnavailable,
		Header: map[string]string{"Content-Type": "application/json"},
		Body:   `{"error":{"type":"cluster_block_exception","reason":"injected by faultproxy: no master"},"status":503}`}
}

// S3Error answers an S3 XML error (code "InternalError" with 500, "SlowDown" with 503…).
func S3Error(status int, code string) Rule {
	return Rule{Name: "s3-" + strconv.Itoa(status) + "-" + code, Match: IsS3Write, Kind: Status, Status: status,
		Header: map[string]string{"Content-Type": "application/xml"},
		Body: `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Error><Code>` + code +
			`</Code><Message>injected by faultproxy</Message><RequestId>faultproxy</RequestId></Error>`}
}

// IsBulk matches Elasticsearch _bulk requests.
func IsBulk(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_bulk")
}

// IsS3Write matches S3 object writes: PutObject, UploadPart, CopyObject,
// Create/CompleteMultipartUpload (PUT, or POST on an object key).
func IsS3Write(r *http.Request) bool {
	return r.Method == http.MethodPut || (r.Method == http.MethodPost && strings.Count(strings.Trim(r.URL.Path, "/"), "/") >= 1)
}

// Any matches every request.
func Any(*http.Request) bool { return true }

type rule struct {
	Rule
	seen, injected int
}

// Proxy is a fault-injecting reverse proxy. Its methods are safe for concurrent use.
type Proxy struct {
	// URL is the proxy's base URL (http://127.0.0.1:port).
	URL string

	target *url.URL
	rp     *httputil.ReverseProxy
	srv    *http.Server
	ln     net.Listener

	mu       sync.Mutex
	rules    []*rule
	requests int
	byRule   map[string]int
	hangs    sync.WaitGroup
	closing  chan struct{}
}

// New starts a proxy on a free loopback port in front of target.
func New(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: u, ln: ln, byRule: map[string]int{}, closing: make(chan struct{})}
	p.rp = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Host = pr.In.Host // keep the signed Host header
		if IsBulk(pr.Out) {
			// Keep bulk responses rewritable (Elasticsearch signs nothing;
			// an S3 request may have signed this header).
			pr.Out.Header.Del("Accept-Encoding")
		}
	}}
	p.rp.ModifyResponse = p.modify
	p.rp.ErrorLog = log.New(io.Discard, "", 0) // a cancelled request is the fault, not news
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 10 * time.Second}
	p.URL = "http://" + ln.Addr().String()
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the proxy (hanging requests are released).
func (p *Proxy) Close() error {
	close(p.closing)
	err := p.srv.Close()
	p.hangs.Wait()
	return err
}

// Add installs rules (evaluated in order: the first rule that injects wins).
func (p *Proxy) Add(rs ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rs {
		if r.Name == "" {
			r.Name = r.Kind.String()
		}
		p.rules = append(p.rules, &rule{Rule: r})
	}
}

// Clear removes every rule: from now on the proxy only forwards.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// ResetStats zeroes the counters Stats reports.
func (p *Proxy) ResetStats() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = 0
	clear(p.byRule)
}

// Stats are what the proxy saw and did.
type Stats struct {
	Requests int            // requests received
	Injected map[string]int // faults injected, by rule name (bulk items counted one by one)
}

// Total is the number of faults injected.
func (s Stats) Total() int {
	n := 0
	for _, v := range s.Injected {
		n += v
	}
	return n
}

// Stats returns a snapshot of the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Requests: p.requests, Injected: map[string]int{}}
	for k, v := range p.byRule {
		s.Injected[k] = v
	}
	return s
}

// pick returns the request-level rule to apply to r, if any, and counts it.
// BulkItems rules are returned too; they are counted per item in modify.
func (p *Proxy) pick(r *http.Request) *rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	for _, ru := range p.rules {
		if ru.Match != nil && !ru.Match(r) {
			continue
		}
		if ru.Times > 0 && ru.injected >= ru.Times {
			continue
		}
		ru.seen++
		if ru.seen <= ru.Skip {
			continue
		}
		if ru.Kind != BulkItems {
			ru.injected++
			p.byRule[ru.Name]++
		}
		return ru
	}
	return nil
}

type ruleKey struct{}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	ru := p.pick(r)
	if ru == nil {
		p.rp.ServeHTTP(w, r)
		return
	}
	switch ru.Kind {
	case Status:
		_, _ = io.Copy(io.Discard, r.Body)
		for k, v := range ru.Header {
			w.Header().Set(k, v)
		}
		if ru.RetryAfter != "" {
			w.Header().Set("Retry-After", ru.RetryAfter)
		}
		w.WriteHeader(ru.Status)
		_, _ = io.WriteString(w, ru.Body)
	case Hang:
		p.hangs.Add(1)
		defer p.hangs.Done()
		var timeout <-chan time.Time
		if ru.Delay > 0 {
			t := time.NewTimer(ru.Delay)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-r.Context().Done():
		case <-timeout:
		case <-p.closing:
		}
		resetConn(w)
	case Reset:
		resetConn(w)
	case Delay:
		select {
		case <-time.After(ru.Delay):
		case <-r.Context().Done():
			return
		}
		p.rp.ServeHTTP(w, r)
	case BulkItems:
		r2 := r.WithContext(contextWithRule(r.Context(), ru))
		p.rp.ServeHTTP(w, r2)
	}
}

// resetConn aborts the connection with a TCP RST.
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	c, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// modify rewrites the bulk response of a request that a BulkItems rule selected.
func (p *Proxy) modify(resp *http.Response) error {
	ru := ruleFrom(resp.Request.Context())
	if ru == nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	var br map[string]any
	if err := json.Unmarshal(body, &br); err != nil {
		return fmt.Errorf("faultproxy: bulk response: %w", err)
	}
	items, _ := br["items"].([]any)
	errType := ru.ErrType
	if errType == "" {
		errType = "es_rejected_execution_exception"
	}
	changed := 0
	p.mu.Lock()
	for _, it := range items {
		m, _ := it.(map[string]any)
		for _, v := range m {
			res, _ := v.(map[string]any)
			id, _ := res["_id"].(string)
			if ru.Items != nil && !ru.Items(id) {
				continue
			}
			if ru.Times > 0 && ru.injected >= ru.Times {
				continue
			}
			ru.injected++
			p.byRule[ru.Name]++
			res["status"] = ru.Status
			res["error"] = map[string]any{"type": errType, "reason": "injected by faultproxy"}
			delete(res, "result")
			changed++
		}
	}
	p.mu.Unlock()
	if changed > 0 {
		br["errors"] = true
		if body, err = json.Marshal(br); err != nil {
			return err
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}
