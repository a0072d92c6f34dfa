package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSkipValue(t *testing.T) {
	tests := []struct {
		in  string
		end int // -1: error
	}{
		{`{}`, 2}, {`[]`, 2}, {`"a\"b"`, 6}, {`"a\\"`, 5}, {`123 `, 3}, {`-1.5e+3,`, 7}, {`true]`, 4}, {`null`, 4},
		{` {"a" : [1, {"b":null}], "c":"}"} x`, 33},
		{`{"a":1,}`, -1}, {`[1,]`, -1}, {`{"a" 1}`, -1}, {`{a:1}`, -1}, {`[1 2]`, -1}, {`"abc`, -1}, {`tru`, -1},
		{`[`, -1}, {`{"a":`, -1}, {``, -1}, {`]`, -1}, {`[2026-11-01 12:00] x`, -1},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), -1},
		{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), 2 * MaxDepth},
	}
	for _, tt := range tests {
		end, err := SkipValue([]byte(tt.in), 0)
		if tt.end < 0 {
			if err == nil {
				t.Errorf("SkipValue(%.40q) = %d, want error", tt.in, end)
			}
			continue
		}
		if err != nil || end != tt.end {
			t.Errorf("SkipValue(%.40q) = %d, %v; want %d", tt.in, end, err, tt.end)
		}
	}
}

func TestIterators(t *testing.T) {
	b := []byte(` { "k1" : [1, "two", {"x": [3]}], "k\"2": {}, "k3": "v" } `)
	it := NewObjectIter(b, 0)
	var keys []string
	for it.Next() {
		k, esc := it.Key()
		if it.KeyIs("k1") {
			ai := NewArrayIter(b, it.ValueStart())
			n := 0
			for ai.Next() {
				n++
			}
			if ai.Err() != nil || n != 3 {
				t.Fatalf("array: %d %v", n, ai.Err())
			}
			it.Consumed(ai.End())
		}
		if esc != strings.Contains(string(k), `\`) {
			t.Errorf("escaped flag for %q", k)
		}
		keys = append(keys, string(k))
	}
	if it.Err() != nil || strings.Join(keys, ",") != `k1,k\"2,k3` || !IsSpace(b[it.End():]) {
		t.Fatalf("keys %v err %v end %d", keys, it.Err(), it.End())
	}
}

func TestUnescape(t *testing.T) {
	for _, s := range []string{`plain`, `a\"b\\c\/d\b\f\n\r\t`, `\u00e9\u2713`, `\ud83d\ude00`, `\ud83d x`, `\ude00`, `\u0000`} {
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil {
			t.Fatal(err)
		}
		got, err := Unescape(nil, []byte(s))
		if err != nil || string(got) != want {
			t.Errorf("Unescape(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
	for _, s := range []string{`\x`, `\u12`, `\u12g4`, `\`} {
		if _, err := Unescape(nil, []byte(s)); err == nil {
			t.Errorf("Unescape(%q) accepted", s)
		}
	}
}

// FuzzScan: everything encoding/json accepts, the scanner accepts with the
// same extent, and strings unescape the same; nothing panics.
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c\"d"}]}`, `[1, -2.5e3, true, null]`, `"\ud83d\ude00"`, `{"a":`, `[2026] x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := SkipValue(b, 0)
		if err == nil && (end < 0 || end > len(b)) {
			t.Fatalf("end %d of %d", end, len(b))
		}
		if json.Valid(b) {
			if err != nil {
				t.Fatalf("valid JSON rejected: %v", err)
			}
			if !IsSpace(b[end:]) {
				t.Fatalf("valid JSON ends at %d of %d", end, len(b))
			}
			if i := SkipSpace(b, 0); b[i] == '"' {
				raw, _, _, err := String(b, i)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Unescape(nil, raw)
				var want string
				json.Unmarshal(b, &want)
				if err != nil || (utf8.Valid(raw) && string(got) != want) {
					t.Fatalf("Unescape = %q, %v; want %q", got, err, want)
				}
			}
		}
		a := NewArrayIter(b, 0)
		for a.Next() {
			a.Value()
		}
		o := NewObjectIter(b, 0)
		for o.Next() {
			o.Value()
		}
	})
}

func BenchmarkSkipValue(b *testing.B) {
	doc := []byte(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012"},"eventTime":"2026-11-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.13.0 Python/3.11.4","requestParameters":{"instancesSet":{},"filterSet":{}},"responseElements":null,"readOnly":true,"n":[1,2,3.5]}`)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SkipValue(doc, 0); err != nil {
			b.Fatal(err)
		}
	}
}
