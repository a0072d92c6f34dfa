package correlate

import (
	"math/rand"
	"slices"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func TestEventCount(t *testing.T) {
	cases := []struct {
		name      string
		n         int
		every     time.Duration
		wantFires int
	}{
		{"20 in 5m fires once", 20, 10 * time.Second, 1},
		{"24 in 2m fires once", 24, 5 * time.Second, 1},
		{"4 failures none", 4, time.Second, 0},
		{"20 spread over 20m none", 20, time.Minute, 0},
		{"60 over 15m fires per window", 60, 15 * time.Second, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(Spec{Kind: EventCount, Timespan: 5 * time.Minute, Op: "gte", Threshold: 20})
			if err != nil {
				t.Fatal(err)
			}
			fires := 0
			var first Fire
			for i := 0; i < tc.n; i++ {
				f, ok := w.Observe("ip=1.2.3.4", t0.Add(time.Duration(i)*tc.every), 0, "", nil)
				if ok {
					if fires == 0 {
						first = f
					}
					fires++
				}
			}
			if fires != tc.wantFires {
				t.Fatalf("fires = %d, want %d", fires, tc.wantFires)
			}
			if fires > 0 && !first.WindowStart.Equal(t0) {
				t.Errorf("window start %v, want %v", first.WindowStart, t0)
			}
		})
	}
}

func TestValueCountPortScan(t *testing.T) {
	w, err := New(Spec{Kind: ValueCount, Timespan: 5 * time.Minute, Op: "gte", Threshold: 100})
	if err != nil {
		t.Fatal(err)
	}
	fires := 0
	for i := 0; i < 150; i++ {
		if _, ok := w.Observe("src=45.155.205.233", t0.Add(time.Duration(i)*time.Second), 0, strconv.Itoa(1000+i), nil); ok {
			fires++
		}
		// Steady traffic to one port from another source never fires.
		if _, ok := w.Observe("src=10.0.0.5", t0.Add(time.Duration(i)*time.Second), 0, "443", nil); ok {
			t.Fatal("single-port source fired")
		}
	}
	if fires != 1 {
		t.Fatalf("fires = %d, want 1", fires)
	}
}

