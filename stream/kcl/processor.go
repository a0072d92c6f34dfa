package kcl

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

// entry is one Kinesis record read from the shard and not yet below the
// checkpoint.
type entry struct {
	rec      ktypes.Record
	attempts int
	// processed: the pipeline accepted the record (or dead-lettered it);
	// it is durable once the next Flush succeeds.
	processed bool
	// durable: a Flush succeeded after it was processed.
	durable bool
}

// processor is the record processor of one shard assignment. The KCL calls
// it from one goroutine (the shard consumer); mu also guards against the
// consumer releasing it when the library reports the lease lost.
//
// Checkpoint policy: records are processed as they arrive; every
// FlushRecords processed records or FlushInterval the sinks are flushed, and
// after a successful flush the checkpoint moves to the last record of the
// longest durable prefix of the window. A record that failed stays in the
// window, holds the checkpoint before it, and is retried with backoff;
// records after it are still processed, until the window from the first
// failed record on holds MaxGap records: then the processor stops returning
// to the library (so nothing more is fetched) and retries until the gap
// closes or the consumer stops.
type processor struct {
	c     *Consumer
	mu    sync.Mutex
	shard string

	pl        Pipeline
	lastStats pipeline.Stats
	ckpt      kcl.IRecordProcessorCheckpointer

	window     []entry
	unflushed  int
	lastFlush  time.Time
	pendingCP  string // computed checkpoint not yet written
	pendingN   int    // records below pendingCP
	failStreak int
	hint       time.Duration // throttling hint of the last failure
	nextRetry  time.Time
	stalled    bool

	parentsOK bool
	lost      bool // the guard refused a checkpoint: another worker owns the shard
	released  bool // closed by the consumer after the library dropped it
	done      bool // shut down by the library

	recs []stream.Record // scratch
	idx  []int
}

func (p *processor) Initialize(in *kcl.InitializationInput) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shard = in.ShardId
	p.lastFlush = time.Now()
	p.c.register(p)
	p.c.log.Info("shard assigned", "shard", p.shard, "checkpoint", aws.ToString(in.ExtendedSequenceNumber.SequenceNumber))
}

func (p *processor) ProcessRecords(in *kcl.ProcessRecordsInput) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ckpt = in.Checkpointer
	m := p.c.metrics
	sl := labels("shard", p.shard)
	m.set(mBehind, sl, float64(in.MillisBehindLatest))
	if p.lost || p.done {
		return
	}
	if p.released {
		// The consumer released us on a lease-lost report that was not ours:
		// take the resources back; the window is intact.
		p.released = false
		p.c.register(p)
	}
	if n := len(in.Records); n > 0 {
		m.add(mRecords, sl, float64(n))
		for i := range in.Records {
			p.window = append(p.window, entry{rec: in.Records[i]})
		}
		if t := aws.ToTime(in.Records[n-1].ApproximateArrivalTimestamp); !t.IsZero() {
			m.set(mIteratorAge, sl, time.Since(t).Seconds())
		}
	}
	if !p.parentsOK && !p.waitParents() {
		return
	}
	p.process(false)
	p.maybeFlush(false)
	for p.gap() >= p.c.cfg.MaxGap && !p.lost {
		if !p.stalled {
			p.stalled = true
			m.add(mStalls, sl, 1)
			p.c.log.Warn("in-flight gap at its cap: not fetching until the failed records succeed",
				"shard", p.shard, "gap", p.gap(), "max_gap", p.c.cfg.MaxGap)
		}
		if !p.c.sleepStop(time.Until(p.nextRetry)) {
			break
		}
		if !p.ownsLease() {
			break
		}
		p.process(true)
		p.maybeFlush(false)
	}
	if p.gap() < p.c.cfg.MaxGap {
		p.stalled = false
	}
	m.set(mInflight, sl, float64(len(p.window)))
}

