package anomaly

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func albEvent(ip netip.Addr, at time.Time, n int) stream.Event {
	ev := stream.Event{Format: stream.FormatALB, Timestamp: at,
		Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "alb.log", Line: int64(n), Index: int64(n), SubSequence: -1}}
	ev.Source.IP = ip
	ev.ID = ev.Lineage.ID()
	return ev
}

func clientIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }

// steady returns `minutes` minutes of ALB traffic from `clients` clients,
// each making 5 to 15 requests a minute, in time order.
func steady(clients, minutes int, seed uint64) []stream.Event {
	r := rand.New(rand.NewPCG(seed, 1))
	var out []stream.Event
	for m := 0; m < minutes; m++ {
		for c := 0; c < clients; c++ {
			n := 5 + r.IntN(11)
			for k := 0; k < n; k++ {
				at := t0.Add(time.Duration(m)*time.Minute + time.Duration(r.IntN(60000))*time.Millisecond)
				out = append(out, albEvent(clientIP(c), at, len(out)+1))
			}
		}
	}
	return out
}

func observe(d *Detector, evs []stream.Event) []*stream.Alert {
	var out []*stream.Alert
	for i := range evs {
		d.Observe(&evs[i], func(a *stream.Alert) { out = append(out, a) })
	}
	return out
}

func TestRateSteadyRaisesNothing(t *testing.T) {
	d := New(Config{})
	if alerts := observe(d, steady(50, 120, 1)); len(alerts) != 0 {
		t.Fatalf("steady traffic raised %d alerts, first %+v", len(alerts), alerts[0])
	}
	if st := d.Stats(); st.Keys[RuleRequestRate] != 50 || st.Events == 0 {
		t.Errorf("stats %+v", st)
	}
}

// spike is one client jumping to 300 requests a minute (20-30× its 5-15)
// for five minutes after an hour of steady traffic.
func spike(victim int, from time.Time, n0 int) []stream.Event {
	var out []stream.Event
	for m := 0; m < 5; m++ {
		for k := 0; k < 300; k++ {
			at := from.Add(time.Duration(m)*time.Minute + time.Duration(k)*200*time.Millisecond)
			out = append(out, albEvent(clientIP(victim), at, n0+len(out)+1))
		}
	}
	return out
}

func TestRateJumpRaisesOneAlert(t *testing.T) {
	d := New(Config{})
	base := steady(50, 60, 2)
	if a := observe(d, base); len(a) != 0 {
		t.Fatalf("baseline raised %d alerts", len(a))
	}
	// Steady traffic goes on for the other clients while client 7 jumps.
	var evs []stream.Event
	for _, ev := range steady(50, 70, 2)[len(base):] {
		if ev.Source.IP != clientIP(7) {
			evs = append(evs, ev)
		}
	}
	evs = append(evs, spike(7, t0.Add(61*time.Minute), 1<<20)...)
	sortByTime(evs)
	alerts := observe(d, evs)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(alerts), alerts)
	}
	a := alerts[0]
	wantStart := t0.Add(61 * time.Minute)
	if a.Kind != "anomaly" || a.RuleID != RuleRequestRate || a.GroupKey != "source.ip=10.0.0.7" ||
		!a.WindowStart.Equal(wantStart) || a.WindowEnd.Sub(a.WindowStart) != time.Minute {
		t.Errorf("alert %+v", a)
	}
	if a.ID != stream.AlertID(RuleRequestRate, "source.ip=10.0.0.7", wantStart) {
		t.Errorf("alert id %v is not AlertID(rule, key, bucket)", a.ID)
	}
	if a.Count < 20*5 || len(a.Events) != 1 || a.Fields["baseline"] == "" {
		t.Errorf("count %d events %d fields %v", a.Count, len(a.Events), a.Fields)
	}
}

func sortByTime(evs []stream.Event) {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Timestamp.Before(evs[j].Timestamp) })
}

