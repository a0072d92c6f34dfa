package sigma

import (
	"maps"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"unicode"

	"github.com/gannet-sec/gannet/detect/jsonscan"
	"github.com/gannet-sec/gannet/stream"
)

// ruleYAML wraps a detection section into a CloudTrail rule.
func ruleYAML(detection string) string {
	return "title: t\nid: 00000000-0000-0000-0000-000000000001\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n" + detection
}

func compileOne(t *testing.T, yml string) (*Set, *Compiled) {
	t.Helper()
	rules, err := Parse([]byte(yml), "test")
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, yml)
	}
	s := NewSet()
	c, err := s.Add(rules[0])
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, yml)
	}
	return s, c
}

func TestMatchTable(t *testing.T) {
	ev := `{"eventName":"StopLogging","eventSource":"cloudtrail.amazonaws.com","userAgent":"aws-cli/2.0 Python",` +
		`"sourceIPAddress":"10.1.2.3","errorCode":null,"n":42,"f":2.5,"ok":true,"empty":"",` +
		`"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/alice","userName":"alice"},` +
		`"requestParameters":{"userName":"alice","layers":["arn:layer:1","arn:layer:2"],"items":[{"k":"a"},{"k":"b"}],"cmd":"cG93ZXJzaGVsbCAtZW5j","esc":"a\"b\\c\u00e9\ud83d\ude00","args":"net user /add"},` +
		`"tags":[]}`
	cases := []struct {
		name, det string
		want      bool
	}{
		{"eq case-insensitive", "  s:\n    eventName: stoplogging\n  condition: s", true},
		{"eq mismatch", "  s:\n    eventName: StartLogging\n  condition: s", false},
		{"list any", "  s:\n    eventName: [A, StopLogging]\n  condition: s", true},
		{"contains", "  s:\n    userAgent|contains: CLI/2\n  condition: s", true},
		{"startswith", "  s:\n    userAgent|startswith: AWS-cli\n  condition: s", true},
		{"endswith", "  s:\n    userAgent|endswith: python\n  condition: s", true},
		{"endswith miss", "  s:\n    userAgent|endswith: aws\n  condition: s", false},
		{"contains all", "  s:\n    userAgent|contains|all: [aws, python]\n  condition: s", true},
		{"contains all miss", "  s:\n    userAgent|contains|all: [aws, ruby]\n  condition: s", false},
		{"wildcard star", "  s:\n    userAgent: 'aws-*python'\n  condition: s", true},
		{"wildcard question", "  s:\n    eventName: 'Stop?ogging'\n  condition: s", true},
		{"escaped star literal", "  s:\n    eventName: 'Stop\\*'\n  condition: s", false},
		{"contains star = any value", "  s:\n    eventName|contains: '*'\n  condition: s", true},
		{"star on missing field", "  s:\n    nope|contains: '*'\n  condition: s", false},
		{"re case-sensitive", "  s:\n    eventName|re: '^stop'\n  condition: s", false},
		{"re i", "  s:\n    eventName|re|i: '^stop'\n  condition: s", true},
		{"re nested", "  s:\n    userIdentity.arn|re: ':user/al.ce$'\n  condition: s", true},
		{"cidr", "  s:\n    sourceIPAddress|cidr: 10.0.0.0/8\n  condition: s", true},
		{"cidr miss", "  s:\n    sourceIPAddress|cidr: 192.168.0.0/16\n  condition: s", false},
		{"gt", "  s:\n    n|gt: 41\n  condition: s", true},
		{"gte float", "  s:\n    f|gte: 2.5\n  condition: s", true},
		{"lt", "  s:\n    n|lt: 42\n  condition: s", false},
		{"lte", "  s:\n    n|lte: 42\n  condition: s", true},
		{"number as string", "  s:\n    n: 42\n  condition: s", true},
		{"bool as string", "  s:\n    ok: 'true'\n  condition: s", true},
		{"null matches json null", "  s:\n    errorCode: null\n  condition: s", true},
		{"null matches absent", "  s:\n    missing: null\n  condition: s", true},
		{"null not present value", "  s:\n    eventName: null\n  condition: s", false},
		{"empty string", "  s:\n    empty: ''\n  condition: s", true},
		{"exists true", "  s:\n    userAgent|exists: true\n  condition: s", true},
		{"exists false on null", "  s:\n    errorCode|exists: false\n  condition: s", true},
		{"exists false", "  s:\n    userAgent|exists: false\n  condition: s", false},
		{"array any element", "  s:\n    requestParameters.layers: arn:layer:2\n  condition: s", true},
		{"array of objects", "  s:\n    requestParameters.items.k: b\n  condition: s", true},
		{"object leaves", "  s:\n    requestParameters|contains: layer:1\n  condition: s", true},
		{"escapes decoded", "  s:\n    requestParameters.esc: \"a\\\"b\\\\c\u00e9\U0001F600\"\n  condition: s", true},
		{"base64", "  s:\n    requestParameters.cmd|base64|contains: powershell -enc\n  condition: s", true},
		{"base64offset", "  s:\n    requestParameters.cmd|base64offset|contains: 'shell -enc'\n  condition: s", true},
		{"windash", "  s:\n    requestParameters.args|windash|contains: ' -add'\n  condition: s", true},
		{"fieldref eq", "  s:\n    userIdentity.userName|fieldref: requestParameters.userName\n  condition: s", true},
		{"fieldref contains", "  s:\n    userIdentity.arn|fieldref|contains: requestParameters.userName\n  condition: s", true},
		{"fieldref miss", "  s:\n    eventName|fieldref: requestParameters.userName\n  condition: s", false},
		{"and", "  a:\n    eventName: StopLogging\n  b:\n    userIdentity.type: IAMUser\n  condition: a and b", true},
		{"and not", "  a:\n    eventName: StopLogging\n  b:\n    userIdentity.type: IAMUser\n  condition: a and not b", false},
		{"or parens", "  a:\n    eventName: X\n  b:\n    userIdentity.type: IAMUser\n  c:\n    eventName: Y\n  condition: (a or b) and not c", true},
		{"1 of pattern", "  sel_a:\n    eventName: X\n  sel_b:\n    eventName: StopLogging\n  condition: 1 of sel_*", true},
		{"all of pattern", "  sel_a:\n    eventName: X\n  sel_b:\n    eventName: StopLogging\n  condition: all of sel_*", false},
		{"all of them", "  a:\n    eventName: StopLogging\n  b:\n    userIdentity.type: IAMUser\n  condition: all of them", true},
		{"1 of them", "  a:\n    eventName: X\n  b:\n    eventName: Y\n  condition: 1 of them", false},
		{"list of maps", "  s:\n    - eventName: X\n    - userIdentity.type: iamuser\n  condition: s", true},
		{"keywords", "  kw:\n    - 'python'\n    - 'nothing'\n  condition: kw", true},
		{"keywords miss", "  kw:\n    - 'nothing'\n  condition: kw", false},
		{"cased", "  s:\n    eventName|cased: stoplogging\n  condition: s", false},
		{"two conditions", "  a:\n    eventName: X\n  b:\n    eventName: StopLogging\n  condition:\n    - a\n    - b", true},
		{"not not", "  a:\n    eventName: X\n  condition: not not a", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c := compileOne(t, ruleYAML(tc.det))
			m := s.NewMatcher()
			e := stream.Event{Format: stream.FormatCloudTrail, Raw: []byte(ev)}
			if got := m.Matches(c, &e); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
			got := len(m.Match(&e, nil)) == 1
			if got != tc.want {
				t.Errorf("indexed Match = %v, want %v (index %s=%v)", got, tc.want, c.IndexField, c.IndexValues)
			}
			// A non-CloudTrail event never meets a CloudTrail rule.
			e.Format = stream.FormatALB
			if len(m.Match(&e, nil)) != 0 {
				t.Error("CloudTrail rule matched an ALB event")
			}
		})
	}
}

