package elastic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	es "github.com/olivere/elastic/v7"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/format/alb"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/format/guardduty"
	"github.com/gannet-sec/gannet/stream/format/route53resolver"
	"github.com/gannet-sec/gannet/stream/format/s3access"
	"github.com/gannet-sec/gannet/stream/format/vpcflow"
	"github.com/gannet-sec/gannet/stream/format/waf"
	"github.com/gannet-sec/gannet/stream/gen"
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

	// Every format, parsed from generated logs: term and range queries on
	// native fields, expected counts computed from the typed records.
	t.Run("nativeFields", func(t *testing.T) {
		type query struct {
			name string
			q    es.Query
			want func(ev *stream.Event) bool
		}
		// Indices of their own: the other subtests fill the same formats.
		np := prefix + "-nf"
		ns := newSink(url, func(c *Config) { c.IndexPrefix = np })
		t.Cleanup(func() {
			for _, f := range stream.Formats() {
				client.IndexDeleteIndexTemplate(np + "-" + f.String()).Do(context.Background())
			}
			client.IndexDeleteIndexTemplate(np + "-alerts").Do(context.Background())
		})
		// Thresholds of range queries come from the data: the median.
		var vpcEnd time.Time
		queries := func(f stream.Format) []query {
			return map[stream.Format][]query{
				stream.FormatCloudTrail: {
					{"term aws.cloudtrail.eventName", es.NewTermQuery("aws.cloudtrail.eventName", "ConsoleLogin"),
						func(ev *stream.Event) bool { return ev.Native.(*cloudtrail.Record).EventName == "ConsoleLogin" }},
					{"term aws.cloudtrail.userIdentity.type", es.NewTermQuery("aws.cloudtrail.userIdentity.type", "AssumedRole"),
						func(ev *stream.Event) bool { return ev.Native.(*cloudtrail.Record).UserIdentity.Type == "AssumedRole" }},
				},
				stream.FormatALB: {
					{"range aws.alb.backend_processing_time.sec", es.NewRangeQuery("aws.alb.backend_processing_time.sec").Gte(0.05),
						func(ev *stream.Event) bool { return ev.Native.(*alb.Record).TargetProcessingTime >= 0.05 }},
					{"term aws.alb.target_status_code", es.NewTermQuery("aws.alb.target_status_code", "200"),
						func(ev *stream.Event) bool {
							return slices.Contains(strings.Fields(ev.Native.(*alb.Record).TargetStatusCodeList), "200")
						}},
					{"term aws.alb.ssl_protocol", es.NewTermQuery("aws.alb.ssl_protocol", "TLSv1.3"),
						func(ev *stream.Event) bool { return ev.Native.(*alb.Record).SSLProtocol == "TLSv1.3" }},
				},
				stream.FormatVPCFlow: {
					{"term aws.vpcflow.action", es.NewTermQuery("aws.vpcflow.action", "REJECT"),
						func(ev *stream.Event) bool { return ev.Native.(*vpcflow.Record).Action == "REJECT" }},
					{"term aws.vpcflow.interface_id", es.NewTermQuery("aws.vpcflow.interface_id", "eni-0a1b2c3d4e5f60716"),
						func(ev *stream.Event) bool { return ev.Native.(*vpcflow.Record).InterfaceID == "eni-0a1b2c3d4e5f60716" }},
					{"range aws.vpcflow.end", es.NewRangeQuery("aws.vpcflow.end").Gte(vpcEnd.Format(time.RFC3339)),
						func(ev *stream.Event) bool { return !ev.Native.(*vpcflow.Record).End.Before(vpcEnd) }},
					{"term aws.vpcflow.tcp_flags_array", es.NewTermQuery("aws.vpcflow.tcp_flags_array", "syn-ack"),
						func(ev *stream.Event) bool { r := ev.Native.(*vpcflow.Record); return r.TCPFlags&0x12 == 0x12 }},
					{"term aws.vpcflow.pkt_srcaddr", es.NewTermQuery("aws.vpcflow.pkt_srcaddr", "10.0.0.0/8"),
						func(ev *stream.Event) bool {
							r := ev.Native.(*vpcflow.Record)
							return r.PktSrcAddr.IsValid() && netip.MustParsePrefix("10.0.0.0/8").Contains(r.PktSrcAddr)
						}},
				},
				stream.FormatS3Access: {
					{"term aws.s3access.operation", es.NewTermQuery("aws.s3access.operation", "REST.GET.OBJECT"),
						func(ev *stream.Event) bool { return ev.Native.(*s3access.Record).Operation == "REST.GET.OBJECT" }},
					{"range aws.s3access.bytes_sent", es.NewRangeQuery("aws.s3access.bytes_sent").Gte(10000),
						func(ev *stream.Event) bool { return ev.Native.(*s3access.Record).BytesSent >= 10000 }},
					{"range aws.s3access.total_time", es.NewRangeQuery("aws.s3access.total_time").Gt(50),
						func(ev *stream.Event) bool { return ev.Native.(*s3access.Record).TotalTime > 50 }},
				},
				stream.FormatWAF: {
					{"term aws.waf.action", es.NewTermQuery("aws.waf.action", "BLOCK"),
						func(ev *stream.Event) bool { return ev.Native.(*waf.Record).Action == "BLOCK" }},
					{"term aws.waf.httpRequest.country", es.NewTermQuery("aws.waf.httpRequest.country", "US"),
						func(ev *stream.Event) bool { return ev.Native.(*waf.Record).HTTPRequest.Country == "US" }},
				},
				stream.FormatRoute53Resolver: {
					{"term aws.route53resolver.rcode", es.NewTermQuery("aws.route53resolver.rcode", "NXDOMAIN"),
						func(ev *stream.Event) bool { return ev.Native.(*route53resolver.Record).Rcode == "NXDOMAIN" }},
					{"term aws.route53resolver.query_type", es.NewTermQuery("aws.route53resolver.query_type", "TXT"),
						func(ev *stream.Event) bool { return ev.Native.(*route53resolver.Record).QueryType == "TXT" }},
				},
				stream.FormatGuardDuty: {
					// Fractional severities must survive (the mapping is double,
					// not the long a first integer severity would give).
					{"range aws.guardduty.detail.severity", es.NewRangeQuery("aws.guardduty.detail.severity").Gt(2).Lt(3),
						func(ev *stream.Event) bool { s := ev.Native.(*guardduty.Record).Detail.Severity; return s > 2 && s < 3 }},
					{"term aws.guardduty.detail.type", es.NewTermQuery("aws.guardduty.detail.type", "Behavior:EC2/NetworkPortUnusual"),
						func(ev *stream.Event) bool {
							return ev.Native.(*guardduty.Record).Detail.Type == "Behavior:EC2/NetworkPortUnusual"
						}},
					{"match aws.guardduty.detail.service", es.NewMatchQuery("aws.guardduty.detail.service", gen.AttackerIP),
						func(ev *stream.Event) bool {
							return strings.Contains(ev.Native.(*guardduty.Record).Detail.Service.Raw, gen.AttackerIP)
						}},
				},
			}[f]
		}
		for _, f := range format.Generatable() {
			evs := parsedEvents(t, f, 2000, 21)
			switch f {
			case stream.FormatVPCFlow:
				evs = append(evs, customVPCFlow(t)...)
				ends := make([]time.Time, len(evs))
				for i := range evs {
					ends[i] = evs[i].Native.(*vpcflow.Record).End
				}
				slices.SortFunc(ends, time.Time.Compare)
				vpcEnd = ends[len(ends)/2]
			case stream.FormatGuardDuty:
				// Give every third finding a fractional severity, in the
				// raw record that is indexed and in its typed record.
				for i := 0; i < len(evs); i += 3 {
					r := evs[i].Native.(*guardduty.Record)
					old := fmt.Appendf(nil, `"severity":%v,`, r.Detail.Severity)
					if bytes.Count(evs[i].Raw, old) != 1 {
						continue
					}
					r.Detail.Severity += 0.7
					evs[i].Raw = bytes.Replace(evs[i].Raw, old, fmt.Appendf(nil, `"severity":%v,`, r.Detail.Severity), 1)
				}
			}
			if err := ns.Write(ctx, evs); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			refresh()
			alias := np + "-" + f.String()
			if n := count(alias, nil); n != int64(len(evs)) {
				t.Errorf("%s: %d documents, want %d", f, n, len(evs))
			}
			// The template, not dynamic mapping, decides native types.
			mapped := map[stream.Format][2]string{
				stream.FormatALB:       {"aws.alb.backend_processing_time.sec", "double"},
				stream.FormatVPCFlow:   {"aws.vpcflow.pkt_srcaddr", "ip"},
				stream.FormatS3Access:  {"aws.s3access.bytes_sent", "long"},
				stream.FormatGuardDuty: {"aws.guardduty.detail.severity", "double"},
			}
			if fm, ok := mapped[f]; ok {
				res, err := client.PerformRequest(ctx, es.PerformRequestOptions{Method: "GET", Path: "/" + alias + "/_mapping/field/" + fm[0]})
				if err != nil {
					t.Fatal(err)
				}
				leaf := fm[0][strings.LastIndexByte(fm[0], '.')+1:]
				if !strings.Contains(string(res.Body), fmt.Sprintf(`"full_name":%q,"mapping":{%q:{"type":%q`, fm[0], leaf, fm[1])) {
					t.Errorf("%s is not mapped as %s: %s", fm[0], fm[1], res.Body)
				}
			}
			if len(queries(f)) == 0 {
				t.Errorf("%s: no native-field query", f)
			}
			for _, q := range queries(f) {
				var want int64
				for i := range evs {
					if q.want(&evs[i]) {
						want++
					}
				}
				got := count(alias, q.q)
				t.Logf("%s: %s: %d of %d", f, q.name, got, len(evs))
				if got != want {
					t.Errorf("%s: %s counts %d, want %d", f, q.name, got, want)
				}
				if want == 0 || want == int64(len(evs)) {
					t.Errorf("%s: %s selects %d of %d events: not a discriminating query", f, q.name, want, len(evs))
				}
			}
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
