package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/gannet-sec/gannet/lambdas/handler"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format/cloudtrail"
	"github.com/gannet-sec/gannet/stream/format/jsonlog"
	"github.com/gannet-sec/gannet/stream/gen"
)

// A CloudTrail delivery file big enough to need several invocations. The
// generator of stream/format/cloudtrail writes the clean traffic mix; its
// values repeat (a few users, keys, buckets), so it compresses ~10× and a
// 200 MB gzip object would be ~2 GB of JSON. Real trails also carry
// high-entropy events — STS credentials with their session tokens, EC2
// RunInstances with the ids of every instance, interface and volume, S3 data
// events with x-amz-id-2 and KMS contexts — and bigObject interleaves such
// events so that the object compresses about 3.5× at gzip level 1, the
// ratio of a busy account's trail of data events and automation.

// bigObject streams a gzip'd CloudTrail delivery file {"Records":[…]} (one
// gzip member, as CloudTrail writes it) of at least minGzip compressed bytes.
type bigObject struct {
	Events int   // records written
	Raw    int64 // uncompressed bytes
	Gzip   int64 // compressed bytes
	// HighEntropy counts the interleaved high-entropy events.
	HighEntropy int
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeBigObject writes the object to w and returns what it wrote. Memory:
// one 64 KiB buffer, the compressor and one chunk of 2000 generated events.
func writeBigObject(w io.Writer, minGzip int64, seed int64) (bigObject, error) {
	var o bigObject
	cw := &countWriter{w: w}
	zw, err := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	if err != nil {
		return o, err
	}
	raw := &countWriter{w: zw}
	bw := bufio.NewWriterSize(raw, 64<<10)
	bw.WriteString(`{"Records":[`)
	he := newEntropyGen(seed)
	var chunk bytes.Buffer
	for c := 0; cw.n < minGzip; c++ {
		chunk.Reset()
		start := gen.DefaultStart.Add(time.Duration(c) * 40 * time.Minute)
		if err := cloudtrail.Generate(&chunk, gen.Options{Count: 2000, Seed: seed*1_000_003 + int64(c), Start: start}); err != nil {
			return o, err
		}
		he.now = start
		lines := chunk.Bytes()
		for len(lines) > 0 {
			i := bytes.IndexByte(lines, '\n')
			if i < 0 {
				i = len(lines)
			}
			line := lines[:i]
			lines = lines[min(i+1, len(lines)):]
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			o.record(bw, line)
			// Three high-entropy events for every two clean ones.
			for k := 1 + he.r.IntN(2); k > 0; k-- {
				o.record(bw, he.event())
				o.HighEntropy++
			}
		}
		if err := bw.Flush(); err != nil { // keeps cw.n current to within the compressor's block
			return o, err
		}
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		return o, err
	}
	if err := zw.Close(); err != nil {
		return o, err
	}
	o.Raw, o.Gzip = raw.n, cw.n
	return o, nil
}

func (o *bigObject) record(bw *bufio.Writer, ev []byte) {
	if o.Events > 0 {
		bw.WriteString(",\n") // CloudTrail writes the array on one line; one record a line is easier to inspect
	}
	bw.Write(ev)
	o.Events++
}

// entropyGen writes CloudTrail events whose values are mostly unique ids,
// tokens and signatures.
type entropyGen struct {
	r   *rand.Rand
	now time.Time
	b   []byte
	tmp []byte
}

func newEntropyGen(seed int64) *entropyGen {
	return &entropyGen{r: gen.Rand(seed ^ 0x5eed)}
}

func (g *entropyGen) b64(n int) string {
	g.tmp = g.tmp[:0]
	for len(g.tmp) < n {
		var raw [8]byte
		v := g.r.Uint64()
		for i := range raw {
			raw[i] = byte(v >> (8 * i))
		}
		g.tmp = base64.StdEncoding.AppendEncode(g.tmp, raw[:6])
	}
	return string(g.tmp[:n])
}

func (g *entropyGen) hex(n int) string {
	const d = "0123456789abcdef"
	g.tmp = g.tmp[:0]
	for len(g.tmp) < n {
		v := g.r.Uint64()
		for i := 0; i < 16 && len(g.tmp) < n; i++ {
			g.tmp = append(g.tmp, d[v&15])
			v >>= 4
		}
	}
	return string(g.tmp)
}

func (g *entropyGen) upper(n int) string {
	const d = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	g.tmp = g.tmp[:0]
	for len(g.tmp) < n {
		v := g.r.Uint64()
		for i := 0; i < 12 && len(g.tmp) < n; i++ {
			g.tmp = append(g.tmp, d[v&31])
			v >>= 5
		}
	}
	return string(g.tmp)
}

func (g *entropyGen) ip() string {
	return "10." + strconv.Itoa(g.r.IntN(256)) + "." + strconv.Itoa(g.r.IntN(256)) + "." + strconv.Itoa(1+g.r.IntN(254))
}

func (g *entropyGen) mac() string {
	h := g.hex(12)
	return h[0:2] + ":" + h[2:4] + ":" + h[4:6] + ":" + h[6:8] + ":" + h[8:10] + ":" + h[10:12]
}

// event returns the next event (valid until the next call).
func (g *entropyGen) event() []byte {
	g.now = g.now.Add(time.Duration(20+g.r.IntN(300)) * time.Millisecond)
	g.b = g.b[:0]
	switch n := g.r.IntN(10); {
	case n < 5:
		g.assumeRole()
	case n < 6:
		g.runInstances()
	case n < 8:
		g.putObject()
	default:
		g.generateDataKey()
	}
	return g.b
}

func (g *entropyGen) head(identity, source, name, ip, ua string) {
	g.b = append(g.b, `{"eventVersion":"1.10","userIdentity":`...)
	g.b = append(g.b, identity...)
	g.b = jsonlog.AppendField(g.b, "eventTime", g.now.Format("2006-01-02T15:04:05Z"))
	g.b = jsonlog.AppendField(g.b, "eventSource", source)
	g.b = jsonlog.AppendField(g.b, "eventName", name)
	g.b = jsonlog.AppendField(g.b, "awsRegion", gen.Region)
	g.b = jsonlog.AppendField(g.b, "sourceIPAddress", ip)
	g.b = jsonlog.AppendField(g.b, "userAgent", ua)
}

func (g *entropyGen) tail(readOnly bool, category, resources string) {
	g.b = jsonlog.AppendField(g.b, "requestID", jsonlog.UUID(g.r))
	g.b = jsonlog.AppendField(g.b, "eventID", jsonlog.UUID(g.r))
	g.b = append(g.b, `,"readOnly":`...)
	g.b = strconv.AppendBool(g.b, readOnly)
	if resources != "" {
		g.b = jsonlog.AppendRawField(g.b, "resources", resources)
	}
	g.b = jsonlog.AppendField(g.b, "eventType", "AwsApiCall")
	g.b = append(g.b, `,"managementEvent":`...)
	g.b = strconv.AppendBool(g.b, category == "Management")
	g.b = jsonlog.AppendField(g.b, "recipientAccountId", gen.Account)
	g.b = jsonlog.AppendField(g.b, "eventCategory", category)
	g.b = append(g.b, '}')
}

// role is an assumed-role identity with a fresh session.
func (g *entropyGen) role(name string) (identity, session string) {
	session = "i-0" + g.hex(17)
	roleID := "AROA" + g.upper(17)
	return `{"type":"AssumedRole","principalId":"` + roleID + `:` + session + `","arn":"arn:aws:sts::` + gen.Account + `:assumed-role/` + name + `/` + session +
		`","accountId":"` + gen.Account + `","accessKeyId":"ASIA` + g.upper(16) + `","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"` + roleID +
		`","arn":"arn:aws:iam::` + gen.Account + `:role/` + name + `","accountId":"` + gen.Account + `","userName":"` + name +
		`"},"attributes":{"creationDate":"` + g.now.Add(-time.Duration(g.r.IntN(3600))*time.Second).Format("2006-01-02T15:04:05Z") + `","mfaAuthenticated":"false"}}}`, session
}

func (g *entropyGen) assumeRole() {
	role := fmt.Sprintf("workload-%03d", g.r.IntN(400))
	session := "botocore-session-" + strconv.FormatInt(g.now.Unix(), 10) + g.hex(6)
	g.head(`{"type":"AWSService","invokedBy":"ecs-tasks.amazonaws.com"}`, "sts.amazonaws.com", "AssumeRole", "ecs-tasks.amazonaws.com", "ecs-tasks.amazonaws.com")
	g.b = jsonlog.AppendRawField(g.b, "requestParameters", `{"roleArn":"arn:aws:iam::`+gen.Account+`:role/`+role+`","roleSessionName":"`+session+`","durationSeconds":3600}`)
	// Session tokens are ~1 KB of base64 after a fixed prefix.
	g.b = jsonlog.AppendRawField(g.b, "responseElements", `{"credentials":{"accessKeyId":"ASIA`+g.upper(16)+`","sessionToken":"IQoJb3JpZ2luX2VjE`+g.b64(900+g.r.IntN(300))+
		`","expiration":"`+g.now.Add(time.Hour).Format("Jan 2, 2006, 3:04:05 PM")+`"},"assumedRoleUser":{"assumedRoleId":"AROA`+g.upper(17)+`:`+session+
		`","arn":"arn:aws:sts::`+gen.Account+`:assumed-role/`+role+`/`+session+`"}}`)
	g.b = jsonlog.AppendRawField(g.b, "additionalEventData", `{"sourceArn":"arn:aws:ecs:`+gen.Region+`:`+gen.Account+`:task/prod/`+g.hex(32)+`"}`)
	g.tail(true, "Management", `[{"accountId":"`+gen.Account+`","type":"AWS::IAM::Role","ARN":"arn:aws:iam::`+gen.Account+`:role/`+role+`"}]`)
}

func (g *entropyGen) runInstances() {
	id, _ := g.role("autoscaling-launcher")
	g.head(id, "ec2.amazonaws.com", "RunInstances", "autoscaling.amazonaws.com", "autoscaling.amazonaws.com")
	n := 1 + g.r.IntN(3)
	ami, subnet, sg := "ami-0"+g.hex(17), "subnet-0"+g.hex(17), "sg-0"+g.hex(17)
	req := `{"instancesSet":{"items":[{"imageId":"` + ami + `","minCount":` + strconv.Itoa(n) + `,"maxCount":` + strconv.Itoa(n) + `}]},"userData":"<sensitiveDataRemoved>","instanceType":"m7g.large","blockDeviceMapping":{},"monitoring":{"enabled":false},"disableApiTermination":false,"disableApiStop":false,"clientToken":"` +
		jsonlog.UUID(g.r) + `","networkInterfaceSet":{"items":[{"deviceIndex":0,"subnetId":"` + subnet + `","groupSet":{"items":[{"groupId":"` + sg + `"}]}}]},"launchTemplate":{"launchTemplateId":"lt-0` + g.hex(17) + `","version":"` + strconv.Itoa(1+g.r.IntN(40)) + `"}}`
	g.b = jsonlog.AppendRawField(g.b, "requestParameters", req)
	resp := []byte(`{"requestId":"` + jsonlog.UUID(g.r) + `","reservationId":"r-0` + g.hex(17) + `","ownerId":"` + gen.Account + `","groupSet":{},"instancesSet":{"items":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			resp = append(resp, ',')
		}
		ip := g.ip()
		resp = append(resp, `{"instanceId":"i-0`+g.hex(17)+`","imageId":"`+ami+`","instanceState":{"code":0,"name":"pending"},"privateDnsName":"ip-`+ip+`.`+gen.Region+`.compute.internal","amiLaunchIndex":`+strconv.Itoa(i)+
			`,"productCodes":{},"instanceType":"m7g.large","launchTime":`+strconv.FormatInt(g.now.UnixMilli(), 10)+`,"placement":{"availabilityZone":"`+gen.Region+"abc"[g.r.IntN(3):][:1]+`","tenancy":"default"},"monitoring":{"state":"disabled"},"subnetId":"`+subnet+
			`","vpcId":"vpc-0`+g.hex(17)+`","privateIpAddress":"`+ip+`","stateReason":{"code":"pending","message":"pending"},"architecture":"arm64","rootDeviceType":"ebs","rootDeviceName":"/dev/xvda","blockDeviceMapping":{},"virtualizationType":"hvm","clientToken":"`+jsonlog.UUID(g.r)+
			`","groupSet":{"items":[{"groupId":"`+sg+`","groupName":"app"}]},"networkInterfaceSet":{"items":[{"networkInterfaceId":"eni-0`+g.hex(17)+`","subnetId":"`+subnet+`","ownerId":"`+gen.Account+`","status":"in-use","macAddress":"`+g.mac()+
			`","privateIpAddress":"`+ip+`","privateDnsName":"ip-`+ip+`.`+gen.Region+`.compute.internal","attachment":{"attachmentId":"eni-attach-0`+g.hex(17)+`","deviceIndex":0,"status":"attaching","attachTime":`+strconv.FormatInt(g.now.UnixMilli(), 10)+
			`,"deleteOnTermination":true},"privateIpAddressesSet":{"item":[{"privateIpAddress":"`+ip+`","primary":true}]},"ipv6AddressesSet":{"items":[{"ipv6Address":"2a05:d018:`+g.hex(4)+`:`+g.hex(4)+`:`+g.hex(4)+`:`+g.hex(4)+`:`+g.hex(4)+`:`+g.hex(4)+
			`"}]},"interfaceType":"interface"}]},"ebsOptimized":true,"enaSupport":true,"metadataOptions":{"state":"pending","httpTokens":"required","httpPutResponseHopLimit":2,"httpEndpoint":"enabled"},"capacityReservationSpecification":{"capacityReservationPreference":"open"}}`...)
	}
	resp = append(resp, `]},"requesterId":"`+strconv.Itoa(100000000000+g.r.IntN(899999999999))+`"}`...)
	g.b = jsonlog.AppendRawField(g.b, "responseElements", string(resp))
	g.tail(false, "Management", "")
}

func (g *entropyGen) putObject() {
	id, _ := g.role("ingest-writer")
	bucket := fmt.Sprintf("tenant-%04d-raw", g.r.IntN(2000))
	key := "landing/" + g.now.Format("2006/01/02/15") + "/" + jsonlog.UUID(g.r) + "/part-" + g.hex(8) + ".snappy.parquet"
	name := "PutObject"
	if g.r.IntN(2) == 0 {
		name = "GetObject"
	}
	g.head(id, "s3.amazonaws.com", name, g.ip(), "[aws-sdk-java/2.29.0 Linux/6.1.112 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS Java/21.0.5 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/adaptive]")
	g.b = jsonlog.AppendRawField(g.b, "requestParameters", `{"bucketName":"`+bucket+`","Host":"`+bucket+`.s3.`+gen.Region+`.amazonaws.com","key":"`+key+
		`","x-amz-server-side-encryption":"aws:kms","x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:`+gen.Region+`:`+gen.Account+`:key/`+jsonlog.UUID(g.r)+`"}`)
	g.b = jsonlog.AppendRawField(g.b, "responseElements", `{"x-amz-server-side-encryption":"aws:kms","x-amz-version-id":"`+g.b64(32)+`","x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:`+gen.Region+`:`+gen.Account+`:key/`+jsonlog.UUID(g.r)+
		`","ETag":"`+g.hex(32)+`"}`)
	size := strconv.Itoa(1000 + g.r.IntN(50_000_000))
	g.b = jsonlog.AppendRawField(g.b, "additionalEventData", `{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":`+size+`,"SSEApplied":"SSE_KMS","AuthenticationMethod":"AuthHeader","x-amz-id-2":"`+g.b64(76)+`","bytesTransferredOut":0}`)
	g.tail(name == "GetObject", "Data", `[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::`+bucket+`/`+key+`"},{"accountId":"`+gen.Account+`","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::`+bucket+`"}]`)
}

func (g *entropyGen) generateDataKey() {
	id, session := g.role("ingest-writer")
	key := "arn:aws:kms:" + gen.Region + ":" + gen.Account + ":key/" + jsonlog.UUID(g.r)
	g.head(id, "kms.amazonaws.com", "GenerateDataKey", "s3.amazonaws.com", "s3.amazonaws.com")
	g.b = jsonlog.AppendRawField(g.b, "requestParameters", `{"keyId":"`+key+`","encryptionContext":{"aws:s3:arn":"arn:aws:s3:::tenant-`+g.hex(4)+`-raw/landing/`+jsonlog.UUID(g.r)+`/part-`+g.hex(8)+`.snappy.parquet","aws:ebs:id":"vol-0`+g.hex(17)+`","session":"`+session+`"},"keySpec":"AES_256"}`)
	g.b = jsonlog.AppendRawField(g.b, "responseElements", "null")
	g.tail(true, "Management", `[{"accountId":"`+gen.Account+`","type":"AWS::KMS::Key","ARN":"`+key+`"}]`)
}

// TestBigObjectIsCloudTrail checks the generator behind the 200 MB test on a
// small object: a {"Records":[…]} file every element of which the real
// splitter finds and the CloudTrail parser accepts, with distinct eventIDs,
// compressing between 3× and 4.5×.
func TestBigObjectIsCloudTrail(t *testing.T) {
	var buf bytes.Buffer
	o, err := writeBigObject(&buf, 4<<20, 7)
	if err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != o.Gzip || o.Gzip < 4<<20 {
		t.Fatalf("gzip %d bytes, counted %d", buf.Len(), o.Gzip)
	}
	ratio := float64(o.Raw) / float64(o.Gzip)
	if ratio < 3 || ratio > 4.5 {
		t.Errorf("compression ratio %.2f, want 3–4.5", ratio)
	}
	sp, err := handler.NewSplitter(bytes.NewReader(buf.Bytes()), "", 0, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if sp.Layout != handler.LayoutRecords {
		t.Fatalf("layout %q", sp.Layout)
	}
	p := cloudtrail.NewParser()
	ids := map[string]bool{}
	n := 0
	for {
		piece, err := sp.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ev := &stream.Event{}
		if err := p.Parse(&stream.Unit{Data: piece.Data, Format: stream.FormatCloudTrail}, ev); err != nil {
			t.Fatalf("record %d at offset %d: %v: %.300s", n, piece.Offset, err, piece.Data)
		}
		ids[ev.Native.(*cloudtrail.Record).EventID] = true
		n++
	}
	if n != o.Events || len(ids) != n || o.HighEntropy < n/3 {
		t.Errorf("%d records read, %d distinct eventIDs, %d high-entropy; wrote %d", n, len(ids), o.HighEntropy, o.Events)
	}
	t.Logf("%d events (%d high-entropy), %.1f MB raw, %.1f MB gzip, ratio %.2f, %.0f B/event", o.Events, o.HighEntropy, float64(o.Raw)/1e6, float64(o.Gzip)/1e6, ratio, float64(o.Raw)/float64(o.Events))
}

// BenchmarkBigObject measures the generator and gzip level 1 on a 16 MiB
// gzip object (the test's generate-and-upload phase, without the upload).
func BenchmarkBigObject(b *testing.B) {
	b.ReportAllocs()
	var o bigObject
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		var err error
		if o, err = writeBigObject(io.Discard, 16<<20, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(o.Raw)
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(o.Raw)/float64(o.Gzip), "ratio")
}
