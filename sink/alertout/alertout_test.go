package alertout

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

func alert() stream.Alert {
	l := stream.Lineage{Kind: stream.OriginKinesis, Source: "arn:aws:kinesis:eu-west-1:1:stream/s", Shard: "shardId-0", Sequence: "42", SubSequence: 3}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	return stream.Alert{ID: stream.AlertID("r1", "source.ip=1.2.3.4", t0), RuleID: "r1", RuleTitle: "Brute force", Level: "high",
		GroupKey: "source.ip=1.2.3.4", Count: 20, FirstSeen: t0, Events: []stream.AlertEvent{{ID: l.ID(), Lineage: l}}}
}

func TestTextLineTracesTheRecord(t *testing.T) {
	var b bytes.Buffer
	a := alert()
	if err := NewText(&b).Alerts(context.Background(), []stream.Alert{a}); err != nil {
		t.Fatal(err)
	}
	line := b.String()
	for _, want := range []string{"HIGH", "Brute force", "count=20", "source.ip=1.2.3.4", "shardId-0/42#3", a.ID.String(), a.Events[0].ID.String()} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
}

func TestJSONDocument(t *testing.T) {
	var b bytes.Buffer
	a := alert()
	if err := NewJSON(&b).Alerts(context.Background(), []stream.Alert{a, a}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["id"] != a.ID.String() || doc["rule_id"] != "r1" || doc["count"].(float64) != 20 {
		t.Fatalf("doc = %v", doc)
	}
}