func (p *processor) Shutdown(in *kcl.ShutdownInput) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ckpt = in.Checkpointer
	defer func() {
		p.done = true
		p.close()
	}()
	if p.lost {
		return
	}
	switch in.ShutdownReason {
	case kcl.TERMINATE:
		p.finishShard()
	case kcl.REQUESTED:
		// One more attempt at what is pending, a flush, a checkpoint; what
		// is still unfinished is read again by the next owner.
		if p.parentsOK {
			p.process(true)
		}
		if err := p.flush(); err != nil && p.pendingCP == "" {
			p.c.log.Warn("shutdown flush failed; records after the checkpoint will be read again by the next owner", "shard", p.shard, "error", err)
		}
		p.c.log.Info("shard released", "shard", p.shard, "unfinished", len(p.window))
	}
}

// finishShard processes and flushes everything, then checkpoints SHARD_END so
// the child shards may start. It keeps retrying until it succeeds or the
// consumer's shutdown bound runs out.
func (p *processor) finishShard() {
	for !p.lost {
		if !p.parentsOK && !p.waitParents() {
			return
		}
		p.process(true)
		err := p.flush()
		if p.lost {
			return
		}
		if err == nil && len(p.window) == 0 && p.pendingCP == "" {
			err = p.ckpt.Checkpoint(nil)
			if err == nil {
				p.c.metrics.add(mCheckpoints, labels("shard", p.shard, "result", "ok"), 1)
				p.c.log.Info("shard finished", "shard", p.shard)
				if f := p.c.cfg.OnCheckpoint; f != nil {
					f(p.shard, "SHARD_END")
				}
				return
			}
			if errors.Is(err, ErrLeaseLost) {
				p.c.metrics.add(mCheckpoints, labels("shard", p.shard, "result", "lease_lost"), 1)
				p.loseLease(err)
				return
			}
			p.c.metrics.add(mCheckpoints, labels("shard", p.shard, "result", "error"), 1)
			p.failed(err)
		}
		p.c.log.Warn("shard end: not everything is durable yet; retrying", "shard", p.shard, "unfinished", len(p.window), "error", err)
		if !p.c.sleepHard(time.Until(p.nextRetry)) {
			p.c.log.Warn("shard end not reached before shutdown; the next owner finishes it", "shard", p.shard)
			return
		}
	}
}

// ownsLease checks, while stalled, that the lease is still ours: the library
// notices a lost lease only when ProcessRecords returns.
func (p *processor) ownsLease() bool {
	owner, err := p.c.leaseOwner(p.shard)
	if err != nil || owner == p.c.workerID {
		return true
	}
	p.loseLease(fmt.Errorf("lease of shard %s now held by %s", p.shard, owner))
	return false
}

// gap is the number of window records from the first unprocessed one on.
func (p *processor) gap() int {
	for i := range p.window {
		if !p.window[i].processed {
			return len(p.window) - i
		}
	}
	return 0
}

