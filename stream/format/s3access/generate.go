package s3access

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/gannet-sec/gannet/stream/gen"
)

// Names used by Generate. Detection tests may rely on them.
const (
	// GenBucket is the bucket whose access log Generate writes.
	GenBucket = "gannet-demo-data"
	// GenOwner is its owner's canonical user id.
	GenOwner = "4e1c2b7a9d3f5e60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"
	// AttackerARN is the IAM user that changes the bucket policy and ACL in
	// the generated attack (gen.AttackerUser).
	AttackerARN = "arn:aws:iam::" + gen.Account + ":user/" + gen.AttackerUser
)

// ProbedKeys are the sensitive keys the anonymous attacker asks for.
var ProbedKeys = []string{"backup/db-dump-2026-10-31.sql.gz", "config/.env", "secrets/credentials.csv", "exports/customers.csv"}

var (
	requesters = []string{
		"arn:aws:iam::" + gen.Account + ":user/alice",
		"arn:aws:iam::" + gen.Account + ":user/bob",
		"arn:aws:sts::" + gen.Account + ":assumed-role/app-server/i-0a1b2c3d4e5f60718",
		"arn:aws:sts::" + gen.Account + ":assumed-role/etl-job/etl-2026",
		"arn:aws:sts::" + gen.Account + ":assumed-role/AWSServiceRoleForAthena/athena",
	}
	agents = []string{
		"aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.58.2",
		"aws-cli/2.17.20 Python/3.11.9 Linux/6.1.97 exe/x86_64.amzn.2023 prompt/off command/s3.cp",
		"Boto3/1.34.140 md/Botocore#1.34.140 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.12.4 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.140",
		"[aws-sdk-java/2.26.25 Linux/6.1 OpenJDK_64-Bit_Server_VM/21.0.4+7-LTS Java/21.0.4 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/adaptive]",
	}
	prefixes = []string{"data/2026/11/01/", "reports/monthly/", "uploads/images/", "logs/app/"}
	suffixes = []string{".parquet", ".csv.gz", ".jpg", ".json.gz"}
)

type req struct {
	t                    time.Time
	ip                   netip.Addr
	requester            string
	op, key, method, uri string
	status               int
	errCode              string
	sent, size           int // -1 renders "-"
	total, turn          int
	ua                   string
	anonymous            bool
}

