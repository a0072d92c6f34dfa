package vpcflow

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/gannet-sec/gannet/stream/gen"
)

// ScanTarget is the host that Generate's port scan (from gen.ScannerIP)
// probes; ScanLines is the length of the scan when Count allows it (each
// line a distinct destination port, almost all REJECT).
const (
	ScanTarget = "10.0.1.15"
	ScanLines  = 120
)

type host struct {
	ip  netip.Addr
	eni string
}

var (
	webHosts = []host{{netip.MustParseAddr("10.0.1.15"), "eni-0a1b2c3d4e5f60715"}, {netip.MustParseAddr("10.0.1.16"), "eni-0a1b2c3d4e5f60716"}}
	appHosts = []host{{netip.MustParseAddr("10.0.2.21"), "eni-0b2c3d4e5f6071821"}, {netip.MustParseAddr("10.0.2.22"), "eni-0b2c3d4e5f6071822"}}
	dbHost   = host{netip.MustParseAddr("10.0.3.30"), "eni-0c3d4e5f607182930"}
	resolver = netip.MustParseAddr("10.0.0.2")
	// closedPorts are what Internet background noise knocks on, rejected.
	closedPorts = []int{22, 23, 445, 3389}
)

// flow is one generated record.
type flow struct {
	eni            string
	src, dst       netip.Addr
	sport, dport   int
	proto          int
	packets, bytes int
	start, end     time.Time
	action, status string
	nodata         bool
}

