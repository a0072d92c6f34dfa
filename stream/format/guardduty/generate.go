package guardduty

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/gannet-sec/gannet/stream/format/jsonlog"
	"github.com/gannet-sec/gannet/stream/gen"
)

// Generate writes o.Count GuardDuty findings in their EventBridge envelope
// to w, one JSON object per line, deterministically (the same options give
// the same bytes). Clean output is low-severity findings (severity < 4)
// about ordinary addresses: unusual ports, password-policy changes,
// anomalous S3 discovery calls. With o.Attacks it also writes findings that
// name the attackers: UnauthorizedAccess:EC2/SSHBruteForce and
// Recon:EC2/PortProbeUnprotectedPort from gen.AttackerIP,
// UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom for gen.AttackerUser
// calling from gen.AttackerIP, and Backdoor:EC2/C&CActivity.B!DNS querying
// gen.BadDomain. Every attack fits when o.Count ≥ 4.
func Generate(w io.Writer, o gen.Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	g := &generator{r: gen.Rand(o.Seed), now: o.StartTime(), attacks: o.Attacks, every: gen.AttackEvery(o.Count, attackCount)}
	g.detector = g.hex(32)
	for i := 0; i < o.Count; i++ {
		g.line(i, o.Count-i)
		if _, err := bw.Write(g.b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

const attackCount = 4

type generator struct {
	r        *rand.Rand
	now      time.Time
	b        []byte
	attacks  bool
	every    int
	next     int
	detector string
}

func (g *generator) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[g.r.IntN(16)]
	}
	return string(b)
}

// finding is what varies between generated findings.
type finding struct {
	typ, title, description string
	severity                float64
	resource                string // raw JSON
	action                  string // raw JSON
	role                    string
	count                   int
}

func (g *generator) line(i, left int) {
	g.now = g.now.Add(time.Duration(20+g.r.IntN(280)) * time.Second)
	g.b = g.b[:0]
	if g.attacks && g.next < attackCount && (i == g.next*g.every+g.every/2 || attackCount-g.next >= left) {
		g.write(g.attack(g.next))
		g.next++
		return
	}
	g.write(g.clean())
}

func (g *generator) instance(id string) string {
	ip := gen.PrivateIP(g.r).String()
	return `{"resourceType":"Instance","instanceDetails":{"instanceId":"` + id + `","instanceType":"t3.medium","launchTime":"2026-10-12T08:30:00.000Z","platform":null,"productCodes":[],"iamInstanceProfile":{"arn":"arn:aws:iam::` + gen.Account + `:instance-profile/app-backend","id":"AIPA` + g.hex(16) + `"},"networkInterfaces":[{"ipv6Addresses":[],"networkInterfaceId":"eni-0` + g.hex(16) + `","privateDnsName":"ip-` + ip + `.` + gen.Region + `.compute.internal","privateIpAddress":"` + ip + `","privateIpAddresses":[{"privateDnsName":"ip-` + ip + `.` + gen.Region + `.compute.internal","privateIpAddress":"` + ip + `"}],"subnetId":"subnet-0` + g.hex(16) + `","vpcId":"vpc-0` + g.hex(16) + `","securityGroups":[{"groupName":"app","groupId":"sg-0` + g.hex(16) + `"}],"publicDnsName":"","publicIp":"` + gen.PublicIP(g.r).String() + `"}],"outpostArn":null,"tags":[{"key":"Name","value":"app-backend"}],"instanceState":"running","availabilityZone":"` + gen.Region + `a","imageId":"ami-0` + g.hex(16) + `","imageDescription":"Amazon Linux 2023"}}`
}

func accessKey(user string) string {
	return `{"resourceType":"AccessKey","accessKeyDetails":{"accessKeyId":"AKIAEXAMPLE` + user + `","principalId":"AIDAEXAMPLE","userName":"` + user + `","userType":"IAMUser"}}`
}

func remote(ip, country, org string) string {
	return `"remoteIpDetails":{"ipAddressV4":"` + ip + `","organization":{"asn":"64500","asnOrg":"` + org + `","isp":"` + org + `","org":"` + org + `"},"country":{"countryName":"` + country + `"},"city":{"cityName":""},"geoLocation":{"lat":52.37,"lon":4.89}}`
}

func (g *generator) clean() finding {
	r := g.r
	switch r.IntN(3) {
	case 0:
		ip := gen.PublicIP(r).String()
		port := strconv.Itoa(gen.Pick(r, []int{8443, 9200, 5601}))
		return finding{typ: "Behavior:EC2/NetworkPortUnusual", severity: 2, role: "ACTOR", count: 1 + r.IntN(5),
			title:       "Unusual outbound communication seen from EC2 instance on port " + port + ".",
			description: "EC2 instance is communicating with a remote host " + ip + " on an unusual server port " + port + ".",
			resource:    g.instance("i-0" + g.hex(16)),
			action:      `{"actionType":"NETWORK_CONNECTION","networkConnectionAction":{"connectionDirection":"OUTBOUND","localPortDetails":{"port":` + strconv.Itoa(40000+r.IntN(20000)) + `,"portName":"Unknown"},"protocol":"TCP","blocked":false,"remotePortDetails":{"port":` + port + `,"portName":"Unknown"},` + remote(ip, "Ireland", "Example Hosting") + `}}`}
	case 1:
		return finding{typ: "Stealth:IAMUser/PasswordPolicyChange", severity: 2, role: "TARGET", count: 1,
			title: "Account password policy was weakened.", description: "The password policy of account " + gen.Account + " was changed.",
			resource: accessKey("alice"),
			action:   `{"actionType":"AWS_API_CALL","awsApiCallAction":{"api":"UpdateAccountPasswordPolicy","serviceName":"iam.amazonaws.com","callerType":"Remote IP",` + remote(gen.PublicIP(r).String(), "United Kingdom", "Example Broadband") + `,"affectedResources":{}}}`}
	default:
		return finding{typ: "Discovery:S3/AnomalousBehavior", severity: 2, role: "TARGET", count: 1,
			title: "An IAM entity invoked an S3 API in a suspicious way.", description: "An API commonly used to discover S3 resources was invoked in an unusual way.",
			resource: accessKey("bob"),
			action:   `{"actionType":"AWS_API_CALL","awsApiCallAction":{"api":"ListObjects","serviceName":"s3.amazonaws.com","callerType":"Remote IP",` + remote(gen.PublicIP(r).String(), "France", "Example Telecom") + `,"affectedResources":{}}}`}
	}
}

func (g *generator) attack(k int) finding {
	inst := "i-0" + g.hex(16)
	switch k {
	case 0:
		return finding{typ: "UnauthorizedAccess:EC2/SSHBruteForce", severity: 2, role: "TARGET", count: 118,
			title:       gen.AttackerIP + " is performing SSH brute force attacks against " + inst + ".",
			description: gen.AttackerIP + " is performing SSH brute force attacks against " + inst + ". Brute force attacks are used to gain unauthorized access to your instance by guessing the SSH password.",
			resource:    g.instance(inst),
			action:      `{"actionType":"NETWORK_CONNECTION","networkConnectionAction":{"connectionDirection":"INBOUND","localPortDetails":{"port":22,"portName":"SSH"},"protocol":"TCP","blocked":false,"remotePortDetails":{"port":` + strconv.Itoa(32768+g.r.IntN(28000)) + `,"portName":"Unknown"},` + remote(gen.AttackerIP, "Germany", "Tor Exit Relay") + `}}`}
	case 1:
		return finding{typ: "Recon:EC2/PortProbeUnprotectedPort", severity: 2, role: "TARGET", count: 14,
			title:       "Unprotected port on EC2 instance " + inst + " is being probed.",
			description: "EC2 instance has an unprotected port which is being probed by a known malicious host.",
			resource:    g.instance(inst),
			action:      `{"actionType":"PORT_PROBE","portProbeAction":{"blocked":false,"portProbeDetails":[{"localPortDetails":{"port":3389,"portName":"RDP"},` + remote(gen.AttackerIP, "Germany", "Tor Exit Relay") + `},{"localPortDetails":{"port":22,"portName":"SSH"},` + remote(gen.AttackerIP, "Germany", "Tor Exit Relay") + `}]}}`}
	case 2:
		return finding{typ: "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom", severity: 5, role: "TARGET", count: 9,
			title:       "API DescribeInstances was invoked from an IP address on a custom threat list.",
			description: "API DescribeInstances, commonly used in reconnaissance, was invoked by " + gen.AttackerUser + " from IP address " + gen.AttackerIP + " on the custom threat list.",
			resource:    accessKey(gen.AttackerUser),
			action:      `{"actionType":"AWS_API_CALL","awsApiCallAction":{"api":"DescribeInstances","serviceName":"ec2.amazonaws.com","callerType":"Remote IP",` + remote(gen.AttackerIP, "Germany", "Tor Exit Relay") + `,"affectedResources":{}}}`}
	}
	return finding{typ: "Backdoor:EC2/C&CActivity.B!DNS", severity: 8, role: "ACTOR", count: 6,
		title:       "Command and Control server domain name queried by EC2 instance " + inst + ".",
		description: "EC2 instance " + inst + " is querying a domain name (c2." + gen.BadDomain + ") that is associated with a known Command & Control server.",
		resource:    g.instance(inst),
		action:      `{"actionType":"DNS_REQUEST","dnsRequestAction":{"domain":"c2.` + gen.BadDomain + `","protocol":"UDP","blocked":false,"domainWithSuffix":"` + gen.BadDomain + `"}}`}
}

func (g *generator) write(f finding) {
	id := g.hex(32)
	first := g.now.Add(-time.Duration(f.count) * 17 * time.Second)
	ts := g.now.Format("2006-01-02T15:04:05.000Z")
	arn := "arn:aws:guardduty:" + gen.Region + ":" + gen.Account + ":detector/" + g.detector + "/finding/" + id
	b := append(g.b, '{')
	b = jsonlog.AppendField(b, "version", "0")
	b = jsonlog.AppendField(b, "id", jsonlog.UUID(g.r))
	b = jsonlog.AppendField(b, "detail-type", "GuardDuty Finding")
	b = jsonlog.AppendField(b, "source", "aws.guardduty")
	b = jsonlog.AppendField(b, "account", gen.Account)
	b = jsonlog.AppendField(b, "time", g.now.Format("2006-01-02T15:04:05Z"))
	b = jsonlog.AppendField(b, "region", gen.Region)
	b = append(b, `,"resources":[],"detail":{`...)
	b = jsonlog.AppendField(b, "schemaVersion", "2.0")
	b = jsonlog.AppendField(b, "accountId", gen.Account)
	b = jsonlog.AppendField(b, "region", gen.Region)
	b = jsonlog.AppendField(b, "partition", "aws")
	b = jsonlog.AppendField(b, "id", id)
	b = jsonlog.AppendField(b, "arn", arn)
	b = jsonlog.AppendField(b, "type", f.typ)
	b = jsonlog.AppendRawField(b, "resource", f.resource)
	b = append(b, `,"service":{"serviceName":"guardduty","detectorId":"`+g.detector+`","action":`...)
	b = append(b, f.action...)
	b = append(b, `,"resourceRole":"`+f.role+`","additionalInfo":{"value":"{}","type":"default"},"evidence":null,"eventFirstSeen":"`...)
	b = append(b, first.Format("2006-01-02T15:04:05.000Z")...)
	b = append(b, `","eventLastSeen":"`+ts+`","archived":false,"count":`...)
	b = strconv.AppendInt(b, int64(f.count), 10)
	b = append(b, '}')
	b = append(b, `,"severity":`...)
	b = strconv.AppendFloat(b, f.severity, 'f', -1, 64)
	b = jsonlog.AppendField(b, "createdAt", first.Format("2006-01-02T15:04:05.000Z"))
	b = jsonlog.AppendField(b, "updatedAt", ts)
	b = jsonlog.AppendField(b, "title", f.title)
	b = jsonlog.AppendField(b, "description", f.description)
	g.b = append(b, "}}\n"...)
}
