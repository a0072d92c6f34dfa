package lake_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/sink/lake/s3store"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/gen"
)

// generated parses n generated entries of format f (S3 lineage).
func generated(t *testing.T, f stream.Format, n int) []stream.Event {
	t.Helper()
	var buf bytes.Buffer
	if f == stream.FormatJSON { // no generator: application logs written here
		for i := 0; i < n; i++ {
			fmt.Fprintf(&buf, `{"time":"2026-11-01T%02d:%02d:00Z","level":"info","msg":"request %d","client":{"ip":"10.0.0.%d"}}`+"\n", i%24, i%60, i, i%250)
		}
	} else if err := format.Generate(f, &buf, gen.Options{Count: n, Seed: 42, Attacks: true}); err != nil {
		t.Fatal(err)
	}
	set := format.NewSet(format.Options{})
	var evs []stream.Event
	var off int64
	for line := range bytes.Lines(buf.Bytes()) {
		start := off
		off += int64(len(line))
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		l := stream.Lineage{Kind: stream.OriginS3, Source: "it-bucket", Shard: "AWSLogs/" + f.String() + ".log", SubSequence: -1, Offset: start}
		ev := stream.Event{Lineage: l, ID: l.ID(), Ingested: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}
		u := stream.Unit{Data: line, Lineage: l, Format: f}
		if err := set.For(f, line).Parse(&u, &ev); err != nil {
			if errors.Is(err, stream.ErrSkip) {
				continue
			}
			t.Fatalf("%s: %v", f, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestIntegrationLakeS3ReadBack writes events of every format, alerts and
// dead letters to the lake on the local S3 server, twice (a retry), then
// reads the objects back with DuckDB and pyarrow: counts and sampled values
// equal the input, and timestamps are UTC-adjusted INT64 MILLIS.
func TestIntegrationLakeS3ReadBack(t *testing.T) {
	ep := stacktest.Require(t, "s3", "python")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	client := ep.S3(t)
	bucket := "gannet-lake-it"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		var ae smithy.APIError
		if !errors.As(err, &ae) || (ae.ErrorCode() != "BucketAlreadyOwnedByYou" && ae.ErrorCode() != "BucketAlreadyExists") {
			t.Fatal(err)
		}
	}
	prefix := fmt.Sprintf("run-%d/", time.Now().UnixNano())
	st := s3store.New(s3store.FromClient(client), s3store.Options{Bucket: bucket, Prefix: prefix, PartSize: 5 << 20})

	input := map[string][]stream.Event{}
	for _, f := range stream.Formats() {
		input[f.String()] = generated(t, f, 400)
	}
	alerts := []stream.Alert{{ID: stream.AlertID("r1", "source.ip=1.2.3.4", time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)),
		RuleID: "r1", RuleTitle: "Console brute force", Level: "high", Tags: []string{"attack.t1110"}, Kind: "correlation",
		WindowStart: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC), Count: 12, Format: stream.FormatCloudTrail,
		Events: []stream.AlertEvent{{ID: input["cloudtrail"][0].ID, Lineage: input["cloudtrail"][0].Lineage}}}}
	letters := []stream.DeadLetter{{Time: time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC), Stage: "parse",
		Reason: stream.Reason{Code: "alb_field_count", Detail: "12 fields"}, Format: stream.FormatALB, Raw: []byte("garbage \x00 line"),
		Lineage: stream.Lineage{Kind: stream.OriginS3, Source: "b", Shard: "k", Offset: 77, SubSequence: -1}}}
	for run := 0; run < 2; run++ { // the second run is a retry of the same input
		l := lake.New(st, lake.Options{})
		for _, f := range stream.Formats() {
			if err := l.Write(ctx, input[f.String()]); err != nil {
				t.Fatal(err)
			}
			if err := l.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Alerts(ctx, alerts); err != nil {
			t.Fatal(err)
		}
		if err := l.DeadLetter(ctx, letters); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// Copy the objects out through the store, then read them with the independent readers.
	root := t.TempDir()
	objs, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		r, err := st.Open(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, filepath.FromSlash(o.Key))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	type tq struct {
		IDColumn string   `json:"id_column"`
		IDs      []string `json:"ids"`
		Columns  []string `json:"columns"`
	}
	query := map[string]map[string]tq{"tables": {}}
	want := map[string]map[string][]any{}
	for name, evs := range input {
		q := tq{IDColumn: "event_id", Columns: []string{"dataset", "event_action", "source_ip", "epoch_ms(timestamp)", "lineage_offset"}}
		want[name] = map[string][]any{}
		for i := 0; i < len(evs); i += len(evs) / 5 {
			e := &evs[i]
			id := e.ID.String()
			q.IDs = append(q.IDs, id)
			var ip, action any
			if e.Source.IP.IsValid() {
				ip = e.Source.IP.String()
			}
			if e.Action != "" {
				action = e.Action
			}
			want[name][id] = []any{e.Format.Dataset(), action, ip, float64(e.Timestamp.UnixMilli()), float64(e.Lineage.Offset)}
		}
		query["tables"][name] = q
	}
	query["tables"]["alerts"] = tq{IDColumn: "alert_id", IDs: []string{alerts[0].ID.String()}, Columns: []string{"rule_id", "level", "count"}}
	want["alerts"] = map[string][]any{alerts[0].ID.String(): {"r1", "high", float64(12)}}
	query["tables"]["dead_letter"] = tq{IDColumn: "reason_code", IDs: []string{"alb_field_count"}, Columns: []string{"stage", "lineage_offset"}}
	want["dead_letter"] = map[string][]any{"alb_field_count": {"parse", float64(77)}}

	qj, _ := json.Marshal(query)
	cmd := exec.CommandContext(ctx, ep.Python, "testdata/readback.py", root, string(qj))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("readback.py: %v\n%s", err, stderr.String())
	}
	var got map[string]struct {
		Files          int              `json:"files"`
		DuckDBCount    int              `json:"duckdb_count"`
		DistinctIDs    int              `json:"duckdb_distinct_ids"`
		PyArrowCount   int              `json:"pyarrow_count"`
		DuckDBRows     map[string][]any `json:"duckdb_rows"`
		PyArrowRows    map[string][]any `json:"pyarrow_rows"`
		TimestampTypes []string         `json:"timestamp_types"`
	}
	if err := json.Unmarshal(outb, &got); err != nil {
		t.Fatalf("%v: %s", err, outb)
	}
	for name, evs := range input {
		g := got[name]
		if g.DuckDBCount != len(evs) || g.PyArrowCount != len(evs) || g.DistinctIDs != len(evs) {
			t.Errorf("%s: duckdb %d rows (%d distinct ids), pyarrow %d, want %d (a retry must not add copies)", name, g.DuckDBCount, g.DistinctIDs, g.PyArrowCount, len(evs))
		}
	}
	for _, name := range []string{"alerts", "dead_letter"} {
		if g := got[name]; g.DuckDBCount != 1 || g.PyArrowCount != 1 {
			t.Errorf("%s: duckdb %d pyarrow %d, want 1", name, g.DuckDBCount, g.PyArrowCount)
		}
	}
	for name, rows := range want {
		for id, w := range rows {
			d := got[name].DuckDBRows[id]
			if fmt.Sprint(d) != fmt.Sprint(w) {
				t.Errorf("%s %s: duckdb %v, want %v", name, id, d, w)
			}
			p := got[name].PyArrowRows[id]
			if fmt.Sprint(p) != fmt.Sprint(w) {
				t.Errorf("%s %s: pyarrow %v, want %v", name, id, p, w)
			}
		}
		if len(got[name].TimestampTypes) == 0 {
			t.Errorf("%s: no timestamp columns seen", name)
		}
		for _, ts := range got[name].TimestampTypes {
			if !strings.Contains(ts, "INT64") || !strings.Contains(ts, "isAdjustedToUTC=true") || !strings.Contains(ts, "timeUnit=milliseconds") {
				t.Errorf("%s: footer timestamp %s", name, ts)
			}
		}
	}
	t.Logf("read back %d objects; e.g. cloudtrail: %+v", len(objs), got["cloudtrail"].TimestampTypes)
}

// TestIntegrationLiteralPagesReadBack writes 20,000 CloudTrail events into
// one partition, so the event_id and request_id columns get pages written as
// literal-only zstd frames (zlit.go), and reads them back with DuckDB and
// pyarrow, whose zstd decoder is libzstd: row count and a sha256 over every
// sorted id must equal the input's.
func TestIntegrationLiteralPagesReadBack(t *testing.T) {
	ep := stacktest.Require(t, "python")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	evs := generated(t, stream.FormatCloudTrail, 20000)
	t0 := time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)
	var ids, reqIDs []string
	for i := range evs {
		evs[i].Timestamp = t0.Add(time.Duration(i) * 100 * time.Millisecond)
		ids = append(ids, evs[i].ID.String())
		if r, ok := evs[i].Native.(*cloudtrail.Record); ok && r.RequestID != "" {
			reqIDs = append(reqIDs, r.RequestID)
		}
	}
	root := t.TempDir()
	st, err := lake.NewDirStore(root)
	if err != nil {
		t.Fatal(err)
	}
	before := lake.LiteralPages()
	l := lake.New(st, lake.Options{})
	if err := l.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := lake.LiteralPages() - before; n < 2 {
		t.Fatalf("%d pages written as literal-only frames, want the event_id and request_id pages", n)
	}
	sum := func(vals []string) string {
		slices.Sort(vals)
		h := sha256.Sum256([]byte(strings.Join(vals, ",")))
		return hex.EncodeToString(h[:])
	}
	want := map[string]any{"rows": float64(len(evs)), "event_id": sum(ids), "request_id": sum(reqIDs)}
	cmd := exec.CommandContext(ctx, ep.Python, "testdata/literals.py", filepath.Join(root, "cloudtrail"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("literals.py: %v\n%s", err, stderr.String())
	}
	var got struct {
		Files   int            `json:"files"`
		DuckDB  map[string]any `json:"duckdb"`
		PyArrow map[string]any `json:"pyarrow"`
	}
	if err := json.Unmarshal(outb, &got); err != nil {
		t.Fatalf("%v: %s", err, outb)
	}
	if got.Files == 0 || !reflect.DeepEqual(got.DuckDB, want) || !reflect.DeepEqual(got.PyArrow, want) {
		t.Fatalf("read back %d files:\nduckdb  %v\npyarrow %v\nwant    %v", got.Files, got.DuckDB, got.PyArrow, want)
	}
}
