package kcl

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	par "github.com/vmware/vmware-go-kcl-v2/clientlibrary/partition"
)

// ErrLeaseLost is returned (wrapped in a *LeaseLostError) by a guarded
// checkpoint write when this worker no longer owns the shard's lease.
var ErrLeaseLost = errors.New("lease lost")

// LeaseLostError says which shard's checkpoint was refused and why.
type LeaseLostError struct {
	Shard, Worker, Checkpoint string
	Err                       error // the ConditionalCheckFailedException
}

func (e *LeaseLostError) Error() string {
	return fmt.Sprintf("checkpoint %s of shard %s refused: worker %s no longer holds the lease (or the shard is finished)", e.Checkpoint, e.Shard, e.Worker)
}

// Is makes errors.Is(err, ErrLeaseLost) true.
func (e *LeaseLostError) Is(target error) bool { return target == ErrLeaseLost }
func (e *LeaseLostError) Unwrap() error        { return e.Err }

// UpdateItemAPI is the DynamoDB call the guard makes.
type UpdateItemAPI interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// GuardedCheckpointer is vmware-go-kcl-v2's DynamoDB checkpointer with one
// method replaced: CheckpointSequence writes the checkpoint only if this
// worker still owns the lease (AssignedTo = worker) and the shard is not
// already finished (Checkpoint <> SHARD_END, unless writing SHARD_END again).
// v1.0.0 writes it with an unconditional PutItem that also rewrites
// AssignedTo, so a worker that lost its lease could move another worker's
// checkpoint and even take the lease back. Leases, lease stealing and
// everything else are the library's.
type GuardedCheckpointer struct {
	*chk.DynamoCheckpoint
	api     UpdateItemAPI
	table   string
	worker  string
	timeout time.Duration
}

// Init creates the lease table when it does not exist (the library's Init).
// Workers started together race to create it; v1.0.0 returns the losers'
// ResourceInUseException as a start-up error, so all workers but one
// exited. Here it means another worker is creating the table: Init waits
// until the table is ACTIVE.
func (g *GuardedCheckpointer) Init() error {
	err := g.DynamoCheckpoint.Init()
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		return err
	}
	dt, ok := g.api.(dynamodb.DescribeTableAPIClient)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return dynamodb.NewTableExistsWaiter(dt, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(g.table)}, 2*time.Minute)
}

// NewGuardedCheckpointer wraps the library's checkpointer for table, owned
// by worker. base must have been given api's client (WithDynamoDB).
func NewGuardedCheckpointer(base *chk.DynamoCheckpoint, api UpdateItemAPI, table, worker string) *GuardedCheckpointer {
	return &GuardedCheckpointer{DynamoCheckpoint: base, api: api, table: table, worker: worker, timeout: 15 * time.Second}
}

// CheckpointSequence writes shard's checkpoint with a conditional update.
// A refusal returns a *LeaseLostError (errors.Is(err, ErrLeaseLost)).
func (g *GuardedCheckpointer) CheckpointSequence(shard *par.ShardStatus) error {
	cp := shard.GetCheckpoint()
	if cp == "" {
		return errors.New("kcl: empty checkpoint")
	}
	return g.checkpoint(shard.ID, shard.ParentShardId, cp)
}

func (g *GuardedCheckpointer) checkpoint(shardID, parent, cp string) error {
	in := conditionalCheckpoint(g.table, shardID, parent, g.worker, cp)
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	_, err := g.api.UpdateItem(ctx, in)
	if err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return &LeaseLostError{Shard: shardID, Worker: g.worker, Checkpoint: cp, Err: err}
		}
		return fmt.Errorf("checkpoint %s of shard %s: %w", cp, shardID, err)
	}
	return nil
}

// conditionalCheckpoint is the guarded write: SET Checkpoint (and
// ParentShardId, as the library stores it) only while AssignedTo is worker
// and the shard has not been finished.
func conditionalCheckpoint(table, shardID, parent, worker, cp string) *dynamodb.UpdateItemInput {
	names := map[string]string{"#cp": chk.SequenceNumberKey, "#owner": chk.LeaseOwnerKey}
	values := map[string]types.AttributeValue{
		":cp":    &types.AttributeValueMemberS{Value: cp},
		":owner": &types.AttributeValueMemberS{Value: worker},
	}
	update := "SET #cp = :cp"
	if parent != "" {
		names["#parent"] = chk.ParentShardIdKey
		values[":parent"] = &types.AttributeValueMemberS{Value: parent}
		update += ", #parent = :parent"
	}
	cond := "#owner = :owner"
	if cp != chk.ShardEnd {
		values[":end"] = &types.AttributeValueMemberS{Value: chk.ShardEnd}
		cond += " AND (attribute_not_exists(#cp) OR #cp <> :end)"
	}
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       map[string]types.AttributeValue{chk.LeaseKeyKey: &types.AttributeValueMemberS{Value: shardID}},
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
}
