package elastic

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	es "github.com/olivere/elastic/v7"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/stream"
)

// The integration tests run against the real Elasticsearch 7.17 and
// OpenSearch 2.x of deploy/local/stack; they skip when it is not up.

func TestIntegrationElastic(t *testing.T) {
	ep := stacktest.Require(t, stacktest.Elasticsearch)
	integration(t, ep.ESURL, ep.Elastic(t))
}

func TestIntegrationElasticOpenSearch(t *testing.T) {
	ep := stacktest.Require(t, stacktest.OpenSearch)
	integration(t, ep.OpenSearchURL, ep.OpenSearch(t))
}

func integration(t *testing.T, url string, client *es.Client) {
	if testing.Short() {
		t.Skip("integration test (-short)")
	}
	prefix := stacktest.UniqueName(t, "gannet")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		ctx := context.Background()
		client.DeleteIndex(prefix + "-*").Do(ctx)
		for _, f := range append(stream.Formats(), stream.FormatUnknown) {
			name := prefix + "-" + f.String()
			if f == stream.FormatUnknown {
				name = prefix + "-alerts"
			}
			client.IndexDeleteIndexTemplate(name).Do(ctx)
		}
	})
	newSink := func(url string, mod func(*Config)) *Sink {
		cfg := Config{URL: url, IndexPrefix: prefix, Replicas: new(int), InitialBackoff: 20 * time.Millisecond, MaxBackoff: time.Second}
		if mod != nil {
			mod(&cfg)
		}
		s, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	s := newSink(url, nil)
	refresh := func() {
		t.Helper()
		if _, err := client.Refresh(prefix + "-*").Do(ctx); err != nil {
			t.Fatal(err)
		}
	}
	count := func(index string, q es.Query) int64 {
		t.Helper()
		svc := client.Count(index)
		if q != nil {
			svc = svc.Query(q)
		}
		n, err := svc.Do(ctx)
		if err != nil {
			t.Fatalf("count %s: %v", index, err)
		}
		return n
	}

	// 100k VPC flow events, one second apart from 2026-11-01T00:00:00Z:
	// they span two daily indices.
	const total = 100000
	events := fixtureEvents(stream.FormatVPCFlow, total, 11)
	cidr := netip.MustParsePrefix("81.2.0.0/16")
	var inCIDR, inRange int64
	lo, hi := netip.MustParseAddr("93.184.0.0"), netip.MustParseAddr("104.28.3.255")
	for i := range events {
		ip := events[i].Source.IP
		if cidr.Contains(ip) {
			inCIDR++
		}
		if ip.Compare(lo) >= 0 && ip.Compare(hi) <= 0 {
			inRange++
		}
	}
	alias := prefix + "-vpcflow"

	t.Run("bulk100k", func(t *testing.T) {
		start := time.Now()
		for b := 0; b < total; b += 10000 {
			if err := s.Write(ctx, events[b:b+10000]); err != nil {
				t.Fatalf("batch at %d: %v", b, err)
			}
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		t.Logf("indexed %d events in %v (%.0f events/s, %d bulk requests, %.1f MB)", total, el,
			total/el.Seconds(), s.Stats().Requests.Load(), float64(s.Stats().BytesSent.Load())/1e6)
		refresh()
		if n := count(alias, nil); n != total {
			t.Fatalf("alias %s counts %d documents, want %d", alias, n, total)
		}
		day1 := count(prefix+"-vpcflow-2026.11.01", nil)
		day2 := count(prefix+"-vpcflow-2026.11.02", nil)
		if day1 != 86400 || day2 != total-86400 {
			t.Errorf("daily indices hold %d and %d documents, want 86400 and %d", day1, day2, total-86400)
		}
	})

	t.Run("queries", func(t *testing.T) {
		if n := count(alias, es.NewTermQuery("source.ip", cidr.String())); n != inCIDR {
			t.Errorf("source.ip in %s: %d, want %d", cidr, n, inCIDR)
		}
		if n := count(alias, es.NewRangeQuery("source.ip").Gte(lo.String()).Lte(hi.String())); n != inRange {
			t.Errorf("source.ip in [%s, %s]: %d, want %d", lo, hi, n, inRange)
		}
		q := es.NewRangeQuery("@timestamp").Gte("2026-11-01T01:00:00Z").Lt("2026-11-01T02:00:00Z")
		if n := count(alias, q); n != 3600 {
			t.Errorf("one hour of @timestamp: %d, want 3600", n)
		}
		geo := es.NewGeoDistanceQuery("source.geo.location").Lat(52.52).Lon(13.40).Distance("50km")
		if n := count(alias, geo); n != total {
			t.Errorf("geo_distance: %d, want %d", n, total)
		}
		// Raw request: olivere's GetFieldMapping adds parameters OpenSearch 2 refuses.
		res, err := client.PerformRequest(ctx, es.PerformRequestOptions{Method: "GET",
			Path: "/" + prefix + "-vpcflow-2026.11.01/_mapping/field/source.ip,source.geo.location,@timestamp,event.id"})
		if err != nil {
			t.Fatal(err)
		}
		got := string(res.Body)
		for field, typ := range map[string]string{"source.ip": "ip", "source.geo.location": "geo_point", "@timestamp": "date", "event.id": "keyword"} {
			leaf := field[strings.LastIndexByte(field, '.')+1:]
			if !strings.Contains(got, fmt.Sprintf(`"full_name":%q,"mapping":{%q:{"type":%q`, field, leaf, typ)) {
				t.Errorf("%s is not mapped as %s: %s", field, typ, got)
			}
		}
	})

	t.Run("idempotent", func(t *testing.T) {
		if err := s.Write(ctx, events[:20000]); err != nil {
			t.Fatal(err)
		}
		refresh()
		if n := count(alias, nil); n != total {
			t.Errorf("after indexing 20k events again: %d documents, want %d", n, total)
		}
	})

	t.Run("mappingConflict", func(t *testing.T) {
		evs := fixtureEvents(stream.FormatCloudTrail, 100, 12)
		if err := s.Write(ctx, evs[:1]); err != nil { // maps aws.cloudtrail.eventType as keyword
			t.Fatal(err)
		}
		bad := 42
		evs[bad].Raw = []byte(strings.Replace(string(evs[bad].Raw), `"eventType":"AwsApiCall"`, `"eventType":{"an":"object"}`, 1))
		err := s.Write(ctx, evs)
		var items stream.ItemErrors
		if !errors.As(err, &items) || len(items) != 1 || items[0].Index != bad {
			t.Fatalf("want exactly one ItemError for event %d, got %v", bad, err)
		}
		if c, _ := stream.ClassOf(items[0].Err); c != stream.Permanent {
			t.Errorf("class %v, want permanent", c)
		}
		r := stream.ReasonOf(items[0].Err)
		t.Logf("dead-letter reason: %s", r)
		if r.Code != "es_mapper_parsing_exception" || !strings.Contains(r.Detail, "eventType") {
			t.Errorf("reason %+v should carry Elasticsearch's mapper_parsing_exception about eventType", r)
		}
		refresh()
		if n := count(prefix+"-cloudtrail", nil); n != 99 {
			t.Errorf("%d CloudTrail documents landed, want 99", n)
		}
	})

	t.Run("throttled", func(t *testing.T) {
		p := newFaultProxy(t, url)
		ps := newSink(p.URL, func(c *Config) { c.SkipTemplates = true; c.MaxBulkActions = 500 })
		evs := fixtureEvents(stream.FormatALB, 2000, 13)
		p.mu.Lock()
		p.rejectRequests, p.retryAfter = 3, "1"
		for _, i := range []int{0, 7, 499, 500, 1999} {
			p.rejectItems[evs[i].ID.String()] = 2
		}
		p.mu.Unlock()
		start := time.Now()
		if err := ps.Write(ctx, evs); err != nil {
			t.Fatalf("throttled write: %v", err)
		}
		bulk, injected := p.counts()
		t.Logf("%d bulk requests, %d injected 429s, %v", bulk, injected, time.Since(start))
		if injected != 3+5*2 {
			t.Errorf("injected %d 429s, want 13", injected)
		}
		if st := ps.Stats(); st.ItemRetries.Load() != 10 || st.RequestRetries.Load() < 500 {
			t.Errorf("item retries %d (want 10), request retries %d", st.ItemRetries.Load(), st.RequestRetries.Load())
		}
		refresh()
		if n := count(prefix+"-alb", nil); n != 2000 {
			t.Errorf("%d ALB documents, want 2000", n)
		}
	})

	t.Run("alerts", func(t *testing.T) {
		ws := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
		a := stream.Alert{ID: stream.AlertID("gannet-bruteforce", "source.ip=185.220.101.34", ws), RuleID: "gannet-bruteforce",
			RuleTitle: "Console login brute force", Level: "high", Kind: "correlation", WindowStart: ws, Count: 25,
			Fields: map[string]string{"source.ip": "185.220.101.34"}}
		for range 2 {
			if err := s.Alerts(ctx, []stream.Alert{a}); err != nil {
				t.Fatal(err)
			}
		}
		refresh()
		if n := count(prefix+"-alerts", es.NewTermQuery("rule.id", "gannet-bruteforce")); n != 1 {
			t.Errorf("%d alert documents, want 1", n)
		}
	})
}
