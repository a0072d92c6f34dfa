package kcl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/enrich/intel"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/gen"
	"github.com/gannet-sec/gannet/stream/setup"
)

// The threat-intel feed file is replaced (written beside it, renamed over
// it) while the consumer runs with enrich_reload: events consumed before the
// swap carry the old indicator only, events put after it the new one only,
// and every record is in the NDJSON output and the lake exactly once.
func TestIntegrationIntelReplacedWhileConsuming(t *testing.T) {
	const (
		n        = 1000 // records per half
		interval = 200 * time.Millisecond
		feedName = "rotating"
	)
	addrA, addrB := gen.AttackerIP, gen.ScannerIP
	ep := localAWS(t)
	kc := ep.Kinesis(t)
	name := stacktest.UniqueName(t, "reload")
	table := stacktest.UniqueName(t, "leases")
	// One shard: one pipeline, so one NDJSON file and one indicator store.
	arn := createStream(t, kc, name, 1)

	dir := t.TempDir()
	feedDir := filepath.Join(dir, "feeds")
	if err := os.Mkdir(feedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	feed := filepath.Join(feedDir, "bad-ips.txt")
	replaceFile(t, feed, "# first list\n"+addrA+"\n")

	gc := config.Default()
	gc.Format, gc.Detect = "vpcflow", false
	gc.Lake, gc.DLQ, gc.Out = filepath.Join(dir, "lake"), filepath.Join(dir, "dlq"), filepath.Join(dir, "events.ndjson")
	gc.Intel = []string{feed + "#feed=" + feedName}
	gc.EnrichReload = interval
	if err := gc.Validate(); err != nil {
		t.Fatal(err)
	}

	// Keep hold of the shard pipeline's indicator store to watch its reloads.
	var (
		store  atomic.Pointer[intel.Store]
		builds atomic.Int32
		cpMu   sync.Mutex
		lastCP string
	)
	base := SetupFactory(gc, setup.Options{Logger: testLogger(t, "reload-pipeline")})
	cfg := Config{Stream: name, App: table, WorkerID: "reload-worker", AWS: ep.AWSConfig(t), FormatFor: gc.FormatFor,
		Logger: testLogger(t, "reload-worker"),
		NewPipeline: func(ctx context.Context, shard string) (Pipeline, error) {
			p, err := base(ctx, shard)
			if err != nil {
				return nil, err
			}
			builds.Add(1)
			if e := p.(built).b.Enricher; e != nil {
				store.Store(e.Intel())
			}
			return p, nil
		},
		OnCheckpoint: func(_, seq string) {
			cpMu.Lock()
			lastCP = seq
			cpMu.Unlock()
		},
	}
	fastTiming(&cfg)
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-runErr:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Run did not return within 30s of the cancel")
		}
	}
	defer stop()

	t0 := time.Now()
	phase := func(what string) { t.Logf("%5.1fs %s", time.Since(t0).Seconds(), what) }
	checkpointed := func(puts []put) func() bool {
		last := puts[len(puts)-1].seq
		return func() bool {
			cpMu.Lock()
			defer cpMu.Unlock()
			return lastCP != "" && !seqLess(lastCP, last)
		}
	}

	first := putFlows(t, kc, name, 0, n, addrA, addrB)
	waitFor(t, 30*time.Second, 100*time.Millisecond, "the first half checkpointed", checkpointed(first))
	st := store.Load()
	if st == nil {
		t.Fatal("the shard pipeline has no indicator store")
	}
	before := st.Reloads()
	phase(fmt.Sprintf("first half (%d records) checkpointed; %d reloads so far", n, before))

	replaceFile(t, feed, "# second list\n"+addrB+"\n")
	waitFor(t, 10*time.Second, 20*time.Millisecond, "the replaced feed to be reloaded", func() bool { return st.Reloads() > before })
	phase("feed replaced and reloaded")

	second := putFlows(t, kc, name, n, n, addrA, addrB)
	waitFor(t, 30*time.Second, 100*time.Millisecond, "the second half checkpointed", checkpointed(second))
	phase(fmt.Sprintf("second half (%d records) checkpointed", n))
	stop() // flushes and closes the pipeline: the NDJSON file is complete
	phase("consumer stopped")

	if b := builds.Load(); b != 1 {
		t.Errorf("the shard's pipeline was built %d times, want 1 (a rebuild truncates the NDJSON file)", b)
	}
	if d := c.Metrics().Sum(mDeadLetters); d != 0 {
		t.Errorf("%v dead letters, want none", d)
	}
	want1, want2 := eventIDs(arn, first), eventIDs(arn, second)
	if len(want1) != n || len(want2) != n {
		t.Fatalf("%d + %d distinct ids for %d + %d records", len(want1), len(want2), n, n)
	}
	// check compares one output's matches per event id with the expectation.
	check := func(where string, got map[string][]string) {
		t.Helper()
		var lost, dup, wrong, extra int
		for half, want := range []map[string]bool{want1, want2} {
			ind := []string{addrA, addrB}[half]
			for id := range want {
				m := got[id]
				switch {
				case m == nil:
					lost++
				case len(m) != 1:
					if dup++; dup <= 3 {
						t.Errorf("%s: event %s appears %d times", where, id, len(m))
					}
				case m[0] != ind:
					if wrong++; wrong <= 3 {
						t.Errorf("%s: event %s of half %d matched %q, want exactly [%s]", where, id, half+1, m[0], ind)
					}
				}
			}
		}
		for id := range got {
			if !want1[id] && !want2[id] {
				extra++
			}
		}
		if lost+dup+wrong+extra > 0 {
			t.Errorf("%s: %d events lost, %d duplicated, %d with the wrong indicators, %d never put", where, lost, dup, wrong, extra)
		} else {
			t.Logf("%s: %d events, each once; half 1 matched only %s, half 2 only %s", where, len(got), addrA, addrB)
		}
	}
	check("ndjson", ndjsonMatches(t, gc.Out, feedName))
	check("lake", lakeMatches(t, gc.Lake, "vpcflow", feedName))
}

