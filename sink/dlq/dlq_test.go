package dlq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/gannet-sec/gannet/stream"
)

// nasty returns dead letters whose raw bytes and strings hold everything
// that tends to break line-oriented storage.
func nasty() []stream.DeadLetter {
	raws := [][]byte{
		[]byte("plain line"),
		[]byte("crlf\r\nsecond line\r\n"),
		[]byte("ctl\x00\x01\x07\x1b[31m\x7f"),
		[]byte("invalid utf8 \xff\xfe\xc3\x28 end"),
		{},
		bytes.Repeat([]byte{0xff, '\n', '"', '\\'}, 100000), // 400 KB, larger than the reader buffer
	}
	var out []stream.DeadLetter
	for i, raw := range raws {
		l := stream.Lineage{Kind: stream.OriginKinesis, Source: "arn:aws:kinesis:eu-west-1:123456789012:stream/s",
			Shard: "shardId-000000000002", Sequence: fmt.Sprintf("4963%020d", i), SubSequence: int64(i) - 1, Index: int64(i),
			LogEventID: "3657\xff7"}
		dl := stream.DeadLetter{
			Time:    time.Date(2026, 11, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600)).Add(time.Duration(i) * time.Second),
			Stage:   "parse",
			Reason:  stream.Reason{Code: "alb_field_count", Detail: fmt.Sprintf("want 29 fields, got %d: \"\xff\r\n\"", i)},
			Lineage: l,
			Format:  stream.Formats()[i%len(stream.Formats())],
			Raw:     raw,
		}
		if i%2 == 0 {
			dl.EventID = l.ID()
		}
		out = append(out, dl)
	}
	out = append(out, stream.DeadLetter{Stage: "decode", Reason: stream.Reason{Code: "kpl_md5_mismatch"},
		Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "/var/log/x.gz", Offset: 1 << 40, Line: 7, SubSequence: -1}, Raw: []byte{0x1f, 0x8b}})
	return out
}

