// Package anomaly is Gannet's second kind of layer-7 detection, beside
// signatures: per-key baselines learned from the stream, in bounded memory,
// that raise an alert when a key departs from its own history.
//
// Four baselines are kept, each switchable and each capped in keys (the
// least recently seen key is evicted first):
//
//   - request rate per client IP (ALB and WAF by default): an exponentially
//     weighted moving average of requests per time bucket; a client whose
//     current bucket reaches RateFactor × its baseline (and RateMinCount
//     requests) raises one alert for the episode, which ends when a bucket
//     closes below the threshold;
//   - error rate per client IP (same formats): the share of its responses
//     with HTTP status >= 400, exponentially weighted over closed buckets; a
//     client whose current bucket's error ratio reaches ErrorFactor × its
//     baseline ratio (and ErrorMinCount responses) raises one alert for the
//     episode, which ends when a bucket closes below the threshold;
//   - countries per user: a user (principal) seen from a country absent from
//     its history raises an alert (needs source.geo.country_iso_code from
//     GeoIP enrichment);
//   - APIs per principal (CloudTrail eventSource + eventName): once the
//     principal's learning period is over, a call to an API it never used
//     raises an alert.
//
// Time is event time, so a replay learns and alerts alike. Alerts follow
// the stream.Alert model: Kind "anomaly", id stream.AlertID(rule id, group
// key, bucket start). Snapshot and Restore carry the learned state across
// restarts. A Detector is not safe for concurrent use; the steady path (a
// known key within its baseline) does not allocate.
package anomaly

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/zeebo/xxh3"
)

// Rule ids of the anomaly alerts (Alert.RuleID).
const (
	RuleRequestRate = "gannet-anomaly-request-rate"
	RuleErrorRate   = "gannet-anomaly-error-rate"
	RuleNewCountry  = "gannet-anomaly-new-country"
	RuleNewAPI      = "gannet-anomaly-new-api"
)

// Config sets the baselines and thresholds. Zero fields take the defaults
// documented on each field.
type Config struct {
	// Bucket is the time bucket of rates and of the alert window (default 1m).
	Bucket time.Duration
	// MaxKeys caps the keys each baseline holds (default 100000).
	MaxKeys int

	// DisableRate, DisableErrorRate, DisableCountry and DisableAPI switch
	// baselines off.
	DisableRate, DisableErrorRate, DisableCountry, DisableAPI bool

	// RateFormats are the formats whose client IPs get a request-rate
	// baseline (default ALB and WAF).
	RateFormats []stream.Format
	// RateAlpha is the weight of the newest closed bucket in the moving
	// average (default 0.1: about the last ten buckets).
	RateAlpha float64
	// RateFactor is how many times its baseline a client's current bucket
	// must reach to raise an alert (default 20).
	RateFactor float64
	// RateMinCount is the fewest requests in a bucket that can raise an
	// alert (default 20), so that idle clients do not alert on a handful.
	RateMinCount int
	// RateWarmup is the number of buckets a client must have been seen
	// over before it can alert (default 5).
	RateWarmup int

	// ErrorFactor is how many times its baseline error ratio a client's
	// current bucket must reach to raise an alert (default 3). The
	// baseline counts as at least ErrorFloor.
	ErrorFactor float64
	// ErrorFloor is the least baseline error ratio (default 0.1), so that
	// a client that never failed does not alert on its first errors.
	ErrorFloor float64
	// ErrorMinCount is the fewest responses (events with an HTTP status)
	// in a bucket that can raise an error-rate alert (default 20). The
	// client must also have been seen over RateWarmup buckets.
	ErrorMinCount int

	// CountryLearning is the time after a user's first event during which
	// new countries are learned silently (default 0: the first country is
	// learned, every later new one alerts).
	CountryLearning time.Duration
	// MaxCountries caps the countries remembered per user (default 32).
	MaxCountries int

	// APILearning is the time after a principal's first event during
	// which its APIs are learned silently (default 24h).
	APILearning time.Duration
	// MaxAPIs caps the APIs remembered per principal (default 1024).
	MaxAPIs int
}