func TestRateNewClientBurstNeedsBaseline(t *testing.T) {
	d := New(Config{})
	if a := observe(d, spike(3, t0, 0)); len(a) != 0 {
		t.Errorf("a client without a baseline raised %d alerts", len(a))
	}
}

func ctEvent(arn, source, name, country string, at time.Time, n int) stream.Event {
	ev := stream.Event{Format: stream.FormatCloudTrail, Timestamp: at, Provider: source, Action: name,
		Native:  &cloudtrail.Record{UserIdentity: cloudtrail.UserIdentity{Type: "IAMUser", ARN: arn}},
		Lineage: stream.Lineage{Kind: stream.OriginFile, Source: "ct.json", Line: int64(n), Index: int64(n), SubSequence: -1}}
	ev.Source.IP = netip.MustParseAddr("198.51.100.7")
	ev.Source.Geo.CountryISOCode = country
	ev.ID = ev.Lineage.ID()
	return ev
}

func TestNewCountry(t *testing.T) {
	d := New(Config{DisableAPI: true})
	alice, bob := "arn:aws:iam::1:user/alice", "arn:aws:iam::1:user/bob"
	var evs []stream.Event
	for i := 0; i < 20; i++ {
		evs = append(evs, ctEvent(alice, "s3.amazonaws.com", "ListBuckets", "FR", t0.Add(time.Duration(i)*time.Minute), i))
	}
	evs = append(evs,
		ctEvent(bob, "s3.amazonaws.com", "ListBuckets", "CN", t0.Add(30*time.Minute), 100),   // bob's first country: learned
		ctEvent(alice, "s3.amazonaws.com", "ListBuckets", "BR", t0.Add(31*time.Minute), 101), // new for alice
		ctEvent(alice, "s3.amazonaws.com", "ListBuckets", "BR", t0.Add(32*time.Minute), 102), // seen now
		ctEvent(alice, "s3.amazonaws.com", "ListBuckets", "", t0.Add(33*time.Minute), 103),   // not located
	)
	alerts := observe(d, evs)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(alerts), alerts)
	}
	a := alerts[0]
	if a.RuleID != RuleNewCountry || a.GroupKey != "user="+alice+",country=BR" || a.Fields["source.geo.country_iso_code"] != "BR" ||
		a.Events[0].ID != evs[21].ID || a.ID != stream.AlertID(a.RuleID, a.GroupKey, a.WindowStart) {
		t.Errorf("alert %+v", a)
	}
}

func TestNewAPIAfterLearning(t *testing.T) {
	d := New(Config{DisableCountry: true, APILearning: 24 * time.Hour})
	p := "arn:aws:iam::1:role/app"
	evs := []stream.Event{
		ctEvent(p, "s3.amazonaws.com", "GetObject", "", t0, 1),
		ctEvent(p, "s3.amazonaws.com", "PutObject", "", t0.Add(time.Hour), 2),
		ctEvent(p, "iam.amazonaws.com", "ListUsers", "", t0.Add(23*time.Hour), 3),  // new, still learning
		ctEvent(p, "s3.amazonaws.com", "GetObject", "", t0.Add(30*time.Hour), 4),   // known
		ctEvent(p, "iam.amazonaws.com", "ListUsers", "", t0.Add(30*time.Hour), 5),  // learned during learning
		ctEvent(p, "iam.amazonaws.com", "CreateUser", "", t0.Add(31*time.Hour), 6), // new: alert
		ctEvent(p, "iam.amazonaws.com", "CreateUser", "", t0.Add(32*time.Hour), 7), // now known
	}
	alerts := observe(d, evs)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1: %+v", len(alerts), alerts)
	}
	a := alerts[0]
	if a.RuleID != RuleNewAPI || a.GroupKey != "principal="+p+",api=iam.amazonaws.com:CreateUser" || a.Events[0].ID != evs[5].ID {
		t.Errorf("alert %+v", a)
	}
	if st := d.Stats(); st.Alerts[RuleNewAPI] != 1 || st.Keys[RuleNewAPI] != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestSnapshotRestore: a detector restored from a snapshot alerts on what
