package alb

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream/gen"
)

// Attack request shapes embedded by Generate when Options.Attacks is set.
// Detection rules and their tests may rely on these exact strings.
var (
	// SQLi holds SQL-injection request targets (path and query).
	SQLi = []string{
		"/products?id=1%27%20OR%201=1--",
		"/login?user=admin' OR 1=1--&pass=x",
		"/search?q=shoes%27%20UNION%20SELECT%20username,password%20FROM%20users--",
		"/item?id=-1+UNION+SELECT+NULL,NULL,version()--",
	}
	// XSS holds cross-site-scripting request targets.
	XSS = []string{
		"/search?q=<script>alert(document.cookie)</script>",
		"/comment?text=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
	}
	// Traversal holds path-traversal request targets.
	Traversal = []string{
		"/static/../../../../etc/passwd",
		"/download?file=../../../etc/passwd",
		"/download?file=..%2F..%2F..%2Fetc%2Fpasswd",
	}
	// ScannerAgents holds the user agents of the scanners Generate embeds.
	ScannerAgents = []string{
		"sqlmap/1.8.2#stable (https://sqlmap.org)",
		"Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000562)",
		"masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
	}
)

const (
	genELB    = "app/web-prod/50dc6c495c0c9188"
	genTG     = "arn:aws:elasticloadbalancing:" + gen.Region + ":" + gen.Account + ":targetgroup/web-prod-tg/73e2d6bc24d8a067"
	genCert   = "arn:aws:acm:" + gen.Region + ":" + gen.Account + ":certificate/3b0f6c2e-8d4a-4b7e-9f1c-2a5d6e7f8a9b"
	genDomain = "www.example.com"
)

var (
	cleanAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"ExampleShop/4.2.0 (iOS 18.0; iPhone15,2)",
	}
	cleanPages  = []string{"/", "/index.html", "/products", "/products/1042", "/products/2231", "/cart", "/checkout", "/about", "/contact", "/blog/2026/10/autumn-sale"}
	cleanStatic = []string{"/static/js/app.3f2a9c.js", "/static/css/main.8b1d.css", "/images/logo.png", "/images/hero-1280.webp", "/favicon.ico"}
	cleanAPI    = []string{"/api/v1/products?page=2&limit=20", "/api/v1/cart", "/api/v1/users/me", "/api/v1/search?q=running+shoes", "/api/v1/search?q=rain+jacket&lang=en", "/api/v1/orders?status=open"}
	cleanPosts  = []string{"/api/v1/cart/items", "/api/v1/orders", "/login", "/api/v1/events"}
	targets     = [...]string{"10.0.1.15", "10.0.1.16", "10.0.2.21", "10.0.2.22"}
)

// entry is one generated line before rendering.
type entry struct {
	typ                string
	t                  time.Time
	client             netip.Addr
	clientPort         int
	target             string // ip:port or "-"
	rpt, tpt, rspt     float64
	status, tstatus    int // 0 renders "-"
	recv, sent         int
	method, url, proto string
	ua                 string
	priority           int
	actions, redirect  string
	errReason          string
}