func (c *Config) defaults() {
	if c.Bucket <= 0 {
		c.Bucket = time.Minute
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = 100000
	}
	if len(c.RateFormats) == 0 {
		c.RateFormats = []stream.Format{stream.FormatALB, stream.FormatWAF}
	}
	if c.RateAlpha <= 0 || c.RateAlpha > 1 {
		c.RateAlpha = 0.1
	}
	if c.RateFactor <= 0 {
		c.RateFactor = 20
	}
	if c.RateMinCount <= 0 {
		c.RateMinCount = 20
	}
	if c.RateWarmup <= 0 {
		c.RateWarmup = 5
	}
	if c.ErrorFactor <= 0 {
		c.ErrorFactor = 3
	}
	if c.ErrorFloor <= 0 || c.ErrorFloor > 1 {
		c.ErrorFloor = 0.1
	}
	if c.ErrorMinCount <= 0 {
		c.ErrorMinCount = 20
	}
	if c.MaxCountries <= 0 {
		c.MaxCountries = 32
	}
	if c.APILearning == 0 {
		c.APILearning = 24 * time.Hour
	}
	if c.MaxAPIs <= 0 {
		c.MaxAPIs = 1024
	}
}

// Stats are counters since the Detector was made (or restored).
type Stats struct {
	Events  int64            // events observed
	Keys    map[string]int   // per rule id: keys held
	Alerts  map[string]int64 // per rule id: alerts raised
	Evicted map[string]int64 // per rule id: keys evicted by MaxKeys
}

// rateState is the request-rate baseline of one client.
type rateState struct {
	first    int64   // start of the first bucket seen
	bucket   int64   // start of the current bucket
	count    int64   // requests in the current bucket
	ewma     float64 // requests per bucket, closed buckets only
	closed   int64   // buckets folded into ewma (empty ones included)
	alerting bool    // an episode alerted; quiet until a bucket closes below the threshold

	resp       int64   // responses (events with an HTTP status) in the current bucket
	errs       int64   // of which status >= 400
	errEWMA    float64 // error ratio, closed buckets with responses only
	errClosed  int64   // buckets folded into errEWMA
	errAlerted bool    // an error-rate episode alerted
}

// seenState is the history of one user (countries) or principal (APIs).
type seenState struct {
	first int64
	set   map[uint64]struct{}
}

// Detector keeps the baselines and raises anomaly alerts.
type Detector struct {
	cfg      Config
	rateFmt  [16]bool
	rate     *lru[[16]byte, rateState]
	country  *lru[string, seenState]
	api      *lru[string, seenState]
	events   int64
	alerts   [4]int64 // request rate, new country, new API, error rate
	hashBuf  []byte
	decayPow []float64 // (1-alpha)^g for small gaps g
}

// New returns a Detector with empty baselines.
func New(cfg Config) *Detector {
	cfg.defaults()
	d := &Detector{cfg: cfg,
		rate:    newLRU[[16]byte, rateState](cfg.MaxKeys),
		country: newLRU[string, seenState](cfg.MaxKeys),
		api:     newLRU[string, seenState](cfg.MaxKeys),
		hashBuf: make([]byte, 0, 128),
	}
	for _, f := range cfg.RateFormats {
		if int(f) < len(d.rateFmt) {
			d.rateFmt[f] = true
		}
	}
	d.decayPow = make([]float64, 64)
	for g := range d.decayPow {
		d.decayPow[g] = math.Pow(1-cfg.RateAlpha, float64(g))
	}
	return d
}

// Config returns the configuration in effect (defaults filled).
func (d *Detector) Config() Config { return d.cfg }

