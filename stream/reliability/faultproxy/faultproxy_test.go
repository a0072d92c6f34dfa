package faultproxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProxyRules(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Host == "" {
			t.Error("no Host header")
		}
		io.WriteString(w, `{"errors":false,"items":[{"index":{"_id":"a","status":201}},{"index":{"_id":"b","status":201}}]}`)
	}))
	defer backend.Close()
	p, err := New(backend.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := &http.Client{Timeout: 2 * time.Second}
	post := func() (int, string, error) {
		resp, err := c.Post(p.URL+"/_bulk", "application/x-ndjson", strings.NewReader("{}\n"))
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}

	r := ESThrottle("1")
	r.Skip, r.Times = 1, 2
	p.Add(r)
	var codes []int
	for range 4 {
		code, _, err := post()
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
	}
	if want := []int{200, 429, 429, 200}; !equal(codes, want) {
		t.Errorf("statuses %v, want %v (skip 1, inject 2)", codes, want)
	}

	p.Clear()
	p.Add(Rule{Kind: Reset, Times: 1})
	if _, _, err := post(); err == nil {
		t.Error("reset: the request succeeded")
	}

	p.Clear()
	p.Add(Rule{Kind: BulkItems, Match: IsBulk, Status: 400, ErrType: "mapper_parsing_exception", Items: func(id string) bool { return id == "b" }})
	code, body, err := post()
	if err != nil || code != 200 {
		t.Fatalf("bulk: %d %v", code, err)
	}
	var br struct {
		Errors bool
		Items  []map[string]struct {
			ID     string `json:"_id"`
			Status int
			Error  struct{ Type string }
		}
	}
	if err := json.Unmarshal([]byte(body), &br); err != nil {
		t.Fatal(err)
	}
	if !br.Errors || br.Items[0]["index"].Status != 201 || br.Items[1]["index"].Status != 400 || br.Items[1]["index"].Error.Type != "mapper_parsing_exception" {
		t.Errorf("bulk rewrite: %s", body)
	}

	p.Clear()
	p.Add(Rule{Kind: Hang, Times: 1})
	c.Timeout = 300 * time.Millisecond
	if _, _, err := post(); err == nil {
		t.Error("hang: the request did not time out")
	}
	st := p.Stats()
	if st.Injected["es-429"] != 2 || st.Injected["reset"] != 1 || st.Injected["bulk-items"] != 1 || st.Injected["hang"] != 1 {
		t.Errorf("stats %v", st.Injected)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
