package setup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// keepAnomalyState restores the detector's anomaly baselines from
// dir/<name>.anomaly when that file exists, and registers a closer that
// snapshots them back (written to a temporary file, then renamed, so a crash
// mid-write leaves the previous snapshot). A snapshot that cannot be read is
// logged and the baselines start empty: losing learned state must not stop
// the pipeline. With every > 0 it also sets b.anomalySaver, which snapshots
// the baselines the same way while the pipeline runs (see snapshotOnFlush).
func (b *Built) keepAnomalyState(dir string, every time.Duration, o Options) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("anomaly_state: %w", err)
	}
	path := filepath.Join(dir, stateFileName(o.StateName))
	f, err := os.Open(path) // #nosec G304 -- the operator's configured state directory
	switch {
	case err == nil:
		rerr := b.Detector.RestoreAnomaly(f)
		_ = f.Close()
		if rerr != nil {
			o.Logger.Warn("anomaly state not restored; baselines start empty", "path", path, "error", rerr.Error())
		} else {
			o.Logger.Info("anomaly state restored", "path", path)
		}
	case errors.Is(err, fs.ErrNotExist):
		o.Logger.Info("no anomaly state yet; baselines start empty", "path", path)
	default:
		return fmt.Errorf("anomaly_state: %w", err)
	}
	b.closers = append(b.closers, func(context.Context) error {
		return writeAnomalyState(b, path)
	})
	if every > 0 {
		b.anomalySaver = &anomalySaver{b: b, path: path, every: every, logger: o.Logger, now: time.Now}
		b.anomalySaver.last = b.anomalySaver.now()
	}
	return nil
}

// anomalySaver takes the periodic anomaly snapshots (anomaly_snapshot_interval).
// It is used only from the goroutine that runs the pipeline (see
// snapshotOnFlush), so it needs no lock.
type anomalySaver struct {
	b      *Built
	path   string
	every  time.Duration
	logger *slog.Logger
	now    func() time.Time // time.Now; tests move it
	last   time.Time        // last attempt (or Build)
}

// maybeSave snapshots the baselines when the interval has elapsed since the
// last attempt. A failure is logged and tried again one interval later; it
// is never returned: the snapshot is a convenience, the batch is done.
func (s *anomalySaver) maybeSave(ctx context.Context) {
	now := s.now()
	if now.Sub(s.last) < s.every {
		return
	}
	s.last = now
	t := time.Now()
	if err := writeAnomalyState(s.b, s.path); err != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "anomaly state not saved; retrying at the next interval",
			slog.String("path", s.path), slog.String("error", err.Error()), slog.Duration("retry_in", s.every))
		return
	}
	s.logger.LogAttrs(ctx, slog.LevelDebug, "anomaly state saved", slog.String("path", s.path), slog.Duration("took", time.Since(t)))
}

// snapshotOnFlush is the dead-letter store as the pipeline sees it: after a
// successful Flush it lets the saver snapshot the anomaly baselines.
//
// Why there: Pipeline.flush flushes the sinks, then the alert sinks, and the
// dead-letter store last, only when all of those succeeded, so a successful
// Flush here means every event, alert and dead letter the pipeline has
// produced is durable. A snapshot taken then never holds what was learned
// from records whose alerts could still be lost: restored after a crash, it
// would not raise them again on replay. And Flush is called only from
// Pipeline.Process (without DeferFlush) or Pipeline.Flush, which run on the
// one goroutine that owns the pipeline (a Pipeline is not safe for
// concurrent use), so no Detect is running on this engine; SnapshotAnomaly
// also holds the engine's lock, the one Detect holds.
type snapshotOnFlush struct {
	stream.DeadLetterSink
	saver *anomalySaver
}

func (s snapshotOnFlush) Flush(ctx context.Context) error {
	if err := s.DeadLetterSink.Flush(ctx); err != nil {
		return err
	}
	s.saver.maybeSave(ctx)
	return nil
}

func writeAnomalyState(b *Built, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("anomaly_state: %w", err)
	}
	werr := b.Detector.SnapshotAnomaly(tmp)
	if werr == nil {
		werr = tmp.Sync() // on disk before the rename: a host crash leaves the old or the new snapshot
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("anomaly_state: snapshot %s: %w", path, werr)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil { // the rename itself (best effort)
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// stateFileName maps a pipeline name (a shard id such as
// shardId-000000000001) to a file name.
func stateFileName(name string) string {
	if name == "" {
		name = "gannet"
	}
	name = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, name)
	return strings.TrimLeft(name, ".") + ".anomaly"
}
