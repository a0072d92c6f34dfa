package waf

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/gannet-sec/gannet/stream/format/jsonlog"
	"github.com/gannet-sec/gannet/stream/gen"
)

// Generate writes o.Count WAF log entries to w, one JSON object per line,
// deterministically (the same options give the same bytes). Clean traffic
// is shop browsing, search, cart and login requests from browsers, all
// allowed. With o.Attacks, blocked attacks are embedded: SQL injection in
// the query string from gen.AttackerIP (sqlmap and curl), XSS in the query
// string, path traversal in the URI and in an argument, and a Nikto scan
// from gen.ScannerIP. Every attack fits when o.Count ≥ 10.
func Generate(w io.Writer, o gen.Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	g := &generator{r: gen.Rand(o.Seed), now: o.StartTime(), attacks: o.Attacks, every: gen.AttackEvery(o.Count, len(attackGroups))}
	g.acl = "arn:aws:wafv2:" + gen.Region + ":" + gen.Account + ":regional/webacl/shop-acl/" + jsonlog.UUID(g.r)
	g.src = gen.Account + "-app/shop-alb/" + g.hex(16)
	for i := 0; i < o.Count; i++ {
		g.line(i, o.Count-i)
		if _, err := bw.Write(g.b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

type attack struct {
	ip, ua, method, uri, args string
	group, rule, label        string
	cond, location            string
	matched                   []string
}

const (
	uaSqlmap = "sqlmap/1.8.11#stable (https://sqlmap.org)"
	uaNikto  = "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:001234)"
	uaCurl   = "curl/8.5.0"
	uaFF     = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
)

var attackGroups = [][]attack{
	{ // SQL injection
		{gen.AttackerIP, uaSqlmap, "GET", "/products", "id=1%27%20UNION%20ALL%20SELECT%20NULL%2CNULL%2Cusername%2Cpassword%20FROM%20users--%20-",
			"AWS#AWSManagedRulesSQLiRuleSet", "SQLi_QUERYARGUMENTS", "awswaf:managed:aws:sql-database:SQLi_QueryArguments", "SQL_INJECTION", "QUERY_STRING", []string{"UNION", "SELECT"}},
		{gen.AttackerIP, uaCurl, "GET", "/products", "id=1' OR '1'='1",
			"AWS#AWSManagedRulesSQLiRuleSet", "SQLi_QUERYARGUMENTS", "awswaf:managed:aws:sql-database:SQLi_QueryArguments", "SQL_INJECTION", "QUERY_STRING", []string{"'", "OR", "'1'='1"}},
		{gen.AttackerIP, uaSqlmap, "GET", "/products", "id=1%20AND%20SLEEP%285%29",
			"AWS#AWSManagedRulesSQLiRuleSet", "SQLi_QUERYARGUMENTS", "awswaf:managed:aws:sql-database:SQLi_QueryArguments", "SQL_INJECTION", "QUERY_STRING", []string{"AND", "SLEEP"}},
	},
	{ // cross-site scripting
		{gen.AttackerIP, uaFF, "GET", "/search", "q=<script>alert(document.cookie)</script>",
			"AWS#AWSManagedRulesCommonRuleSet", "CrossSiteScripting_QUERYARGUMENTS", "awswaf:managed:aws:core-rule-set:CrossSiteScripting_QueryArguments", "XSS", "QUERY_STRING", []string{"<script", ">"}},
		{gen.AttackerIP, uaFF, "GET", "/search", "q=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
			"AWS#AWSManagedRulesCommonRuleSet", "CrossSiteScripting_QUERYARGUMENTS", "awswaf:managed:aws:core-rule-set:CrossSiteScripting_QueryArguments", "XSS", "QUERY_STRING", []string{"onerror="}},
	},
	{ // path traversal
		{gen.AttackerIP, uaCurl, "GET", "/static/../../../../etc/passwd", "",
			"AWS#AWSManagedRulesLinuxRuleSet", "LFI_URIPATH", "awswaf:managed:aws:linux-os:LFI_URIPath", "", "", nil},
		{gen.AttackerIP, uaCurl, "GET", "/download", "file=../../../../etc/passwd",
			"AWS#AWSManagedRulesLinuxRuleSet", "LFI_QUERYSTRING", "awswaf:managed:aws:linux-os:LFI_QueryString", "", "", nil},
	},
	{ // scanner
		{gen.ScannerIP, uaNikto, "GET", "/.env", "",
			"AWS#AWSManagedRulesCommonRuleSet", "UserAgent_BadBots_HEADER", "awswaf:managed:aws:core-rule-set:BadBots_Header", "", "", nil},
		{gen.ScannerIP, uaNikto, "GET", "/phpinfo.php", "",
			"AWS#AWSManagedRulesCommonRuleSet", "UserAgent_BadBots_HEADER", "awswaf:managed:aws:core-rule-set:BadBots_Header", "", "", nil},
		{gen.ScannerIP, uaNikto, "GET", "/admin/config.php", "",
			"AWS#AWSManagedRulesCommonRuleSet", "UserAgent_BadBots_HEADER", "awswaf:managed:aws:core-rule-set:BadBots_Header", "", "", nil},
	},
}

func attackLines() int {
	n := 0
	for _, g := range attackGroups {
		n += len(g)
	}
	return n
}

type generator struct {
	r        *rand.Rand
	now      time.Time
	b        []byte
	attacks  bool
	every    int
	group    int
	emitted  int
	queue    []attack
	acl, src string
}

var (
	browserUAs = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		uaFF,
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
	}
	ja4s      = []string{"t13d1516h2_8daaf6152771_02713d6af862", "t13d1517h2_8daaf6152771_b0da82dd1658", "t13d1715h2_5b57614c22b0_3d5424432f57"}
	ja3s      = []string{"773906b0efdefa24a7f2b8eb6985bf37", "cd08e31494f9531f560d64c695473da9", "b32309a26951912be7dba376398abc3b"}
	countries = map[byte]string{81: "GB", 93: "FR", 104: "US", 151: "IT", 172: "US", 185: "NL", 52: "IE", 34: "US", 62: "DE", 90: "ES"}
	words     = []string{"running shoes", "rain jacket", "backpack", "socks", "water bottle", "trail shoes"}
)

func (g *generator) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[g.r.IntN(16)]
	}
	return string(b)
}

