package formattest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"github.com/gannet-sec/gannet/stream/gen"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// Parse parses data as one unit with p into a new event.
func Parse(p stream.Parser, data []byte) (*stream.Event, error) {
	ev := &stream.Event{}
	return ev, p.Parse(&stream.Unit{Data: data}, ev)
}

// GoldenObjects checks every testdata/*.json file (one JSON unit each): sniff
// accepts it, parse parses it, and Render of the event matches the .golden
// file beside it.
func GoldenObjects(t *testing.T, sniff func([]byte) bool, parse func([]byte) (*stream.Event, error)) {
	t.Helper()
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !sniff(data) {
				t.Errorf("Sniff rejects %s", f)
			}
			ev, err := parse(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Render(ev)
			if err != nil {
				t.Fatal(err)
			}
			Check(t, strings.TrimSuffix(f, ".json")+".golden", got)
		})
	}
}

// GoldenLines checks every testdata/*.log file of text lines: one parser
// from newParser parses its lines in order, each must give an event of the
// format (or stream.ErrSkip, recorded as a skipped header), and the JSON
// list of lines, common fields (zero ones left out) and Native records must
// match the .golden file beside it.
func GoldenLines(t *testing.T, newParser func() stream.Parser, format stream.Format) {
	t.Helper()
	logs, _ := filepath.Glob("testdata/*.log")
	if len(logs) == 0 {
		t.Fatal("no testdata/*.log")
	}
	for _, path := range logs {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p := newParser()
			var out []map[string]any
			for i, line := range bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n")) {
				var ev stream.Event
				err := p.Parse(&stream.Unit{Data: line}, &ev)
				if errors.Is(err, stream.ErrSkip) {
					out = append(out, map[string]any{"line": i + 1, "skipped": "header"})
					continue
				}
				if err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				if ev.Native == nil || ev.Native.Format() != format {
					t.Fatalf("line %d: Native %T", i+1, ev.Native)
				}
				out = append(out, map[string]any{"line": i + 1, "event": renderMap(&ev), "native": ev.Native})
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			Check(t, strings.TrimSuffix(path, ".log")+".golden", append(got, '\n'))
		})
	}
}

// renderMap is the line golden files' form of an event's common fields: a
// map without the zero ones.
func renderMap(ev *stream.Event) map[string]any {
	m := map[string]any{}
	put := func(k string, v any, zero bool) {
		if !zero {
			m[k] = v
		}
	}
	put("@timestamp", ev.Timestamp.Format(time.RFC3339Nano), ev.Timestamp.IsZero())
	put("event.dataset", ev.Format.Dataset(), ev.Format == stream.FormatUnknown)
	put("event.kind", ev.Kind, ev.Kind == "")
	put("event.category", ev.Category, len(ev.Category) == 0)
	put("event.type", ev.Type, len(ev.Type) == 0)
	put("event.action", ev.Action, ev.Action == "")
	put("event.outcome", ev.Outcome, ev.Outcome == "")
	put("event.provider", ev.Provider, ev.Provider == "")
	for _, ep := range []struct {
		name string
		e    *stream.Endpoint
	}{{"source", &ev.Source}, {"destination", &ev.Destination}} {
		put(ep.name+".ip", ep.e.IP.String(), !ep.e.IP.IsValid())
		put(ep.name+".port", ep.e.Port, ep.e.Port == 0)
		put(ep.name+".address", ep.e.Address, ep.e.Address == "")
		put(ep.name+".domain", ep.e.Domain, ep.e.Domain == "")
		put(ep.name+".bytes", ep.e.Bytes, ep.e.Bytes == 0)
		put(ep.name+".packets", ep.e.Packets, ep.e.Packets == 0)
	}
	put("user.name", ev.UserName, ev.UserName == "")
	put("user.id", ev.UserID, ev.UserID == "")
	put("user_agent.original", ev.UserAgent, ev.UserAgent == "")
	put("http.request.method", ev.HTTPMethod, ev.HTTPMethod == "")
	put("http.version", ev.HTTPVersion, ev.HTTPVersion == "")
	put("http.response.status_code", ev.HTTPStatusCode, ev.HTTPStatusCode == 0)
	put("url.original", ev.URLOriginal, ev.URLOriginal == "")
	put("url.domain", ev.URLDomain, ev.URLDomain == "")
	put("url.path", ev.URLPath, ev.URLPath == "")
	put("url.query", ev.URLQuery, ev.URLQuery == "")
	put("cloud.provider", ev.CloudProvider, ev.CloudProvider == "")
	put("cloud.account.id", ev.CloudAccountID, ev.CloudAccountID == "")
	put("cloud.region", ev.CloudRegion, ev.CloudRegion == "")
	put("network.transport", ev.NetworkTransport, ev.NetworkTransport == "")
	put("network.iana_number", ev.NetworkIANA, ev.NetworkIANA == 0)
	put("network.direction", ev.NetworkDirection, ev.NetworkDirection == "")
	put("network.bytes", ev.NetworkBytes, ev.NetworkBytes == 0)
	put("network.packets", ev.NetworkPackets, ev.NetworkPackets == 0)
	put("error.code", ev.ErrorCode, ev.ErrorCode == "")
	put("error.message", ev.ErrorMessage, ev.ErrorMessage == "")
	return m
}

