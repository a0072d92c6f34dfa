// Package kclsmoke holds the KCL smoke test of the local stack, apart from the
// other smoke tests because vmware-go-kcl-v2's worker pulls in more modules.
package kclsmoke_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	kclchk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	kclcfg "github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"
	kclworker "github.com/vmware/vmware-go-kcl-v2/clientlibrary/worker"
	kcllog "github.com/vmware/vmware-go-kcl-v2/logger"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
)

// kclProcessor counts distinct records and checkpoints after each batch.
type kclProcessor struct {
	seen        *sync.Map
	count       *atomic.Int64
	checkpoints *atomic.Int64
	errs        chan<- error
}

func (p *kclProcessor) Initialize(*kcl.InitializationInput) {}

func (p *kclProcessor) ProcessRecords(in *kcl.ProcessRecordsInput) {
	if len(in.Records) == 0 {
		return
	}
	for _, r := range in.Records {
		if _, dup := p.seen.LoadOrStore(string(r.Data), true); !dup {
			p.count.Add(1)
		}
	}
	last := in.Records[len(in.Records)-1].SequenceNumber
	if err := in.Checkpointer.Checkpoint(last); err != nil {
		select {
		case p.errs <- fmt.Errorf("checkpoint: %w", err):
		default:
		}
		return
	}
	p.checkpoints.Add(1)
}

func (p *kclProcessor) Shutdown(in *kcl.ShutdownInput) {
	if in.ShutdownReason == kcl.TERMINATE {
		_ = in.Checkpointer.Checkpoint(nil)
	}
}

type kclFactory struct{ p *kclProcessor }

func (f kclFactory) CreateProcessor() kcl.IRecordProcessor { return f.p }

// testLogger sends the KCL's warnings and errors to the test log (until the test ends).
type testLogger struct {
	t      *testing.T
	closed *atomic.Bool
}

func (l testLogger) logf(level, format string, args ...any) {
	if !l.closed.Load() {
		l.t.Logf("kcl %s: %s", level, fmt.Sprintf(format, args...))
	}
}
func (testLogger) Debugf(string, ...any)                    {}
func (testLogger) Infof(string, ...any)                     {}
func (l testLogger) Warnf(f string, a ...any)               { l.logf("WARN", f, a...) }
func (l testLogger) Errorf(f string, a ...any)              { l.logf("ERROR", f, a...) }
func (l testLogger) Fatalf(f string, a ...any)              { l.logf("FATAL", f, a...); panic(fmt.Sprintf(f, a...)) }
func (l testLogger) Panicf(f string, a ...any)              { l.logf("PANIC", f, a...); panic(fmt.Sprintf(f, a...)) }
func (l testLogger) WithFields(kcllog.Fields) kcllog.Logger { return l }

// 2. A vmware-go-kcl-v2 worker consumes 1,000 records with its leases and
// checkpoints in dynalite.
func TestIntegrationKCLWorkerConsumes1000Records(t *testing.T) {
	ep := stacktest.Require(t, stacktest.Kinesis, stacktest.DynamoDB)
	kc, ddb := ep.Kinesis(t), ep.DynamoDB(t)
	stream := stacktest.UniqueName(t, "kcl")
	table := stacktest.UniqueName(t, "leases")
	stacktest.CreateStream(t, kc, stream, 2)
	const n = 1000
	stacktest.PutRecords(t, kc, stream, n)

	closed := &atomic.Bool{}
	t.Cleanup(func() { closed.Store(true) })
	creds := credentials.NewStaticCredentialsProvider(ep.AccessKeyID, ep.SecretAccessKey, "")
	cfg := kclcfg.NewKinesisClientLibConfigWithCredential("gannet-smoke", stream, stacktest.Region, "worker-1", creds).
		WithTableName(table).
		WithKinesisEndpoint(ep.KinesisEndpoint).
		WithDynamoDBEndpoint(ep.DynamoDBEndpoint).
		WithInitialPositionInStream(kclcfg.TRIM_HORIZON).
		WithMaxRecords(200).
		WithIdleTimeBetweenReadsInMillis(100).
		WithShardSyncIntervalMillis(500).
		WithFailoverTimeMillis(10000).
		WithLeaseRefreshPeriodMillis(2000).
		WithLogger(testLogger{t: t, closed: closed})
	errs := make(chan error, 1)
	proc := &kclProcessor{seen: &sync.Map{}, count: &atomic.Int64{}, checkpoints: &atomic.Int64{}, errs: errs}
	w := kclworker.NewWorker(kclFactory{proc}, cfg).
		WithKinesis(kc).
		WithCheckpointer(kclchk.NewDynamoCheckpoint(cfg).WithDynamoDB(ddb))
	if err := w.Start(); err != nil {
		t.Fatalf("KCL worker start: %v", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			w.Shutdown()
		}
	}
	defer stop()

	deadline := time.After(120 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for proc.count.Load() < n {
		select {
		case err := <-errs:
			t.Fatalf("KCL worker: %v", err)
		case <-deadline:
			t.Fatalf("KCL worker consumed %d of %d records within 120s", proc.count.Load(), n)
		case <-tick.C:
		}
	}
	stop()
	if c := proc.checkpoints.Load(); c == 0 {
		t.Fatalf("no checkpoint was written")
	}

	// The lease table in dynalite holds one lease per shard with a checkpoint.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := ddb.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("Scan lease table %s: %v", table, err)
	}
	if len(out.Items) != 2 {
		t.Fatalf("lease table has %d items, want 2 (one per shard)", len(out.Items))
	}
	for _, item := range out.Items {
		if _, ok := item["Checkpoint"]; !ok {
			t.Errorf("lease %v has no Checkpoint attribute", item["ShardID"])
		}
	}
	t.Logf("KCL consumed %d records, %d checkpoints", proc.count.Load(), proc.checkpoints.Load())
}
