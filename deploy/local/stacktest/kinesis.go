package stacktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
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
