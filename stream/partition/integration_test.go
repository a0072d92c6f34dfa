package partition

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/stream/kpl"
)

// throttling wraps a real client and rejects every third entry of the first
// calls with ProvisionedThroughputExceededException, as a hot shard would:
// the rejected entries are not sent, the others are.
type throttling struct {
	c        *kinesis.Client
	calls    atomic.Int64
	rejected atomic.Int64
}

func (w *throttling) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, opts ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	call := w.calls.Add(1)
	reject := func(i int) bool { return call <= 6 && i%3 == 1 }
	fwd := *in
	fwd.Records = nil
	var idx []int
	for i, e := range in.Records {
		if !reject(i) {
			fwd.Records = append(fwd.Records, e)
			idx = append(idx, i)
		}
	}
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	for i := range in.Records {
		if reject(i) {
			w.rejected.Add(1)
			out.Records[i] = types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"),
				ErrorMessage: aws.String("Rate exceeded for shard shardId-000000000000 (injected)")}
		}
	}
	if len(fwd.Records) > 0 {
		real, err := w.c.PutRecords(ctx, &fwd, opts...)
		if err != nil {
			return nil, err
		}
		for k, r := range real.Records {
			out.Records[idx[k]] = r
		}
	}
	return out, nil
}

func createStream(t *testing.T, kc *kinesis.Client, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = time.Second
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kc.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
}

func TestIntegrationPartitionUnderThrottling(t *testing.T) {
	ep := stacktest.Require(t, stacktest.Kinesis)
	kc := ep.Kinesis(t)
	suffix := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	streams := map[string]string{"cloudtrail": "part-ct-" + suffix, "alb": "part-alb-" + suffix, "*": "part-rest-" + suffix}
	for _, s := range streams {
		createStream(t, kc, s)
	}
	api := &throttling{c: kc}
	r, err := New(api, Config{Mode: ByFormat, Routes: streams, MaxRecordSize: 16 << 10, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// 3000 user records, half of them arriving KPL-aggregated as a producer would send them.
	want := map[string][]string{}
	var recs []Record
	agg := kpl.NewAggregator(64 << 10)
	for i := range 3000 {
		var l, k string
		switch i % 3 {
		case 0:
			l, k = fmt.Sprintf(ctLine, i), "cloudtrail"
		case 1:
			l, k = fmt.Sprintf(albLine, i), "alb"
		default:
			l, k = fmt.Sprintf("free text line %d", i), "*"
		}
		want[streams[k]] = append(want[streams[k]], l)
		pk := fmt.Sprintf("pk-%d", i%17)
		if i%2 == 0 {
			recs = append(recs, Record{Data: []byte(l), PartitionKey: pk})
			continue
		}
		out, err := agg.Add(pk, "", []byte(l))
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			recs = append(recs, Record{Data: out.Data, PartitionKey: out.PartitionKey})
		}
	}
	if out := agg.Flush(); out != nil {
		recs = append(recs, Record{Data: out.Data, PartitionKey: out.PartitionKey})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := r.Route(ctx, recs)
	if res.FirstFailed != -1 {
		t.Fatalf("first failed input %d: %v", res.FirstFailed, res.Err)
	}
	if api.rejected.Load() == 0 || res.Resent == 0 {
		t.Fatalf("no injected rejection happened (rejected %d, resent %d)", api.rejected.Load(), res.Resent)
	}
	for _, s := range streams {
		got := stacktest.ReadAggregated(t, kc, s)
		w := want[s]
		sort.Strings(got)
		sort.Strings(w)
		if len(got) != len(w) || strings.Join(got, "\n") != strings.Join(w, "\n") {
			t.Errorf("stream %s: %d user records read back, want %d, each exactly once", s, len(got), len(w))
		}
	}
	t.Logf("%d input records, %d user records, %d aggregated records landed, %d entries rejected and resent",
		len(recs), res.UserRecords, res.OutputRecords, res.Resent)
}
