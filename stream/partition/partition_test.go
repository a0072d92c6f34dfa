package partition

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/gannet-sec/gannet/stream/kpl"
)

// fakeKinesis records what landed per stream and rejects entries chosen by reject.
type fakeKinesis struct {
	mu      sync.Mutex
	calls   int
	landed  map[string][]string // stream → user record data
	reject  func(call, entry int) bool
	callErr func(call int) error
	maxSeen int
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	call := f.calls
	if len(in.Records) > MaxEntries {
		return nil, fmt.Errorf("%d entries", len(in.Records))
	}
	size := 0
	for _, e := range in.Records {
		size += len(e.Data) + len(*e.PartitionKey)
		if len(e.Data)+len(*e.PartitionKey) > 1<<20 {
			return nil, fmt.Errorf("record of %d bytes", len(e.Data))
		}
	}
	if size > MaxRequestBytes {
		return nil, fmt.Errorf("request of %d bytes", size)
	}
	f.maxSeen = max(f.maxSeen, len(in.Records))
	if f.callErr != nil {
		if err := f.callErr(call); err != nil {
			return nil, err
		}
	}
	name := aws.ToString(in.StreamName) + aws.ToString(in.StreamARN)
	out := &kinesis.PutRecordsOutput{}
	for i, e := range in.Records {
		if f.reject != nil && f.reject(call, i) {
			out.Records = append(out.Records, types.PutRecordsResultEntry{
				ErrorCode:    aws.String("ProvisionedThroughputExceededException"),
				ErrorMessage: aws.String("Rate exceeded for shard shardId-000000000000"),
			})
			continue
		}
		us, err := kpl.Deaggregate(e.Data)
		if err != nil {
			return nil, fmt.Errorf("entry %d is not a valid KPL record: %w", i, err)
		}
		for _, u := range us {
			f.landed[name] = append(f.landed[name], string(u.Data))
		}
		out.Records = append(out.Records, types.PutRecordsResultEntry{SequenceNumber: aws.String("1"), ShardId: aws.String("shardId-000000000000")})
	}
	return out, nil
}