// Stats returns the counters.
func (d *Detector) Stats() Stats {
	return Stats{
		Events: d.events,
		Keys: map[string]int{RuleRequestRate: d.rate.len(), RuleErrorRate: d.rate.len(), RuleNewCountry: d.country.len(),
			RuleNewAPI: d.api.len()},
		Alerts: map[string]int64{RuleRequestRate: d.alerts[0], RuleNewCountry: d.alerts[1], RuleNewAPI: d.alerts[2],
			RuleErrorRate: d.alerts[3]},
		Evicted: map[string]int64{RuleRequestRate: d.rate.evicted, RuleNewCountry: d.country.evicted, RuleNewAPI: d.api.evicted},
	}
}

func eventTime(ev *stream.Event) time.Time {
	if !ev.Timestamp.IsZero() {
		return ev.Timestamp
	}
	return ev.Ingested
}

// Observe folds one event into the baselines and calls emit for each alert
// it raises. The event is not kept; emitted alerts are owned by the receiver.
func (d *Detector) Observe(ev *stream.Event, emit func(*stream.Alert)) {
	d.events++
	t := eventTime(ev)
	if t.IsZero() {
		return
	}
	now := t.UnixNano()
	if !(d.cfg.DisableRate && d.cfg.DisableErrorRate) && int(ev.Format) < len(d.rateFmt) && d.rateFmt[ev.Format] && ev.Source.IP.IsValid() {
		d.observeRate(ev, now, emit)
	}
	if d.cfg.DisableCountry && d.cfg.DisableAPI {
		return
	}
	p := principal(ev)
	if p == "" {
		return
	}
	if !d.cfg.DisableCountry {
		if cc := ev.Source.Geo.CountryISOCode; cc != "" {
			d.observeCountry(ev, p, cc, now, emit)
		}
	}
	if !d.cfg.DisableAPI && ev.Format == stream.FormatCloudTrail && ev.Action != "" {
		d.observeAPI(ev, p, now, emit)
	}
}

// principal is who acted: the CloudTrail identity ARN, else user.id, else
// user.name.
func principal(ev *stream.Event) string {
	if r, ok := ev.Native.(*cloudtrail.Record); ok && r.UserIdentity.ARN != "" {
		return r.UserIdentity.ARN
	}
	if ev.UserID != "" {
		return ev.UserID
	}
	return ev.UserName
}

func (d *Detector) observeRate(ev *stream.Event, now int64, emit func(*stream.Alert)) {
	span := int64(d.cfg.Bucket)
	b := now - mod(now, span)
	key := ev.Source.IP.As16()
	s, ok := d.rate.get(key)
	if !ok {
		s = d.rate.add(key, func(v *rateState) { *v = rateState{} })
		*s = rateState{first: b, bucket: b}
	}
	if b > s.bucket {
		d.closeBucket(s, (b-s.bucket)/span)
		s.bucket = b
	}
	// An event older than the current bucket counts in it: rates are
	// approximate for out-of-order input.
	s.count++
	if ev.HTTPStatusCode > 0 {
		s.resp++
		if ev.HTTPStatusCode >= 400 {
			s.errs++
		}
		if !d.cfg.DisableErrorRate {
			d.checkErrors(ev, s, span, emit)
		}
	}
	if d.cfg.DisableRate || s.alerting || s.count < int64(d.cfg.RateMinCount) || (s.bucket-s.first)/span < int64(d.cfg.RateWarmup) {
		return
	}
	base := max(s.ewma, 1.0/d.cfg.RateFactor)
	if float64(s.count) < d.cfg.RateFactor*base {
		return
	}
	s.alerting = true
	d.alerts[0]++
	start := time.Unix(0, s.bucket).UTC()
	key16 := ev.Source.IP.String()
	emit(d.alert(RuleRequestRate, "Request rate far above the client's baseline", "medium",
		[]string{"attack.impact", "attack.t1499", "attack.reconnaissance", "attack.t1595"},
		"A client IP's requests in one bucket reached the configured factor of its learned rate (exponentially weighted moving average).",
		"source.ip="+key16, start, start.Add(d.cfg.Bucket), ev, s.count, map[string]string{
			"source.ip": key16, "rate": strconv.FormatInt(s.count, 10), "baseline": strconv.FormatFloat(s.ewma, 'f', 2, 64),
			"bucket": d.cfg.Bucket.String(),
		}))
}

