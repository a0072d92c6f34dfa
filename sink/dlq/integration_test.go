package dlq

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/stream"
)

// TestIntegrationDLQS3 writes dead letters to the local S3 server of
// deploy/local/stack and reads them back exactly.
func TestIntegrationDLQS3(t *testing.T) {
	ep := stacktest.Require(t, stacktest.S3)
	client := ep.S3(t)
	ctx := context.Background()
	bucket := stacktest.UniqueName(t, "dlq")
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		if list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}); err == nil {
			for _, o := range list.Contents {
				client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			}
		}
		client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})
	sink, err := Open("s3://"+bucket+"/gannet/dlq", client)
	if err != nil {
		t.Fatal(err)
	}
	want := nasty()
	for range 2 { // the second round is a retry: same keys
		if err := sink.DeadLetter(ctx, want); err != nil {
			t.Fatal(err)
		}
		if err := sink.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 1 || !strings.HasPrefix(aws.ToString(list.Contents[0].Key), "gannet/dlq/dlq-") {
		t.Fatalf("objects after a retried flush: %d", len(list.Contents))
	}
	var got []stream.DeadLetter
	if err := ReadS3(ctx, client, "s3://"+bucket+"/gannet/", func(dl stream.DeadLetter) error {
		got = append(got, dl)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	equalLetters(t, got, slices.Clone(want))
}