func TestTypedFields(t *testing.T) {
	det := func(ls, body string) string {
		return "title: t\nlogsource:\n" + ls + "detection:\n" + body
	}
	ev := stream.Event{
		Format:      stream.FormatVPCFlow,
		Source:      stream.Endpoint{IP: netip.MustParseAddr("185.220.101.34"), Port: 4444, Geo: stream.Geo{CountryISOCode: "RU"}},
		Destination: stream.Endpoint{IP: netip.MustParseAddr("10.0.1.2"), Port: 22},
		Threat:      []stream.ThreatEnrichment{{Indicator: "185.220.101.34", Type: "ipv4-addr", MatchedField: "source.ip"}},
		Raw:         []byte("2 123456789012 eni-1 185.220.101.34 10.0.1.2 4444 22 6 1 40 1 2 ACCEPT OK"),
	}
	fw := "  category: firewall\n"
	cases := []struct {
		name, yml string
		want      bool
	}{
		{"ip eq", det(fw, "  s:\n    source.ip: 185.220.101.34\n  condition: s"), true},
		{"ip cidr", det(fw, "  s:\n    destination.ip|cidr: 10.0.0.0/16\n  condition: s"), true},
		{"port list", det(fw, "  s:\n    destination.port: [22, 3389]\n  condition: s"), true},
		{"port gt", det(fw, "  s:\n    source.port|gt: 5000\n  condition: s"), false},
		{"geo not in list", det(fw, "  s:\n    source.geo.country_iso_code|exists: true\n  allow:\n    source.geo.country_iso_code: [FR, DE]\n  condition: s and not allow"), true},
		{"threat type", det(fw, "  s:\n    threat.enrichments.indicator.type: ipv4-addr\n  condition: s"), true},
		{"threat absent is null", det(fw, "  s:\n    threat.enrichments.feed.name: null\n  condition: s"), true},
		{"keyword on text line", det(fw, "  kw:\n    - 'ACCEPT'\n  condition: kw"), true},
		{"raw path on text is absent", det(fw, "  s:\n    foo.bar: null\n  condition: s"), true},
		{"dataset", det(fw, "  s:\n    event.dataset: aws.vpcflow\n  condition: s"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, c := compileOne(t, tc.yml)
			m := s.NewMatcher()
			if got := m.Matches(c, &ev); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if got := len(m.Match(&ev, nil)) == 1; got != tc.want {
				t.Errorf("indexed got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct{ name, det, want string }{
		{"unknown modifier", "  s:\n    a|bogus: x\n  condition: s", "unknown modifier"},
		{"undefined search", "  s:\n    a: x\n  condition: t", "undefined search"},
		{"aggregation", "  s:\n    a: x\n  condition: s | count() > 5", "aggregation"},
		{"bad regexp", "  s:\n    a|re: '(?<=x)'\n  condition: s", "re"},
		{"bad cidr", "  s:\n    a|cidr: 10.0.0/8\n  condition: s", "cidr"},
		{"expand undefined", "  s:\n    a|expand: '%x%'\n  condition: s", "not defined"},
		{"pattern matches nothing", "  s:\n    a: x\n  condition: 1 of nope*", "matches no search"},
		{"bad condition", "  s:\n    a: x\n  condition: s and", "ends early"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := Parse([]byte(ruleYAML(tc.det)), "x")
			if err == nil {
				_, err = NewSet().Add(rules[0])
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := NewSet().Add(&Rule{Title: "x", Logsource: Logsource{Product: "windows"}, Detection: &Detection{Conditions: []string{"s"}}}); err == nil {
		t.Error("windows logsource compiled")
	}
}

func TestBase64Offsets(t *testing.T) {
	// Values from the Sigma specification's example for base64offset.
	got := base64Offsets("/bin/bash")
	want := []string{"L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("offset %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestFoldKeyAgreesWithEqualFold(t *testing.T) {
	pairs := [][2]string{{"StopLogging", "stoplogging"}, {"\u212a", "k"}, {"\u017ftop", "STOP"}, {"Straße", "STRASSE"}}
	for _, p := range pairs {
		eq := strings.EqualFold(p[0], p[1])
		if (foldString(p[0]) == foldString(p[1])) != eq {
			t.Errorf("%q vs %q: fold keys disagree with EqualFold=%v", p[0], p[1], eq)
		}
	}
}

func TestRequiredLiteral(t *testing.T) {
	cases := map[string]string{
		".+:assumed-role/aws:.+": ":assumed-role/aws:",
		"^abc$":                  "abc",
		"(?i)abc":                "",
		"a|b":                    "",
		"x(abc)+y":               "x",
		"(fo)bar":                "bar",
	}
	for expr, want := range cases {
		if got := requiredLiteral(expr); got != want {
			t.Errorf("%q: got %q, want %q", expr, got, want)
		}
	}
}

func TestExpand(t *testing.T) {
	rules, err := Parse([]byte(ruleYAML("  s:\n    awsRegion|expand: '%regions%'\n  condition: s")), "x")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSet()
	s.Placeholders = map[string][]string{"regions": {"eu-west-1", "us-east-1"}}
	c, err := s.Add(rules[0])
	if err != nil {
		t.Fatal(err)
	}
	m := s.NewMatcher()
	for raw, want := range map[string]bool{`{"awsRegion":"US-EAST-1"}`: true, `{"awsRegion":"ap-south-1"}`: false} {
		ev := stream.Event{Format: stream.FormatCloudTrail, Raw: []byte(raw)}
		if got := m.Matches(c, &ev); got != want {
			t.Errorf("%s: got %v, want %v", raw, got, want)
		}
	}
}

// TestFoldTableAgreesWithEqualFold looks up probes of every length up to
// 3× the longest key, ASCII and not, in a table of folded keys, and checks
// the answer against strings.EqualFold on every key.
func TestFoldTableAgreesWithEqualFold(t *testing.T) {
	keys := []string{"a", "ab", "abc", "Root", "Role", "AssumedRole", "StopLogging", "GetCallerIdentity",
		"ssm.amazonaws.com", "kms", "s", "Straße", "\u212aey", strings.Repeat("x", 63), strings.Repeat("AbCd", 17),
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) TruffleHog"}
	m := map[string][]*Compiled{}
	rules := map[string]*Compiled{}
	for i, k := range keys {
		c := &Compiled{index: i}
		rules[k] = c
		m[foldString(k)] = append(m[foldString(k)], c)
	}
	tab := newFoldTable(m)
	rng := rand.New(rand.NewPCG(1, 2))
	flip := func(s string) string {
		b := []rune(s)
		for i, r := range b {
			switch {
			case rng.IntN(3) == 0 && unicode.IsLetter(r):
				b[i] = unicode.SimpleFold(r)
			case rng.IntN(40) == 0:
				b[i] = []rune{'\u212a', '\u017f', 'K', 's', 'é', 'ß'}[rng.IntN(6)]
			}
		}
		return string(b)
	}
	var probes []string
	for _, k := range keys {
		for range 20 {
			probes = append(probes, flip(k))
		}
		probes = append(probes, k+"x", k[1:], strings.ToUpper(k))
	}
	for n := 0; n <= 3*len(keys[len(keys)-1])+1; n++ {
		probes = append(probes, strings.Repeat("k", n), strings.Repeat("\u212a", n/3))
	}
	for _, p := range probes {
		want := map[*Compiled]bool{}
		for _, k := range keys {
			if strings.EqualFold(p, k) {
				want[rules[k]] = true
			}
		}
		got := map[*Compiled]bool{}
		for _, c := range tab.get(p) {
			got[c] = true
		}
		if !maps.Equal(got, want) {
			t.Errorf("get(%q) = %d rules, want %d", p, len(got), len(want))
		}
	}
}

// TestFinderAgreesWithContains checks the skip-table search against
// strings.Contains on random texts over a small alphabet (many near
// misses) and texts longer than finderMaxText.
func TestFinderAgreesWithContains(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	text := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = ":aws/role-"[rng.IntN(10)]
		}
		return string(b)
	}
	pats := []string{":assumed-role/aws:", "aws:", "role", "a", "ab", "abc", "-role/aws", strings.Repeat("a", 300)}
	for range 40 {
		pats = append(pats, text(1+rng.IntN(12)))
	}
	for _, p := range pats {
		f := newFinder(p)
		for range 200 {
			s := text(rng.IntN(2 * finderMaxText))
			if rng.IntN(4) == 0 {
				k := rng.IntN(len(s) + 1)
				s = s[:k] + p + s[k:]
			}
			if got, want := f.in(s), strings.Contains(s, p); got != want {
				t.Fatalf("finder(%q).in(%q) = %v, want %v", p, s, got, want)
			}
		}
	}
}

// TestEqFoldAgreesWithEqualFold checks the ASCII fast path of eqFold.
func TestEqFoldAgreesWithEqualFold(t *testing.T) {
	pats := []string{"", "k", "s", "Role", "AssumedRole", "ssm.amazonaws.com", "RegisterManagedInstance", "Straße", "\u212a"}
	vals := []string{"", "K", "\u212a", "\u017f", "S", "role", "ROLE", "r\u00f6le", "assumedrole", "ASSUMEDROLE", "AssumedRol",
		"SSM.amazonaws.COM", "ssm.amazonaws.co\u212a", "registermanagedinstance", "REGISTERMANAGEDINSTANC\u0130", "STRASSE", "straße", "k\u212a"}
	for _, p := range pats {
		pat := newEqFold(p)
		for _, s := range vals {
			v := val{s: s, kind: jsonscan.String}
			if got, want := pat.match(nil, &v), strings.EqualFold(s, p); got != want {
				t.Errorf("eqFold(%q) on %q = %v, want %v", p, s, got, want)
			}
		}
	}
}