// Generate writes o.Count deterministic VPC flow log records in the default
// version 2 format: web, API, database and DNS flows of a three-tier VPC,
// both directions, plus a little rejected Internet noise and NODATA records.
// Record start times never go back. With o.Attacks it adds a port scan from
// gen.ScannerIP against ScanTarget (ScanLines records with distinct
// destination ports, mostly REJECT; shorter when Count < 4*ScanLines) and
// accepted SSH from gen.AttackerIP plus large transfers to it.
func Generate(w io.Writer, o gen.Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	r := gen.Rand(o.Seed)
	ra := gen.Rand(o.Seed ^ 0x5ca77e4)
	bw := bufio.NewWriterSize(w, 64<<10)
	t := o.StartTime()
	scanLen, scanAt := 0, o.Count
	if o.Attacks {
		scanLen = min(ScanLines, o.Count/4)
		scanAt = o.Count / 3
	}
	scanPorts := portList(ra, scanLen)
	every := gen.AttackEvery(o.Count, 2)
	var b []byte
	k := 0
	for i := 0; i < o.Count; i++ {
		t = t.Add(time.Duration(5+r.IntN(45)) * time.Millisecond)
		var f flow
		switch {
		case i >= scanAt && i < scanAt+scanLen:
			t = t.Add(-time.Duration(r.IntN(5)) * time.Millisecond) // a scan is fast
			f = scan(ra, t, scanPorts[i-scanAt])
		case o.Attacks && i%every == every/2:
			f = hostile(ra, t, k)
			k++
		default:
			f = clean(r, t)
		}
		b = f.append(b[:0])
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// portList returns n distinct ports: well-known ones first, then the rest
// of 1-1024 in random order.
func portList(r *rand.Rand, n int) []int {
	first := []int{21, 22, 23, 25, 53, 80, 110, 135, 139, 143, 443, 445, 993, 995, 1433, 1521, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 9200}
	seen := map[int]bool{}
	out := make([]int, 0, n)
	for _, p := range first {
		if len(out) == n {
			return out
		}
		seen[p] = true
		out = append(out, p)
	}
	for _, p := range r.Perm(1024) {
		if len(out) == n {
			break
		}
		if !seen[p+1] {
			out = append(out, p+1)
		}
	}
	return out
}

func window(r *rand.Rand, t time.Time, maxLen int) (time.Time, time.Time) {
	start := t.Truncate(time.Second)
	return start, start.Add(time.Duration(r.IntN(maxLen+1)) * time.Second)
}

func ephemeral(r *rand.Rand) int { return 32768 + r.IntN(28232) }

func clean(r *rand.Rand, t time.Time) flow {
	f := flow{proto: 6, action: "ACCEPT", status: "OK"}
	f.start, f.end = window(r, t, 59)
	web, app := gen.Pick(r, webHosts), gen.Pick(r, appHosts)
	switch n := r.IntN(100); {
	case n < 35: // client → web:443
		f.eni, f.src, f.dst, f.sport, f.dport = web.eni, gen.PublicIP(r), web.ip, ephemeral(r), 443
		f.packets = 4 + r.IntN(40)
		f.bytes = f.packets * (60 + r.IntN(400))
	case n < 65: // web:443 → client
		f.eni, f.src, f.dst, f.sport, f.dport = web.eni, web.ip, gen.PublicIP(r), 443, ephemeral(r)
		f.packets = 4 + r.IntN(60)
		f.bytes = f.packets * (200 + r.IntN(1200))
	case n < 78: // web → app API
		f.eni, f.src, f.dst, f.sport, f.dport = app.eni, web.ip, app.ip, ephemeral(r), 8080
		f.packets = 2 + r.IntN(20)
		f.bytes = f.packets * (100 + r.IntN(800))
	case n < 86: // app → db
		f.eni, f.src, f.dst, f.sport, f.dport = dbHost.eni, app.ip, dbHost.ip, ephemeral(r), 5432
		f.packets = 2 + r.IntN(30)
		f.bytes = f.packets * (80 + r.IntN(600))
	case n < 93: // DNS
		h := gen.Pick(r, append([]host{web}, app))
		f.eni, f.src, f.dst, f.sport, f.dport, f.proto = h.eni, h.ip, resolver, ephemeral(r), 53, 17
		f.packets = 1 + r.IntN(2)
		f.bytes = f.packets * (60 + r.IntN(60))
	case n < 97: // app → AWS/Internet HTTPS
		f.eni, f.src, f.dst, f.sport, f.dport = app.eni, app.ip, gen.PublicIP(r), ephemeral(r), 443
		f.packets = 6 + r.IntN(50)
		f.bytes = f.packets * (100 + r.IntN(900))
	case n < 99: // Internet noise on a closed port, rejected
		f.eni, f.src, f.dst, f.sport, f.dport = web.eni, gen.PublicIP(r), web.ip, ephemeral(r), gen.Pick(r, closedPorts)
		f.packets, f.bytes, f.action = 1, 40+r.IntN(20), "REJECT"
		f.end = f.start
	default:
		f.eni, f.nodata, f.action, f.status = app.eni, true, "", "NODATA"
	}
	return f
}

func scan(r *rand.Rand, t time.Time, port int) flow {
	f := flow{eni: webHosts[0].eni, proto: 6, action: "REJECT", status: "OK", packets: 1, bytes: 44}
	f.src, f.dst = netip.MustParseAddr(gen.ScannerIP), webHosts[0].ip
	f.sport, f.dport = 40000+r.IntN(1000), port
	f.start, f.end = window(r, t, 0)
	if port == 443 || port == 80 {
		f.action, f.packets, f.bytes = "ACCEPT", 2, 84
	}
	return f
}

func hostile(r *rand.Rand, t time.Time, k int) flow {
	f := flow{proto: 6, action: "ACCEPT", status: "OK"}
	f.start, f.end = window(r, t, 59)
	attacker := netip.MustParseAddr(gen.AttackerIP)
	switch k % 3 {
	case 0: // SSH in from the attacker
		h := webHosts[1]
		f.eni, f.src, f.dst, f.sport, f.dport = h.eni, attacker, h.ip, ephemeral(r), 22
		f.packets = 20 + r.IntN(40)
		f.bytes = f.packets * (90 + r.IntN(200))
	case 1: // the session's replies
		h := webHosts[1]
		f.eni, f.src, f.dst, f.sport, f.dport = h.eni, h.ip, attacker, 22, ephemeral(r)
		f.packets = 20 + r.IntN(40)
		f.bytes = f.packets * (90 + r.IntN(400))
	default: // exfiltration from the app tier
		h := appHosts[0]
		f.eni, f.src, f.dst, f.sport, f.dport = h.eni, h.ip, attacker, ephemeral(r), 443
		f.packets = 20000 + r.IntN(20000)
		f.bytes = f.packets * 1400
	}
	return f
}

// append renders f as one line ending in "\n".
func (f *flow) append(b []byte) []byte {
	b = append(b, "2 "+gen.Account+" "...)
	b = append(b, f.eni...)
	if f.nodata {
		b = append(b, " - - - - - - - "...)
	} else {
		b = append(b, ' ')
		b = f.src.AppendTo(b)
		b = append(b, ' ')
		b = f.dst.AppendTo(b)
		for _, v := range [5]int{f.sport, f.dport, f.proto, f.packets, f.bytes} {
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(v), 10)
		}
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, f.start.Unix(), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, f.end.Unix(), 10)
	b = append(b, ' ')
	if f.action == "" {
		b = append(b, '-')
	} else {
		b = append(b, f.action...)
	}
	b = append(b, ' ')
	b = append(b, f.status...)
	return append(b, '\n')
}
