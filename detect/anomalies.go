package detect

import (
	"errors"
	"io"

	"github.com/gannet-sec/gannet/stream"
)

// errNoAnomaly is returned by the anomaly state methods when
// Options.Anomaly was nil.
var errNoAnomaly = errors.New("detect: anomaly detection is off (Options.Anomaly is nil)")

// queueAnomaly queues an anomaly alert for the batch's flush, unless its id
// was emitted already (a replay after a restore) or is pending.
func (e *Engine) queueAnomaly(a *stream.Alert) {
	if e.seen.has(a.ID) {
		e.suppressed++
		return
	}
	if _, ok := e.pending[a.ID]; ok {
		return
	}
	e.queue(a)
}

// SnapshotAnomaly writes the learned anomaly baselines to w (see
// anomaly.Detector.Snapshot); it waits for a running Detect to finish.
func (e *Engine) SnapshotAnomaly(w io.Writer) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.anom == nil {
		return errNoAnomaly
	}
	return e.anom.Snapshot(w)
}

// RestoreAnomaly replaces the anomaly baselines with a snapshot, so that a
// restarted consumer does not relearn from zero.
func (e *Engine) RestoreAnomaly(r io.Reader) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.anom == nil {
		return errNoAnomaly
	}
	return e.anom.Restore(r)
}
