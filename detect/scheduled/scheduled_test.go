package scheduled

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/detect"
	"github.com/gannet-sec/gannet/detect/sigma"
)

const bruteForceID = "6f1f4a5e-0d1b-4d0e-9c57-1b8f0c2a7e15"

func builtin(t *testing.T, id string) (*sigma.Rule, []*sigma.Rule) {
	t.Helper()
	rules, err := detect.BuiltinRules()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.ID == id {
			return r, rules
		}
	}
	t.Fatalf("no rule %s", id)
	return nil, nil
}

func TestTranslateBruteForce(t *testing.T) {
	corr, rules := builtin(t, bruteForceID)
	q, err := Translate(corr, rules, Options{IndexPrefix: "gx", Scripts: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(q.Indices, ",") != "gx-cloudtrail-*" || strings.Join(q.Fields, ",") != "aws.cloudtrail.sourceIPAddress" || q.Timespan != 5*time.Minute {
		t.Errorf("query %+v", q)
	}
	start := time.Date(2026, 11, 1, 0, 10, 0, 0, time.UTC)
	body, _ := json.Marshal(q.Body(start))
	s := string(body)
	for _, want := range []string{
		`"range":{"@timestamp":{"gte":"2026-11-01T00:10:00Z","lt":"2026-11-01T00:15:00Z"}}`,
		`{"term":{"aws.cloudtrail.eventSource":{"case_insensitive":true,"value":"signin.amazonaws.com"}}}`,
		`{"term":{"aws.cloudtrail.eventName":{"case_insensitive":true,"value":"ConsoleLogin"}}}`,
		`{"term":{"aws.cloudtrail.errorMessage":{"case_insensitive":true,"value":"Failed authentication"}}}`,
		`{"match_phrase":{"aws.cloudtrail.responseElements":"ConsoleLogin Failure"}}`,
		`"terms":{"field":"aws.cloudtrail.sourceIPAddress","min_doc_count":20,"order":{"_count":"desc"},"size":10000}`,
		`"bucket_selector":{"buckets_path":{"c":"_count"},"script":{"params":{"n":20},"source":"params.c \u003e= params.n"}}`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("body lacks %s\n%s", want, s)
		}
	}
}

func TestTranslatePortScan(t *testing.T) {
	corr, rules := builtin(t, "6f1f4a5e-0d1b-4d0e-9c57-1b8f0c2a7e17")
	q, err := Translate(corr, rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(q.Body(time.Unix(0, 0)))
	s := string(body)
	if strings.Join(q.Indices, ",") != "gannet-vpcflow-*" {
		t.Errorf("indices %v", q.Indices)
	}
	if strings.Contains(s, "bucket_selector") {
		t.Errorf("a script without Options.Scripts")
	}
	for _, want := range []string{`"order":{"values":"desc"}`, `"cardinality":{"field":"destination.port"`,
		`{"exists":{"field":"destination.port"}}`, `"must_not":[{"range":{"source.port":{"lt":1024}}}]`, `"field":"source.ip"`} {
		if !strings.Contains(s, want) {
			t.Errorf("body lacks %s\n%s", want, s)
		}
	}
}

func TestTranslateRejects(t *testing.T) {
	parse := func(s string) []*sigma.Rule {
		rs, err := sigma.Parse([]byte(s), "t")
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	const corr = "---\ntitle: c\nid: c\ncorrelation: {type: event_count, rules: [r], group-by: [sourceIPAddress], timespan: 1h, condition: {gte: 5}}\n"
	cases := map[string]string{
		"keywords":        "title: r\nname: r\nlogsource: {product: aws, service: cloudtrail}\ndetection: {k: [evil], condition: k}\n",
		"re":              "title: r\nname: r\nlogsource: {product: aws, service: cloudtrail}\ndetection: {s: {userAgent|re: 'a.*b'}, condition: s}\n",
		"nested threat":   "title: r\nname: r\nlogsource: {product: aws, service: cloudtrail}\ndetection: {s: {threat.enrichments.indicator.type: x}, condition: s}\n",
		"text-only field": "title: r\nname: r\nlogsource: {product: aws, service: alb}\ndetection: {s: {requestParameters.x: 1}, condition: s}\n",
	}
	for name, rule := range cases {
		rs := parse(rule + corr)
		if _, err := Translate(rs[1], rs, Options{}); err == nil {
			t.Errorf("%s: translated without error", name)
		}
	}
}

// temporalRules are two CloudTrail rules and a temporal correlation over
// them (ordered when ordered is set), grouped by source address.
func temporalRules(t *testing.T, ordered bool) []*sigma.Rule {
	t.Helper()
	kind := "temporal"
	if ordered {
		kind = "temporal_ordered"
	}
	src := `title: Console login
name: login
id: 7a1c0000-0000-4000-8000-000000000001
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventSource: signin.amazonaws.com, eventName: ConsoleLogin}, condition: s}
---
title: Trail stopped
name: stop
id: 7a1c0000-0000-4000-8000-000000000002
logsource: {product: aws, service: cloudtrail}
detection: {s: {eventSource: cloudtrail.amazonaws.com, eventName: StopLogging}, condition: s}
---
title: Login then trail stopped
id: 7a1c0000-0000-4000-8000-000000000003
level: high
correlation: {type: ` + kind + `, rules: [login, stop], group-by: [sourceIPAddress], timespan: 1h}
`
	rs, err := sigma.Parse([]byte(src), "temporal.yml")
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestTranslateTemporal(t *testing.T) {
	for _, ordered := range []bool{false, true} {
		rs := temporalRules(t, ordered)
		q, err := Translate(rs[2], rs, Options{IndexPrefix: "gx", Scripts: true})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(q.Indices, ",") != "gx-cloudtrail-*" || strings.Join(q.Fields, ",") != "aws.cloudtrail.sourceIPAddress" || q.Timespan != time.Hour {
			t.Errorf("query %+v", q)
		}
		body, _ := json.Marshal(q.Body(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)))
		s := string(body)
		for _, want := range []string{
			`"terms":{"field":"aws.cloudtrail.sourceIPAddress","min_doc_count":1,"order":{"_count":"desc"},"size":10000}`,
			`"r0":{"aggs":{"first":{"min":{"field":"@timestamp"}},"last":{"max":{"field":"@timestamp"}}},"filter":{"bool":{"filter":[{"term":{"aws.cloudtrail.eventSource":{"case_insensitive":true,"value":"signin.amazonaws.com"}}}`,
			`"r1":{"aggs":{"first":{"min":{"field":"@timestamp"}},"last":{"max":{"field":"@timestamp"}}},"filter":{"bool":{"filter":[{"term":{"aws.cloudtrail.eventSource":{"case_insensitive":true,"value":"cloudtrail.amazonaws.com"}}}`,
			`"should":[`,
		} {
			if !strings.Contains(s, want) {
				t.Errorf("ordered=%v: body lacks %s\n%s", ordered, want, s)
			}
		}
		if strings.Contains(s, "bucket_selector") {
			t.Errorf("ordered=%v: temporal body has a count threshold:\n%s", ordered, s)
		}
		// The per-rule check on bucket responses.
		bucket := func(c0, f0, l0, c1, f1, l1 int) json.RawMessage {
			r := func(c, f, l int) string {
				if c == 0 {
					return `{"doc_count":0,"first":{"value":null},"last":{"value":null}}`
				}
				return fmt.Sprintf(`{"doc_count":%d,"first":{"value":%d},"last":{"value":%d}}`, c, f, l)
			}
			return json.RawMessage(`{"doc_count":9,"r0":` + r(c0, f0, l0) + `,"r1":` + r(c1, f1, l1) + `}`)
		}
		cases := []struct {
			b          json.RawMessage
			any, order bool
		}{
			{bucket(2, 100, 200, 1, 300, 300), true, true},  // login, then stop
			{bucket(1, 100, 100, 1, 100, 100), true, true},  // same millisecond
			{bucket(1, 500, 500, 2, 100, 300), true, false}, // stop, then login
			{bucket(2, 100, 500, 2, 200, 300), true, true},  // interleaved: login 100 before stop 200
			{bucket(3, 100, 200, 0, 0, 0), false, false},    // no stop
			{bucket(0, 0, 0, 4, 100, 400), false, false},    // no login
		}
		for i, c := range cases {
			_, got, err := q.sequence(c.b)
			if err != nil {
				t.Fatal(err)
			}
			if want := c.any && (!ordered || c.order); got != want {
				t.Errorf("ordered=%v case %d: %v, want %v", ordered, i, got, want)
			}
		}
	}
}

func TestWildcards(t *testing.T) {
	if lit, wild := unescape(`a\*b*`); lit != "a*b*" || !wild {
		t.Errorf("unescape: %q %v", lit, wild)
	}
	if p := wildcardPattern(`a\*b*c\d`); p != `a\*b*c\\d` {
		t.Errorf("pattern %q", p)
	}
	if LastWindow(time.Date(2026, 11, 1, 0, 12, 30, 0, time.UTC), 5*time.Minute) != time.Date(2026, 11, 1, 0, 5, 0, 0, time.UTC) {
		t.Errorf("LastWindow")
	}
}
