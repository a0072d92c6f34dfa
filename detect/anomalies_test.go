package detect

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/detect/anomaly"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/alb"
	"github.com/gannet-sec/gannet/stream/gen"
)

// albTraffic is `minutes` minutes of 10 requests a minute from each of
// `clients` clients, and, when jump is set, client 0 at 300 a minute from
// minute 40 on.
func albTraffic(clients, minutes int, jump bool) []stream.Event {
	var out []stream.Event
	for m := 0; m < minutes; m++ {
		for c := 0; c < clients; c++ {
			n := 10
			if jump && c == 0 && m >= 40 {
				n = 300
			}
			for k := 0; k < n; k++ {
				ev := stream.Event{Format: stream.FormatALB,
					Timestamp: gen.DefaultStart.Add(time.Duration(m)*time.Minute + time.Duration(k*60/n)*time.Second),
					Lineage:   stream.Lineage{Kind: stream.OriginFile, Source: "alb.log", Line: int64(len(out) + 1), Index: int64(len(out)), SubSequence: -1}}
				ev.Source.IP = netip.AddrFrom4([4]byte{192, 0, 2, byte(c + 1)})
				ev.ID = ev.Lineage.ID()
				out = append(out, ev)
			}
		}
	}
	return out
}

func TestEngineAnomaly(t *testing.T) {
	on := func() *Engine {
		e, err := New(Options{Anomaly: &anomaly.Config{}})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if a := run(t, on(), albTraffic(20, 60, false)); len(a) != 0 {
		t.Errorf("steady traffic raised %d alerts: %v", len(a), titles(a))
	}
	// Generated ALB traffic without attacks: no anomaly either.
	clean := generate(t, alb.Generate, alb.NewParser(), gen.Options{Count: 5000, Seed: 11}, "alb.log")
	if a := run(t, on(), clean); len(a) != 0 {
		t.Errorf("generated clean ALB traffic raised %d alerts: %v", len(a), titles(a))
	}
	e := on()
	alerts := run(t, e, albTraffic(20, 60, true))
	if len(alerts) != 1 || alerts[0].Kind != "anomaly" || alerts[0].RuleID != anomaly.RuleRequestRate ||
		alerts[0].GroupKey != "source.ip=192.0.2.1" {
		t.Fatalf("alerts %+v, want one request-rate anomaly for 192.0.2.1", alerts)
	}
	if st := e.Stats(); st.Alerts[anomaly.RuleRequestRate] != 1 {
		t.Errorf("stats %+v", st.Alerts)
	}
	// Off by default.
	off, _ := New(Options{})
	if a := run(t, off, albTraffic(20, 60, true)); len(a) != 0 {
		t.Errorf("anomaly detection is on without Options.Anomaly: %d alerts", len(a))
	}
	if err := off.SnapshotAnomaly(&bytes.Buffer{}); err == nil {
		t.Errorf("SnapshotAnomaly without anomaly detection did not fail")
	}
	// A restored engine replaying the jump raises the same alert id once;
	// replaying it into the same engine raises nothing new.
	var snap bytes.Buffer
	learn := on()
	run(t, learn, albTraffic(20, 40, false))
	if err := learn.SnapshotAnomaly(&snap); err != nil {
		t.Fatal(err)
	}
	restored := on()
	if err := restored.RestoreAnomaly(&snap); err != nil {
		t.Fatal(err)
	}
	jump := albTraffic(20, 60, true)
	var tail []stream.Event
	for _, ev := range jump {
		if !ev.Timestamp.Before(gen.DefaultStart.Add(40 * time.Minute)) {
			tail = append(tail, ev)
		}
	}
	again := run(t, restored, tail)
	if len(again) != 1 || again[0].ID != alerts[0].ID {
		t.Errorf("restored engine: %+v, want the same alert id %v", again, alerts[0].ID)
	}
}

// BenchmarkDetectAnomaly runs the built-ins on steady ALB traffic (20
// clients) with anomaly detection off and on, in batches of 500.
func BenchmarkDetectAnomaly(b *testing.B) {
	events := albTraffic(20, 60, false)
	for _, on := range []bool{false, true} {
		name := "format=alb/anomaly=off"
		opts := Options{}
		if on {
			name = "format=alb/anomaly=on"
			opts.Anomaly = &anomaly.Config{}
		}
		b.Run(name, func(b *testing.B) {
			e, err := New(opts)
			if err != nil {
				b.Fatal(err)
			}
			emit := func(*stream.Alert) {}
			run(b, e, events) // learn the baselines
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; {
				for i := 0; i < len(events) && done < b.N; i += 500 {
					j := min(i+500, len(events), i+(b.N-done))
					if err := e.Detect(context.Background(), events[i:j], emit); err != nil {
						b.Fatal(err)
					}
					done += j - i
				}
			}
		})
	}
}
