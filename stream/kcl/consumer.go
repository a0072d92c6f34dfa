// Package kcl is Gannet's long-running Kinesis consumer: a
// vmware-go-kcl-v2 (v1.0.0) worker whose record processors run the same
// pipeline as the Lambdas and `gannet run`, one pipeline per shard.
//
// Promises: a checkpoint covers only records that every sink made durable
// (or that were dead-lettered): the highest contiguous acknowledged
// sequence number after a successful flush. A checkpoint write succeeds only
// while this worker owns the shard's lease (GuardedCheckpointer). A child
// shard's records are processed only after its parents are finished
// (checkpoint SHARD_END). Run stops within Config.ShutdownTimeout: flush,
// checkpoint, release the leases. See README.md for the policy in full.
package kcl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	kclcfg "github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"
	kclworker "github.com/vmware/vmware-go-kcl-v2/clientlibrary/worker"
	kcllog "github.com/vmware/vmware-go-kcl-v2/logger"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

// Pipeline is what a shard processor drives: a stream/pipeline built with
// DeferFlush, and the sinks it owns. Used by one goroutine at a time.
type Pipeline interface {
	Process(ctx context.Context, recs []stream.Record) pipeline.Result
	Flush(ctx context.Context) error
	Stats() pipeline.Stats
	// Close flushes and releases the sinks.
	Close(ctx context.Context) error
}

// PipelineFactory builds the pipeline of one shard assignment.
type PipelineFactory func(ctx context.Context, shardID string) (Pipeline, error)

// Config configures a Consumer. Stream, App, AWS and NewPipeline are
// required; zero durations and counts take the defaults shown.
type Config struct {
	Stream string // stream name
	App    string // application name: the lease table name unless Table is set
	Table  string
	// WorkerID names this worker in the lease table; default host-pid.
	WorkerID string
	// AWS configures the Kinesis and DynamoDB clients (region, credentials,
	// endpoints: AWS_ENDPOINT_URL_KINESIS / AWS_ENDPOINT_URL_DYNAMODB or
	// BaseEndpoint service options).
	AWS aws.Config
	// NewPipeline builds a shard's pipeline (see SetupFactory).
	NewPipeline PipelineFactory
	// FormatFor gives the configured format of the stream (by ARN); nil: sniff.
	FormatFor func(source string) stream.Format
	// StartAtLatest starts shards without a checkpoint at LATEST instead of
	// TRIM_HORIZON.
	StartAtLatest bool

	MaxRecords    int           // records per GetRecords; 10000
	BatchRecords  int           // records per pipeline batch; 10000
	FlushRecords  int           // flush after this many processed records; 10000
	FlushInterval time.Duration // ... or this long after the last flush; 5s
	// MaxGap caps the records held from the first unacknowledged one on;
	// reaching it stops fetching until the failed records succeed. 50000.
	MaxGap int
	// RetryMin and RetryMax bound the jittered backoff between retries of
	// failed records; 200ms and 10s.
	RetryMin, RetryMax time.Duration
	// BatchTimeout bounds one Process or Flush call; 2m.
	BatchTimeout time.Duration
	// ShutdownTimeout bounds Run's shutdown after ctx ends; 30s.
	ShutdownTimeout time.Duration

	// KCL timing: lease duration (FailoverTime, 10s), renewal period
	// (LeaseRefresh, 2.5s), idle time between empty reads (IdleTime, 1s),
	// shard discovery (ShardSync, 60s), parent polling (ParentPoll, 10s).
	FailoverTime, LeaseRefresh, IdleTime, ShardSync, ParentPoll time.Duration
	// LeaseStealing turns on the library's lease stealing, so a worker that
	// joins late takes its share of the leases from busier workers.
	LeaseStealing bool

	Metrics *Metrics // default NewMetrics()
	Logger  *slog.Logger
	// OnCheckpoint, when set, is called after each checkpoint write that
	// succeeded (sequence "SHARD_END" when a shard is finished).
	OnCheckpoint func(shard, sequence string)
}