func (g *generator) line(i, left int) {
	g.now = g.now.Add(time.Duration(5+g.r.IntN(200)) * time.Millisecond)
	if g.attacks && g.group < len(attackGroups) && i == g.group*g.every+g.every/2 {
		g.queue = append(g.queue, attackGroups[g.group]...)
		g.group++
	}
	force := g.attacks && attackLines()-g.emitted >= left
	for force && g.group < len(attackGroups) {
		g.queue = append(g.queue, attackGroups[g.group]...)
		g.group++
	}
	g.b = g.b[:0]
	if len(g.queue) > 0 {
		a := g.queue[0]
		g.queue = g.queue[1:]
		g.emitted++
		g.write(a.ip, "", a.ua, a.method, a.uri, a.args, 0, &a)
		return
	}
	r := g.r
	ip := gen.PublicIP(r)
	ua := gen.Pick(r, browserUAs)
	switch n := r.IntN(100); {
	case n < 30:
		g.write(ip.String(), country(ip), ua, "GET", "/products/"+strconv.Itoa(1000+r.IntN(9000)), "", 0, nil)
	case n < 45:
		g.write(ip.String(), country(ip), ua, "GET", "/products", "category="+gen.Pick(r, []string{"shoes", "jackets", "bags"})+"&page="+strconv.Itoa(1+r.IntN(5)), 0, nil)
	case n < 65:
		g.write(ip.String(), country(ip), ua, "GET", "/static/"+gen.Pick(r, []string{"js/app.", "css/main.", "img/logo."})+g.hex(8)+gen.Pick(r, []string{".js", ".css", ".png"}), "", 0, nil)
	case n < 75:
		q := []byte("q=")
		for _, c := range []byte(gen.Pick(r, words)) {
			if c == ' ' {
				c = '+'
			}
			q = append(q, c)
		}
		g.write(ip.String(), country(ip), ua, "GET", "/search", string(q), 0, nil)
	case n < 87:
		g.write(ip.String(), country(ip), ua, "POST", "/api/cart", "", int64(60+r.IntN(400)), nil)
	case n < 93:
		g.write(ip.String(), country(ip), ua, "POST", "/login", "", int64(40+r.IntN(40)), nil)
	default:
		g.write(ip.String(), country(ip), ua, "GET", "/", "", 0, nil)
	}
}

func country(ip netip.Addr) string {
	if c, ok := countries[ip.As4()[0]]; ok {
		return c
	}
	return "-"
}

