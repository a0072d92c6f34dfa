package elastic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// faultProxy is a reverse proxy on 127.0.0.1 in front of a real
// Elasticsearch that injects throttling: it answers 429 to the first
// RejectRequests bulk requests without forwarding them, and rewrites the
// bulk response of chosen documents (by _id) to an item-level 429
// es_rejected_execution_exception a chosen number of times, as a busy
// cluster does. Rewritten items were in fact indexed, so their retry also
// checks that re-indexing is idempotent.
type faultProxy struct {
	URL string

	mu             sync.Mutex
	rejectRequests int
	retryAfter     string
	rejectItems    map[string]int
	bulkRequests   int // bulk requests received
	injected       int // 429s injected, request or item level
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{rejectItems: map[string]int{}}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Header.Del("Accept-Encoding") // keep responses rewritable
	}}
	rp.ModifyResponse = p.rewrite
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isBulk(r) {
			p.mu.Lock()
			p.bulkRequests++
			reject := p.rejectRequests > 0
			if reject {
				p.rejectRequests--
				p.injected++
			}
			ra := p.retryAfter
			p.mu.Unlock()
			if reject {
				io.Copy(io.Discard, r.Body)
				if ra != "" {
					w.Header().Set("Retry-After", ra)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"error":{"type":"es_rejected_execution_exception","reason":"injected by faultProxy"},"status":429}`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func isBulk(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/_bulk")
}

func (p *faultProxy) rewrite(resp *http.Response) error {
	if !isBulk(resp.Request) || resp.StatusCode != http.StatusOK {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.rejectItems) == 0 {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var br map[string]any
	if err := json.Unmarshal(body, &br); err != nil {
		return fmt.Errorf("faultProxy: bulk response: %w", err)
	}
	items, _ := br["items"].([]any)
	changed := false
	for _, it := range items {
		for _, v := range it.(map[string]any) {
			res := v.(map[string]any)
			id, _ := res["_id"].(string)
			if p.rejectItems[id] > 0 {
				p.rejectItems[id]--
				p.injected++
				res["status"] = 429
				res["error"] = map[string]any{"type": "es_rejected_execution_exception", "reason": "injected by faultProxy"}
				delete(res, "result")
				changed = true
			}
		}
	}
	if changed {
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

func (p *faultProxy) counts() (bulk, injected int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bulkRequests, p.injected
}
