package elastic

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gannet-sec/gannet/stream"
)

// fakeES is a minimal bulk endpoint: it stores documents by _id and lets a
// test decide the fate of each request and item.
type fakeES struct {
	mu        sync.Mutex
	requests  []fakeRequest
	docs      map[string]json.RawMessage
	templates []string
	// request decides a whole-request answer (0: go on to items).
	request func(n int, r fakeRequest) (status int, header http.Header)
	// item decides one item's status (0 or 200/201: indexed).
	item func(id string, seen int) (status int, errType, reason string)
	seen map[string]int
}

type fakeRequest struct {
	IDs     []string
	Indices []string
	Header  http.Header
	Body    []byte
}

func newFakeES(t *testing.T) (*fakeES, *httptest.Server) {
	f := &fakeES{docs: map[string]json.RawMessage{}, seen: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	if strings.HasPrefix(r.URL.Path, "/_index_template/") && r.Method == http.MethodPut {
		f.mu.Lock()
		f.templates = append(f.templates, strings.TrimPrefix(r.URL.Path, "/_index_template/"))
		f.mu.Unlock()
		io.WriteString(w, `{"acknowledged":true}`)
		return
	}
	if r.URL.Path != "/_bulk" {
		http.Error(w, `{"error":{"type":"not_found","reason":"no route"}}`, 404)
		return
	}
	var req fakeRequest
	req.Header, req.Body = r.Header.Clone(), body
	var docs []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var action struct {
			Index struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			} `json:"index"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || !sc.Scan() {
			http.Error(w, `{"error":{"type":"parse_exception","reason":"bad action"}}`, 400)
			return
		}
		if !json.Valid(sc.Bytes()) {
			http.Error(w, `{"error":{"type":"parse_exception","reason":"bad doc"}}`, 400)
			return
		}
		req.IDs = append(req.IDs, action.Index.ID)
		req.Indices = append(req.Indices, action.Index.Index)
		docs = append(docs, append(json.RawMessage(nil), sc.Bytes()...))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	if f.request != nil {
		if st, h := f.request(len(f.requests), req); st != 0 {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.WriteHeader(st)
			fmt.Fprintf(w, `{"error":{"type":"fake_%d","reason":"fake request failure"},"status":%d}`, st, st)
			return
		}
	}
	var out bytes.Buffer
	errorsSeen := false
	out.WriteString(`{"took":3,"errors":ERRS,"items":[`)
	for i, id := range req.IDs {
		f.seen[id]++
		st, typ, reason := 201, "", ""
		if f.item != nil {
			if s, t, r := f.item(id, f.seen[id]); s != 0 {
				st, typ, reason = s, t, r
			}
		}
		if i > 0 {
			out.WriteByte(',')
		}
		if st >= 300 {
			errorsSeen = true
			fmt.Fprintf(&out, `{"index":{"_index":%q,"_id":%q,"status":%d,"error":{"type":%q,"reason":%q,"caused_by":{"type":"illegal_argument_exception","reason":"cause"}}}}`, req.Indices[i], id, st, typ, reason)
			continue
		}
		f.docs[id] = docs[i]
		fmt.Fprintf(&out, `{"index":{"_index":%q,"_id":%q,"_version":1,"result":"created","status":%d}}`, req.Indices[i], id, st)
	}
	out.WriteString("]}")
	io.WriteString(w, strings.Replace(out.String(), "ERRS", fmt.Sprint(errorsSeen), 1))
}

func (f *fakeES) snapshot() (reqs []fakeRequest, docs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...), len(f.docs)
}

func testSink(t *testing.T, url string, mod func(*Config)) *Sink {
	t.Helper()
	cfg := Config{URL: url, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxBulkActions: 100}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func TestWriteIndexesInChunks(t *testing.T) {
	f, srv := newFakeES(t)
	s := testSink(t, srv.URL, func(c *Config) { c.Concurrency = 3 })
	if got := len(f.templates); got != len(stream.Formats())+1 {
		t.Errorf("installed %d templates (%v), want one per format plus alerts", got, f.templates)
	}
	evs := fixtureEvents(stream.FormatCloudTrail, 250, 1)
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs, docs := f.snapshot()
	if len(reqs) != 3 || docs != 250 {
		t.Fatalf("%d requests, %d docs; want 3 requests (100/100/50) and 250 docs", len(reqs), docs)
	}
	for _, r := range reqs {
		if r.Header.Get("Content-Type") != "application/x-ndjson" {
			t.Errorf("content type %q", r.Header.Get("Content-Type"))
		}
		for _, idx := range r.Indices {
			if idx != "gannet-cloudtrail-2026.11.01" {
				t.Fatalf("index %q", idx)
			}
		}
	}
	// Writing the same events again overwrites: same ids, same count.
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if _, docs := f.snapshot(); docs != 250 {
		t.Errorf("after rewrite %d docs, want 250", docs)
	}
	if s.Stats().Documents.Load() != 500 || s.Stats().Requests.Load() != 6 || s.Stats().BytesSent.Load() == 0 {
		t.Errorf("stats: %d documents, %d requests", s.Stats().Documents.Load(), s.Stats().Requests.Load())
	}
}

func TestWriteSplitsByBytes(t *testing.T) {
	f, srv := newFakeES(t)
	s := testSink(t, srv.URL, func(c *Config) { c.MaxBulkBytes = MinMaxBulkBytes; c.MaxBulkActions = 1 << 20 })
	evs := fixtureEvents(stream.FormatCloudTrail, 6000, 2) // ~2.7 KiB each: ~16 MiB
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	reqs, docs := f.snapshot()
	if docs != 6000 || len(reqs) < 3 {
		t.Fatalf("%d docs in %d requests", docs, len(reqs))
	}
	for _, r := range reqs {
		if len(r.Body) > MinMaxBulkBytes {
			t.Errorf("bulk body of %d bytes exceeds %d", len(r.Body), MinMaxBulkBytes)
		}
	}
}

func TestWritePartialFailures(t *testing.T) {
	f, srv := newFakeES(t)
	evs := fixtureEvents(stream.FormatVPCFlow, 50, 3)
	conflict, throttled, flaky := evs[7].ID.String(), evs[20].ID.String(), evs[33].ID.String()
	f.item = func(id string, seen int) (int, string, string) {
		switch {
		case id == conflict:
			return 400, "mapper_parsing_exception", "failed to parse field [source.ip] of type [ip]"
		case id == throttled && seen == 1:
			return 429, "es_rejected_execution_exception", "rejected execution"
		case id == flaky && seen <= 2:
			return 503, "unavailable_shards_exception", "primary shard is not active"
		}
		return 0, "", ""
	}
	s := testSink(t, srv.URL, nil)
	err := s.Write(context.Background(), evs)
	var items stream.ItemErrors
	if !errors.As(err, &items) || len(items) != 1 || items[0].Index != 7 {
		t.Fatalf("want one ItemError for event 7, got %v", err)
	}
	if c, _ := stream.ClassOf(items[0].Err); c != stream.Permanent {
		t.Errorf("mapping conflict class %v, want permanent", c)
	}
	r := stream.ReasonOf(items[0].Err)
	if r.Code != "es_mapper_parsing_exception" || !strings.Contains(r.Detail, "failed to parse field [source.ip]") || !strings.Contains(r.Detail, "cause") {
		t.Errorf("reason %+v", r)
	}
	reqs, docs := f.snapshot()
	if docs != 49 {
		t.Errorf("%d docs landed, want 49", docs)
	}
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (all, then the two retryable items, then the flaky one)", len(reqs))
	}
	if got := reqs[1].IDs; len(got) != 2 || got[0] != throttled || got[1] != flaky {
		t.Errorf("second request resent %v, want only [%s %s]", got, throttled, flaky)
	}
	if got := reqs[2].IDs; len(got) != 1 || got[0] != flaky {
		t.Errorf("third request resent %v", got)
	}
}

func TestWriteRequestThrottledHonorsRetryAfter(t *testing.T) {
	f, srv := newFakeES(t)
	f.request = func(n int, r fakeRequest) (int, http.Header) {
		if n == 1 {
			return 429, http.Header{"Retry-After": {"1"}}
		}
		return 0, nil
	}
	s := testSink(t, srv.URL, nil)
	start := time.Now()
	if err := s.Write(context.Background(), fixtureEvents(stream.FormatALB, 10, 4)); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("retried after %v; Retry-After asked for 1s", el)
	}
	if reqs, docs := f.snapshot(); len(reqs) != 2 || docs != 10 {
		t.Errorf("%d requests, %d docs", len(reqs), docs)
	}
	if s.Stats().RequestRetries.Load() != 10 {
		t.Errorf("request retries %d", s.Stats().RequestRetries.Load())
	}
}

func TestWriteGivesUpAtDeadline(t *testing.T) {
	f, srv := newFakeES(t)
	f.request = func(int, fakeRequest) (int, http.Header) { return 503, nil }
	s := testSink(t, srv.URL, func(c *Config) { c.MaxBackoff = 50 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Write(ctx, fixtureEvents(stream.FormatALB, 10, 5))
	if el := time.Since(start); el > 400*time.Millisecond {
		t.Errorf("Write took %v past a 300ms deadline", el)
	}
	var items stream.ItemErrors
	if err == nil || errors.As(err, &items) {
		t.Fatalf("want one whole-batch error, got %v", err)
	}
	if c, _ := stream.ClassOf(err); c != stream.Retryable {
		t.Errorf("class %v, want retryable (records must not be acked nor dead-lettered)", c)
	}
	// Every attempt is counted before it is sent; the last one may be cut
	// by the deadline before the server records it (CI saw 14 recorded, 15
	// counted), so the count may exceed what the server saw by one.
	reqs, _ := f.snapshot()
	if n := s.Stats().Requests.Load(); len(reqs) < 2 || n != int64(len(reqs)) && n != int64(len(reqs))+1 {
		t.Errorf("%d attempts recorded by the server, %d counted", len(reqs), n)
	}
}

func TestWriteConnectionRefusedIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	s := testSink(t, url, func(c *Config) { c.SkipTemplates = true })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Write(ctx, fixtureEvents(stream.FormatALB, 3, 5))
	if c, _ := stream.ClassOf(err); err == nil || c != stream.Retryable {
		t.Fatalf("got %v (%v)", err, c)
	}
}

func TestWriteSplitsTooLargeRequests(t *testing.T) {
	f, srv := newFakeES(t)
	f.request = func(n int, r fakeRequest) (int, http.Header) {
		if len(r.IDs) > 2 {
			return 413, nil
		}
		return 0, nil
	}
	s := testSink(t, srv.URL, nil)
	if err := s.Write(context.Background(), fixtureEvents(stream.FormatALB, 9, 6)); err != nil {
		t.Fatal(err)
	}
	if _, docs := f.snapshot(); docs != 9 {
		t.Errorf("%d docs, want 9", docs)
	}
}

func TestAlertsIndex(t *testing.T) {
	f, srv := newFakeES(t)
	s := testSink(t, srv.URL, nil)
	ws := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
	a := stream.Alert{ID: stream.AlertID("r", "", ws), RuleID: "r", WindowStart: ws, Count: 1}
	if err := s.Alerts(context.Background(), []stream.Alert{a, a}); err != nil {
		t.Fatal(err)
	}
	reqs, docs := f.snapshot()
	if docs != 1 || reqs[0].Indices[0] != "gannet-alerts-2026.11.02" || reqs[0].IDs[0] != a.ID.String() {
		t.Errorf("docs %d, request %+v", docs, reqs[0].IDs)
	}
}

func TestBasicAuth(t *testing.T) {
	f, srv := newFakeES(t)
	s := testSink(t, srv.URL, func(c *Config) { c.Username, c.Password = "elastic", "s3cr3t" })
	if err := s.Write(context.Background(), fixtureEvents(stream.FormatALB, 1, 1)); err != nil {
		t.Fatal(err)
	}
	reqs, _ := f.snapshot()
	req := http.Request{Header: reqs[0].Header}
	if u, p, ok := req.BasicAuth(); !ok || u != "elastic" || p != "s3cr3t" {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}
}

func TestSigV4SignsBodyHash(t *testing.T) {
	f, srv := newFakeES(t)
	s := testSink(t, srv.URL, func(c *Config) {
		c.SigV4 = &SigV4{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", "")}
	})
	if err := s.Write(context.Background(), fixtureEvents(stream.FormatALB, 3, 1)); err != nil {
		t.Fatal(err)
	}
	reqs, _ := f.snapshot()
	r := reqs[0]
	sum := sha256.Sum256(r.Body)
	if got := r.Header.Get("X-Amz-Content-Sha256"); got != hex.EncodeToString(sum[:]) {
		t.Errorf("payload hash %q does not match the body", got)
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/eu-west-1/es/aws4_request") {
		t.Errorf("authorization %q", auth)
	}
	if strings.Contains(auth, "wJalrXUtnFEMI") {
		t.Error("secret key leaked into a header")
	}
	var _ aws.CredentialsProvider = credentials.StaticCredentialsProvider{}
}

func TestClassify(t *testing.T) {
	now := time.Now()
	cases := []struct {
		o     outcome
		class stream.Class
		code  string
		delay time.Duration
	}{
		{outcome{Status: 200}, 0, "", 0},
		{outcome{Item: true, Status: 201}, 0, "", 0},
		{outcome{Status: 429, RetryAfter: "7"}, stream.Throttled, "es_http_429", 7 * time.Second},
		{outcome{Status: 429, RetryAfter: now.Add(3 * time.Second).UTC().Format(http.TimeFormat)}, stream.Throttled, "es_http_429", 2 * time.Second},
		{outcome{Item: true, Status: 429, ErrType: "es_rejected_execution_exception"}, stream.Throttled, "es_es_rejected_execution_exception", 0},
		{outcome{Status: 502}, stream.Retryable, "es_http_502", 0},
		{outcome{Item: true, Status: 503, ErrType: "unavailable_shards_exception"}, stream.Retryable, "es_unavailable_shards_exception", 0},
		{outcome{Status: 408}, stream.Retryable, "es_http_408", 0},
		{outcome{Status: 401}, stream.Retryable, "es_http_401", 0},
		{outcome{Item: true, Status: 403, ErrType: "cluster_block_exception"}, stream.Retryable, "es_cluster_block_exception", 0},
		{outcome{Item: true, Status: 400, ErrType: "mapper_parsing_exception", Reason: "bad ip"}, stream.Permanent, "es_mapper_parsing_exception", 0},
		{outcome{Item: true, Status: 409, ErrType: "version_conflict_engine_exception"}, stream.Permanent, "es_version_conflict_engine_exception", 0},
		{outcome{Status: 413}, stream.Permanent, "es_http_413", 0},
		{outcome{Err: errors.New("connection refused")}, stream.Retryable, "es_unavailable", 0},
		{outcome{Err: context.DeadlineExceeded}, stream.Retryable, "error", 0},
	}
	for _, c := range cases {
		err := classify(c.o)
		if c.code == "" {
			if err != nil {
				t.Errorf("%+v: %v, want success", c.o, err)
			}
			continue
		}
		class, delay := stream.ClassOf(err)
		if class != c.class || stream.ReasonOf(err).Code != c.code || delay < c.delay || delay > c.delay+2*time.Second {
			t.Errorf("%+v: class %v code %q delay %v; want %v %q %v", c.o, class, stream.ReasonOf(err).Code, delay, c.class, c.code, c.delay)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{URL: "http://x:9200", MaxBulkBytes: 1 << 20},
		{URL: "http://x:9200", MaxBulkBytes: 16 << 20},
		{URL: "http://u:p@x:9200"},
		{URL: "ftp://x"},
		{URL: "http://x:9200", IndexPrefix: "Bad"},
		{URL: "http://x:9200", SigV4: &SigV4{Region: "eu-west-1"}},
	} {
		cfg.SkipTemplates = true
		if s, err := New(context.Background(), cfg); err == nil {
			s.Close(context.Background())
			t.Errorf("%+v accepted", cfg)
		} else if strings.Contains(err.Error(), ":p@") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestCloseRefusesWrites(t *testing.T) {
	_, srv := newFakeES(t)
	s := testSink(t, srv.URL, nil)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), fixtureEvents(stream.FormatALB, 1, 1)); !errors.Is(err, ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
}