// Reject checks that parse fails on in with a Permanent error whose reason
// has the given code and a detail, and leaves the event without Native.
func Reject(t *testing.T, parse func([]byte) (*stream.Event, error), in, code string) {
	t.Helper()
	ev, err := parse([]byte(in))
	if err == nil {
		t.Fatalf("no error for %.80q", in)
	}
	if c, _ := stream.ClassOf(err); c != stream.Permanent {
		t.Errorf("class %v, want permanent", c)
	}
	if r := stream.ReasonOf(err); r.Code != code || r.Detail == "" {
		t.Errorf("reason %q, want code %q with a detail", r, code)
	}
	if ev != nil && ev.Native != nil {
		t.Error("Native set on error")
	}
}

// Parsed is the fuzz check of one parse result: an error must be a
// Permanent *stream.Error whose code starts with prefix+"_" (then Parsed
// returns false); a success must set Native and the format's dataset.
func Parsed(t *testing.T, ev *stream.Event, err error, prefix string) bool {
	t.Helper()
	if err != nil {
		var e *stream.Error
		if !errors.As(err, &e) || e.Class != stream.Permanent || !strings.HasPrefix(e.Reason.Code, prefix+"_") {
			t.Fatalf("unclassified error %v", err)
		}
		return false
	}
	if ev.Native == nil || ev.Native.Format() != ev.Format {
		t.Fatalf("bad event %+v", ev)
	}
	return true
}

// Seeds returns fuzz seeds from the files matching glob: each line of them
// when lines is true, else each whole file.
func Seeds(glob string, lines bool) [][]byte {
	files, _ := filepath.Glob(glob)
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if !lines {
			out = append(out, data)
			continue
		}
		out = append(out, bytes.Split(data, []byte("\n"))...)
	}
	return out
}

// BenchParse runs the sub-benchmark name: p parses the lines of data in
// turn, one unit each, into a reset event. Beside ns/op, MB/s and
// allocations it reports lines/s (wall), cpu-ns/op and cpu-lines/s (CPU
// time of the whole process per line, garbage collection included) and
// MB/cpu-s (bytes per CPU-second of the benchmark's own thread, which
// leaves out background GC work).
func BenchParse(b *testing.B, name string, p stream.Parser, data []byte) {
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	b.Run(name, func(b *testing.B) {
		var ev stream.Event
		var u stream.Unit
		c0 := processCPU()
		CPULoop(b, len(data)/len(lines), func(i int) {
			ev.Reset()
			u.Data = lines[i%len(lines)]
			if err := p.Parse(&u, &ev); err != nil {
				b.Fatal(err)
			}
		})
		if d := processCPU() - c0; d > 0 && b.N > 0 {
			b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(b.N)/d.Seconds(), "cpu-lines/s")
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}

// processCPU returns the CPU time (user+system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Generate returns what generate writes for o.
func Generate(t testing.TB, generate func(io.Writer, gen.Options) error, o gen.Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := generate(&b, o); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Deterministic checks that generate writes o.Count lines, the same bytes
// for the same options and other bytes for another seed.
func Deterministic(t *testing.T, generate func(io.Writer, gen.Options) error, o gen.Options) {
	t.Helper()
	a, b := Generate(t, generate, o), Generate(t, generate, o)
	if !bytes.Equal(a, b) {
		t.Fatal("same options gave different bytes")
	}
	o2 := o
	o2.Seed++
	if bytes.Equal(a, Generate(t, generate, o2)) {
		t.Fatal("different seeds gave the same bytes")
	}
	if n := bytes.Count(a, []byte("\n")); n != o.Count {
		t.Fatalf("%d lines, want %d", n, o.Count)
	}
}

// EachLine checks that sniff accepts every line of data and p parses it,
// calls fn with the line number (from 1) and the event, and returns the
// number of lines.
func EachLine(t *testing.T, data []byte, sniff func([]byte) bool, p stream.Parser, fn func(line int, ev *stream.Event)) int {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		raw := append([]byte(nil), sc.Bytes()...)
		if !sniff(raw) {
			t.Fatalf("line %d: Sniff rejects it: %s", n, raw)
		}
		ev := &stream.Event{}
		if err := p.Parse(&stream.Unit{Data: raw}, ev); err != nil {
			t.Fatalf("line %d: %v\n%s", n, err, raw)
		}
		fn(n, ev)
	}
	return n
}

// FuzzParser runs the fuzz target of parser p: every input must parse, or
// fail as Parsed requires (prefix is the format's reason-code prefix); then
// check, when not nil, looks at each event parsed.
func FuzzParser(f *testing.F, p stream.Parser, prefix string, check func(t *testing.T, ev *stream.Event)) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ev := &stream.Event{}
		err := p.Parse(&stream.Unit{Data: data}, ev)
		if Parsed(t, ev, err, prefix) && check != nil {
			check(t, ev)
		}
	})
}

// With returns the space-separated line with field i replaced by v.
func With(line string, i int, v string) string {
	f := strings.Split(line, " ")
	f[i] = v
	return strings.Join(f, " ")
}
