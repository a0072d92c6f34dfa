package lake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/gannet-sec/gannet/stream"
)

// Options configure a Lake.
type Options struct {
	Encoding
	Layout Layout
	// FileBytes: once a file holds this many bytes it is committed at the
	// next row-group boundary and a new one started (default 256 MiB; at
	// most 4 GiB, below S3's single-copy limit).
	FileBytes int64
	// MaxOpenFiles bounds the files open at once per table (default 16).
	// Opening one more commits the file of the oldest partition first.
	MaxOpenFiles int
}

func (o Options) withDefaults() Options {
	o.Encoding = o.Encoding.withDefaults()
	if o.FileBytes <= 0 {
		o.FileBytes = 256 << 20
	}
	o.FileBytes = min(o.FileBytes, 4<<30)
	if o.MaxOpenFiles <= 0 {
		o.MaxOpenFiles = 16
	}
	return o
}

// Lake writes events, alerts and dead letters to Parquet tables in a Store.
// It implements stream.Sink, stream.AlertSink and stream.DeadLetterSink;
// Flush and Close act on all tables. Rows are buffered per table and
// partition; Flush writes and commits every open file, so the rows accepted
// before it are durable when it returns nil. A Lake is safe for concurrent use.
type Lake struct {
	mu     sync.Mutex
	store  Store
	opts   Options
	events []*tableWriter[evRow] // indexed by stream.Format
	alerts *tableWriter[alertRow]
	dead   *tableWriter[letterRow]
	// lost is set when a file with accepted rows had to be dropped; the next
	// Flush reports it so those rows are not acknowledged.
	lost   error
	closed bool
	pf     prefetcher // Write's prefetching of the rows ahead (prefetch.go)
}

var (
	_ stream.Sink           = (*Lake)(nil)
	_ stream.AlertSink      = (*Lake)(nil)
	_ stream.DeadLetterSink = (*Lake)(nil)
)

// New returns a Lake writing to st.
func New(st Store, opts Options) *Lake {
	opts = opts.withDefaults()
	l := &Lake{store: st, opts: opts}
	l.events = make([]*tableWriter[evRow], len(eventTables))
	for f, td := range eventTables {
		if td != nil {
			l.events[f] = newTableWriter(l, td)
		}
	}
	l.alerts = newTableWriter(l, alertTable)
	l.dead = newTableWriter(l, deadLetterTable)
	return l
}

// Name implements stream.Sink and stream.AlertSink.
func (l *Lake) Name() string { return "lake" }

// Write implements stream.Sink: it buffers the events in their tables (by
// Format) and partitions (by Timestamp, else Ingested). An event of an
// unknown format is rejected as Permanent in the returned ItemErrors.
func (l *Lake) Write(ctx context.Context, events []stream.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return stream.Permanentf("lake_closed", "write after close")
	}
	var items stream.ItemErrors
	for i := range events {
		l.pf.rows(events, i)
		ev := &events[i]
		if int(ev.Format) >= len(l.events) || l.events[ev.Format] == nil {
			items = append(items, stream.ItemError{Index: i, Err: stream.Permanentf("lake_unknown_format", "event format %d has no table", ev.Format)})
			continue
		}
		if err := l.events[ev.Format].add(ctx, ev); err != nil {
			return l.fail(ctx, err)
		}
	}
	if len(items) > 0 {
		return items
	}
	return nil
}

// Alerts implements stream.AlertSink: it buffers the alerts in the alerts table.
func (l *Lake) Alerts(ctx context.Context, alerts []stream.Alert) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return stream.Permanentf("lake_closed", "write after close")
	}
	for i := range alerts {
		if err := l.alerts.add(ctx, &alerts[i]); err != nil {
			return l.fail(ctx, err)
		}
	}
	return nil
}

// DeadLetter implements stream.DeadLetterSink: it buffers the letters in the dead_letter table.
func (l *Lake) DeadLetter(ctx context.Context, letters []stream.DeadLetter) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return stream.Permanentf("lake_closed", "write after close")
	}
	for i := range letters {
		if err := l.dead.add(ctx, &letters[i]); err != nil {
			return l.fail(ctx, err)
		}
	}
	return nil
}

