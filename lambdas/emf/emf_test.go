package emf

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream/pipeline"
)

func TestEmitIsValidEMF(t *testing.T) {
	var buf bytes.Buffer
	e := New("ingest")
	e.W = &buf
	e.Now = func() time.Time { return time.UnixMilli(1793491200123) }
	if err := e.Emit([]Dim{{"Reason", `kpl "md5"`}}, Metric{"DeadLetters", Count, 3}, Metric{"", Count, 9}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	aws := doc["_aws"].(map[string]any)
	if aws["Timestamp"].(float64) != 1793491200123 {
		t.Errorf("timestamp = %v", aws["Timestamp"])
	}
	cwm := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if cwm["Namespace"] != "Gannet" {
		t.Errorf("namespace = %v", cwm["Namespace"])
	}
	dims := cwm["Dimensions"].([]any)[0].([]any)
	if len(dims) != 2 || dims[0] != "Function" || dims[1] != "Reason" {
		t.Errorf("dimensions = %v", dims)
	}
	if m := cwm["Metrics"].([]any); len(m) != 1 || m[0].(map[string]any)["Name"] != "DeadLetters" {
		t.Errorf("metrics = %v", m)
	}
	if doc["Function"] != "ingest" || doc["Reason"] != `kpl "md5"` || doc["DeadLetters"].(float64) != 3 {
		t.Errorf("members = %v", doc)
	}
	if !strings.HasSuffix(buf.String(), "}\n") || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("want exactly one line: %q", buf.String())
	}
}

func TestReportAndDelta(t *testing.T) {
	prev := pipeline.Stats{Records: 10, Acked: 10, DeadByReason: map[string]int64{"x": 1}, StageTime: map[string]time.Duration{"parse": time.Second}}
	cur := pipeline.Stats{Records: 25, Acked: 22, Failed: 3, DeadLetters: 2, Alerts: 1,
		DeadByReason: map[string]int64{"x": 2, "kpl_md5_mismatch": 1}, StageTime: map[string]time.Duration{"parse": 1500 * time.Millisecond}}
	d := Delta(prev, cur)
	if d.Records != 15 || d.Acked != 12 || d.DeadByReason["x"] != 1 || d.DeadByReason["kpl_md5_mismatch"] != 1 || d.StageTime["parse"] != 500*time.Millisecond {
		t.Fatalf("delta = %+v", d)
	}
	var buf bytes.Buffer
	e := New("ingest")
	e.W = &buf
	if err := e.Report(Invocation{Stats: d, IteratorAge: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 { // main + 2 reasons + 1 stage
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	var main map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &main); err != nil {
		t.Fatal(err)
	}
	if main["RecordsIn"].(float64) != 15 || main["RecordsOut"].(float64) != 12 || main["IteratorAge"].(float64) != 1500 || main["Alerts"].(float64) != 1 {
		t.Errorf("main line = %v", main)
	}
	if !strings.Contains(lines[3], `"Stage":"parse"`) || !strings.Contains(lines[3], `"StageTime":500`) {
		t.Errorf("stage line = %s", lines[3])
	}
}

func TestIteratorAge(t *testing.T) {
	now := time.Unix(1000, 0)
	ts := []time.Time{{}, time.Unix(990, 0), time.Unix(995, 0)}
	age := IteratorAge(now, func(yield func(time.Time) bool) {
		for _, t := range ts {
			if !yield(t) {
				return
			}
		}
	})
	if age != 10*time.Second {
		t.Fatalf("age = %s", age)
	}
}