// Generate writes o.Count deterministic S3 server access log records for
// GenBucket: authenticated GET/PUT/HEAD/DELETE/list traffic from IAM users
// and roles, from VPC (private) and public addresses, with a few 404s and
// 304s. Times advance 20–600 ms per record. With o.Attacks, one record in
// gen.AttackEvery(Count, 7) becomes part of an attack from gen.AttackerIP:
// anonymous (requester "-") GETs of ProbedKeys and a bucket listing denied
// with 403 AccessDenied, then REST.PUT.BUCKETPOLICY and REST.PUT.ACL by
// AttackerARN, then an anonymous GET that succeeds. Clean traffic is never
// anonymous and never changes bucket policy or ACLs.
func Generate(w io.Writer, o gen.Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	r := gen.Rand(o.Seed)
	ra := gen.Rand(o.Seed ^ 0x5ca77e4)
	every := gen.AttackEvery(o.Count, 7)
	bw := bufio.NewWriterSize(w, 64<<10)
	t := o.StartTime()
	var b []byte
	k := 0
	for i := 0; i < o.Count; i++ {
		t = t.Add(time.Duration(20+r.IntN(580)) * time.Millisecond)
		q := clean(r, t)
		if o.Attacks && i%every == every/2 {
			q = attack(ra, t, k)
			k++
		}
		b = q.append(b[:0], r)
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func clean(r *rand.Rand, t time.Time) req {
	q := req{t: t, requester: gen.Pick(r, requesters), ua: gen.Pick(r, agents), status: 200}
	if r.IntN(3) == 0 {
		q.ip = gen.PublicIP(r)
	} else {
		q.ip = gen.PrivateIP(r)
	}
	q.key = gen.Pick(r, prefixes) + "part-" + strconv.Itoa(r.IntN(10000)) + gen.Pick(r, suffixes)
	q.size = 1024 + r.IntN(8<<20)
	q.total = 5 + r.IntN(200)
	q.turn = 1 + r.IntN(q.total)
	switch n := r.IntN(100); {
	case n < 50:
		q.op, q.method, q.sent = "REST.GET.OBJECT", "GET", q.size
		q.total += q.size / 100000
		switch m := r.IntN(100); {
		case m < 3:
			q.status, q.errCode, q.sent, q.size = 404, "NoSuchKey", 243, -1
		case m < 8:
			q.status, q.sent = 304, -1
		}
	case n < 70:
		q.op, q.method, q.sent = "REST.PUT.OBJECT", "PUT", -1
	case n < 85:
		q.op, q.method, q.sent = "REST.HEAD.OBJECT", "HEAD", -1
	case n < 95:
		q.op, q.method, q.key, q.size = "REST.GET.BUCKET", "GET", "", -1
		q.uri = "/?list-type=2&prefix=" + "data%2F2026%2F11%2F&encoding-type=url"
		q.sent = 800 + r.IntN(20000)
	default:
		q.op, q.method, q.status, q.sent, q.size = "REST.DELETE.OBJECT", "DELETE", 204, -1, -1
	}
	return q
}

func attack(r *rand.Rand, t time.Time, k int) req {
	q := req{t: t, ip: netip.MustParseAddr(gen.AttackerIP), ua: "curl/8.5.0", anonymous: true,
		status: 403, errCode: "AccessDenied", sent: 243, size: -1, total: 2 + r.IntN(10)}
	q.turn = q.total - 1
	switch i := k % 7; {
	case i < len(ProbedKeys):
		q.op, q.method, q.key = "REST.GET.OBJECT", "GET", ProbedKeys[i]
	case i == 4:
		q.op, q.method, q.uri = "REST.GET.BUCKET", "GET", "/?list-type=2"
	case i == 5:
		q.anonymous, q.requester, q.ua = false, AttackerARN, agents[1]
		q.status, q.errCode, q.sent = 204, "", -1
		if k/7%2 == 0 {
			q.op, q.method, q.uri = "REST.PUT.BUCKETPOLICY", "PUT", "/?policy"
		} else {
			q.op, q.method, q.uri = "REST.PUT.ACL", "PUT", "/?acl"
		}
	default: // the bucket is public now
		q.op, q.method, q.key = "REST.GET.OBJECT", "GET", ProbedKeys[0]
		q.status, q.errCode, q.size = 200, "", 48<<20
		q.sent = q.size
	}
	return q
}

// append renders q as one line ending in "\n"; r draws the request and
// host ids.
func (q *req) append(b []byte, r *rand.Rand) []byte {
	b = append(b, GenOwner+" "+GenBucket+" ["...)
	b = q.t.AppendFormat(b, "02/Jan/2006:15:04:05 +0000")
	b = append(b, "] "...)
	b = q.ip.AppendTo(b)
	b = append(b, ' ')
	if q.anonymous {
		b = append(b, '-')
	} else {
		b = append(b, q.requester...)
	}
	b = append(b, ' ')
	b = appendHex(b, r, 16, "0123456789ABCDEF")
	b = append(b, ' ')
	b = append(b, q.op...)
	b = append(b, ' ')
	if q.key == "" {
		b = append(b, '-')
	} else {
		b = append(b, q.key...)
	}
	b = append(b, " \""...)
	b = append(b, q.method...)
	b = append(b, ' ')
	if q.uri != "" {
		b = append(b, q.uri...)
	} else {
		b = append(b, '/')
		b = append(b, q.key...)
	}
	b = append(b, " HTTP/1.1\" "...)
	b = strconv.AppendInt(b, int64(q.status), 10)
	b = append(b, ' ')
	if q.errCode == "" {
		b = append(b, '-')
	} else {
		b = append(b, q.errCode...)
	}
	for _, v := range [4]int{q.sent, q.size, q.total, q.turn} {
		b = append(b, ' ')
		if v < 0 {
			b = append(b, '-')
		} else {
			b = strconv.AppendInt(b, int64(v), 10)
		}
	}
	b = append(b, " \"-\" \""...)
	b = append(b, q.ua...)
	b = append(b, "\" - "...)
	b = appendHex(b, r, 76, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
	b = append(b, '=', ' ')
	if q.anonymous {
		b = append(b, "- TLS_AES_128_GCM_SHA256 - "...)
	} else {
		b = append(b, "SigV4 TLS_AES_128_GCM_SHA256 AuthHeader "...)
	}
	b = append(b, GenBucket+".s3."+gen.Region+".amazonaws.com TLSv1.3 - -\n"...)
	return b
}

func appendHex(b []byte, r *rand.Rand, n int, alphabet string) []byte {
	for i := 0; i < n; i++ {
		b = append(b, alphabet[r.IntN(len(alphabet))])
	}
	return b
}