// the learned one would; a fresh one (relearning from zero) would not.
func TestSnapshotRestore(t *testing.T) {
	cfg := Config{}
	d := New(cfg)
	p := "arn:aws:iam::1:user/alice"
	learn := steady(20, 60, 5)
	learn = append(learn, ctEvent(p, "s3.amazonaws.com", "GetObject", "FR", t0, 1))
	learn = append(learn, ctEvent(p, "s3.amazonaws.com", "GetObject", "FR", t0.Add(25*time.Hour), 2))
	if a := observe(d, learn); len(a) != 0 {
		t.Fatalf("learning raised %d alerts", len(a))
	}
	var snap bytes.Buffer
	if err := d.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	after := append(spike(4, t0.Add(61*time.Minute), 1<<20),
		ctEvent(p, "ec2.amazonaws.com", "RunInstances", "FR", t0.Add(26*time.Hour), 3))

	restored := New(cfg)
	if err := restored.Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, a := range observe(restored, after) {
		got[a.RuleID]++
	}
	if got[RuleRequestRate] != 1 || got[RuleNewAPI] != 1 || len(got) != 2 {
		t.Errorf("restored detector alerts %v, want one rate and one new-API alert", got)
	}
	if a := observe(New(cfg), after); len(a) != 0 {
		t.Errorf("a fresh detector raised %d alerts (test does not show the snapshot matters)", len(a))
	}
	// The snapshot of the restored detector, before new events, is the same.
	again := New(cfg)
	_ = again.Restore(bytes.NewReader(snap.Bytes()))
	var snap2 bytes.Buffer
	if err := again.Snapshot(&snap2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snap.Bytes(), snap2.Bytes()) {
		t.Errorf("snapshot → restore → snapshot differs")
	}
	if err := New(Config{Bucket: time.Hour}).Restore(bytes.NewReader(snap.Bytes())); err == nil {
		t.Errorf("restore with another bucket size was accepted")
	}
}

func TestMaxKeysEvictsLeastRecent(t *testing.T) {
	d := New(Config{MaxKeys: 10})
	var evs []stream.Event
	for i := 0; i < 100; i++ {
		evs = append(evs, albEvent(clientIP(i), t0.Add(time.Duration(i)*time.Second), i))
	}
	// 90 evicted so far, client 0 among them. It comes back (one more
	// eviction) and keeps coming: it must survive the 100 new clients.
	for i := 0; i < 100; i++ {
		evs = append(evs, albEvent(clientIP(0), t0.Add(time.Duration(i)*time.Second), 1000+i))
		evs = append(evs, albEvent(clientIP(200+i), t0.Add(time.Duration(i)*time.Second), 2000+i))
	}
	observe(d, evs)
	st := d.Stats()
	if st.Keys[RuleRequestRate] != 10 || st.Evicted[RuleRequestRate] != 191 {
		t.Errorf("keys %d evicted %d", st.Keys[RuleRequestRate], st.Evicted[RuleRequestRate])
	}
	if _, ok := d.rate.get(clientIP(0).As16()); !ok {
		t.Errorf("the most recently seen client was evicted")
	}
}

func TestSteadyPathDoesNotAllocate(t *testing.T) {
	d := New(Config{})
	evs := steady(10, 30, 9)
	p := "arn:aws:iam::1:user/alice"
	for i := 0; i < 30; i++ {
		evs = append(evs, ctEvent(p, "s3.amazonaws.com", "GetObject", "FR", t0.Add(time.Duration(i)*time.Minute), i))
	}
	observe(d, evs)
	emit := func(a *stream.Alert) { t.Fatalf("unexpected alert %+v", a) }
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		ev := &evs[len(evs)-1-i%200]
		d.Observe(ev, emit)
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per steady event, want 0", allocs)
	}
}

