package stacktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/gannet-sec/gannet/stream/kpl"
)

// CreateStream makes a stream with the given shard count, waits until it is
// ACTIVE and deletes it when the test ends.
func CreateStream(t testing.TB, kc *kinesis.Client, name string, shards int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("CreateStream %s: %v", name, err)
	}
	w := kinesis.NewStreamExistsWaiter(kc, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 20*time.Second); err != nil {
		t.Fatalf("stream %s not ACTIVE: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = kc.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
}

// PutRecords writes n records (payload "record-%05d", partition key "pk-%d")
// in batches of 500 and fails the test if any record is refused.
func PutRecords(t testing.TB, kc *kinesis.Client, stream string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for start := 0; start < n; start += 500 {
		var entries []ktypes.PutRecordsRequestEntry
		for i := start; i < n && i < start+500; i++ {
			entries = append(entries, ktypes.PutRecordsRequestEntry{
				Data:         fmt.Appendf(nil, "record-%05d", i),
				PartitionKey: aws.String(fmt.Sprintf("pk-%d", i)),
			})
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			t.Fatalf("PutRecords: %v", err)
		}
		if c := aws.ToInt32(out.FailedRecordCount); c != 0 {
			t.Fatalf("PutRecords: %d records failed", c)
		}
	}
}

// ReadAggregated reads every record of every shard of a stream from the
// trim horizon and de-aggregates each (the outputs of partition and
// aggregate are KPL aggregates): it returns the user records' data in shard
// order. A record that is not a valid KPL aggregate fails the test.
func ReadAggregated(t testing.TB, kc *kinesis.Client, name string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(name)})
	if err != nil {
		t.Fatalf("ListShards %s: %v", name, err)
	}
	var out []string
	for _, sh := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: sh.ShardId, ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("GetShardIterator %s/%s: %v", name, aws.ToString(sh.ShardId), err)
		}
		for iter := it.ShardIterator; iter != nil; {
			got, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
			if err != nil {
				t.Fatalf("GetRecords %s: %v", name, err)
			}
			for _, r := range got.Records {
				us, err := kpl.Deaggregate(r.Data)
				if err != nil {
					t.Fatalf("stream %s: record %s is not a valid KPL aggregate: %v", name, aws.ToString(r.SequenceNumber), err)
				}
				for _, u := range us {
					out = append(out, string(u.Data))
				}
			}
			if len(got.Records) == 0 || aws.ToInt64(got.MillisBehindLatest) == 0 && len(got.Records) < 1000 {
				break
			}
			iter = got.NextShardIterator
		}
	}
	return out
}
