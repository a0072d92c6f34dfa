package jsonscan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// collect is a Visitor that renders what it is given.
type collect []string

func (c *collect) Visit(b []byte, s, e int) {
	switch KindAt(b, s) {
	case String:
		*c = append(*c, "s:"+string(AppendUnescaped(nil, b[s+1:e-1])))
	case Object:
		*c = append(*c, "{")
	case Array:
		*c = append(*c, "[")
	default:
		*c = append(*c, "v:"+string(b[s:e]))
	}
}

func TestWalk(t *testing.T) {
	doc := `{"a":{"b":"x","c":[1,{"d":"y"},[true,null]]},"e":"\u00e9\"","a2":[{"k":"1"},{"k":"2"},{"j":3}],"dup":1,"dup":2,"o":{},"l":[]}`
	cases := []struct {
		path string
		want []string
	}{
		{"a.b", []string{"s:x"}},
		{"a.c", []string{"v:1", "{", "s:y", "v:true", "v:null"}},
		{"a.c.d", []string{"s:y"}},
		{"e", []string{"s:é\""}},
		{"a2.k", []string{"s:1", "s:2"}},
		{"dup", []string{"v:2"}},
		{"o", []string{"{"}},
		{"l", []string{"["}},
		{"missing", nil},
		{"a.b.c", nil},
		{"a", []string{"{", "s:x", "v:1", "{", "s:y", "v:true", "v:null"}},
	}
	for _, tc := range cases {
		var got collect
		Walk([]byte(doc), 0, strings.Split(tc.path, "."), &got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestMalformedNeverPanics(t *testing.T) {
	for _, doc := range []string{"", "{", `{"a`, `{"a":`, `{"a":"x`, `{"a":[1,`, `{"a":tru`, `[`, `"\`, `{"a":"\u12`, `{"a" "b"}`, `{,}`, `{"a":1,,"b":2}`} {
		var got collect
		Walk([]byte(doc), 0, []string{"a"}, &got)
		Skip([]byte(doc), 0)
	}
}

func TestUnescape(t *testing.T) {
	cases := map[string]string{
		`plain`:          "plain",
		`a\"b`:           `a"b`,
		`\\\/\b\f\n\r\t`: "\\/\b\f\n\r\t",
		`\u00e9`:         "é",
		`\ud83d\ude00`:   "😀",
		`\ud83d`:         "\ufffd",
		`\ud83dx`:        "\ufffdx",
		`\x`:             "\ufffd",
		`\u12`:           "\ufffd12",
	}
	for in, want := range cases {
		if got := string(AppendUnescaped(nil, []byte(in))); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// reference walks a value decoded by encoding/json with Walk's semantics.
func reference(v any, path []string, out *[]string) {
	switch v := v.(type) {
	case []any:
		if len(v) == 0 && len(path) == 0 {
			*out = append(*out, "[")
		}
		for _, x := range v {
			reference(x, path, out)
		}
	case map[string]any:
		if len(path) == 0 {
			*out = append(*out, "{")
			for _, x := range v {
				reference(x, nil, out)
			}
			return
		}
		if x, ok := v[path[0]]; ok {
			reference(x, path[1:], out)
		}
	default:
		if len(path) != 0 {
			return
		}
		switch v := v.(type) {
		case string:
			*out = append(*out, "s:"+v)
		case nil:
			*out = append(*out, "v:null")
		case json.Number:
			*out = append(*out, "v:"+v.String())
		default:
			*out = append(*out, fmt.Sprintf("v:%v", v))
		}
	}
}

func depth(b []byte) int {
	d, max := 0, 0
	for _, c := range b {
		switch c {
		case '{', '[':
			d++
			if d > max {
				max = d
			}
		case '}', ']':
			d--
		}
	}
	return max
}

// FuzzWalk checks Walk against encoding/json on every valid document.
func FuzzWalk(f *testing.F) {
	f.Add([]byte(`{"a":{"b":"x","c":[1,{"d":"y"}]},"e":"\u00e9"}`), "a.c.d")
	f.Add([]byte(`{"userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root"},"x":[{"y":null}]}`), "userIdentity.arn")
	f.Add([]byte(`{"k\u0065y":"v","key":"w"}`), "key")
	f.Add([]byte(`[{"a":1},{"a":[2,3]}]`), "a")
	f.Fuzz(func(t *testing.T, doc []byte, p string) {
		var got collect
		path := strings.Split(p, ".")
		Walk(doc, 0, path, &got) // must not panic on any input
		if !json.Valid(doc) || !utf8.Valid(doc) || depth(doc) > 60 {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return
		}
		var want []string
		reference(v, path, &want)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("doc %s path %q:\n got  %q\n want %q", doc, p, got, want)
		}
	})
}