func (c *Config) defaults() error {
	switch {
	case c.Stream == "":
		return errors.New("kcl: a stream name is required")
	case c.App == "":
		return errors.New("kcl: an application name is required (it names the lease table)")
	case c.NewPipeline == nil:
		return errors.New("kcl: NewPipeline is required")
	case c.AWS.Region == "":
		return errors.New("kcl: no AWS region configured (AWS_REGION or --region)")
	}
	if c.Table == "" {
		c.Table = c.App
	}
	if c.WorkerID == "" {
		h, _ := os.Hostname()
		c.WorkerID = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxRecords, 10000)
	c.MaxRecords = min(c.MaxRecords, 10000)
	def(&c.BatchRecords, 10000)
	def(&c.FlushRecords, 10000)
	def(&c.MaxGap, 50000)
	defd(&c.FlushInterval, 5*time.Second)
	defd(&c.RetryMin, 200*time.Millisecond)
	defd(&c.RetryMax, 10*time.Second)
	defd(&c.BatchTimeout, 2*time.Minute)
	defd(&c.ShutdownTimeout, 30*time.Second)
	defd(&c.FailoverTime, 10*time.Second)
	defd(&c.LeaseRefresh, c.FailoverTime/4)
	defd(&c.IdleTime, time.Second)
	defd(&c.ShardSync, time.Minute)
	defd(&c.ParentPoll, 10*time.Second)
	if c.LeaseRefresh >= c.FailoverTime {
		return fmt.Errorf("kcl: lease refresh %s must be shorter than the failover time %s", c.LeaseRefresh, c.FailoverTime)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.FormatFor == nil {
		c.FormatFor = func(string) stream.Format { return stream.FormatUnknown }
	}
	return nil
}

// Consumer is a KCL worker running Gannet's pipeline on every shard it
// holds a lease for.
type Consumer struct {
	cfg       Config
	workerID  string
	streamARN string
	format    stream.Format
	metrics   *Metrics
	log       *slog.Logger

	kc    *kinesis.Client
	ddb   *dynamodb.Client
	guard *GuardedCheckpointer
	// leaseOwner reads a shard's lease owner from the lease table.
	leaseOwner func(shard string) (string, error)
	parents    *parentGate
	worker     *kclworker.Worker

	stopping   chan struct{} // closed when a graceful shutdown starts
	hardCtx    context.Context
	hardCancel context.CancelFunc

	mu   sync.Mutex
	live map[string][]*processor // open processors by shard, oldest first
}

// New prepares a consumer: it resolves the stream's ARN (the events'
// lineage source) and builds the clients. Nothing is leased before Run.
func New(ctx context.Context, cfg Config) (*Consumer, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	c := &Consumer{cfg: cfg, workerID: cfg.WorkerID, metrics: cfg.Metrics, log: cfg.Logger.With("worker", cfg.WorkerID),
		stopping: make(chan struct{}), live: map[string][]*processor{}}
	c.hardCtx, c.hardCancel = context.WithCancel(context.WithoutCancel(ctx))
	c.kc = kinesis.NewFromConfig(cfg.AWS, func(o *kinesis.Options) {
		o.APIOptions = append(o.APIOptions, keepAggregated)
	})
	c.ddb = dynamodb.NewFromConfig(cfg.AWS)
	arn, err := streamARN(ctx, c.kc, cfg.Stream)
	if err != nil {
		return nil, err
	}
	c.streamARN = arn
	c.format = cfg.FormatFor(arn)

	pos := kclcfg.TRIM_HORIZON
	if cfg.StartAtLatest {
		pos = kclcfg.LATEST
	}
	ms := func(d time.Duration) int { return int(d / time.Millisecond) }
	kc := kclcfg.NewKinesisClientLibConfig(cfg.App, cfg.Stream, cfg.AWS.Region, cfg.WorkerID).
		WithTableName(cfg.Table).
		WithInitialPositionInStream(pos).
		WithMaxRecords(cfg.MaxRecords).
		WithIdleTimeBetweenReadsInMillis(ms(cfg.IdleTime)).
		WithCallProcessRecordsEvenForEmptyRecordList(true).
		WithShardSyncIntervalMillis(ms(cfg.ShardSync)).
		WithFailoverTimeMillis(ms(cfg.FailoverTime)).
		WithLeaseRefreshWaitTime(ms(cfg.LeaseRefresh)).
		WithLeaseStealing(cfg.LeaseStealing).
		WithLogger(kclLogger{c.log.With("component", "kcl")}).
		WithMonitoringService(monitor{c})
	kc.ParentShardPollIntervalMillis = ms(cfg.ParentPoll)
	if cfg.LeaseStealing {
		kc.LeaseStealingIntervalMillis = ms(max(cfg.ShardSync, time.Second))
		kc.LeaseSyncingTimeIntervalMillis = ms(max(cfg.ShardSync, time.Second))
	}
	base := chk.NewDynamoCheckpoint(kc).WithDynamoDB(c.ddb)
	c.guard = NewGuardedCheckpointer(base, c.ddb, cfg.Table, cfg.WorkerID)
	c.leaseOwner = c.guard.GetLeaseOwner
	c.parents = &parentGate{kc: c.kc, ddb: c.ddb, stream: cfg.Stream, table: cfg.Table, maxAge: cfg.ParentPoll}
	c.worker = kclworker.NewWorker(factory{c}, kc).WithKinesis(c.kc).WithCheckpointer(c.guard)
	return c, nil
}

// StreamARN is the ARN of the consumed stream (the events' lineage source).
func (c *Consumer) StreamARN() string { return c.streamARN }

// WorkerID is the worker's name in the lease table.
func (c *Consumer) WorkerID() string { return c.workerID }

// Metrics returns the consumer's metrics.
func (c *Consumer) Metrics() *Metrics { return c.metrics }

// Run consumes until ctx ends, then shuts down within ShutdownTimeout:
// every processor gets a last chance to process, flush and checkpoint, and
// the leases are released. It returns an error when the worker cannot
// start or the shutdown overran its bound.
func (c *Consumer) Run(ctx context.Context) error {
	if err := c.worker.Start(); err != nil {
		c.hardCancel()
		return fmt.Errorf("kcl worker: %w", err)
	}
	c.log.Info("consuming", "stream", c.cfg.Stream, "arn", c.streamARN, "table", c.cfg.Table)
	<-ctx.Done()
	c.log.Info("shutting down", "bound", c.cfg.ShutdownTimeout)
	close(c.stopping)
	done := make(chan struct{})
	go func() {
		c.worker.Shutdown()
		close(done)
	}()
	timer := time.NewTimer(c.cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-done:
		c.hardCancel()
		c.log.Info("shut down")
		return nil
	case <-timer.C:
	}
	// Over the bound: cancel what is in flight and give it a moment.
	c.hardCancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
	return fmt.Errorf("kcl: shutdown took longer than %s; unreleased leases expire after %s", c.cfg.ShutdownTimeout, c.cfg.FailoverTime)
}

// sleepStop waits d; false when a shutdown started.
func (c *Consumer) sleepStop(d time.Duration) bool {
	select {
	case <-c.stopping:
		return false
	case <-c.hardCtx.Done():
		return false
	default:
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.stopping:
		return false
	case <-c.hardCtx.Done():
		return false
	}
}

// sleepHard waits d; false when the shutdown bound ran out.
func (c *Consumer) sleepHard(d time.Duration) bool {
	if c.hardCtx.Err() != nil {
		return false
	}
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.hardCtx.Done():
		return false
	}
}

