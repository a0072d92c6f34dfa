package partition

import (
	"testing"
)

// FuzzParseOutputs: GANNET_OUTPUT_STREAMS comes from the environment. A
// spec is refused with an error or gives a configuration New accepts, whose
// streams are all non-empty names.
func FuzzParseOutputs(f *testing.F) {
	for _, s := range [][2]string{
		{"format", "cloudtrail=ct, alb=web,*=rest"}, {"format", "nosuch=x"}, {"format", "ct"}, {"key", "a=b"},
		{"key", ""}, {"rr", "a"}, {"size", "a,b,c"}, {"format", "*="}, {"format", "=x"}, {"key", " , ,a"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, mode, spec string) {
		c, err := ParseOutputs(Mode(mode), spec)
		if err != nil {
			return
		}
		for k, v := range c.Routes {
			if v == "" {
				t.Fatalf("route %q to an empty stream from %q", k, spec)
			}
		}
		for _, o := range c.Outputs {
			if o == "" {
				t.Fatalf("empty output stream from %q", spec)
			}
		}
		if _, err := New(&fakeKinesis{landed: map[string][]string{}}, c); err != nil {
			t.Fatalf("ParseOutputs(%q, %q) gave %+v, which New refuses: %v", mode, spec, c, err)
		}
	})
}

// FuzzRouteUserRecords: any input record (KPL-aggregated or not) is routed
// whole or de-aggregated, never dropped: the user records routed are at
// least the input records.
func FuzzRouteUserRecords(f *testing.F) {
	f.Add([]byte(`{"eventVersion":"1.08","eventSource":"s3.amazonaws.com"}`), "pk")
	f.Add([]byte("\xf3\x89\x9a\xc2\x0a\x01a\x1a\x05\x08\x00\x1a\x01x"), "pk")
	f.Add([]byte("\x1f\x8b\x08\x00garbage"), "")
	f.Fuzz(func(t *testing.T, data []byte, pk string) {
		r, err := New(&fakeKinesis{landed: map[string][]string{}}, Config{Mode: ByFormat, Routes: map[string]string{"cloudtrail": "a", "*": "b"}})
		if err != nil {
			t.Fatal(err)
		}
		res := r.Route(t.Context(), []Record{{Data: data, PartitionKey: pk}})
		if res.FirstFailed != -1 && res.Err == nil {
			t.Fatalf("failed without an error: %+v", res)
		}
		if res.FirstFailed == -1 && res.UserRecords < 1 {
			t.Fatalf("no user record routed from %q", data)
		}
	})
}