// Generate writes o.Count realistic, deterministic ALB access log lines
// (newest format, with the transform fields). With o.Attacks it replaces
// a small share of lines by SQL injection, XSS, path traversal and scanner
// requests from gen.AttackerIP and gen.ScannerIP; clean lines never carry
// those patterns or addresses.
func Generate(w io.Writer, o gen.Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	r := gen.Rand(o.Seed)
	ra := gen.Rand(o.Seed ^ 0x5ca77e4)
	nAttacks := len(SQLi) + len(XSS) + len(Traversal) + len(ScannerAgents)
	every := gen.AttackEvery(o.Count, nAttacks)
	bw := bufio.NewWriterSize(w, 64<<10)
	t := o.StartTime()
	var b []byte
	k := 0
	for i := 0; i < o.Count; i++ {
		t = t.Add(time.Duration(200+r.IntN(20000)) * time.Microsecond)
		e := clean(r, t)
		if o.Attacks && i%every == every/2 {
			e = attack(ra, t, k%nAttacks)
			k++
		}
		b = e.append(b[:0], r)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func clean(r *rand.Rand, t time.Time) entry {
	e := entry{
		t:          t,
		client:     gen.PublicIP(r),
		clientPort: 1024 + r.IntN(64511),
		target:     targets[r.IntN(len(targets))] + ":8080",
		rpt:        0,
		tpt:        float64(1+r.IntN(180)) / 1000,
		rspt:       0,
		recv:       200 + r.IntN(700),
		ua:         gen.Pick(r, cleanAgents),
		method:     "GET",
		proto:      "HTTP/1.1",
		priority:   1 + r.IntN(3),
		actions:    "forward",
	}
	switch n := r.IntN(100); {
	case n < 80:
		e.typ = "https"
	case n < 92:
		e.typ, e.proto = "h2", "HTTP/2.0"
	default:
		e.typ = "http"
	}
	path := ""
	switch n := r.IntN(100); {
	case n < 35:
		path = gen.Pick(r, cleanPages)
		e.sent = 4000 + r.IntN(60000)
	case n < 70:
		path = gen.Pick(r, cleanStatic)
		e.sent = 1500 + r.IntN(200000)
		e.tpt = float64(1+r.IntN(8)) / 1000
	case n < 92:
		path = gen.Pick(r, cleanAPI)
		e.sent = 300 + r.IntN(8000)
	default:
		path = gen.Pick(r, cleanPosts)
		e.method = "POST"
		e.recv += 200 + r.IntN(2000)
		e.sent = 200 + r.IntN(1500)
	}
	e.status = 200
	switch n := r.IntN(1000); {
	case e.method == "POST" && n < 700:
		e.status = 201
	case n < 40:
		e.status, e.sent = 404, 520
	case n < 50:
		e.status, e.sent = 401, 310
	case n < 55:
		e.status, e.sent = 502, 290
		e.tpt = -1
	case n < 150 && strings.HasPrefix(path, "/static"):
		e.status, e.sent = 304, 180
	}
	e.tstatus = e.status
	if e.status == 502 {
		e.tstatus = 0
		e.errReason = ""
	}
	if e.typ == "http" {
		// Port 80 listener: redirect to HTTPS, no target.
		e.url = "http://" + genDomain + ":80" + path
		e.redirect = "https://" + genDomain + ":443" + path
		e.actions, e.status, e.tstatus, e.target = "redirect", 301, 0, "-"
		e.tpt, e.rspt, e.sent, e.priority = -1, -1, 190, 0
		return e
	}
	e.url = "https://" + genDomain + ":443" + path
	return e
}

func attack(r *rand.Rand, t time.Time, k int) entry {
	e := clean(r, t)
	e.typ, e.proto, e.client, e.clientPort = "https", "HTTP/1.1", netip.MustParseAddr(gen.AttackerIP), 40000+r.IntN(20000)
	e.ua = cleanAgents[0]
	e.method, e.redirect, e.actions, e.priority = "GET", "", "forward", 1
	e.status, e.tstatus, e.sent = 200, 200, 900+r.IntN(3000)
	e.target, e.tpt, e.rspt = targets[r.IntN(len(targets))]+":8080", float64(1+r.IntN(120))/1000, 0
	var path string
	switch {
	case k < len(SQLi):
		path = SQLi[k]
		if k == 1 { // raw spaces: the load balancer rejects the request line
			e.status, e.tstatus, e.target, e.tpt, e.rspt, e.actions, e.sent = 400, 0, "-", -1, -1, "-", 150
		}
		if k == 3 {
			e.ua = ScannerAgents[0]
			e.status, e.tstatus = 500, 500
		}
	case k < len(SQLi)+len(XSS):
		path = XSS[k-len(SQLi)]
		e.status, e.tstatus, e.actions, e.target, e.tpt = 403, 0, "waf", "-", -1
	case k < len(SQLi)+len(XSS)+len(Traversal):
		path = Traversal[k-len(SQLi)-len(XSS)]
		e.status, e.tstatus, e.sent = 404, 404, 520
	default:
		i := k - len(SQLi) - len(XSS) - len(Traversal)
		e.ua = ScannerAgents[i]
		e.client = netip.MustParseAddr(gen.ScannerIP)
		path = [...]string{"/products?id=1%20AND%201=1", "/admin/config.php", "/"}[i]
		e.status, e.tstatus, e.sent = 404, 404, 520
		if i == 2 {
			e.status, e.tstatus = 200, 200
		}
	}
	e.url = "https://" + genDomain + ":443" + path
	return e
}

// append renders e as one log line ending in "\n". r draws the trace and
// connection ids.
func (e *entry) append(b []byte, r *rand.Rand) []byte {
	b = append(b, e.typ...)
	b = append(b, ' ')
	b = e.t.AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, " "+genELB+" "...)
	b = e.client.AppendTo(b)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(e.clientPort), 10)
	b = append(b, ' ')
	b = append(b, e.target...)
	for _, v := range [3]float64{e.rpt, e.tpt, e.rspt} {
		b = append(b, ' ')
		if v < 0 {
			b = append(b, "-1"...)
		} else {
			b = strconv.AppendFloat(b, v, 'f', 3, 64)
		}
	}
	b = appendStatus(b, e.status)
	b = appendStatus(b, e.tstatus)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(e.recv), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(e.sent), 10)
	b = append(b, " \""...)
	b = append(b, e.method...)
	b = append(b, ' ')
	b = append(b, e.url...)
	b = append(b, ' ')
	b = append(b, e.proto...)
	b = append(b, "\" \""...)
	b = append(b, e.ua...)
	b = append(b, "\" "...)
	if e.typ == "http" {
		b = append(b, "- - "...)
	} else if e.proto == "HTTP/2.0" || r.IntN(3) == 0 {
		b = append(b, "TLS_AES_128_GCM_SHA256 TLSv1.3 "...)
	} else {
		b = append(b, "ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 "...)
	}
	if e.target == "-" {
		b = append(b, '-')
	} else {
		b = append(b, genTG...)
	}
	b = append(b, " \"Root=1-"...)
	b = strconv.AppendUint(b, uint64(e.t.Unix()), 16)
	b = append(b, '-')
	b = appendHex(b, r, 24)
	b = append(b, "\" "...)
	if e.typ == "http" {
		b = append(b, "\"-\" \"-\" "...)
	} else {
		b = append(b, "\""+genDomain+"\" \""+genCert+"\" "...)
	}
	b = strconv.AppendInt(b, int64(e.priority), 10)
	b = append(b, ' ')
	took := 0.0
	for _, v := range [3]float64{e.rpt, e.tpt, e.rspt} {
		took += max(v, 0) // -1: not applicable
	}
	created := e.t.Add(-time.Duration(took*float64(time.Second)) - time.Duration(r.IntN(900))*time.Microsecond)
	b = created.AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = appendQuoted(b, e.actions)
	b = appendQuoted(b, e.redirect)
	b = appendQuoted(b, e.errReason)
	b = appendQuoted(b, e.target)
	if e.tstatus == 0 {
		b = appendQuoted(b, "-")
	} else {
		b = append(b, " \""...)
		b = strconv.AppendInt(b, int64(e.tstatus), 10)
		b = append(b, '"')
	}
	b = append(b, ` "-" "-" TID_`...)
	b = appendHex(b, r, 32)
	b = append(b, " \"-\" \"-\" \"-\"\n"...)
	return b
}

func appendStatus(b []byte, s int) []byte {
	if s == 0 {
		return append(b, " -"...)
	}
	b = append(b, ' ')
	return strconv.AppendInt(b, int64(s), 10)
}

func appendQuoted(b []byte, s string) []byte {
	if s == "" {
		s = "-"
	}
	b = append(b, " \""...)
	b = append(b, s...)
	return append(b, '"')
}

func appendHex(b []byte, r *rand.Rand, n int) []byte {
	const digits = "0123456789abcdef"
	for i := 0; i < n; i++ {
		b = append(b, digits[r.IntN(16)])
	}
	return b
}