func equalLetters(t *testing.T, got, want []stream.DeadLetter) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d letters, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) {
			t.Errorf("%d: time %v, want %v", i, g.Time, w.Time)
		}
		if !bytes.Equal(g.Raw, w.Raw) {
			t.Errorf("%d: raw differs (%d vs %d bytes)", i, len(g.Raw), len(w.Raw))
		}
		g.Time, w.Time, g.Raw, w.Raw = time.Time{}, time.Time{}, nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func readAll(t *testing.T, src string) []stream.DeadLetter {
	t.Helper()
	var got []stream.DeadLetter
	if err := Read(context.Background(), src, func(dl stream.DeadLetter) error {
		got = append(got, dl)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestDirRoundTripExact(t *testing.T) {
	dir := t.TempDir()
	d, err := NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := nasty()
	ctx := context.Background()
	if err := d.DeadLetter(ctx, want); err != nil {
		t.Fatal(err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Fatalf("files visible before Flush: %v", files)
	}
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	equalLetters(t, readAll(t, dir), want)

	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	equalLetters(t, readAll(t, files[0]), want)
	data, _ := os.ReadFile(files[0])
	if n := bytes.Count(data, []byte("\n")); n != len(want) {
		t.Errorf("%d lines for %d entries: raw newlines leaked", n, len(want))
	}

	// The same letters again (a retried batch) overwrite the same file.
	if err := d.DeadLetter(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if files2, _ := filepath.Glob(filepath.Join(dir, "*")); !slices.Equal(files, files2) {
		t.Errorf("retry wrote %v, want only %v", files2, files)
	}
	if err := d.DeadLetter(ctx, want[:1]); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestEntryIsReadableJSON(t *testing.T) {
	dl := nasty()[0]
	line, err := AppendEntry(nil, &dl)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"v":1`, `"stage":"parse"`, `"code":"alb_field_count"`, `"kind":"kinesis"`,
		`"time":"2026-11-01T09:00:00.123456789Z"`, `"raw":"cGxhaW4gbGluZQ=="`, `"event_id":"` + dl.EventID.String() + `"`,
		`"log_event_id":{"b64":"MzY1N/83"}`} {
		if !bytes.Contains(line, []byte(want)) {
			t.Errorf("entry lacks %s:\n%s", want, line)
		}
	}
}

func TestParseEntryRejects(t *testing.T) {
	good, _ := AppendEntry(nil, &nasty()[1])
	for name, line := range map[string]string{
		"not json":      "hello",
		"version":       strings.Replace(string(good), `"v":1`, `"v":9`, 1),
		"unknown field": strings.Replace(string(good), `"v":1`, `"v":1,"x":2`, 1),
		"kind":          strings.Replace(string(good), `"kind":"kinesis"`, `"kind":"pigeon"`, 1),
		"format":        strings.Replace(string(good), `"format":"alb"`, `"format":"nope"`, 1),
		"raw":           strings.Replace(string(good), `"raw":"`, `"raw":"!`, 1),
		"trailing":      strings.TrimSpace(string(good)) + "{}",
		"b64 object":    strings.Replace(string(good), `"stage":"parse"`, `"stage":{}`, 1),
	} {
		if _, err := ParseEntry([]byte(line)); err == nil {
			t.Errorf("%s: accepted %s", name, line)
		}
	}
}

func TestReadReportsFileAndLine(t *testing.T) {
	dir := t.TempDir()
	good, _ := AppendEntry(nil, &nasty()[0])
	os.WriteFile(filepath.Join(dir, "a.ndjson"), append(append(good, "\n"...), "garbage\n"...), 0o644)
	os.WriteFile(filepath.Join(dir, ".tmp-dlq-123"), []byte("partial"), 0o644)
	err := Read(context.Background(), dir, func(stream.DeadLetter) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "a.ndjson:3") {
		t.Fatalf("error %v should name a.ndjson:3", err)
	}
	stop := errors.New("stop")
	err = Read(context.Background(), filepath.Join(dir, "a.ndjson"), func(stream.DeadLetter) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("callback error not returned: %v", err)
	}
}

func TestDirConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	d, _ := NewDir(dir)
	ctx := context.Background()
	const writers, per = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				dl := stream.DeadLetter{Stage: "sink:elastic", Reason: stream.Reason{Code: "x"},
					Lineage: stream.Lineage{Kind: stream.OriginFile, Source: fmt.Sprintf("w%d", w), Line: int64(i)},
					Raw:     []byte(fmt.Sprintf("w%d-%d\r\n", w, i))}
				if err := d.DeadLetter(ctx, []stream.DeadLetter{dl}); err != nil {
					t.Error(err)
				}
				if i%10 == 9 {
					if err := d.Flush(ctx); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, dl := range readAll(t, dir) {
		seen[string(dl.Raw)]++
	}
	if len(seen) != writers*per {
		t.Fatalf("%d distinct entries, want %d", len(seen), writers*per)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%q stored %d times", k, n)
		}
	}
}

// fakeS3 keeps objects in memory and implements both S3 interfaces.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    int
	fail    int // fail this many puts first
}

func (f *fakeS3) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	if f.fail > 0 {
		f.fail--
		return nil, errors.New("SlowDown")
	}
	b, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	if f.objects == nil {
		f.objects = map[string][]byte{}
	}
	f.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)] = b
	return &s3.PutObjectOutput{}, nil
}

func (f *fakeS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for k := range f.objects {
		if b, key, _ := strings.Cut(k, "/"); b == aws.ToString(in.Bucket) && strings.HasPrefix(key, aws.ToString(in.Prefix)) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	// One key per page, to exercise continuation.
	start := 0
	if in.ContinuationToken != nil {
		start = slices.Index(keys, *in.ContinuationToken)
	}
	out := &s3.ListObjectsV2Output{}
	if start < len(keys) {
		out.Contents = []types.Object{{Key: aws.String(keys[start])}}
		if start+1 < len(keys) {
			out.IsTruncated = aws.Bool(true)
			out.NextContinuationToken = aws.String(keys[start+1])
		}
	}
	return out, nil
}

func (f *fakeS3) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)]
	if !ok {
		return nil, errors.New("NoSuchKey")
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

func TestS3RoundTripAndIdempotentKeys(t *testing.T) {
	api := &fakeS3{fail: 1}
	s := NewS3(api, "bkt", "gannet/dlq")
	ctx := context.Background()
	want := nasty()
	if err := s.DeadLetter(ctx, want[:3]); err != nil {
		t.Fatal(err)
	}
	err := s.Flush(ctx)
	if c, _ := stream.ClassOf(err); err == nil || c != stream.Retryable {
		t.Fatalf("failed put: %v", err)
	}
	if err := s.Flush(ctx); err != nil { // kept buffered: the retry succeeds
		t.Fatal(err)
	}
	if err := s.DeadLetter(ctx, want[3:]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(api.objects) != 2 {
		t.Fatalf("objects %v", len(api.objects))
	}
	for k := range api.objects {
		if !strings.HasPrefix(k, "bkt/gannet/dlq/dlq-") || !strings.HasSuffix(k, ".ndjson") {
			t.Errorf("key %q", k)
		}
	}
	// A second sink dead-lettering the same letters (a retried Lambda
	// batch) writes the same keys.
	s2 := NewS3(api, "bkt", "gannet/dlq/")
	s2.DeadLetter(ctx, want[:3])
	s2.Flush(ctx)
	if len(api.objects) != 2 {
		t.Errorf("retry created a new object: %d objects", len(api.objects))
	}

	var got []stream.DeadLetter
	if err := ReadS3(ctx, api, "s3://bkt/gannet/dlq/", func(dl stream.DeadLetter) error {
		got = append(got, dl)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Key order is hash order: compare as sets by sequence.
	key := func(a, b stream.DeadLetter) int { return strings.Compare(a.Lineage.RecordKey(), b.Lineage.RecordKey()) }
	slices.SortFunc(got, key)
	sorted := slices.Clone(want)
	slices.SortFunc(sorted, key)
	equalLetters(t, got, sorted)
}

func FuzzDecode(f *testing.F) {
	for _, dl := range nasty()[:5] {
		line, _ := AppendEntry(nil, &dl)
		f.Add(line)
	}
	f.Add([]byte("{}\n\n{\"v\":1}"))
	f.Add([]byte(`{"v":1,"time":"2026-11-01T00:00:00Z","stage":{"b64":"/w=="},"reason":{"code":"","detail":""},"lineage":{"kind":"s3"},"format":"","raw":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []stream.DeadLetter
		err := Decode(context.Background(), bytes.NewReader(data), func(dl stream.DeadLetter) error {
			got = append(got, dl)
			return nil
		})
		if err != nil {
			return
		}
		// Whatever was accepted re-encodes to entries that decode to the same letters.
		var buf []byte
		for i := range got {
			if buf, err = AppendEntry(buf, &got[i]); err != nil {
				t.Fatal(err)
			}
		}
		var again []stream.DeadLetter
		if err := Decode(context.Background(), bytes.NewReader(buf), func(dl stream.DeadLetter) error {
			again = append(again, dl)
			return nil
		}); err != nil {
			t.Fatalf("re-encoded entries rejected: %v\n%s", err, buf)
		}
		equalLetters(t, again, got)
	})
}

func TestOpen(t *testing.T) {
	if s, err := Open(t.TempDir(), nil); err != nil {
		t.Fatal(err)
	} else if _, ok := s.(*Dir); !ok {
		t.Errorf("local path opened as %T", s)
	}
	if _, err := Open("s3://bkt/p", nil); err == nil {
		t.Error("s3:// without a client accepted")
	}
	if _, err := Open("s3:///p", &fakeS3{}); err == nil {
		t.Error("s3:// without a bucket accepted")
	}
	s, err := Open("s3://bkt/p", &fakeS3{})
	if err != nil {
		t.Fatal(err)
	}
	if s3s, ok := s.(*S3); !ok || s3s.bucket != "bkt" || s3s.prefix != "p/" {
		t.Errorf("opened %#v", s)
	}
}