// replaceFile writes content beside path and renames it over path, as an
// operator replaces a feed (the reader sees the old or the new file whole).
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// putFlows writes records from..from+n-1 as one default-format VPC flow log
// line each, alternating a→b and b→a, and returns where each landed.
func putFlows(t *testing.T, kc *kinesis.Client, name string, from, n int, a, b string) []put {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const start = 1793534400 // 2026-11-01T12:00:00Z
	var out []put
	for first := from; first < from+n; first += 500 {
		var entries []ktypes.PutRecordsRequestEntry
		for i := first; i < from+n && i < first+500; i++ {
			src, dst := a, b
			if i%2 == 1 {
				src, dst = b, a
			}
			entries = append(entries, ktypes.PutRecordsRequestEntry{
				Data: fmt.Appendf(nil, "2 123456789012 eni-0a1b2c3d4e5f67890 %s %s %d 443 6 %d %d %d %d ACCEPT OK",
					src, dst, 1024+i%50000, 1+i%20, 60+i, start+i, start+i+30),
				PartitionKey: aws.String(fmt.Sprintf("pk-%d", i)),
			})
		}
		res, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
		if err != nil {
			t.Fatalf("PutRecords: %v", err)
		}
		if c := aws.ToInt32(res.FailedRecordCount); c != 0 {
			t.Fatalf("PutRecords: %d records failed", c)
		}
		for _, r := range res.Records {
			out = append(out, put{shard: aws.ToString(r.ShardId), seq: aws.ToString(r.SequenceNumber)})
		}
	}
	return out
}

// match is one threat enrichment as either output writes it.
type match struct{ indicator, feed, field, value string }