// process runs the window's unprocessed records through the pipeline:
// records never tried always, retries when their backoff is over (or force).
func (p *processor) process(force bool) {
	due := force || !time.Now().Before(p.nextRetry)
	p.recs, p.idx = p.recs[:0], p.idx[:0]
	retries := false
	for i := range p.window {
		e := &p.window[i]
		if e.processed || (e.attempts > 0 && !due) {
			continue
		}
		retries = retries || e.attempts > 0
		p.recs = append(p.recs, convert(&e.rec, p.c.streamARN, p.shard, p.c.format))
		p.idx = append(p.idx, i)
	}
	if len(p.recs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(p.c.hardCtx, p.c.cfg.BatchTimeout)
	defer cancel()
	if p.pl == nil {
		pl, err := p.c.cfg.NewPipeline(ctx, p.shard)
		if err != nil {
			for _, i := range p.idx {
				p.window[i].attempts++
			}
			p.c.metrics.add(mRecordFails, labels("shard", p.shard), float64(len(p.idx)))
			p.failed(err)
			p.c.log.Error("pipeline set-up failed; retrying", "shard", p.shard, "error", err)
			return
		}
		p.pl, p.lastStats = pl, pipeline.Stats{}
	}
	batch := p.c.cfg.BatchRecords
	failures := 0
	var firstErr error
	for start := 0; start < len(p.recs); start += batch {
		end := min(start+batch, len(p.recs))
		res := p.pl.Process(ctx, p.recs[start:end])
		fi := 0
		for k := start; k < end; k++ {
			e := &p.window[p.idx[k]]
			e.attempts++
			if fi < len(res.Failed) && res.Failed[fi] == k-start {
				fi++
				continue
			}
			e.processed = true
			p.unflushed++
		}
		if len(res.Failed) > 0 {
			failures += len(res.Failed)
			if firstErr == nil {
				firstErr = res.Err
			}
		}
	}
	clear(p.recs) // drop references to record data
	p.stats()
	if failures > 0 {
		p.c.metrics.add(mRecordFails, labels("shard", p.shard), float64(failures))
		p.failed(firstErr)
		p.c.log.Warn("records not acknowledged; retrying with backoff", "shard", p.shard, "failed", failures, "error", firstErr)
	} else if retries {
		p.failStreak, p.hint = 0, 0
	}
}

// failed schedules the next retry: jittered exponential backoff, or the
// throttling hint when it is longer.
func (p *processor) failed(err error) {
	p.failStreak++
	cfg := &p.c.cfg
	d := cfg.RetryMin << min(p.failStreak-1, 20)
	if d > cfg.RetryMax || d <= 0 {
		d = cfg.RetryMax
	}
	d = d/2 + rand.N(d/2+1)
	if class, hint := stream.ClassOf(err); class == stream.Throttled && hint > d {
		d = hint
	}
	p.nextRetry = time.Now().Add(d)
}

// stats turns the pipeline's counters into metrics.
func (p *processor) stats() {
	st := p.pl.Stats()
	m := p.c.metrics
	m.add(mEvents, labels("shard", p.shard), float64(st.Events-p.lastStats.Events))
	if d := st.Alerts - p.lastStats.Alerts; d > 0 {
		m.add(mAlerts, "", float64(d))
	}
	if st.DeadLetters != p.lastStats.DeadLetters {
		for r, n := range st.DeadByReason {
			if d := n - p.lastStats.DeadByReason[r]; d > 0 {
				m.add(mDeadLetters, labels("reason", r), float64(d))
			}
		}
	}
	p.lastStats = st
}

func (p *processor) maybeFlush(force bool) {
	if p.unflushed == 0 && p.pendingCP == "" {
		return
	}
	cfg := &p.c.cfg
	if force || p.unflushed >= cfg.FlushRecords || time.Since(p.lastFlush) >= cfg.FlushInterval {
		_ = p.flush()
	}
}

// flush makes the processed records durable and checkpoints the durable
// prefix of the window. After a failed flush nothing processed since the
// last successful one counts as durable: those records are processed again.
func (p *processor) flush() error {
	p.lastFlush = time.Now()
	if p.pl != nil && p.unflushed > 0 {
		ctx, cancel := context.WithTimeout(p.c.hardCtx, p.c.cfg.BatchTimeout)
		err := p.pl.Flush(ctx)
		cancel()
		if err != nil {
			p.c.metrics.add(mFlushes, labels("result", "error"), 1)
			p.undoUnflushed()
			p.failed(err)
			p.c.log.Warn("flush failed; the records since the last flush will be processed again", "shard", p.shard, "error", err)
			return err
		}
		p.c.metrics.add(mFlushes, labels("result", "ok"), 1)
		for i := range p.window {
			if p.window[i].processed {
				p.window[i].durable = true
			}
		}
		p.unflushed = 0
	}
	n := 0
	for n < len(p.window) && p.window[n].durable {
		n++
	}
	if n > 0 {
		p.pendingCP = aws.ToString(p.window[n-1].rec.SequenceNumber)
		p.pendingN += n
		clear(p.window[:n])
		p.window = p.window[n:]
	}
	if p.pendingCP != "" && p.ckpt != nil {
		return p.checkpoint()
	}
	return nil
}

// undoUnflushed marks the records processed since the last successful
// flush as not processed.
func (p *processor) undoUnflushed() {
	for i := range p.window {
		if e := &p.window[i]; e.processed && !e.durable {
			e.processed = false
		}
	}
	p.unflushed = 0
}

func (p *processor) checkpoint() error {
	seq := p.pendingCP
	err := p.ckpt.Checkpoint(&seq)
	m := p.c.metrics
	switch {
	case err == nil:
		m.add(mCheckpoints, labels("shard", p.shard, "result", "ok"), 1)
		m.add(mCheckpointed, labels("shard", p.shard), float64(p.pendingN))
		p.pendingCP, p.pendingN = "", 0
		if f := p.c.cfg.OnCheckpoint; f != nil {
			f(p.shard, seq)
		}
		return nil
	case errors.Is(err, ErrLeaseLost):
		m.add(mCheckpoints, labels("shard", p.shard, "result", "lease_lost"), 1)
		p.loseLease(err)
		return err
	default:
		m.add(mCheckpoints, labels("shard", p.shard, "result", "error"), 1)
		p.c.log.Warn("checkpoint write failed; retried at the next flush", "shard", p.shard, "sequence", seq, "error", err)
		return err
	}
}

// loseLease stops all work on the shard: another worker owns it and reads
// again from the checkpoint it finds.
func (p *processor) loseLease(err error) {
	p.c.log.Warn("lease lost: stopping work on the shard; its new owner resumes from the last checkpoint", "shard", p.shard, "error", err)
	p.lost = true
	clear(p.window)
	p.window = nil
	p.close()
}

// close releases the pipeline and unregisters the processor.
func (p *processor) close() {
	if p.pl != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(p.c.hardCtx), p.c.cfg.BatchTimeout)
		if err := p.pl.Close(ctx); err != nil {
			p.c.log.Warn("pipeline close", "shard", p.shard, "error", err)
		}
		cancel()
		p.pl = nil
	}
	p.undoUnflushed()
	p.c.unregister(p)
	sl := labels("shard", p.shard)
	for _, name := range []string{mBehind, mIteratorAge, mInflight} {
		p.c.metrics.del(name, sl)
	}
}