func BenchmarkObserve(b *testing.B) {
	for _, n := range []int{100, 10000} {
		b.Run(fmt.Sprintf("format=alb/clients=%d", n), func(b *testing.B) {
			d := New(Config{})
			evs := steady(n, 3, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.Observe(&evs[i%len(evs)], func(*stream.Alert) {})
			}
		})
	}
}

// steadyStatus returns `minutes` minutes of ALB traffic from `clients`
// clients, each making 30 to 50 requests a minute of which a share of its
// own (0 to 5 %) fail with 4xx/5xx, in time order.
func steadyStatus(clients, minutes int, seed uint64) []stream.Event {
	r := rand.New(rand.NewPCG(seed, 2))
	share := make([]float64, clients)
	for c := range share {
		share[c] = 0.05 * r.Float64()
	}
	var out []stream.Event
	for m := 0; m < minutes; m++ {
		for c := 0; c < clients; c++ {
			n := 30 + r.IntN(21)
			for k := 0; k < n; k++ {
				at := t0.Add(time.Duration(m)*time.Minute + time.Duration(r.IntN(60000))*time.Millisecond)
				ev := albEvent(clientIP(c), at, len(out)+1)
				ev.HTTPStatusCode = 200
				if r.Float64() < share[c] {
					ev.HTTPStatusCode = []int32{404, 500, 503}[r.IntN(3)]
				}
				out = append(out, ev)
			}
		}
	}
	return out
}

// failing is one client making 40 requests a minute, 60 % of them refused
// (401/403), for `minutes` minutes from `from`: its request rate does not
// change, its error ratio jumps.
func failing(victim int, from time.Time, minutes, n0 int) []stream.Event {
	var out []stream.Event
	for m := 0; m < minutes; m++ {
		for k := 0; k < 40; k++ {
			at := from.Add(time.Duration(m)*time.Minute + time.Duration(k)*1500*time.Millisecond)
			ev := albEvent(clientIP(victim), at, n0+len(out)+1)
			ev.HTTPStatusCode = 200
			if k%5 < 3 {
				ev.HTTPStatusCode = 401 + 2*int32(k%2)
			}
			out = append(out, ev)
		}
	}
	return out
}

func TestErrorRateSteadyRaisesNothing(t *testing.T) {
	d := New(Config{})
	if alerts := observe(d, steadyStatus(50, 120, 11)); len(alerts) != 0 {
		t.Fatalf("steady traffic raised %d alerts, first %+v", len(alerts), alerts[0])
	}
	if st := d.Stats(); st.Keys[RuleErrorRate] != 50 {
		t.Errorf("stats %+v", st)
	}
}