// fail handles a store failure inside Write: every open file is discarded, so
// that re-delivering the unacknowledged records cannot leave some rows twice
// in one file, and the loss is reported by the next Flush.
func (l *Lake) fail(ctx context.Context, err error) error {
	for _, tw := range l.events {
		if tw != nil {
			tw.abort(ctx)
		}
	}
	l.alerts.abort(ctx)
	l.dead.abort(ctx)
	if l.lost == nil {
		l.lost = stream.NewRetryable(fmt.Errorf("lake: rows accepted since the last flush were discarded: %w", err))
	}
	if _, ok := errors.AsType[*stream.Error](err); !ok {
		return stream.NewRetryable(err)
	}
	return err
}

// Flush writes and commits every open file of every table. When it returns
// nil, every row accepted before the call is durable in the store. On error,
// files whose commit failed are retried by the next Flush; if rows had to
// be dropped (a store write failed mid-file), Flush reports it once, and the
// caller must not acknowledge the records accepted since the last successful Flush.
func (l *Lake) Flush(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flush(ctx)
}

func (l *Lake) flush(ctx context.Context) error {
	var errs []error
	for _, tw := range l.events {
		if tw != nil {
			errs = append(errs, tw.flush(ctx))
		}
	}
	errs = append(errs, l.alerts.flush(ctx), l.dead.flush(ctx))
	if l.lost != nil {
		errs = append(errs, l.lost)
		l.lost = nil
	}
	if err := errors.Join(errs...); err != nil {
		if _, ok := errors.AsType[*stream.Error](err); !ok {
			return stream.NewRetryable(err)
		}
		return err
	}
	return nil
}

// Close flushes and then discards anything that could not be committed.
func (l *Lake) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	err := l.flush(ctx)
	l.closed = true
	for _, tw := range l.events {
		if tw != nil {
			tw.abort(ctx)
		}
	}
	l.alerts.abort(ctx)
	l.dead.abort(ctx)
	return err
}

// tableWriter buffers the rows of one table, one file per partition.
type tableWriter[T any] struct {
	l       *Lake
	td      *tableDef[T]
	enc     *encoder
	open    map[partKey]*fileWriter[T]
	last    *fileWriter[T]
	pending []*fileWriter[T] // closed files whose Commit failed
	free    []*fileWriter[T]
}

func newTableWriter[T any](l *Lake, td *tableDef[T]) *tableWriter[T] {
	return &tableWriter[T]{l: l, td: td, enc: newEncoder(td.table(), l.opts.Encoding), open: map[partKey]*fileWriter[T]{}}
}

// fileWriter is one open file of a table partition: the column buffers of
// its current row group and the Parquet file the finished row groups went to.
type fileWriter[T any] struct {
	key   partKey
	dir   string
	bufs  []colBuf
	rows  int // rows buffered in the current row group
	f     *pqFile
	keyer keyer
	name  string // object key once closed
}

func (tw *tableWriter[T]) add(ctx context.Context, r *T) error {
	ri := tw.td.info(r)
	k := tw.l.opts.Layout.key(&ri)
	fw := tw.last
	if fw == nil || fw.key != k {
		fw = tw.open[k]
		if fw == nil {
			var err error
			if fw, err = tw.newFile(ctx, k); err != nil {
				return err
			}
		}
		tw.last = fw
	}
	cols := tw.td.cols
	bufs := fw.bufs[:len(cols)]
	for i := range cols {
		cols[i].put(r, &bufs[i])
	}
	fw.keyer.add(ri.lineage, ri.id)
	fw.rows++
	enc := &tw.l.opts.Encoding
	if fw.rows >= enc.RowGroupRows || fw.rows&1023 == 0 && bufSize(fw.bufs) >= enc.RowGroupBytes {
		if err := tw.endRowGroup(ctx, fw); err != nil {
			return err
		}
		if fw.f.size() >= tw.l.opts.FileBytes {
			return tw.finish(ctx, fw)
		}
	}
	return nil
}

func bufSize(bufs []colBuf) int {
	n := 0
	for i := range bufs {
		n += bufs[i].size()
	}
	return n
}

