package kcl

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	kclcfg "github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"
	par "github.com/vmware/vmware-go-kcl-v2/clientlibrary/partition"
	kclworker "github.com/vmware/vmware-go-kcl-v2/clientlibrary/worker"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
)

// A worker whose lease was taken by another cannot move the checkpoint
// (against dynalite, with the library's own lease taking); the library's
// unguarded write can, which is the hazard the guard exists for.
func TestIntegrationLeaseGuard(t *testing.T) {
	ep := localAWS(t)
	ddb := ep.DynamoDB(t)
	table := stacktest.UniqueName(t, "leases")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	newCheckpointer := func(worker string) (*GuardedCheckpointer, *chk.DynamoCheckpoint) {
		cfg := kclcfg.NewKinesisClientLibConfig("guard-test", "unused", stacktest.Region, worker).
			WithTableName(table).
			WithFailoverTimeMillis(300).
			WithLeaseRefreshWaitTime(100).
			WithLogger(kclLogger{testLogger(t, worker)})
		base := chk.NewDynamoCheckpoint(cfg).WithDynamoDB(ddb)
		return NewGuardedCheckpointer(base, ddb, table, worker), base
	}
	a, baseA := newCheckpointer("worker-a")
	b, _ := newCheckpointer("worker-b")
	if err := a.Init(); err != nil {
		t.Fatalf("create lease table: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := dynamodb.NewTableExistsWaiter(ddb, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 15*time.Second); err != nil {
		t.Fatalf("lease table: %v", err)
	}
	checkpointOf := func(shard string) (cp, owner string) {
		it := leaseItems(t, ddb, table)[shard]
		return it["Checkpoint"], it["AssignedTo"]
	}

	const shard = "shardId-000000000000"
	sa := &par.ShardStatus{ID: shard, Mux: &sync.RWMutex{}}
	if err := a.GetLease(sa, "worker-a"); err != nil {
		t.Fatalf("worker-a GetLease: %v", err)
	}
	rpcA := kclworker.NewRecordProcessorCheckpoint(sa, a)
	if err := rpcA.Checkpoint(aws.String("100")); err != nil {
		t.Fatalf("worker-a checkpoint while owning the lease: %v", err)
	}
	if cp, owner := checkpointOf(shard); cp != "100" || owner != "worker-a" {
		t.Fatalf("after worker-a's checkpoint: Checkpoint=%q AssignedTo=%q", cp, owner)
	}

	// worker-a stops renewing; once the lease has expired worker-b takes it,
	// the way the library's event loop does (FetchCheckpoint, GetLease).
	time.Sleep(400 * time.Millisecond)
	sb := &par.ShardStatus{ID: shard, Mux: &sync.RWMutex{}}
	if err := b.FetchCheckpoint(sb); err != nil {
		t.Fatalf("worker-b FetchCheckpoint: %v", err)
	}
	if err := b.GetLease(sb, "worker-b"); err != nil {
		t.Fatalf("worker-b GetLease of the expired lease: %v", err)
	}

	err := rpcA.Checkpoint(aws.String("200"))
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("worker-a checkpoint after losing the lease: err = %v, want ErrLeaseLost", err)
	}
	if cp, owner := checkpointOf(shard); cp != "100" || owner != "worker-b" {
		t.Fatalf("worker-a moved the lease item: Checkpoint=%q AssignedTo=%q, want 100 / worker-b", cp, owner)
	}
	rpcB := kclworker.NewRecordProcessorCheckpoint(sb, b)
	if err := rpcB.Checkpoint(aws.String("150")); err != nil {
		t.Fatalf("worker-b checkpoint: %v", err)
	}
	// worker-a's renewal fails too (the library's conditional GetLease).
	if err := a.GetLease(sa, "worker-a"); err == nil {
		t.Fatalf("worker-a renewed a lease worker-b holds")
	}
	if cp, owner := checkpointOf(shard); cp != "150" || owner != "worker-b" {
		t.Fatalf("Checkpoint=%q AssignedTo=%q, want 150 / worker-b", cp, owner)
	}

	// The hazard: v1.0.0's own CheckpointSequence is an unconditional PutItem.
	sa.SetCheckpoint("999")
	if err := baseA.CheckpointSequence(sa); err != nil {
		t.Fatalf("library checkpoint: %v", err)
	}
	if cp, owner := checkpointOf(shard); cp != "999" || owner != "worker-a" {
		t.Fatalf("expected the unguarded library write to clobber the lease (Checkpoint=999, AssignedTo=worker-a); got %q / %q", cp, owner)
	}
	t.Logf("confirmed: the unguarded v1.0.0 checkpoint moved the checkpoint of a lease worker-b held and reassigned it to worker-a")
}
