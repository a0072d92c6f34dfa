package kcl

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	par "github.com/vmware/vmware-go-kcl-v2/clientlibrary/partition"
	kclworker "github.com/vmware/vmware-go-kcl-v2/clientlibrary/worker"
)

// fakeLeaseTable evaluates the guard's condition on in-memory lease items
// (AssignedTo, Checkpoint), the way DynamoDB would.
type fakeLeaseTable struct {
	owner, cp map[string]string
	calls     int
}

func (f *fakeLeaseTable) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.calls++
	if in.ConditionExpression == nil || !strings.Contains(*in.ConditionExpression, "#owner = :owner") {
		return nil, errors.New("fake: checkpoint write without an ownership condition")
	}
	id := in.Key["ShardID"].(*dtypes.AttributeValueMemberS).Value
	val := func(k string) string {
		if v, ok := in.ExpressionAttributeValues[k].(*dtypes.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	if f.owner[id] != val(":owner") {
		return nil, &dtypes.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	if _, ok := in.ExpressionAttributeValues[":end"]; ok && f.cp[id] == "SHARD_END" {
		return nil, &dtypes.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	}
	f.cp[id] = val(":cp")
	return &dynamodb.UpdateItemOutput{}, nil
}

func TestGuardRefusesCheckpointOfLostLease(t *testing.T) {
	tbl := &fakeLeaseTable{owner: map[string]string{"shardId-0": "worker-a"}, cp: map[string]string{}}
	a := NewGuardedCheckpointer(nil, tbl, "leases", "worker-a")
	shard := &par.ShardStatus{ID: "shardId-0", Mux: &sync.RWMutex{}}
	rpc := kclworker.NewRecordProcessorCheckpoint(shard, a) // what a record processor is handed

	if err := rpc.Checkpoint(aws.String("100")); err != nil {
		t.Fatalf("owner's checkpoint: %v", err)
	}
	tbl.owner["shardId-0"] = "worker-b" // worker-b took the lease
	err := rpc.Checkpoint(aws.String("200"))
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("checkpoint after losing the lease: %v, want ErrLeaseLost", err)
	}
	var lle *LeaseLostError
	if !errors.As(err, &lle) || lle.Shard != "shardId-0" || lle.Checkpoint != "200" {
		t.Errorf("error %#v", err)
	}
	if got := tbl.cp["shardId-0"]; got != "100" {
		t.Fatalf("checkpoint moved to %s by a worker without the lease", got)
	}

	// A finished shard's checkpoint cannot be moved back, even by its owner.
	tbl.owner["shardId-0"] = "worker-a"
	if err := rpc.Checkpoint(nil); err != nil {
		t.Fatalf("SHARD_END: %v", err)
	}
	if err := rpc.Checkpoint(aws.String("300")); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("checkpoint after SHARD_END: %v, want refused", err)
	}
	if err := rpc.Checkpoint(nil); err != nil {
		t.Fatalf("SHARD_END again: %v (must be idempotent)", err)
	}
	if tbl.cp["shardId-0"] != "SHARD_END" {
		t.Errorf("checkpoint %s", tbl.cp["shardId-0"])
	}
}

func TestGuardWriteShape(t *testing.T) {
	in := conditionalCheckpoint("leases", "shardId-2", "shardId-0", "w1", "4959")
	if aws.ToString(in.UpdateExpression) != "SET #cp = :cp, #parent = :parent" {
		t.Errorf("update %q", aws.ToString(in.UpdateExpression))
	}
	if aws.ToString(in.ConditionExpression) != "#owner = :owner AND (attribute_not_exists(#cp) OR #cp <> :end)" {
		t.Errorf("condition %q", aws.ToString(in.ConditionExpression))
	}
	if in.ExpressionAttributeNames["#owner"] != "AssignedTo" || in.ExpressionAttributeNames["#cp"] != "Checkpoint" {
		t.Errorf("names %v", in.ExpressionAttributeNames)
	}
	end := conditionalCheckpoint("leases", "shardId-2", "", "w1", "SHARD_END")
	if aws.ToString(end.ConditionExpression) != "#owner = :owner" || aws.ToString(end.UpdateExpression) != "SET #cp = :cp" {
		t.Errorf("SHARD_END write: %q / %q", aws.ToString(end.ConditionExpression), aws.ToString(end.UpdateExpression))
	}
}