// newFile opens the file of partition k, first committing the oldest open
// file if the table is at MaxOpenFiles.
func (tw *tableWriter[T]) newFile(ctx context.Context, k partKey) (*fileWriter[T], error) {
	if len(tw.open) >= tw.l.opts.MaxOpenFiles {
		var oldest *fileWriter[T]
		for _, fw := range tw.open {
			if oldest == nil || fw.key.hour < oldest.key.hour ||
				fw.key.hour == oldest.key.hour && fw.dir < oldest.dir {
				oldest = fw
			}
		}
		if err := tw.finish(ctx, oldest); err != nil {
			return nil, err
		}
	}
	k.account, k.region = strings.Clone(k.account), strings.Clone(k.region)
	var fw *fileWriter[T]
	if n := len(tw.free); n > 0 {
		fw, tw.free = tw.free[n-1], tw.free[:n-1]
	} else {
		fw = &fileWriter[T]{bufs: make([]colBuf, len(tw.td.cols))}
		for i, c := range tw.td.cols {
			fw.bufs[i] = newColBuf(c.Column)
		}
	}
	fw.key, fw.dir = k, tw.l.opts.Layout.dir(tw.td.name, k)
	tw.open[k] = fw
	return fw, nil
}

// endRowGroup encodes the buffered rows of fw as a row group of its file.
func (tw *tableWriter[T]) endRowGroup(ctx context.Context, fw *fileWriter[T]) error {
	if fw.rows == 0 {
		return nil
	}
	var err error
	if fw.f == nil {
		fw.f, err = tw.enc.create(ctx, tw.l.store)
	}
	if err == nil {
		err = fw.f.writeRowGroup(ctx, fw.bufs)
	}
	if err != nil {
		tw.drop(ctx, fw, err)
		return err
	}
	for i := range fw.bufs {
		fw.bufs[i].reset()
	}
	fw.rows = 0
	return nil
}

// finish closes fw's file and commits it under its lineage-derived key. If
// the commit fails, the file waits in pending for the next Flush.
func (tw *tableWriter[T]) finish(ctx context.Context, fw *fileWriter[T]) error {
	if err := tw.endRowGroup(ctx, fw); err != nil {
		return err
	}
	delete(tw.open, fw.key)
	if tw.last == fw {
		tw.last = nil
	}
	if fw.f == nil { // no rows
		tw.recycle(fw)
		return nil
	}
	if err := fw.f.close(ctx); err != nil {
		tw.drop(ctx, fw, err)
		return err
	}
	fw.name = fw.dir + fw.keyer.name()
	if err := fw.f.w.obj.Commit(ctx, fw.name); err != nil {
		tw.pending = append(tw.pending, fw)
		return fmt.Errorf("lake: commit %s: %w", fw.name, err)
	}
	tw.recycle(fw)
	return nil
}

// drop abandons fw after a write failure; its accepted rows are lost, which
// the next Flush reports.
func (tw *tableWriter[T]) drop(ctx context.Context, fw *fileWriter[T], cause error) {
	if fw.f != nil {
		_ = fw.f.w.obj.Abort(ctx)
	}
	delete(tw.open, fw.key)
	if tw.last == fw {
		tw.last = nil
	}
	tw.recycle(fw)
	if tw.l.lost == nil {
		tw.l.lost = stream.NewRetryable(fmt.Errorf("lake: %s: rows accepted since the last flush were lost: %w", tw.td.name, cause))
	}
}

func (tw *tableWriter[T]) recycle(fw *fileWriter[T]) {
	for i := range fw.bufs {
		fw.bufs[i].reset()
	}
	fw.rows, fw.f, fw.name = 0, nil, ""
	fw.keyer.reset()
	tw.free = append(tw.free, fw)
}

// flush retries pending commits, then finishes every open file.
func (tw *tableWriter[T]) flush(ctx context.Context) error {
	var errs []error
	pending := tw.pending
	tw.pending = nil
	for _, fw := range pending {
		if err := fw.f.w.obj.Commit(ctx, fw.name); err != nil {
			tw.pending = append(tw.pending, fw)
			errs = append(errs, fmt.Errorf("lake: commit %s: %w", fw.name, err))
			continue
		}
		tw.recycle(fw)
	}
	for _, fw := range tw.open {
		if err := tw.finish(ctx, fw); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// abort discards open and pending files.
func (tw *tableWriter[T]) abort(ctx context.Context) {
	for _, fw := range tw.pending {
		_ = fw.f.w.obj.Abort(ctx)
		tw.recycle(fw)
	}
	tw.pending = nil
	for k, fw := range tw.open {
		if fw.f != nil {
			_ = fw.f.w.obj.Abort(ctx)
		}
		delete(tw.open, k)
		tw.recycle(fw)
	}
	tw.last = nil
}
