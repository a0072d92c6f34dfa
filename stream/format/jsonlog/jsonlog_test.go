package jsonlog_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/formattest"
	"github.com/gannet-sec/gannet/stream/format/jsonlog"
	"github.com/gannet-sec/gannet/stream/gen"
)

var ingested = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

func parseBytes(data []byte) (*stream.Event, error) {
	ev := &stream.Event{Ingested: ingested}
	err := jsonlog.NewParser().Parse(&stream.Unit{Data: data}, ev)
	return ev, err
}

func TestGolden(t *testing.T) { formattest.GoldenObjects(t, jsonlog.Sniff, parseBytes) }

func TestMalformed(t *testing.T) {
	for _, tc := range []struct{ name, in, code string }{
		{"empty", ``, "json_invalid_json"},
		{"garbage", `hello`, "json_invalid_json"},
		{"array", `[1]`, "json_not_object"},
		{"null", `null`, "json_not_object"},
		{"truncated", `{"a":`, "json_invalid_json"},
		{"unterminated string", `{"a":"b`, "json_invalid_json"},
		{"two objects", `{"a":1}{"b":2}`, "json_invalid_json"},
		{"too deep", strings.Repeat(`{"a":`, 65) + `1` + strings.Repeat(`}`, 65), "json_too_deep"},
		{"very deep", strings.Repeat(`[`, 1<<20), "json_not_object"},
		{"very deep object", `{"a":` + strings.Repeat(`[`, 1<<20), "json_too_deep"},
	} {
		t.Run(tc.name, func(t *testing.T) { formattest.Reject(t, parseBytes, tc.in, tc.code) })
	}
}

func TestDecoderStrings(t *testing.T) {
	var d jsonlog.Decoder
	d.Reset(`{"a":"x\n\"y\" \u00e9 \ud83d\ude00 \ud800","b":[true,"false",null,12,"13",1.5e3],"c":{}}`)
	if !d.Object() {
		t.Fatal("no object")
	}
	var got []string
	for {
		k, ok := d.Key()
		if !ok {
			break
		}
		switch k {
		case "a":
			got = append(got, d.String())
		case "b":
			d.Array()
			d.Elem()
			got = append(got, boolText(d.Bool()))
			d.Elem()
			got = append(got, boolText(d.Bool()))
			d.Elem()
			got = append(got, d.String())
			d.Elem()
			got = append(got, d.String())
			d.Elem()
			if d.Int() != 13 {
				t.Error("Int of a numeric string")
			}
			d.Elem()
			if d.Float() != 1500 {
				t.Error("Float")
			}
			if d.Elem() {
				t.Error("extra element")
			}
		case "c":
			got = append(got, d.Raw())
		}
	}
	if err := d.End(); err != nil {
		t.Fatal(err)
	}
	want := []string{"x\n\"y\" é 😀 \uFFFD", "true", "false", "", "12", "{}"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]string{
		"2024-07-31T13:06:24Z":           "2024-07-31T13:06:24Z",
		"2024-07-31T13:06:24.123Z":       "2024-07-31T13:06:24.123Z",
		"2024-07-31T13:06:24.123456789Z": "2024-07-31T13:06:24.123456789Z",
		"2024-07-31T15:06:24+02:00":      "2024-07-31T13:06:24Z",
		"2024-07-31 13:06:24Z":           "2024-07-31T13:06:24Z",
	} {
		got, ok := jsonlog.ParseTime(in)
		if !ok || got.Format(time.RFC3339Nano) != want || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v %v, want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "2024-02-30T00:00:00Z", "2024-07-31T25:00:00Z", "2024-07-31T13:06:24.Z", "yesterday"} {
		if _, ok := jsonlog.ParseTime(in); ok {
			t.Errorf("ParseTime(%q) accepted", in)
		}
	}
}

func TestValues(t *testing.T) {
	raw := `{"ipPermissions":{"items":[{"fromPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"},{"cidrIp":"10.0.0.0/8"}]}},{"fromPort":443,"ipRanges":{}}]},"x":null,"o":{"k":"v"}}`
	for path, want := range map[string][]string{
		"ipPermissions.items.fromPort":              {"22", "443"},
		"ipPermissions.items.ipRanges.items.cidrIp": {"0.0.0.0/0", "10.0.0.0/8"},
		"x":       nil,
		"o":       {`{"k":"v"}`},
		"missing": nil,
	} {
		if got := slices.Collect(jsonlog.Values(raw, path)); !slices.Equal(got, want) {
			t.Errorf("Values(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestGenerate(t *testing.T) {
	var a, b bytes.Buffer
	o := gen.Options{Count: 300, Seed: 5, Attacks: true}
	if err := jsonlog.Generate(&a, o); err != nil {
		t.Fatal(err)
	}
	_ = jsonlog.Generate(&b, o)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("not deterministic")
	}
	sc := bufio.NewScanner(&a)
	n, attacker := 0, 0
	for sc.Scan() {
		ev, err := parseBytes(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if ev.Timestamp.Equal(ingested) {
			t.Fatal("time not read")
		}
		if ev.Source.IP.String() == gen.AttackerIP {
			attacker++
		}
		n++
	}
	if n != 300 || attacker == 0 {
		t.Fatalf("%d lines, %d attacker lines", n, attacker)
	}
}

// FuzzDecoder checks the decoder against encoding/json: it accepts exactly
// the valid JSON documents (within MaxDepth) and never panics.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,2.5e-3,-0,true,false,null,"\u00e9\n"]}`, `{"a":}`, `[1,]`, `"\ud800"`, `01`, `1.`, `-`, "\"\x01\"", `{"a" 1}`, ` {"a":{"b":[{}]}} `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, replaced := jsonlog.Text(data)
		var d jsonlog.Decoder
		d.Reset(s)
		d.Skip()
		err := d.End()
		var se *jsonlog.SyntaxError
		if err != nil && !errorsAs(err, &se) {
			t.Fatalf("error of type %T", err)
		}
		if replaced {
			return
		}
		valid := json.Valid(data)
		if se != nil && se.Kind == jsonlog.ErrDepth {
			return
		}
		if valid != (err == nil) {
			t.Fatalf("encoding/json valid=%v, decoder err=%v for %q", valid, err, data)
		}
	})
}

func errorsAs(err error, se **jsonlog.SyntaxError) bool {
	e, ok := err.(*jsonlog.SyntaxError)
	*se = e
	return ok
}

func FuzzParse(f *testing.F) {
	for _, data := range formattest.Seeds("testdata/*.json", false) {
		f.Add(data)
	}
	formattest.FuzzParser(f, jsonlog.NewParser(), "json", nil)
}

func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	_ = jsonlog.Generate(&buf, gen.Options{Count: 2000, Seed: 1})
	formattest.BenchParse(b, "format=json", jsonlog.NewParser(), buf.Bytes())
}
