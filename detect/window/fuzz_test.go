package window

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// The window state comes back from Lambda with every invocation: it is
// input. A damaged or forged state must be refused with an error or read as
// some state, never panic, in decodeState or in the Invoke that uses it.

// stateOf wraps raw encoded state bytes as the state map Lambda hands back.
func stateOf(raw []byte) map[string]string {
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestSpeed)
	_, _ = w.Write(raw)
	_ = w.Close()
	return map[string]string{StateKey: base64.StdEncoding.EncodeToString(z.Bytes())}
}

// rawState decodes a state map to the bytes under flate (a seed).
func rawState(t testing.TB, m map[string]string) []byte {
	z, err := base64.StdEncoding.DecodeString(m[StateKey])
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(flate.NewReader(bytes.NewReader(z))); err != nil {
		t.Fatal(err)
	}
	return raw.Bytes()
}

// seedStates are real states: after some failures of a brute force, and of
// several source addresses.
func seedStates(t testing.TB) []map[string]string {
	c := builtins(t)
	var out []map[string]string
	var evs []stream.Event
	for i := range 12 {
		evs = append(evs, failure(t, "203.0.113.7", winStart.Add(time.Duration(i)*10*time.Second), i))
		res, err := c.Invoke(props(nil, false), evs)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.State) > 0 {
			out = append(out, res.State)
		}
	}
	// And with a temporal_ordered sequence state, not found and found.
	oc := orderedCorrelator(t, "10m", Options{})
	for _, evs := range [][]stream.Event{orderedEvents(0, "b", 50, "a", 100, "b", 200), orderedEvents(0, "b", 50, "a", 100, "b", 200, "c", 250)} {
		res, err := oc.Invoke(props(nil, false), evs)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.State)
	}
	return out
}

// FuzzDecodeState: the binary encoding under flate and base64.
func FuzzDecodeState(f *testing.F) {
	for _, m := range seedStates(f) {
		f.Add(rawState(f, m))
	}
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	c := builtins(f)
	oc := orderedCorrelator(f, "10m", Options{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := stateOf(raw)
		_, _ = decodeState(m, winStart.UnixMilli())
		// And the invocations that use it, middle and final.
		ev := failure(t, "198.51.100.9", winStart.Add(30*time.Second), 99)
		if _, err := c.Invoke(props(m, false), []stream.Event{ev}); err == nil {
			_, _ = c.Invoke(props(m, true), nil)
		}
		if _, err := oc.Invoke(props(m, false), orderedEvents(99, "b", 30, "c", 40)); err == nil {
			_, _ = oc.Invoke(props(m, true), nil)
		}
	})
}

// FuzzStateString: the state string as Lambda returns it (base64 of flate).
func FuzzStateString(f *testing.F) {
	for _, m := range seedStates(f) {
		f.Add(m[StateKey])
	}
	f.Add("")
	f.Add("not base64 !")
	f.Add(base64.StdEncoding.EncodeToString([]byte("not flate")))
	c := builtins(f)
	f.Fuzz(func(t *testing.T, s string) {
		m := map[string]string{StateKey: s}
		_, _ = decodeState(m, winStart.UnixMilli())
		_, _ = c.Invoke(props(m, true), nil)
	})
}