// checkErrors raises the error-rate alert when the client's current bucket
// has enough responses and its error ratio reaches the threshold.
func (d *Detector) checkErrors(ev *stream.Event, s *rateState, span int64, emit func(*stream.Alert)) {
	if s.errAlerted || s.errClosed == 0 || s.resp < int64(d.cfg.ErrorMinCount) || (s.bucket-s.first)/span < int64(d.cfg.RateWarmup) {
		return
	}
	ratio := float64(s.errs) / float64(s.resp)
	if ratio < d.errThreshold(s) {
		return
	}
	s.errAlerted = true
	d.alerts[3]++
	start := time.Unix(0, s.bucket).UTC()
	ip := ev.Source.IP.String()
	emit(d.alert(RuleErrorRate, "Error rate far above the client's baseline", "medium",
		[]string{"attack.reconnaissance", "attack.t1595", "attack.credential_access", "attack.t1110"},
		"The share of a client IP's responses with HTTP status 400 or above in one bucket reached the configured factor of its learned error ratio (exponentially weighted).",
		"source.ip="+ip, start, start.Add(d.cfg.Bucket), ev, s.resp, map[string]string{
			"source.ip": ip, "errors": strconv.FormatInt(s.errs, 10), "responses": strconv.FormatInt(s.resp, 10),
			"error_ratio": strconv.FormatFloat(ratio, 'f', 3, 64), "baseline": strconv.FormatFloat(s.errEWMA, 'f', 3, 64),
			"bucket": d.cfg.Bucket.String(),
		}))
}

// errThreshold is the error ratio that raises an alert for s.
func (d *Detector) errThreshold(s *rateState) float64 {
	return d.cfg.ErrorFactor * max(s.errEWMA, d.cfg.ErrorFloor)
}

// closeBucket folds the current bucket, and gap-1 empty buckets after it,
// into the moving average.
func (d *Detector) closeBucket(s *rateState, gap int64) {
	a := d.cfg.RateAlpha
	c := float64(s.count)
	if s.alerting && (gap > 1 || c < d.cfg.RateFactor*max(s.ewma, 1.0/d.cfg.RateFactor)) {
		s.alerting = false
	}
	if s.closed == 0 {
		s.ewma = c
	} else {
		s.ewma = a*c + (1-a)*s.ewma
	}
	if gap > 1 {
		g := gap - 1
		if g < int64(len(d.decayPow)) {
			s.ewma *= d.decayPow[g]
		} else {
			s.ewma *= math.Pow(1-a, float64(g))
		}
	}
	s.closed += gap
	s.count = 0
	// Error ratio: buckets without responses leave the baseline as it is.
	if s.resp > 0 {
		r := float64(s.errs) / float64(s.resp)
		if s.errAlerted && r < d.errThreshold(s) {
			s.errAlerted = false
		}
		if s.errClosed == 0 {
			s.errEWMA = r
		} else {
			s.errEWMA = a*r + (1-a)*s.errEWMA
		}
		s.errClosed++
	}
	if s.resp == 0 || gap > 1 {
		s.errAlerted = false // a bucket without responses ends the episode
	}
	s.resp, s.errs = 0, 0
}

