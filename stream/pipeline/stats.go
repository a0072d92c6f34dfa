package pipeline

import (
	"maps"
	"sort"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// Stage names used in dead letters, counters and timings.
const (
	StageDecode = "decode"
	StageParse  = "parse"
	StageEnrich = "enrich"
	StageDetect = "detect"
	StageSink   = "sink"
	StageAlert  = "alert"
	StageFlush  = "flush"
)

// Stats counts what a pipeline did. Counters only grow; Merge adds another
// pipeline's counts (one pipeline per goroutine, merged for reporting).
type Stats struct {
	Records     int64 // input records
	RecordBytes int64 // bytes of input records
	Units       int64 // decoded units (lines / JSON objects)
	Skipped     int64 // units that carry no event (headers, comments)
	Events      int64 // events parsed
	// EventsByFormat counts parsed events per format name.
	EventsByFormat map[string]int64
	DeadLetters    int64
	// DeadByReason counts dead letters per reason code; DeadByStage per stage.
	DeadByReason map[string]int64
	DeadByStage  map[string]int64
	Alerts       int64
	// AlertsByRule counts alerts per rule id.
	AlertsByRule map[string]int64
	Acked        int64 // records acknowledged (durable in every sink or dead-lettered)
	Failed       int64 // records not acknowledged (to be retried)
	// StageTime is the wall time spent per stage.
	StageTime map[string]time.Duration
}

func (s *Stats) init() {
	if s.EventsByFormat == nil {
		s.EventsByFormat = map[string]int64{}
		s.DeadByReason = map[string]int64{}
		s.DeadByStage = map[string]int64{}
		s.AlertsByRule = map[string]int64{}
		s.StageTime = map[string]time.Duration{}
	}
}

// Merge adds o's counts to s.
func (s *Stats) Merge(o *Stats) {
	s.init()
	s.Records += o.Records
	s.RecordBytes += o.RecordBytes
	s.Units += o.Units
	s.Skipped += o.Skipped
	s.Events += o.Events
	s.DeadLetters += o.DeadLetters
	s.Alerts += o.Alerts
	s.Acked += o.Acked
	s.Failed += o.Failed
	addAll(s.EventsByFormat, o.EventsByFormat)
	addAll(s.DeadByReason, o.DeadByReason)
	addAll(s.DeadByStage, o.DeadByStage)
	addAll(s.AlertsByRule, o.AlertsByRule)
	for k, v := range o.StageTime {
		s.StageTime[k] += v
	}
}

// Clone returns a deep copy.
func (s *Stats) Clone() Stats {
	c := *s
	c.EventsByFormat = maps.Clone(s.EventsByFormat)
	c.DeadByReason = maps.Clone(s.DeadByReason)
	c.DeadByStage = maps.Clone(s.DeadByStage)
	c.AlertsByRule = maps.Clone(s.AlertsByRule)
	c.StageTime = maps.Clone(s.StageTime)
	return c
}

func addAll[K comparable, V int64 | time.Duration](dst, src map[K]V) {
	for k, v := range src {
		dst[k] += v
	}
}

// SortedKeys returns the keys of m in order (for stable reports).
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *Stats) deadLetter(stage string, r stream.Reason) {
	s.DeadLetters++
	s.DeadByReason[r.Code]++
	s.DeadByStage[stage]++
}
