package route53resolver

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

// Generate writes o.Count Resolver query log entries to w, one JSON object
// per line, deterministically (the same options give the same bytes). Clean
// traffic is instances of one VPC resolving AWS endpoints, package mirrors,
// SaaS APIs and internal names (a few NXDOMAIN). With o.Attacks, one
// compromised instance also queries subdomains of gen.BadDomain: A-record
// beacons, TXT queries carrying encoded data, and one query blocked by DNS
// Firewall. Every attack fits when o.Count ≥ 7.
func Generate(w io.Writer, o gen.Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	r := gen.Rand(o.Seed)
	g := &generator{r: r, now: o.StartTime(), attacks: o.Attacks, every: gen.AttackEvery(o.Count, 3)}
	g.vpc = "vpc-0" + g.hex(16)
	for i := 0; i < 12; i++ {
		g.hosts = append(g.hosts, host{ip: gen.PrivateIP(r), id: "i-0" + g.hex(16)})
	}
	g.victim = g.hosts[3]
	for i := 0; i < o.Count; i++ {
		g.line(i, o.Count-i)
		if _, err := bw.Write(g.b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

type host struct {
	ip netip.Addr
	id string
}

type query struct {
	name, qtype, rcode string
	answers            []string // rdata
	firewall           bool
}

type generator struct {
	r       *rand.Rand
	now     time.Time
	b       []byte
	attacks bool
	every   int
	group   int
	emitted int
	queue   []query
	vpc     string
	hosts   []host
	victim  host
}

var cleanNames = []struct {
	name, qtype string
	answer      string
}{
	{"s3.eu-west-1.amazonaws.com.", "A", "52.218.0.0"},
	{"dynamodb.eu-west-1.amazonaws.com.", "A", "52.119.240.0"},
	{"sts.eu-west-1.amazonaws.com.", "A", "67.220.240.0"},
	{"kinesis.eu-west-1.amazonaws.com.", "A", "99.80.34.0"},
	{"logs.eu-west-1.amazonaws.com.", "A", "52.95.120.0"},
	{"api.github.com.", "A", "140.82.121.6"},
	{"registry.npmjs.org.", "A", "104.16.24.34"},
	{"proxy.golang.org.", "AAAA", "2607:f8b0:4004:c07::8d"},
	{"pypi.org.", "A", "151.101.0.223"},
	{"api.stripe.com.", "A", "54.187.174.169"},
	{"db.internal.gannet.example.", "A", "10.0.3.17"},
	{"cache.internal.gannet.example.", "A", "10.0.4.22"},
	{"ntp.ubuntu.com.", "A", "185.125.190.56"},
	{"_ldap._tcp.internal.gannet.example.", "SRV", "0 100 389 ldap.internal.gannet.example."},
}

func attackGroup(k int) []query {
	bad := gen.BadDomain + "."
	switch k {
	case 0: // beacons
		return []query{
			{name: "c2." + bad, qtype: "A", rcode: "NOERROR", answers: []string{gen.AttackerIP}},
			{name: "update-check." + bad, qtype: "A", rcode: "NOERROR", answers: []string{gen.AttackerIP}},
			{name: "c2." + bad, qtype: "A", rcode: "NOERROR", answers: []string{gen.AttackerIP}},
		}
	case 1: // data exfiltration through TXT queries
		return []query{
			{name: "aGVsbG8gZnJvbSBpLTBh.x1.data." + bad, qtype: "TXT", rcode: "NOERROR", answers: []string{`"ok"`}},
			{name: "c2VjcmV0cyBhcmUgaGVyZQ.x2.data." + bad, qtype: "TXT", rcode: "NOERROR", answers: []string{`"ok"`}},
			{name: "ZW5kIG9mIHRyYW5zZmVy.x3.data." + bad, qtype: "TXT", rcode: "NOERROR", answers: []string{`"ok"`}},
		}
	}
	return []query{{name: "stage2." + bad, qtype: "A", rcode: "NXDOMAIN", firewall: true}}
}

const attackLines = 7

func (g *generator) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[g.r.IntN(16)]
	}
	return string(b)
}

func (g *generator) line(i, left int) {
	g.now = g.now.Add(time.Duration(20+g.r.IntN(400)) * time.Millisecond)
	if g.attacks && g.group < 3 && i == g.group*g.every+g.every/2 {
		g.queue = append(g.queue, attackGroup(g.group)...)
		g.group++
	}
	for g.attacks && attackLines-g.emitted >= left && g.group < 3 {
		g.queue = append(g.queue, attackGroup(g.group)...)
		g.group++
	}
	g.b = g.b[:0]
	if len(g.queue) > 0 {
		q := g.queue[0]
		g.queue = g.queue[1:]
		g.emitted++
		g.write(g.victim, q)
		return
	}
	c := cleanNames[g.r.IntN(len(cleanNames))]
	q := query{name: c.name, qtype: c.qtype, rcode: "NOERROR", answers: []string{c.answer}}
	if g.r.IntN(40) == 0 {
		q = query{name: "db.internal.gannet.example.eu-west-1.compute.internal.", qtype: "A", rcode: "NXDOMAIN"}
	}
	g.write(g.hosts[g.r.IntN(len(g.hosts))], q)
}

func (g *generator) write(h host, q query) {
	b := append(g.b, '{')
	b = jsonlog.AppendField(b, "version", "1.100000")
	b = jsonlog.AppendField(b, "account_id", gen.Account)
	b = jsonlog.AppendField(b, "region", gen.Region)
	b = jsonlog.AppendField(b, "vpc_id", g.vpc)
	b = jsonlog.AppendField(b, "query_timestamp", g.now.Format("2006-01-02T15:04:05Z"))
	b = jsonlog.AppendField(b, "query_name", q.name)
	b = jsonlog.AppendField(b, "query_type", q.qtype)
	b = jsonlog.AppendField(b, "query_class", "IN")
	b = jsonlog.AppendField(b, "rcode", q.rcode)
	b = append(b, `,"answers":[`...)
	for i, a := range q.answers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = jsonlog.AppendField(b, "Rdata", a)
		b = jsonlog.AppendField(b, "Type", q.qtype)
		b = jsonlog.AppendField(b, "Class", "IN")
		b = append(b, '}')
	}
	b = append(b, ']')
	b = jsonlog.AppendField(b, "srcaddr", h.ip.String())
	b = jsonlog.AppendField(b, "srcport", strconv.Itoa(32768+g.r.IntN(28000)))
	b = jsonlog.AppendField(b, "transport", "UDP")
	b = append(b, `,"srcids":{"instance":"`+h.id+`"}`...)
	if q.firewall {
		b = jsonlog.AppendField(b, "firewall_rule_action", "BLOCK")
		b = jsonlog.AppendField(b, "firewall_rule_group_id", "rslvr-frg-0a1b2c3d4e5f6789")
		b = jsonlog.AppendField(b, "firewall_domain_list_id", "rslvr-fdl-9f8e7d6c5b4a3210")
	}
	g.b = append(b, "}\n"...)
}
