package stream

import (
	"encoding/binary"
	"time"

	"github.com/zeebo/xxh3"
)

// Alert is raised by detection (a Sigma rule, a correlation or an anomaly
// baseline). It lives in package stream, beside Event, so that sinks and
// the pipeline core can carry it without depending on detect.
type Alert struct {
	// ID is derived from RuleID, GroupKey and WindowStart: the same alert
	// raised again (a retry, a replay) has the same id.
	ID          EventID
	RuleID      string
	RuleTitle   string
	Level       string   // informational, low, medium, high, critical
	Tags        []string // e.g. attack.t1562.008
	Description string
	Kind        string // rule, correlation, anomaly
	GroupKey    string // the group-by value ("source.ip=1.2.3.4"), empty for single-event rules
	WindowStart time.Time
	WindowEnd   time.Time
	FirstSeen   time.Time
	LastSeen    time.Time
	Count       int64
	Format      Format
	// Events are the matched events, with lineage so each can be traced to
	// its exact source record. Capped by detection; Count is the full count.
	Events []AlertEvent
	// Fields are a few fields of the (first) matched event worth showing.
	Fields map[string]string
}

// AlertEvent references one matched event.
type AlertEvent struct {
	ID      EventID
	Lineage Lineage
}

// AlertID derives the stable alert id.
func AlertID(ruleID, groupKey string, windowStart time.Time) EventID {
	b := make([]byte, 0, len(ruleID)+len(groupKey)+24)
	b = append(b, 'A', 1)
	b = appendField(b, ruleID)
	b = appendField(b, groupKey)
	b = binary.LittleEndian.AppendUint64(b, uint64(windowStart.UnixNano()))
	h := xxh3.Hash128(b)
	var id EventID
	binary.BigEndian.PutUint64(id[:8], h.Hi)
	binary.BigEndian.PutUint64(id[8:], h.Lo)
	return id
}