// write writes one log entry; a non-nil attack makes it a blocked match.
func (g *generator) write(ip, cc, ua, method, uri, args string, body int64, a *attack) {
	if cc == "" {
		cc = "-"
		switch ip {
		case gen.AttackerIP:
			cc = "DE"
		case gen.ScannerIP:
			cc = "NL"
		}
	}
	b := append(g.b, '{')
	b = jsonlog.AppendIntField(b, "timestamp", g.now.UnixMilli())
	b = jsonlog.AppendIntField(b, "formatVersion", 1)
	b = jsonlog.AppendField(b, "webaclId", g.acl)
	action := "ALLOW"
	if a != nil {
		action = "BLOCK"
		b = jsonlog.AppendField(b, "terminatingRuleId", a.group[len("AWS#"):])
		b = jsonlog.AppendField(b, "terminatingRuleType", "MANAGED_RULE_GROUP")
	} else {
		b = jsonlog.AppendField(b, "terminatingRuleId", "Default_Action")
		b = jsonlog.AppendField(b, "terminatingRuleType", "REGULAR")
	}
	b = jsonlog.AppendField(b, "action", action)
	b = jsonlog.AppendRawField(b, "terminatingRuleMatchDetails", "[")
	if a != nil && a.cond != "" {
		b = append(b, `{"conditionType":"`+a.cond+`","location":"`+a.location+`","matchedData":[`...)
		for i, m := range a.matched {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonlog.AppendString(b, m)
		}
		b = append(b, "]}"...)
	}
	b = append(b, ']')
	b = jsonlog.AppendField(b, "httpSourceName", "ALB")
	b = jsonlog.AppendField(b, "httpSourceId", g.src)
	b = jsonlog.AppendRawField(b, "ruleGroupList", "[")
	for i, rg := range []string{"AWS#AWSManagedRulesCommonRuleSet", "AWS#AWSManagedRulesSQLiRuleSet", "AWS#AWSManagedRulesLinuxRuleSet"} {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"ruleGroupId":"`+rg+`","terminatingRule":`...)
		if a != nil && a.group == rg {
			b = append(b, `{"ruleId":"`+a.rule+`","action":"BLOCK","ruleMatchDetails":null}`...)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"nonTerminatingMatchingRules":[],"excludedRules":null,"customerConfig":null}`...)
	}
	b = append(b, `],"rateBasedRuleList":[],"nonTerminatingMatchingRules":[],"requestHeadersInserted":null,"responseCodeSent":null,"httpRequest":{`...)
	b = jsonlog.AppendField(b, "clientIp", ip)
	b = jsonlog.AppendField(b, "country", cc)
	b = append(b, `,"headers":[{"name":"Host","value":"shop.example.com"},{"name":"User-Agent","value":`...)
	b = jsonlog.AppendString(b, ua)
	b = append(b, `},{"name":"Accept","value":"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},{"name":"Accept-Encoding","value":"gzip, deflate, br"}`...)
	if body > 0 {
		b = append(b, `,{"name":"Content-Type","value":"application/json"},{"name":"Content-Length","value":"`...)
		b = strconv.AppendInt(b, body, 10)
		b = append(b, `"}`...)
	}
	b = append(b, ']')
	b = jsonlog.AppendField(b, "uri", uri)
	b = jsonlog.AppendField(b, "args", args)
	b = jsonlog.AppendField(b, "httpVersion", "HTTP/1.1")
	b = jsonlog.AppendField(b, "httpMethod", method)
	b = jsonlog.AppendField(b, "requestId", "1-"+strconv.FormatInt(g.now.Unix(), 16)+"-"+g.hex(24))
	b = jsonlog.AppendField(b, "scheme", "https")
	b = jsonlog.AppendField(b, "host", "shop.example.com")
	b = append(b, '}')
	if a != nil {
		b = append(b, `,"labels":[{"name":"`+a.label+`"}]`...)
	}
	k := g.r.IntN(len(ja3s))
	b = jsonlog.AppendField(b, "ja3Fingerprint", ja3s[k])
	b = jsonlog.AppendField(b, "ja4Fingerprint", ja4s[k])
	if body > 0 {
		b = jsonlog.AppendIntField(b, "requestBodySize", body)
		b = jsonlog.AppendIntField(b, "requestBodySizeInspectedByWAF", body)
	}
	g.b = append(b, "}\n"...)
}
