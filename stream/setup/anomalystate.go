package setup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// keepAnomalyState restores the detector's anomaly baselines from
// dir/<name>.anomaly when that file exists, and registers a closer that
// snapshots them back (written to a temporary file, then renamed, so a crash
// mid-write leaves the previous snapshot). A snapshot that cannot be read is
// logged and the baselines start empty: losing learned state must not stop
// the pipeline.
func (b *Built) keepAnomalyState(dir string, o Options) error {
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
	return nil
}

func writeAnomalyState(b *Built, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("anomaly_state: %w", err)
	}
	werr := b.Detector.SnapshotAnomaly(tmp)
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
