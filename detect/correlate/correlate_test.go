package correlate

import (
	"strconv"
	"testing"
	"time"
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