// release is called by the consumer when the library reports the shard's
// lease lost and this processor is not in a call: it frees the pipeline;
// the window stays, so a call that still comes finds nothing missing.
func (p *processor) release() bool {
	if !p.mu.TryLock() {
		return false
	}
	defer p.mu.Unlock()
	if p.released || p.done {
		return false
	}
	p.released = true
	p.close()
	return true
}

// waitParents blocks until every parent of the shard is finished (its
// checkpoint is SHARD_END, or it is gone from the stream). v1.0.0 starts a
// child whose parent has no checkpoint yet, and knows nothing of the second
// parent of a merge; records of the child wait here.
func (p *processor) waitParents() bool {
	logged := false
	for {
		ctx, cancel := context.WithTimeout(p.c.hardCtx, 30*time.Second)
		ok, parent, err := p.c.parents.finished(ctx, p.shard)
		cancel()
		if ok {
			p.parentsOK = true
			if logged {
				p.c.log.Info("parent shards finished", "shard", p.shard)
			}
			return true
		}
		if !logged {
			logged = true
			p.c.log.Info("waiting for a parent shard to finish", "shard", p.shard, "parent", parent, "error", err)
		}
		if !p.c.sleepStop(p.c.cfg.ParentPoll) {
			return false
		}
	}
}
