package kcl

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
)

// ListShardsAPI is the Kinesis call the parent gate makes.
type ListShardsAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// GetItemAPI is the DynamoDB call the parent gate makes.
type GetItemAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// parentGate knows the shards' parents (both parents of a merge) and
// whether they are finished.
type parentGate struct {
	kc     ListShardsAPI
	ddb    GetItemAPI
	stream string
	table  string
	maxAge time.Duration

	mu      sync.Mutex
	parents map[string][]string // shard → parents; every listed shard is a key
	listed  time.Time
}

func (g *parentGate) list(ctx context.Context, force bool) (map[string][]string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.parents != nil && !force && time.Since(g.listed) < g.maxAge {
		return g.parents, nil
	}
	if g.parents != nil && time.Since(g.listed) < time.Second {
		return g.parents, nil // ListShards allows a few calls per second per stream
	}
	m := map[string][]string{}
	in := &kinesis.ListShardsInput{StreamName: aws.String(g.stream)}
	for {
		out, err := g.kc.ListShards(ctx, in)
		if err != nil {
			return g.parents, fmt.Errorf("list shards of %s: %w", g.stream, err)
		}
		for _, s := range out.Shards {
			var ps []string
			if p := aws.ToString(s.ParentShardId); p != "" {
				ps = append(ps, p)
			}
			if p := aws.ToString(s.AdjacentParentShardId); p != "" {
				ps = append(ps, p)
			}
			m[aws.ToString(s.ShardId)] = ps
		}
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	g.parents, g.listed = m, time.Now()
	return m, nil
}

// finished reports whether every parent of shard is finished: its lease
// item's checkpoint is SHARD_END, or it is no longer in the stream (trimmed
// after the retention period). It names the parent it waits for.
func (g *parentGate) finished(ctx context.Context, shard string) (bool, string, error) {
	shards, err := g.list(ctx, false)
	if err != nil && shards == nil {
		return false, "", err
	}
	ps, known := shards[shard]
	if !known {
		if shards, err = g.list(ctx, true); err != nil && shards == nil {
			return false, "", err
		}
		ps = shards[shard]
	}
	for _, parent := range ps {
		out, err := g.ddb.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(g.table),
			ConsistentRead: aws.Bool(true),
			Key:            map[string]dtypes.AttributeValue{chk.LeaseKeyKey: &dtypes.AttributeValueMemberS{Value: parent}},
		})
		if err != nil {
			return false, parent, err
		}
		if v, ok := out.Item[chk.SequenceNumberKey].(*dtypes.AttributeValueMemberS); ok && v.Value == chk.ShardEnd {
			continue
		}
		if _, listed := shards[parent]; listed {
			return false, parent, nil
		}
		// Not listed in the last listing: make sure before calling it gone.
		if shards, err = g.list(ctx, true); err != nil {
			return false, parent, err
		}
		if _, listed := shards[parent]; listed {
			return false, parent, nil
		}
	}
	return true, "", nil
}

// streamARN resolves the stream's ARN.
func streamARN(ctx context.Context, kc *kinesis.Client, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err == nil && out.StreamDescriptionSummary != nil && out.StreamDescriptionSummary.StreamARN != nil {
		return *out.StreamDescriptionSummary.StreamARN, nil
	}
	d, err2 := kc.DescribeStream(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name), Limit: aws.Int32(1)})
	if err2 == nil && d.StreamDescription != nil && d.StreamDescription.StreamARN != nil {
		return *d.StreamDescription.StreamARN, nil
	}
	return "", fmt.Errorf("kcl: describe stream %s: %w", name, errors.Join(err, err2))
}
