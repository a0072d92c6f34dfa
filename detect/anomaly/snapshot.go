package anomaly

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
)

// snapshotVersion is written first; Restore refuses other versions.
const snapshotVersion = 1

// snapshot is the JSON form of the learned state. Keys are listed from
// least to most recently seen, so a restore keeps the eviction order.
// Countries and APIs are kept as 64-bit hashes (XXH3 of the ISO code, of
// eventSource NUL eventName), not as names.
type snapshot struct {
	Version int        `json:"version"`
	Bucket  int64      `json:"bucket_ns"`
	Rate    []rateSnap `json:"rate,omitempty"`
	Country []seenSnap `json:"country,omitempty"`
	API     []seenSnap `json:"api,omitempty"`
	// Alerts counts request-rate, new-country, new-API and error-rate
	// alerts (snapshots before the error rate have three).
	Alerts []int64 `json:"alerts"`
}

type rateSnap struct {
	IP       netip.Addr `json:"ip"`
	First    int64      `json:"first"`
	Bucket   int64      `json:"bucket"`
	Count    int64      `json:"count"`
	EWMA     float64    `json:"ewma"`
	Closed   int64      `json:"closed"`
	Alerting bool       `json:"alerting,omitempty"`
	// Error-rate baseline (absent from snapshots taken before it existed:
	// the baseline then starts empty).
	Resp       int64   `json:"resp,omitempty"`
	Errs       int64   `json:"errs,omitempty"`
	ErrEWMA    float64 `json:"err_ewma,omitempty"`
	ErrClosed  int64   `json:"err_closed,omitempty"`
	ErrAlerted bool    `json:"err_alerted,omitempty"`
}

type seenSnap struct {
	Key   string   `json:"key"`
	First int64    `json:"first"`
	Set   []uint64 `json:"set"`
}

// Snapshot writes the learned baselines to w (JSON), so that a restarted
// consumer can Restore them instead of relearning from zero.
func (d *Detector) Snapshot(w io.Writer) error {
	s := snapshot{Version: snapshotVersion, Bucket: int64(d.cfg.Bucket), Alerts: d.alerts[:]}
	d.rate.each(func(k [16]byte, v *rateState) {
		s.Rate = append(s.Rate, rateSnap{IP: netip.AddrFrom16(k).Unmap(), First: v.first, Bucket: v.bucket,
			Count: v.count, EWMA: v.ewma, Closed: v.closed, Alerting: v.alerting,
			Resp: v.resp, Errs: v.errs, ErrEWMA: v.errEWMA, ErrClosed: v.errClosed, ErrAlerted: v.errAlerted})
	})
	seen := func(l *lru[string, seenState]) []seenSnap {
		var out []seenSnap
		l.each(func(k string, v *seenState) {
			set := make([]uint64, 0, len(v.set))
			for h := range v.set {
				set = append(set, h)
			}
			sort.Slice(set, func(i, j int) bool { return set[i] < set[j] })
			out = append(out, seenSnap{Key: k, First: v.first, Set: set})
		})
		return out
	}
	s.Country, s.API = seen(d.country), seen(d.api)
	return json.NewEncoder(w).Encode(&s)
}

// Restore replaces the baselines with a snapshot written by Snapshot. A
// snapshot taken with another bucket size is refused (its rates would be
// wrong). Keys beyond MaxKeys evict the least recently seen, as in use.
func (d *Detector) Restore(r io.Reader) error {
	var s snapshot
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return fmt.Errorf("anomaly: restore: %w", err)
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("anomaly: restore: snapshot version %d, want %d", s.Version, snapshotVersion)
	}
	if s.Bucket != int64(d.cfg.Bucket) {
		return fmt.Errorf("anomaly: restore: snapshot bucket %v, configured %v", s.Bucket, d.cfg.Bucket)
	}
	rate := newLRU[[16]byte, rateState](d.cfg.MaxKeys)
	for _, x := range s.Rate {
		if !x.IP.IsValid() {
			return fmt.Errorf("anomaly: restore: invalid ip in rate baseline")
		}
		v := rate.add(x.IP.As16(), func(v *rateState) { *v = rateState{} })
		*v = rateState{first: x.First, bucket: x.Bucket, count: x.Count, ewma: x.EWMA, closed: x.Closed, alerting: x.Alerting,
			resp: x.Resp, errs: x.Errs, errEWMA: x.ErrEWMA, errClosed: x.ErrClosed, errAlerted: x.ErrAlerted}
	}
	seen := func(list []seenSnap, cap int) *lru[string, seenState] {
		l := newLRU[string, seenState](d.cfg.MaxKeys)
		for _, x := range list {
			v := l.add(x.Key, resetSeen)
			v.first = x.First
			if v.set == nil {
				v.set = make(map[uint64]struct{}, len(x.Set))
			}
			for i, h := range x.Set {
				if i >= cap {
					break
				}
				v.set[h] = struct{}{}
			}
		}
		return l
	}
	d.rate = rate
	d.country = seen(s.Country, d.cfg.MaxCountries)
	d.api = seen(s.API, d.cfg.MaxAPIs)
	if len(s.Alerts) > len(d.alerts) {
		return fmt.Errorf("anomaly: restore: %d alert counters, want at most %d", len(s.Alerts), len(d.alerts))
	}
	d.alerts = [4]int64{}
	copy(d.alerts[:], s.Alerts)
	return nil
}