func TestErrorRateJumpRaisesOneAlert(t *testing.T) {
	d := New(Config{})
	evs := steadyStatus(20, 60, 12)
	if a := observe(d, evs); len(a) != 0 {
		t.Fatalf("learning raised %d alerts", len(a))
	}
	// Five minutes of failures, then the client's normal traffic again.
	jump := failing(4, t0.Add(60*time.Minute), 5, len(evs))
	got := observe(d, jump)
	if len(got) != 1 {
		t.Fatalf("error jump raised %d alerts, want 1: %+v", len(got), got)
	}
	a := got[0]
	if a.RuleID != RuleErrorRate || a.Kind != "anomaly" || a.GroupKey != "source.ip=10.0.0.4" ||
		a.Fields["source.ip"] != "10.0.0.4" || !a.WindowStart.Equal(t0.Add(60*time.Minute)) || len(a.Events) != 1 {
		t.Errorf("alert %+v", a)
	}
	if a.ID != stream.AlertID(RuleErrorRate, "source.ip=10.0.0.4", t0.Add(60*time.Minute)) {
		t.Errorf("alert id %s is not derived from rule, group and window", a.ID)
	}
	if a.Count < 20 {
		t.Errorf("alert counts %d responses, want at least ErrorMinCount", a.Count)
	}
	// Back to normal, then a second episode: a second alert.
	var back []stream.Event
	for _, ev := range steadyStatus(5, 10, 13) {
		if ev.Source.IP == clientIP(4) {
			ev.Timestamp = ev.Timestamp.Add(65 * time.Minute)
			back = append(back, ev)
		}
	}
	if a := observe(d, back); len(a) != 0 {
		t.Fatalf("normal traffic after the episode raised %d alerts", len(a))
	}
	if a := observe(d, failing(4, t0.Add(75*time.Minute), 3, 1<<20)); len(a) != 1 || a[0].RuleID != RuleErrorRate {
		t.Errorf("second episode raised %d alerts, want 1", len(a))
	}
	if st := d.Stats(); st.Alerts[RuleErrorRate] != 2 || st.Alerts[RuleRequestRate] != 0 {
		t.Errorf("alerts %v", st.Alerts)
	}
	// Switched off, the same input raises nothing.
	off := New(Config{DisableErrorRate: true})
	observe(off, evs)
	if a := observe(off, jump); len(a) != 0 {
		t.Errorf("disabled error rate raised %d alerts", len(a))
	}
}

func TestErrorRateSnapshot(t *testing.T) {
	d := New(Config{})
	learn := steadyStatus(10, 60, 14)
	observe(d, learn)
	var snap bytes.Buffer
	if err := d.Snapshot(&snap); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(snap.Bytes(), []byte(`"err_ewma"`)) {
		t.Fatalf("snapshot holds no error-rate baseline: %.300s", snap.String())
	}
	jump := failing(3, t0.Add(60*time.Minute), 2, len(learn))
	restored := New(Config{})
	if err := restored.Restore(bytes.NewReader(snap.Bytes())); err != nil {
		t.Fatal(err)
	}
	if a := observe(restored, jump); len(a) != 1 || a[0].RuleID != RuleErrorRate {
		t.Errorf("restored detector raised %d alerts, want one error-rate alert", len(a))
	}
	if a := observe(New(Config{}), jump); len(a) != 0 {
		t.Errorf("a fresh detector raised %d alerts (test does not show the snapshot matters)", len(a))
	}
}

// TestRestoreOldSnapshot restores a snapshot written before the error-rate
// baseline existed (three alert counters, no error fields): the request
// rate is kept, the error rate starts empty.
func TestRestoreOldSnapshot(t *testing.T) {
	b := t0.Add(59 * time.Minute).UnixNano()
	old := fmt.Sprintf(`{"version":1,"bucket_ns":60000000000,"rate":[{"ip":"10.0.0.7","first":%d,"bucket":%d,"count":3,"ewma":10,"closed":59}],"alerts":[2,0,1]}`,
		t0.UnixNano(), b)
	d := New(Config{})
	if err := d.Restore(strings.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	st := d.Stats()
	if st.Alerts[RuleRequestRate] != 2 || st.Alerts[RuleNewAPI] != 1 || st.Alerts[RuleErrorRate] != 0 || st.Keys[RuleRequestRate] != 1 {
		t.Errorf("restored stats %+v", st)
	}
	// The restored rate baseline (10 a minute) still alerts on 300 a minute.
	got := observe(d, spike(7, t0.Add(60*time.Minute), 1))
	if len(got) != 1 || got[0].RuleID != RuleRequestRate {
		t.Errorf("restored old baseline raised %d alerts, want one request-rate alert", len(got))
	}
}

func TestErrorRateSteadyPathDoesNotAllocate(t *testing.T) {
	d := New(Config{})
	evs := steadyStatus(10, 30, 15)
	observe(d, evs)
	emit := func(a *stream.Alert) { t.Fatalf("unexpected alert %+v", a) }
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		d.Observe(&evs[len(evs)-1-i%300], emit)
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per steady event, want 0", allocs)
	}
}