// indicators lists the indicators of feed matched on source.ip or
// destination.ip, comma-separated; any other entry shows as "?{…}".
func indicators(ms []match, feed string) string {
	var out []string
	for _, m := range ms {
		if m.feed != feed || m.value != m.indicator || (m.field != "source.ip" && m.field != "destination.ip") {
			out = append(out, fmt.Sprintf("?%+v", m))
			continue
		}
		out = append(out, m.indicator)
	}
	return strings.Join(out, ",")
}

// ndjsonMatches reads the NDJSON sink's file: for each event id, one entry
// per occurrence listing the indicators it matched.
func ndjsonMatches(t *testing.T, path, feed string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var doc struct {
			Event struct {
				ID string `json:"id"`
			} `json:"event"`
			Threat struct {
				Enrichments []struct {
					Indicator struct {
						Name     string `json:"name"`
						Provider string `json:"provider"`
					} `json:"indicator"`
					Matched struct {
						Field  string `json:"field"`
						Atomic string `json:"atomic"`
					} `json:"matched"`
				} `json:"enrichments"`
			} `json:"threat"`
		}
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatalf("%s: %v in %q", path, err, sc.Text())
		}
		var ms []match
		for _, e := range doc.Threat.Enrichments {
			ms = append(ms, match{e.Indicator.Name, e.Indicator.Provider, e.Matched.Field, e.Matched.Atomic})
		}
		got[doc.Event.ID] = append(got[doc.Event.ID], indicators(ms, feed))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// lakeMatches reads event_id and threat_enrichments from every committed
// Parquet file of table under dir, as ndjsonMatches does.
func lakeMatches(t *testing.T, dir, table, feed string) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	err := filepath.WalkDir(filepath.Join(dir, table), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".parquet") {
			return nil
		}
		r, err := file.OpenParquetFile(path, false)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		defer r.Close()
		ids, err := stringColumn(r, "event_id")
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		threats, err := stringColumn(r, "threat_enrichments")
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(ids) != len(threats) {
			return fmt.Errorf("%s: %d event ids but %d threat_enrichments", path, len(ids), len(threats))
		}
		for i, id := range ids {
			var es []struct {
				Indicator    string `json:"indicator"`
				Feed         string `json:"feed"`
				MatchedField string `json:"matched_field"`
				MatchedValue string `json:"matched_value"`
			}
			if threats[i] != "" {
				if err := json.Unmarshal([]byte(threats[i]), &es); err != nil {
					return fmt.Errorf("%s: threat_enrichments %q: %w", path, threats[i], err)
				}
			}
			var ms []match
			for _, e := range es {
				ms = append(ms, match{e.Indicator, e.Feed, e.MatchedField, e.MatchedValue})
			}
			got[id] = append(got[id], indicators(ms, feed))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading the lake: %v", err)
	}
	return got
}

// stringColumn reads a flat byte-array column, "" for nulls.
func stringColumn(r *file.Reader, name string) ([]string, error) {
	col := r.MetaData().Schema.ColumnIndexByName(name)
	if col < 0 {
		return nil, fmt.Errorf("no %s column", name)
	}
	var out []string
	vals := make([]parquet.ByteArray, 1024)
	defs := make([]int16, 1024)
	for g := 0; g < r.NumRowGroups(); g++ {
		cr, err := r.RowGroup(g).Column(col)
		if err != nil {
			return nil, err
		}
		br, ok := cr.(*file.ByteArrayColumnChunkReader)
		if !ok {
			return nil, fmt.Errorf("%s is not a byte-array column", name)
		}
		maxDef := br.Descriptor().MaxDefinitionLevel()
		for br.HasNext() {
			levels, _, err := br.ReadBatch(int64(len(vals)), vals, defs, nil)
			if err != nil {
				return nil, err
			}
			v := 0
			for i := 0; i < int(levels); i++ {
				if defs[i] == maxDef {
					out = append(out, string(vals[v]))
					v++
				} else {
					out = append(out, "")
				}
			}
		}
	}
	return out, nil
}
