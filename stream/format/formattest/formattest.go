// Package formattest is test support for the format packages, in the manner
// of net/http/httptest: it renders parsed events as stable, indented JSON
// compared with testdata/*.golden files (which `go test -update` rewrites),
// checks rejections and fuzz results against the parser contract, and
// measures benchmark throughput per CPU-second. It is not used on the hot
// path.
package formattest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden files")

type endpoint struct {
	IP      string `json:"ip,omitempty"`
	Port    int32  `json:"port,omitempty"`
	Address string `json:"address,omitempty"`
	Domain  string `json:"domain,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"`
	Packets int64  `json:"packets,omitempty"`
	Country string `json:"geo.country_iso_code,omitempty"`
}

type common struct {
	Timestamp        string    `json:"@timestamp"`
	Dataset          string    `json:"event.dataset"`
	Kind             string    `json:"event.kind,omitempty"`
	Category         []string  `json:"event.category,omitempty"`
	Type             []string  `json:"event.type,omitempty"`
	Action           string    `json:"event.action,omitempty"`
	Outcome          string    `json:"event.outcome,omitempty"`
	Provider         string    `json:"event.provider,omitempty"`
	Severity         int32     `json:"event.severity,omitempty"`
	Message          string    `json:"message,omitempty"`
	Source           *endpoint `json:"source,omitempty"`
	Destination      *endpoint `json:"destination,omitempty"`
	UserName         string    `json:"user.name,omitempty"`
	UserID           string    `json:"user.id,omitempty"`
	UserAgent        string    `json:"user_agent.original,omitempty"`
	HTTPMethod       string    `json:"http.request.method,omitempty"`
	HTTPVersion      string    `json:"http.version,omitempty"`
	HTTPStatusCode   int32     `json:"http.response.status_code,omitempty"`
	URLOriginal      string    `json:"url.original,omitempty"`
	URLDomain        string    `json:"url.domain,omitempty"`
	URLPath          string    `json:"url.path,omitempty"`
	URLQuery         string    `json:"url.query,omitempty"`
	CloudProvider    string    `json:"cloud.provider,omitempty"`
	CloudAccountID   string    `json:"cloud.account.id,omitempty"`
	CloudRegion      string    `json:"cloud.region,omitempty"`
	NetworkTransport string    `json:"network.transport,omitempty"`
	NetworkIANA      int32     `json:"network.iana_number,omitempty"`
	NetworkDirection string    `json:"network.direction,omitempty"`
	NetworkBytes     int64     `json:"network.bytes,omitempty"`
	NetworkPackets   int64     `json:"network.packets,omitempty"`
	DNSQuestionName  string    `json:"dns.question.name,omitempty"`
	DNSQuestionType  string    `json:"dns.question.type,omitempty"`
	DNSResponseCode  string    `json:"dns.response_code,omitempty"`
	ErrorCode        string    `json:"error.code,omitempty"`
	ErrorMessage     string    `json:"error.message,omitempty"`
	Native           any       `json:"native,omitempty"`
}

func ep(e stream.Endpoint) *endpoint {
	out := endpoint{Port: e.Port, Address: e.Address, Domain: e.Domain, Bytes: e.Bytes, Packets: e.Packets, Country: e.Geo.CountryISOCode}
	if e.IP.IsValid() {
		out.IP = e.IP.String()
	}
	if out == (endpoint{}) {
		return nil
	}
	return &out
}

// Render returns the stable JSON rendering of ev: its ECS common fields
// (empty ones omitted) and its Native record as encoding/json renders it.
func Render(ev *stream.Event) ([]byte, error) {
	c := common{
		Timestamp: ev.Timestamp.Format(time.RFC3339Nano), Dataset: ev.Format.Dataset(),
		Kind: ev.Kind, Category: ev.Category, Type: ev.Type, Action: ev.Action, Outcome: ev.Outcome,
		Provider: ev.Provider, Severity: ev.Severity, Message: ev.Message,
		Source: ep(ev.Source), Destination: ep(ev.Destination),
		UserName: ev.UserName, UserID: ev.UserID, UserAgent: ev.UserAgent,
		HTTPMethod: ev.HTTPMethod, HTTPVersion: ev.HTTPVersion, HTTPStatusCode: ev.HTTPStatusCode,
		URLOriginal: ev.URLOriginal, URLDomain: ev.URLDomain, URLPath: ev.URLPath, URLQuery: ev.URLQuery,
		CloudProvider: ev.CloudProvider, CloudAccountID: ev.CloudAccountID, CloudRegion: ev.CloudRegion,
		NetworkTransport: ev.NetworkTransport, NetworkIANA: ev.NetworkIANA, NetworkDirection: ev.NetworkDirection,
		NetworkBytes: ev.NetworkBytes, NetworkPackets: ev.NetworkPackets,
		DNSQuestionName: ev.DNSQuestionName, DNSQuestionType: ev.DNSQuestionType, DNSResponseCode: ev.DNSResponseCode,
		ErrorCode: ev.ErrorCode, ErrorMessage: ev.ErrorMessage,
	}
	if ev.Native != nil {
		c.Native = ev.Native
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Check compares got with the golden file at path, or rewrites the file
// when the test runs with -update.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the parse result (go test -update rewrites it); got:\n%s", path, got)
	}
}

// threadCPU returns the CPU time used by the calling OS thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// CPULoop runs fn(i) for i = 0, 1, … while b.Loop() is true, on one locked
// OS thread, with b.SetBytes(bytesPerOp) and b.ReportAllocs(). Beside the
// wall-clock MB/s it reports "MB/cpu-s": bytes per CPU-second of that
// thread, which a loaded, shared machine distorts less.
func CPULoop(b *testing.B, bytesPerOp int, fn func(i int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.SetBytes(int64(bytesPerOp))
	b.ReportAllocs()
	start := threadCPU()
	i := 0
	for b.Loop() {
		fn(i)
		i++
	}
	if cpu := threadCPU() - start; cpu > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(i)/cpu.Seconds()/1e6, "MB/cpu-s")
	}
}