func (d *Detector) observeCountry(ev *stream.Event, p, cc string, now int64, emit func(*stream.Alert)) {
	h := xxh3.HashString(cc)
	s, ok := d.country.get(p)
	if !ok {
		s = d.country.add(strings.Clone(p), resetSeen)
		s.first = now
		if s.set == nil {
			s.set = map[uint64]struct{}{}
		}
		s.set[h] = struct{}{}
		return
	}
	if _, ok := s.set[h]; ok {
		return
	}
	learning := now-s.first < int64(d.cfg.CountryLearning)
	if len(s.set) < d.cfg.MaxCountries {
		s.set[h] = struct{}{}
	}
	if learning {
		return
	}
	d.alerts[1]++
	start := time.Unix(0, now-mod(now, int64(d.cfg.Bucket))).UTC()
	emit(d.alert(RuleNewCountry, "User acting from a country never seen for it", "medium",
		[]string{"attack.initial_access", "attack.t1078"},
		"A user (principal) made a call from a country (GeoIP of the source address) absent from its history.",
		"user="+p+",country="+cc, start, start.Add(d.cfg.Bucket), ev, 1, map[string]string{
			"principal": p, "source.geo.country_iso_code": cc, "source.ip": ipString(ev),
		}))
}

func (d *Detector) observeAPI(ev *stream.Event, p string, now int64, emit func(*stream.Alert)) {
	b := append(d.hashBuf[:0], ev.Provider...)
	b = append(b, 0)
	b = append(b, ev.Action...)
	d.hashBuf = b
	h := xxh3.Hash(b)
	s, ok := d.api.get(p)
	if !ok {
		s = d.api.add(strings.Clone(p), resetSeen)
		s.first = now
		if s.set == nil {
			s.set = map[uint64]struct{}{}
		}
		s.set[h] = struct{}{}
		return
	}
	if _, ok := s.set[h]; ok {
		return
	}
	learning := now-s.first < int64(d.cfg.APILearning)
	if len(s.set) < d.cfg.MaxAPIs {
		s.set[h] = struct{}{}
	}
	if learning {
		return
	}
	d.alerts[2]++
	start := time.Unix(0, now-mod(now, int64(d.cfg.Bucket))).UTC()
	api := ev.Provider + ":" + ev.Action
	emit(d.alert(RuleNewAPI, "Principal calling an API it never used", "low",
		[]string{"attack.discovery", "attack.privilege_escalation", "attack.t1078.004"},
		"After its learning period, a principal called an API (eventSource and eventName) absent from its history.",
		"principal="+p+",api="+api, start, start.Add(d.cfg.Bucket), ev, 1, map[string]string{
			"principal": p, "eventSource": ev.Provider, "eventName": ev.Action, "source.ip": ipString(ev),
		}))
}

func resetSeen(v *seenState) {
	v.first = 0
	clear(v.set)
}

func ipString(ev *stream.Event) string {
	if ev.Source.IP.IsValid() {
		return ev.Source.IP.String()
	}
	return ev.Source.Address
}

func (d *Detector) alert(rule, title, level string, tags []string, desc, group string, start, end time.Time, ev *stream.Event, count int64, fields map[string]string) *stream.Alert {
	t := eventTime(ev).UTC()
	for k, v := range fields {
		if v == "" {
			delete(fields, k)
		}
	}
	return &stream.Alert{
		ID: stream.AlertID(rule, group, start), RuleID: rule, RuleTitle: title, Level: level, Tags: tags,
		Description: desc, Kind: "anomaly", GroupKey: group, WindowStart: start, WindowEnd: end,
		FirstSeen: t, LastSeen: t, Count: count, Format: ev.Format,
		Events: []stream.AlertEvent{eventRef(ev)}, Fields: fields,
	}
}

// eventRef returns the alert reference of ev, not aliasing the batch.
func eventRef(ev *stream.Event) stream.AlertEvent {
	l := ev.Lineage
	l.Source, l.Shard, l.Sequence, l.LogEventID = strings.Clone(l.Source), strings.Clone(l.Shard), strings.Clone(l.Sequence), strings.Clone(l.LogEventID)
	return stream.AlertEvent{ID: ev.ID, Lineage: l}
}

// mod is the non-negative remainder, so buckets of times before 1970 align too.
func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