func (c *Consumer) register(p *processor) {
	c.mu.Lock()
	c.live[p.shard] = append(c.live[p.shard], p)
	c.mu.Unlock()
}

func (c *Consumer) unregister(p *processor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.live[p.shard]
	for i, q := range l {
		if q == p {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(c.live, p.shard)
	} else {
		c.live[p.shard] = l
	}
}

// leaseLost is the library's report that a shard consumer ended (v1.0.0
// ends it without telling the record processor when a lease renewal
// fails): the oldest idle processor of the shard releases its pipeline.
func (c *Consumer) leaseLost(shard string) {
	c.mu.Lock()
	l := append([]*processor(nil), c.live[shard]...)
	c.mu.Unlock()
	for _, p := range l {
		if p.release() {
			c.log.Info("released the pipeline of a shard whose lease ended", "shard", shard)
			return
		}
	}
}

type factory struct{ c *Consumer }

func (f factory) CreateProcessor() kcl.IRecordProcessor { return &processor{c: f.c} }

// monitor is the library's monitoring hook: lease events and GetRecords time
// go to Metrics; a lost lease releases the shard's pipeline.
type monitor struct{ c *Consumer }

func (monitor) Init(_, _, _ string) error                { return nil }
func (monitor) Start() error                             { return nil }
func (monitor) Shutdown()                                {}
func (monitor) IncrRecordsProcessed(string, int)         {}
func (monitor) IncrBytesProcessed(string, int64)         {}
func (monitor) MillisBehindLatest(string, float64)       {}
func (monitor) DeleteMetricMillisBehindLatest(string)    {}
func (monitor) RecordProcessRecordsTime(string, float64) {}
func (m monitor) RecordGetRecordsTime(_ string, ms float64) {
	m.c.metrics.add(mGetRecords, "", ms/1000)
}
func (m monitor) LeaseGained(string) {
	m.c.metrics.add(mLeaseEvents, labels("event", "gained"), 1)
	m.c.metrics.add(mLeases, "", 1)
}
func (m monitor) LeaseRenewed(string) { m.c.metrics.add(mLeaseEvents, labels("event", "renewed"), 1) }
func (m monitor) LeaseLost(shard string) {
	m.c.metrics.add(mLeaseEvents, labels("event", "lost"), 1)
	m.c.metrics.add(mLeases, "", -1)
	m.c.leaseLost(shard)
}

// kclLogger sends the library's log lines to slog.
type kclLogger struct{ l *slog.Logger }

func (k kclLogger) Debugf(f string, a ...any) { k.l.Debug(fmt.Sprintf(f, a...)) }
func (k kclLogger) Infof(f string, a ...any)  { k.l.Debug(fmt.Sprintf(f, a...)) }
func (k kclLogger) Warnf(f string, a ...any)  { k.l.Warn(fmt.Sprintf(f, a...)) }
func (k kclLogger) Errorf(f string, a ...any) {
	msg := fmt.Sprintf(f, a...)
	if strings.Contains(msg, "lease not acquired") {
		k.l.Debug(msg)
		return
	}
	k.l.Error(msg)
}
func (k kclLogger) Fatalf(f string, a ...any) {
	k.l.Error(fmt.Sprintf(f, a...))
	panic(fmt.Sprintf(f, a...))
}
func (k kclLogger) Panicf(f string, a ...any) {
	k.l.Error(fmt.Sprintf(f, a...))
	panic(fmt.Sprintf(f, a...))
}
func (k kclLogger) WithFields(fields kcllog.Fields) kcllog.Logger {
	args := make([]any, 0, 2*len(fields))
	for key, v := range fields {
		args = append(args, key, v)
	}
	return kclLogger{k.l.With(args...)}
}
