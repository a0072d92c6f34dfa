package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ES reads Elasticsearch (or OpenSearch) directly over HTTP, not through the
// sink under test.
type ES struct {
	URL string
	// Index is the index pattern searched (default "gannet-*").
	Index string
	// Client defaults to an http.Client with a 60 s timeout.
	Client *http.Client
	// Username and Password, when set, authenticate.
	Username, Password string
}

func (e *ES) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(e.URL, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if e.Username != "" {
		req.SetBasicAuth(e.Username, e.Password)
	}
	c := e.Client
	if c == nil {
		c = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		if resp.StatusCode == http.StatusNotFound && strings.Contains(string(data), "index_not_found") {
			return errNoIndex
		}
		return fmt.Errorf("%s %s: status %d: %.300s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

var errNoIndex = fmt.Errorf("no index")

func (e *ES) index() string {
	if e.Index == "" {
		return "gannet-*"
	}
	return e.Index
}

// Refresh makes everything indexed so far searchable.
func (e *ES) Refresh(ctx context.Context) error {
	err := e.do(ctx, http.MethodPost, "/"+e.index()+"/_refresh?allow_no_indices=true&ignore_unavailable=true", nil, nil)
	if err == errNoIndex {
		return nil
	}
	return err
}

// Count refreshes, then returns how many documents carry each of ids as
// _id, across the index pattern (ids not found are absent from the map).
func (e *ES) Count(ctx context.Context, ids []string) (map[string]int, error) {
	if err := e.Refresh(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]int, len(ids))
	const batch = 1000
	for start := 0; start < len(ids); start += batch {
		chunk := ids[start:min(start+batch, len(ids))]
		var res struct {
			Hits struct {
				Hits []struct {
					ID string `json:"_id"`
				} `json:"hits"`
			} `json:"hits"`
		}
		q := map[string]any{
			"size":    3 * len(chunk),
			"_source": false,
			"query":   map[string]any{"ids": map[string]any{"values": chunk}},
		}
		err := e.do(ctx, http.MethodPost, "/"+e.index()+"/_search?allow_no_indices=true&ignore_unavailable=true", q, &res)
		if err == errNoIndex {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, h := range res.Hits.Hits {
			out[h.ID]++
		}
	}
	return out, nil
}

// Source returns the _source of the document with this _id (nil when absent).
func (e *ES) Source(ctx context.Context, id string) (json.RawMessage, error) {
	if err := e.Refresh(ctx); err != nil {
		return nil, err
	}
	var res struct {
		Hits struct {
			Hits []struct {
				Source json.RawMessage `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	q := map[string]any{"size": 2, "query": map[string]any{"ids": map[string]any{"values": []string{id}}}}
	if err := e.do(ctx, http.MethodPost, "/"+e.index()+"/_search", q, &res); err != nil {
		return nil, err
	}
	if len(res.Hits.Hits) == 0 {
		return nil, nil
	}
	return res.Hits.Hits[0].Source, nil
}