func TestTemporalOrdered(t *testing.T) {
	w, err := New(Spec{Kind: TemporalOrdered, Timespan: time.Minute, Rules: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.Observe("u", t0, 1, "", nil); ok {
		t.Fatal("fired on one rule")
	}
	if _, ok := w.Observe("u", t0.Add(time.Second), 0, "", nil); ok {
		t.Fatal("fired out of order")
	}
	if _, ok := w.Observe("u", t0.Add(2*time.Second), 1, "", nil); !ok {
		t.Fatal("did not fire in order")
	}
}

func TestGroupCap(t *testing.T) {
	w, err := New(Spec{Kind: EventCount, Timespan: time.Minute, Op: "gte", Threshold: 2, MaxGroups: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		w.Observe(strconv.Itoa(i), t0, 0, "", nil)
	}
	if w.Groups() != 10 || w.Evicted != 90 {
		t.Fatalf("groups %d evicted %d", w.Groups(), w.Evicted)
	}
	if _, err := New(Spec{Kind: EventCount, Timespan: time.Minute, Op: "lt", Threshold: 2}); err == nil {
		t.Error("lt accepted inline")
	}
}

// observeAll feeds (rule, second offset) events of group "g" in the given
// order and returns the fires.
func observeAll(t *testing.T, w *Window, evs [][2]int) []Fire {
	t.Helper()
	var out []Fire
	for _, e := range evs {
		if f, ok := w.Observe("g", t0.Add(time.Duration(e[1])*time.Second), e[0], "", nil); ok {
			out = append(out, f)
		}
	}
	return out
}

func orderedWindow(t *testing.T, rules int, span time.Duration) *Window {
	t.Helper()
	w, err := New(Spec{Kind: TemporalOrdered, Timespan: span, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestTemporalOrderedRepeat: A at 100, B at 150, A at 300, C at 400 has the
// ordered pick A100 ≤ B150 ≤ C400 although A's last event is after B's.
func TestTemporalOrderedRepeat(t *testing.T) {
	fires := observeAll(t, orderedWindow(t, 3, 1000*time.Second), [][2]int{{0, 100}, {1, 150}, {0, 300}, {2, 400}})
	if len(fires) != 1 {
		t.Fatalf("%d fires, want 1", len(fires))
	}
	f := fires[0]
	if s := t0.Add(100 * time.Second); !f.WindowStart.Equal(s) || !f.First.Equal(s) || !f.WindowEnd.Equal(s.Add(1000*time.Second)) ||
		!f.Last.Equal(t0.Add(400*time.Second)) || f.Count != 4 {
		t.Errorf("fire %+v", f)
	}
}

func TestTemporalOrderedReversed(t *testing.T) {
	if fires := observeAll(t, orderedWindow(t, 3, 1000*time.Second), [][2]int{{2, 100}, {1, 150}, {0, 300}, {2, 300}, {1, 200}}); len(fires) != 0 {
		t.Fatalf("reversed order fired %+v", fires)
	}
}

// TestTemporalOrderedTies: equal times are in order, whichever event is
// observed first; one event matching two consecutive rules stands for both.
func TestTemporalOrderedTies(t *testing.T) {
	for _, evs := range [][][2]int{
		{{0, 100}, {1, 100}},
		{{1, 100}, {0, 100}},
		{{0, 100}, {1, 100}, {2, 100}},
		{{2, 100}, {1, 100}, {0, 100}},
		{{1, 100}, {2, 100}, {0, 100}},
		{{0, 50}, {1, 100}, {2, 100}}, // one event of rules b and c
		{{1, 50}, {2, 100}, {0, 50}},
	} {
		rules := 0
		for _, e := range evs {
			rules = max(rules, e[0]+1)
		}
		fires := observeAll(t, orderedWindow(t, rules, time.Minute), evs)
		if len(fires) != 1 {
			t.Errorf("%v: %d fires, want 1", evs, len(fires))
		}
	}
}

// TestTemporalOrderedShuffled: every arrival order of A100 B150 A300 C400
// fires exactly once, when its last needed event arrives.
func TestTemporalOrderedShuffled(t *testing.T) {
	evs := [][2]int{{0, 100}, {1, 150}, {0, 300}, {2, 400}}
	perms := 0
	var permute func(k int)
	permute = func(k int) {
		if k == len(evs) {
			perms++
			order := append([][2]int(nil), evs...)
			w := orderedWindow(t, 3, 1000*time.Second)
			fired := -1
			for i, e := range order {
				if _, ok := w.Observe("g", t0.Add(time.Duration(e[1])*time.Second), e[0], "", nil); ok {
					if fired >= 0 {
						t.Errorf("%v fired twice", order)
					}
					fired = i
				}
			}
			// The sequence is complete once A100, B150 and C400 have
			// arrived (A300 is after B150).
			want := 0
			for i, e := range order {
				if e == [2]int{0, 100} || e == [2]int{1, 150} || e == [2]int{2, 400} {
					want = max(want, i)
				}
			}
			if fired != want {
				t.Errorf("%v fired at arrival %d, want %d", order, fired, want)
			}
			return
		}
		for i := k; i < len(evs); i++ {
			evs[k], evs[i] = evs[i], evs[k]
			permute(k + 1)
			evs[k], evs[i] = evs[i], evs[k]
		}
	}
	permute(0)
	if perms != 24 {
		t.Fatalf("%d permutations", perms)
	}
}

func TestTemporalOrderedTimespan(t *testing.T) {
	if fires := observeAll(t, orderedWindow(t, 2, 100*time.Second), [][2]int{{0, 0}, {1, 101}}); len(fires) != 0 {
		t.Errorf("101 s apart fired with a 100 s timespan")
	}
	if fires := observeAll(t, orderedWindow(t, 2, 100*time.Second), [][2]int{{0, 0}, {1, 100}}); len(fires) != 1 {
		t.Errorf("100 s apart: %d fires, want 1", len(fires))
	}
	// A second A brings the sequence within the timespan.
	fires := observeAll(t, orderedWindow(t, 3, 100*time.Second), [][2]int{{0, 0}, {1, 50}, {2, 150}, {0, 60}, {1, 70}, {2, 160}})
	if len(fires) != 1 || !fires[0].First.Equal(t0.Add(60*time.Second)) || !fires[0].Last.Equal(t0.Add(150*time.Second)) {
		t.Errorf("fires %+v, want one from A60 to C150", fires)
	}
}

// TestTemporalOrderedEpisodes: a group fires again only for a pick that
// starts at or after the end of the window that fired.
func TestTemporalOrderedEpisodes(t *testing.T) {
	w := orderedWindow(t, 2, 100*time.Second)
	steps := []struct {
		rule, at int
		start    int // fire's window start, -1 for none
	}{
		{0, 0, -1}, {1, 10, 0}, // fires, quiet until 100
		{0, 20, -1}, {1, 30, -1}, // same episode
		{0, 99, -1}, {1, 120, -1}, // pick A99 B120 starts before 100
		{0, 100, 100},              // arriving late, A100 completes A100 B120, which starts at 100
		{1, 125, -1}, {1, 150, -1}, // same episode
		{0, 210, -1}, {1, 205, -1}, {1, 215, 210},
	}
	for _, s := range steps {
		f, ok := w.Observe("g", t0.Add(time.Duration(s.at)*time.Second), s.rule, "", nil)
		if ok != (s.start >= 0) || ok && !f.WindowStart.Equal(t0.Add(time.Duration(s.start)*time.Second)) {
			t.Fatalf("rule %d at %d: fired %v %v, want start %d", s.rule, s.at, ok, f.WindowStart, s.start)
		}
		if ok && !f.WindowEnd.Equal(f.WindowStart.Add(100*time.Second)) {
			t.Errorf("window end %v", f.WindowEnd)
		}
	}
	// Groups are independent.
	if _, ok := w.Observe("h", t0.Add(30*time.Second), 0, "", nil); ok {
		t.Fatal("fired on one event")
	}
	if _, ok := w.Observe("h", t0.Add(31*time.Second), 1, "", nil); !ok {
		t.Fatal("other group suppressed")
	}
}

// TestTemporalOrderedCap: a rule keeps its MaxTimes latest distinct times:
// an out-of-order event that needs an older one finds nothing.
func TestTemporalOrderedCap(t *testing.T) {
	evs := [][2]int{{0, 10}, {0, 20}, {0, 20}, {0, 30}, {1, 15}} // B15 arrives late, needs A10
	for _, tc := range []struct{ max, fires int }{{2, 0}, {3, 1}, {0, 1}} {
		w, err := New(Spec{Kind: TemporalOrdered, Timespan: time.Minute, Rules: 2, MaxTimes: tc.max})
		if err != nil {
			t.Fatal(err)
		}
		if fires := observeAll(t, w, evs); len(fires) != tc.fires {
			t.Errorf("MaxTimes %d: %d fires, want %d", tc.max, len(fires), tc.fires)
		}
	}
}

// TestTemporalOrderedLate: an event more than the timespan older than the
// newest of its group is checked against the times still held only.
func TestTemporalOrderedLate(t *testing.T) {
	// B1000 drops A450 (more than 100 s before it): the late B470 misses it.
	if fires := observeAll(t, orderedWindow(t, 2, 100*time.Second), [][2]int{{0, 450}, {1, 1000}, {1, 470}}); len(fires) != 0 {
		t.Errorf("late event fired %+v", fires)
	}
	// A late event can still complete a pick with what is held.
	if fires := observeAll(t, orderedWindow(t, 2, 100*time.Second), [][2]int{{1, 1000}, {1, 950}, {0, 880}}); len(fires) != 1 {
		t.Errorf("late A880 with B950 held: %d fires, want 1", len(fires))
	}
}

// TestTemporalOrderedRandom compares the window with a brute force over
// every pick of the times it holds: per rule the MaxTimes latest distinct
// times observed before, among those within the timespan of the newest
// time observed (this one included); the event fires when a pick within
// the timespan has it as its rule's time, the latest t1 of such picks
// being at or after the end of the last fired window.
func TestTemporalOrderedRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	fired, late, capped := 0, 0, 0
	for n := 0; n < 20000; n++ {
		k := 1 + rng.Intn(4)
		span := int64(1 + rng.Intn(15))
		maxTimes := []int{1, 2, 3, 64}[rng.Intn(4)]
		w, err := New(Spec{Kind: TemporalOrdered, Timespan: time.Duration(span) * time.Second, Rules: k, MaxTimes: maxTimes})
		if err != nil {
			t.Fatal(err)
		}
		type ev struct {
			rule int
			at   int64
		}
		var seen []ev
		newest := int64(-1 << 62)
		quiet := int64(-1 << 62)
		for i, m := 0, 1+rng.Intn(12); i < m; i++ {
			e := ev{rng.Intn(k), int64(rng.Intn(30))}
			newest = max(newest, e.at)
			if e.at < newest-span {
				late++
			}
			// The times held before e.
			held := make([][]int64, k)
			for r := range held {
				var ts []int64
				for _, s := range seen {
					if s.rule == r && s.at >= newest-span {
						ts = append(ts, s.at)
					}
				}
				slices.Sort(ts)
				ts = slices.Compact(ts)
				if len(ts) > maxTimes {
					capped++
					ts = ts[len(ts)-maxTimes:]
				}
				held[r] = ts
			}
			held[e.rule] = []int64{e.at}
			seen = append(seen, e)
			// Every pick through e.
			first, last, ok := int64(0), int64(0), false
			pick := make([]int64, k)
			var walk func(r int)
			walk = func(r int) {
				if r == k {
					if pick[k-1]-pick[0] > span {
						return
					}
					if !ok || pick[0] > first || pick[0] == first && pick[k-1] < last {
						first, last, ok = pick[0], pick[k-1], true
					}
					return
				}
				for _, x := range held[r] {
					if r == 0 || x >= pick[r-1] {
						pick[r] = x
						walk(r + 1)
					}
				}
			}
			walk(0)
			want := ok && first >= quiet
			f, got := w.Observe("g", t0.Add(time.Duration(e.at)*time.Second), e.rule, "", nil)
			if got != want {
				t.Fatalf("case %d (k %d span %d max %d): after %v: fired %v, want %v", n, k, span, maxTimes, seen, got, want)
			}
			if !want {
				continue
			}
			fired++
			quiet = first + span
			if !f.First.Equal(t0.Add(time.Duration(first)*time.Second)) || !f.WindowStart.Equal(f.First) ||
				!f.Last.Equal(t0.Add(time.Duration(last)*time.Second)) || f.Count != int64(len(seen)) {
				t.Fatalf("case %d: after %v: fire %v..%v count %d, want %d..%d count %d", n, seen,
					f.First.Sub(t0), f.Last.Sub(t0), f.Count, first, last, len(seen))
			}
		}
	}
	if fired < 1000 || late < 1000 || capped < 1000 {
		t.Errorf("too few fires (%d), late events (%d) or capped lists (%d) to exercise the window", fired, late, capped)
	}
	t.Logf("%d fires, %d late events, %d capped lists", fired, late, capped)
}

// TestTemporalOrderedNoAlloc: a group whose lists are full costs no
// allocation per event, firing (without events) or not.
func TestTemporalOrderedNoAlloc(t *testing.T) {
	w := orderedWindow(t, 3, time.Minute)
	i := 0
	step := func() {
		i++
		w.Observe("user=mallory", t0.Add(time.Duration(i)*time.Second), i%3, "", nil)
	}
	for range 1000 {
		step()
	}
	if a := testing.AllocsPerRun(1000, step); a != 0 {
		t.Errorf("%v allocations per event", a)
	}
}

// TestGroupSize: the temporal_ordered state took no room from the other
// kinds' groups (128 bytes, a size class).
func TestGroupSize(t *testing.T) {
	if s := unsafe.Sizeof(group{}); unsafe.Sizeof(uintptr(0)) == 8 && s != 128 {
		t.Errorf("group is %d bytes, want 128", s)
	}
}

// BenchmarkObserveOrdered: a three-rule temporal_ordered correlation over
// 1000 groups, events in time order, lists full (the steady state).
func BenchmarkObserveOrdered(b *testing.B) {
	w, err := New(Spec{Kind: TemporalOrdered, Timespan: time.Hour, Rules: 3})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "user=" + strconv.Itoa(i)
	}
	i := 0
	step := func() {
		i++
		w.Observe(keys[i%len(keys)], t0.Add(time.Duration(i)*time.Millisecond), (i/len(keys))%3, "", nil)
	}
	for range 1000 * 3 * DefaultMaxTimes {
		step()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		step()
	}
}