func newRouter(t *testing.T, api PutRecordsAPI, cfg Config) *Router {
	t.Helper()
	r, err := New(api, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	return r
}

const (
	ctLine  = `{"eventVersion":"1.08","eventTime":"2026-11-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","userIdentity":{"type":"IAMUser"},"eventID":"%d","eventType":"AwsApiCall","recipientAccountId":"123456789012"}`
	albLine = `http 2026-11-01T00:00:00.000000Z app/lb/0123 1.2.3.4:%d 10.0.0.1:80 0.001 0.002 0.000 200 200 10 20 "GET http://x:80/ HTTP/1.1" "curl" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/0123 "Root=1-0-0" "-" "-" 0 2026-11-01T00:00:00.000000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"`
)

func TestParseOutputs(t *testing.T) {
	c, err := ParseOutputs(ByFormat, "cloudtrail=ct, alb=web,*=rest")
	if err != nil || c.Routes["cloudtrail"] != "ct" || c.Routes["*"] != "rest" || len(c.Routes) != 3 {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []struct {
		m    Mode
		spec string
	}{{ByFormat, "nosuch=x"}, {ByFormat, "ct"}, {ByKey, "a=b"}, {ByKey, ""}, {"rr", "a"}} {
		if _, err := ParseOutputs(bad.m, bad.spec); err == nil {
			t.Errorf("ParseOutputs(%s, %q) accepted", bad.m, bad.spec)
		}
	}
	c, err = ParseOutputs(BySize, "a,b,c")
	if err != nil || len(c.Outputs) != 3 {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestRouteByFormatWithPartialFailures(t *testing.T) {
	api := &fakeKinesis{landed: map[string][]string{},
		// the first two calls reject every other entry; later calls accept everything
		reject: func(call, entry int) bool { return call <= 2 && entry%2 == 0 }}
	r := newRouter(t, api, Config{Mode: ByFormat, Routes: map[string]string{"cloudtrail": "ct", "alb": "web", "*": "other"}, MaxRecordSize: 4096})
	var recs []Record
	want := map[string][]string{}
	for i := range 300 {
		var l, out string
		switch i % 3 {
		case 0:
			l, out = fmt.Sprintf(ctLine, i), "ct"
		case 1:
			l, out = fmt.Sprintf(albLine, i), "web"
		default:
			l, out = fmt.Sprintf("plain text %d", i), "other"
		}
		recs = append(recs, Record{Data: []byte(l), PartitionKey: fmt.Sprintf("pk-%d", i)})
		want[out] = append(want[out], l)
	}
	res := r.Route(context.Background(), recs)
	if res.FirstFailed != -1 || res.Err != nil {
		t.Fatalf("result %+v", res)
	}
	if res.Resent == 0 {
		t.Fatal("nothing was resent: the injected rejections did not happen")
	}
	for s, w := range want {
		got := append([]string(nil), api.landed[s]...)
		sort.Strings(got)
		sort.Strings(w)
		if strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("stream %s: %d user records landed, want %d (each exactly once)", s, len(got), len(w))
		}
	}
	if res.UserRecords != 300 || res.PerOutput["ct"] != 100 {
		t.Errorf("counts %+v", res)
	}
}

func TestRouteReportsFirstInputWhoseOutputDidNotLand(t *testing.T) {
	// Every entry of the second aggregated record is always rejected.
	api := &fakeKinesis{landed: map[string][]string{}}
	r := newRouter(t, api, Config{Mode: ByKey, Outputs: []string{"only"}, MaxRecordSize: 1024})
	var recs []Record
	for i := range 40 {
		recs = append(recs, Record{Data: []byte(strings.Repeat("x", 100) + fmt.Sprint(i)), PartitionKey: "k"})
	}
	// Records of ~110 bytes: 8 per 1 KiB aggregate; the second aggregate starts at input 8 or 9.
	calls := 0
	api.reject = func(call, entry int) bool {
		calls++
		return call == 1 && entry == 1 || call > 1 && entry == 0
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.sleep = func(context.Context, time.Duration) error {
		if api.calls >= 4 {
			cancel()
			return context.Canceled
		}
		return nil
	}
	res := r.Route(ctx, recs)
	if res.FirstFailed < 7 || res.FirstFailed > 9 {
		t.Fatalf("FirstFailed = %d, want the first input of the second aggregate (err %v)", res.FirstFailed, res.Err)
	}
	if res.Err == nil || !strings.Contains(res.Err.Error(), "ProvisionedThroughputExceeded") {
		t.Errorf("err = %v", res.Err)
	}
	// Everything but the rejected aggregate landed.
	if got := len(api.landed["only"]); got >= 40 || got < 30 {
		t.Errorf("%d user records landed", got)
	}
}

func TestRouteBatchesWithinLimits(t *testing.T) {
	api := &fakeKinesis{landed: map[string][]string{}}
	r := newRouter(t, api, Config{Mode: BySize, Outputs: []string{"a", "b"}})
	var recs []Record
	big := strings.Repeat("y", 300<<10)
	for i := range 60 { // 18 MB: several 5 MiB requests per output
		recs = append(recs, Record{Data: []byte(big + fmt.Sprint(i)), PartitionKey: fmt.Sprint(i)})
	}
	res := r.Route(context.Background(), recs)
	if res.FirstFailed != -1 {
		t.Fatalf("%+v", res)
	}
	if len(api.landed["a"]) != 30 || len(api.landed["b"]) != 30 {
		t.Errorf("size balance: a=%d b=%d", len(api.landed["a"]), len(api.landed["b"]))
	}
	if api.calls < 4 {
		t.Errorf("%d calls for 18 MB", api.calls)
	}
}

func TestRouteManyEntriesAndKPLInput(t *testing.T) {
	api := &fakeKinesis{landed: map[string][]string{}}
	r := newRouter(t, api, Config{Mode: ByKey, Outputs: []string{"a", "b", "c"}, MaxRecordSize: 200})
	// KPL input: 2000 user records in aggregated records; each output record holds ~1.
	agg := kpl.NewAggregator(0)
	var recs []Record
	for i := range 2000 {
		out, err := agg.Add(fmt.Sprintf("key-%d", i), "", []byte(fmt.Sprintf("user-%05d-%s", i, strings.Repeat("z", 120))))
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			recs = append(recs, Record{Data: out.Data, PartitionKey: out.PartitionKey})
		}
	}
	recs = append(recs, Record{Data: agg.Flush().Data, PartitionKey: "x"})
	res := r.Route(context.Background(), recs)
	if res.FirstFailed != -1 || res.UserRecords != 2000 {
		t.Fatalf("%+v", res)
	}
	n := 0
	for _, s := range []string{"a", "b", "c"} {
		n += len(api.landed[s])
		if len(api.landed[s]) < 500 {
			t.Errorf("output %s got %d of 2000 (key hash should spread)", s, len(api.landed[s]))
		}
	}
	if n != 2000 || api.maxSeen != MaxEntries {
		t.Errorf("landed %d, largest call %d entries", n, api.maxSeen)
	}
	// Same key, same output.
	h := map[string]string{}
	r2 := newRouter(t, &fakeKinesis{landed: map[string][]string{}}, Config{Mode: ByKey, Outputs: []string{"a", "b", "c"}})
	for i := range 50 {
		k := fmt.Sprintf("key-%d", i%5)
		o, _ := r2.choose(userRecord{PartitionKey: k})
		if prev, ok := h[k]; ok && prev != r2.outs[o] {
			t.Fatalf("key %s went to %s and %s", k, prev, r2.outs[o])
		}
		h[k] = r2.outs[o]
	}
}

func TestRouteWholeCallErrorRetried(t *testing.T) {
	api := &fakeKinesis{landed: map[string][]string{}, callErr: func(call int) error {
		if call == 1 {
			return errors.New("connection reset")
		}
		return nil
	}}
	r := newRouter(t, api, Config{Mode: ByKey, Outputs: []string{"a"}})
	res := r.Route(context.Background(), []Record{{Data: []byte("one"), PartitionKey: "p"}, {Data: []byte("two"), PartitionKey: "p"}})
	if res.FirstFailed != -1 || len(api.landed["a"]) != 2 || res.Resent != 1 {
		t.Fatalf("%+v landed %v", res, api.landed)
	}
}

func TestBadKPLInputPassedThrough(t *testing.T) {
	agg := kpl.NewAggregator(0)
	agg.Add("k", "", []byte("hello"))
	data := agg.Flush().Data
	data[len(data)-1] ^= 0xff // break the MD5
	api := &fakeKinesis{landed: map[string][]string{}}
	r := newRouter(t, api, Config{Mode: ByFormat, Routes: map[string]string{"*": "rest"}})
	res := r.Route(context.Background(), []Record{{Data: data, PartitionKey: "k"}})
	if res.FirstFailed != -1 || len(api.landed["rest"]) != 1 || api.landed["rest"][0] != string(data) {
		t.Fatalf("%+v %q", res, api.landed)
	}
}
