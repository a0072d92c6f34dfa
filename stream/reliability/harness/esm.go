package harness

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Handler is a Kinesis-triggered Lambda handler (handler.Kinesis.Handle,
// handler.Route.Handle).
type Handler func(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error)

// ESM behaves like Lambda's Kinesis event source mapping with
// ReportBatchItemFailures: per shard it reads up to BatchSize records from
// its checkpoint, invokes the handler with a deadline of Timeout (as Lambda
// gives the function's timeout), and moves the checkpoint to the reported
// sequence number — retrying from there — or past the batch.
type ESM struct {
	Kinesis   *kinesis.Client
	Stream    string // name (kinesalite wants names)
	StreamARN string
	BatchSize int32
	Timeout   time.Duration
	// MaxStuck bounds retries that make no progress at all (default 20).
	MaxStuck int

	// Invocations, Retries and Tails count what happened: a tail is a retry
	// from inside a batch (part of it was done).
	Invocations, Retries, Tails int
}

// Drain processes every record of every shard of the stream.
func (m *ESM) Drain(ctx context.Context, h Handler) error {
	shards, err := m.Kinesis.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(m.Stream)})
	if err != nil {
		return err
	}
	for _, sh := range shards.Shards {
		if err := m.drainShard(ctx, aws.ToString(sh.ShardId), h); err != nil {
			return err
		}
	}
	return nil
}

func (m *ESM) drainShard(ctx context.Context, shardID string, h Handler) error {
	maxStuck := m.MaxStuck
	if maxStuck <= 0 {
		maxStuck = 20
	}
	it, err := m.Kinesis.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(m.Stream),
		ShardId: aws.String(shardID), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		return err
	}
	iter := it.ShardIterator
	var pending []types.Record
	stuck := 0
	for {
		if len(pending) < int(m.BatchSize) && iter != nil {
			out, err := m.Kinesis.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(m.BatchSize)})
			if err != nil {
				return err
			}
			pending = append(pending, out.Records...)
			iter = out.NextShardIterator
			if len(out.Records) == 0 {
				iter = nil // nothing more is written while the harness drains
			}
		}
		if len(pending) == 0 {
			return nil
		}
		batch := pending[:min(len(pending), int(m.BatchSize))]
		ev := events.KinesisEvent{}
		for _, r := range batch {
			ev.Records = append(ev.Records, events.KinesisEventRecord{
				AwsRegion: "us-east-1", EventID: shardID + ":" + aws.ToString(r.SequenceNumber), EventName: "aws:kinesis:record",
				EventSource: "aws:kinesis", EventSourceArn: m.StreamARN, EventVersion: "1.0",
				Kinesis: events.KinesisRecord{ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: aws.ToTime(r.ApproximateArrivalTimestamp)},
					Data: r.Data, PartitionKey: aws.ToString(r.PartitionKey), SequenceNumber: aws.ToString(r.SequenceNumber), KinesisSchemaVersion: "1.0"},
			})
		}
		m.Invocations++
		ictx, cancel := context.WithTimeout(ctx, m.Timeout)
		resp, err := h(ictx, ev)
		cancel()
		if err != nil {
			// A function error: the whole batch is retried.
			resp = events.KinesisEventResponse{BatchItemFailures: []events.KinesisBatchItemFailure{{ItemIdentifier: aws.ToString(batch[0].SequenceNumber)}}}
		}
		if len(resp.BatchItemFailures) == 0 {
			pending = pending[len(batch):]
			stuck = 0
			continue
		}
		seq := resp.BatchItemFailures[0].ItemIdentifier
		k := slices.IndexFunc(batch, func(r types.Record) bool { return aws.ToString(r.SequenceNumber) == seq })
		if k < 0 {
			return fmt.Errorf("esm: batch item failure %q is not in the batch", seq)
		}
		m.Retries++
		if k == 0 {
			if stuck++; stuck > maxStuck {
				return fmt.Errorf("esm: no progress after %d retries at %s", stuck, seq)
			}
		} else {
			stuck = 0
			m.Tails++
		}
		pending = pending[k:]
	}
}
