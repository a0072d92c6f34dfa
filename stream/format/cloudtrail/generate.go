package cloudtrail

import (
	"bufio"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream/format/jsonlog"
	"github.com/gannet-sec/gannet/stream/gen"
)

// Generate writes o.Count CloudTrail events to w, one JSON object per line,
// deterministically (the same options give the same bytes). Clean traffic is
// a mix of S3 data events, EC2/KMS/IAM/STS/Logs/DynamoDB management calls by
// IAM users, assumed roles and AWS services, and MFA console sign-ins; it
// has no failed console logins, no security-group changes, no trail changes,
// no root use and no access-key creation. With o.Attacks the attacker
// (gen.AttackerIP, gen.AttackerUser) also appears: ≥ 20 failed ConsoleLogin
// within 5 minutes, a console login without MFA, root account use, ingress
// opened to 0.0.0.0/0 on 22 and ::/0 on 3389, StopLogging, DeleteTrail,
// PutEventSelectors, a public bucket policy and ACL, and CreateAccessKey for
// another user. Every attack fits when o.Count ≥ 34.
func Generate(w io.Writer, o gen.Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	g := newGenerator(o)
	for i := 0; i < o.Count; i++ {
		g.line(i, o.Count-i)
		if _, err := bw.Write(g.b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

type actor struct {
	kind      string // IAMUser, AssumedRole, AWSService, Root
	name      string
	principal string
	arn       string
	key       string
	ip        string
	ua        string
	role      string // AssumedRole: role name
	service   string // AWSService: invoking service
	console   bool
}

type pending struct {
	at   time.Time
	emit func(g *generator)
}

type generator struct {
	r       *rand.Rand
	now     time.Time
	b       []byte
	attacks bool
	every   int
	group   int
	emitted int
	queue   []pending // attack events by time
	users   []actor
	app     actor
	ci      actor
	mallory actor
	root    actor
}

const (
	attackGroups = 7
	attackLines  = 34 // events in all attack groups
)

var (
	consoleUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
	cliUAs    = []string{
		"aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe command/ec2.describe-instances",
		"aws-cli/2.21.1 md/awscrt#0.22.0 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard command/sts.get-caller-identity",
		"Boto3/1.35.60 md/Botocore#1.35.60 ua/2.0 os/linux#5.10.228-219.884.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.60",
	}
	sdkUA = "aws-sdk-go-v2/1.32.4 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/s3#1.67.0"
)

func newGenerator(o gen.Options) *generator {
	r := gen.Rand(o.Seed)
	g := &generator{r: r, now: o.StartTime(), attacks: o.Attacks, every: gen.AttackEvery(o.Count, attackGroups)}
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		g.users = append(g.users, actor{
			kind: "IAMUser", name: n, principal: "AIDA" + g.ident(16), arn: "arn:aws:iam::" + gen.Account + ":user/" + n,
			key: "AKIA" + g.ident(16), ip: gen.PublicIP(r).String(), ua: gen.Pick(r, cliUAs),
		})
	}
	roleID := "AROA" + g.ident(16)
	g.app = actor{kind: "AssumedRole", name: "i-0" + g.hex(16), principal: roleID, role: "app-backend",
		key: "ASIA" + g.ident(16), ip: gen.PrivateIP(r).String(), ua: sdkUA}
	g.app.principal += ":" + g.app.name
	g.app.arn = "arn:aws:sts::" + gen.Account + ":assumed-role/app-backend/" + g.app.name
	g.ci = actor{kind: "AssumedRole", name: "github-actions-deploy", principal: "AROA" + g.ident(16) + ":github-actions-deploy", role: "ci-deploy",
		key: "ASIA" + g.ident(16), ip: gen.PublicIP(r).String(), ua: cliUAs[2]}
	g.ci.arn = "arn:aws:sts::" + gen.Account + ":assumed-role/ci-deploy/github-actions-deploy"
	g.mallory = actor{kind: "IAMUser", name: gen.AttackerUser, principal: "AIDA" + g.ident(16), arn: "arn:aws:iam::" + gen.Account + ":user/" + gen.AttackerUser,
		key: "AKIA" + g.ident(16), ip: gen.AttackerIP, ua: cliUAs[0]}
	g.root = actor{kind: "Root", principal: gen.Account, arn: "arn:aws:iam::" + gen.Account + ":root", key: "ASIA" + g.ident(16), ip: gen.AttackerIP, ua: consoleUA, console: true}
	return g
}

const identChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func (g *generator) ident(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = identChars[g.r.IntN(len(identChars))]
	}
	return string(b)
}

func (g *generator) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[g.r.IntN(16)]
	}
	return string(b)
}

// line writes entry i into g.b; left is the number of entries still to write
// including this one.
func (g *generator) line(i, left int) {
	g.now = g.now.Add(time.Duration(50+g.r.IntN(1150)) * time.Millisecond)
	if g.attacks && g.group < attackGroups && i == g.group*g.every+g.every/2 {
		g.schedule(g.group)
		g.group++
	}
	force := g.attacks && attackLines-g.emitted >= left
	for force && g.group < attackGroups {
		g.schedule(g.group)
		g.group++
	}
	g.b = g.b[:0]
	if len(g.queue) > 0 && (force || !g.queue[0].at.After(g.now)) {
		p := g.queue[0]
		g.queue = g.queue[1:]
		g.emitted++
		p.emit(g)
		return
	}
	g.clean()
}

// clean writes one clean event.
func (g *generator) clean() {
	r := g.r
	u := g.users[r.IntN(len(g.users))]
	switch n := r.IntN(100); {
	case n < 25:
		key := "uploads/2026/" + strconv.Itoa(1+r.IntN(12)) + "/" + jsonlog.UUID(r) + ".json"
		g.s3Object("GetObject", true, key, int64(200+r.IntN(90000)), "")
	case n < 35:
		key := "reports/" + jsonlog.UUID(r) + ".parquet"
		g.s3Object("PutObject", false, key, int64(1000+r.IntN(500000)), "")
	case n < 37:
		key := "restricted/" + jsonlog.UUID(r) + ".json"
		g.s3Object("GetObject", true, key, 0, "AccessDenied")
	case n < 47:
		a := u
		if r.IntN(2) == 0 {
			a = g.ci
		}
		g.begin(a, "ec2.amazonaws.com", "DescribeInstances", a.ip, a.ua)
		g.raw("requestParameters", `{"instancesSet":{},"filterSet":{}}`)
		g.raw("responseElements", "null")
		g.tail(a, true, "AwsApiCall", true, "Management", "ec2."+gen.Region+".amazonaws.com", "")
	case n < 51:
		g.begin(g.ci, "ec2.amazonaws.com", "DescribeSecurityGroups", g.ci.ip, g.ci.ua)
		g.raw("requestParameters", `{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}`)
		g.raw("responseElements", "null")
		g.tail(g.ci, true, "AwsApiCall", true, "Management", "ec2."+gen.Region+".amazonaws.com", "")
	case n < 61:
		keyID := "3f7c2a1e-8b4d-4c6a-9e2f-5d1b7a9c0e42"
		g.begin(g.app, "kms.amazonaws.com", "Decrypt", "kms.amazonaws.com", g.app.ua)
		g.raw("requestParameters", `{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{"aws:s3:arn":"arn:aws:s3:::gannet-app-data"}}`)
		g.raw("responseElements", "null")
		g.tail(g.app, true, "AwsApiCall", true, "Management", "", `[{"accountId":"`+gen.Account+`","type":"AWS::KMS::Key","ARN":"arn:aws:kms:`+gen.Region+`:`+gen.Account+`:key/`+keyID+`"}]`)
	case n < 69:
		svc := actor{kind: "AWSService", service: "lambda.amazonaws.com"}
		session := "gannet-ingest-" + g.hex(8)
		g.begin(svc, "sts.amazonaws.com", "AssumeRole", "lambda.amazonaws.com", "lambda.amazonaws.com")
		g.raw("requestParameters", `{"roleArn":"arn:aws:iam::`+gen.Account+`:role/gannet-ingest","roleSessionName":"`+session+`"}`)
		g.raw("responseElements", `{"credentials":{"accessKeyId":"ASIA`+g.ident(16)+`","sessionToken":"IQoJb3JpZ2luX2VjEHcaCWV1LXdlc3QtMSJHMEUCIQ`+g.ident(24)+`","expiration":"`+g.now.Add(12*time.Hour).Format("Jan 2, 2006, 3:04:05 PM")+`"}}`)
		g.tail(svc, true, "AwsApiCall", true, "Management", "", `[{"accountId":"`+gen.Account+`","type":"AWS::IAM::Role","ARN":"arn:aws:iam::`+gen.Account+`:role/gannet-ingest"}]`)
	case n < 75:
		name := gen.Pick(r, []string{"GetUser", "ListRoles", "ListAttachedUserPolicies", "GetAccountPasswordPolicy"})
		a := u
		a.ua, a.console = consoleUA, true
		g.begin(a, "iam.amazonaws.com", name, a.ip, a.ua)
		if name == "GetUser" || name == "ListAttachedUserPolicies" {
			g.raw("requestParameters", `{"userName":"`+a.name+`"}`)
		} else {
			g.raw("requestParameters", "null")
		}
		g.raw("responseElements", "null")
		g.tail(a, true, "AwsApiCall", true, "Management", "iam.amazonaws.com", "")
	case n < 79:
		g.consoleLogin(u, true, true)
	case n < 84:
		a := u
		g.begin(a, "sts.amazonaws.com", "GetCallerIdentity", a.ip, a.ua)
		g.raw("requestParameters", "null")
		g.raw("responseElements", "null")
		g.tail(a, true, "AwsApiCall", true, "Management", "sts."+gen.Region+".amazonaws.com", "")
	case n < 90:
		g.begin(g.app, "logs.amazonaws.com", "CreateLogStream", g.app.ip, g.app.ua)
		g.raw("requestParameters", `{"logGroupName":"/gannet/app","logStreamName":"`+g.now.Format("2006/01/02")+`/[$LATEST]`+g.hex(32)+`"}`)
		g.raw("responseElements", "null")
		g.tail(g.app, false, "AwsApiCall", true, "Management", "logs."+gen.Region+".amazonaws.com", "")
	case n < 95:
		g.begin(g.app, "dynamodb.amazonaws.com", "DescribeTable", g.app.ip, g.app.ua)
		g.raw("requestParameters", `{"tableName":"gannet-alerts"}`)
		g.raw("responseElements", "null")
		g.tail(g.app, true, "AwsApiCall", true, "Management", "dynamodb."+gen.Region+".amazonaws.com",
			`[{"accountId":"`+gen.Account+`","type":"AWS::DynamoDB::Table","ARN":"arn:aws:dynamodb:`+gen.Region+`:`+gen.Account+`:table/gannet-alerts"}]`)
	default:
		g.begin(g.ci, "lambda.amazonaws.com", "ListFunctions20150331", g.ci.ip, g.ci.ua)
		g.raw("requestParameters", "null")
		g.raw("responseElements", "null")
		g.tail(g.ci, true, "AwsApiCall", true, "Management", "lambda."+gen.Region+".amazonaws.com", "")
	}
}

// schedule queues the events of one attack group.
func (g *generator) schedule(group int) {
	at := g.now
	add := func(d time.Duration, f func(g *generator)) {
		at = at.Add(d)
		i, _ := slices.BinarySearchFunc(g.queue, at, func(p pending, t time.Time) int { return p.at.Compare(t) })
		for i < len(g.queue) && g.queue[i].at.Equal(at) {
			i++
		}
		g.queue = slices.Insert(g.queue, i, pending{at: at, emit: f})
	}
	m := g.mallory
	m.ua, m.console = consoleUA, true
	switch group {
	case 0: // console-login brute force: 24 failures from AttackerIP in about two minutes
		for k := 0; k < 24; k++ {
			add(time.Duration(3000+g.r.IntN(3000))*time.Millisecond, func(g *generator) { g.consoleLogin(m, false, false) })
		}
	case 1: // then a success without MFA
		add(4*time.Second, func(g *generator) { g.consoleLogin(m, true, false) })
	case 2: // root account use
		add(time.Second, func(g *generator) {
			g.begin(g.root, "iam.amazonaws.com", "ListAccessKeys", g.root.ip, g.root.ua)
			g.raw("requestParameters", "null")
			g.raw("responseElements", "null")
			g.tail(g.root, true, "AwsApiCall", true, "Management", "iam.amazonaws.com", "")
		})
	case 3: // security group opened to the world on SSH and RDP
		sg := "sg-0" + g.hex(16)
		add(time.Second, func(g *generator) { g.openIngress(g.mallory, sg, 22, false) })
		add(2*time.Second, func(g *generator) { g.openIngress(g.mallory, sg, 3389, true) })
	case 4: // CloudTrail tampering
		trail := "arn:aws:cloudtrail:" + gen.Region + ":" + gen.Account + ":trail/management-events"
		add(time.Second, func(g *generator) {
			g.trailCall("PutEventSelectors", `{"trailName":"management-events","eventSelectors":[{"readWriteType":"ReadOnly","includeManagementEvents":false,"dataResources":[],"excludeManagementEventSources":[]}]}`,
				`{"trailARN":"`+trail+`","eventSelectors":[{"readWriteType":"ReadOnly","includeManagementEvents":false,"dataResources":[],"excludeManagementEventSources":[]}]}`, trail)
		})
		add(2*time.Second, func(g *generator) { g.trailCall("StopLogging", `{"name":"`+trail+`"}`, "null", trail) })
		add(3*time.Second, func(g *generator) { g.trailCall("DeleteTrail", `{"name":"`+trail+`"}`, "null", trail) })
	case 5: // bucket made public
		bucket := "gannet-finance-exports"
		add(time.Second, func(g *generator) {
			g.begin(g.mallory, "s3.amazonaws.com", "PutBucketPolicy", g.mallory.ip, g.mallory.ua)
			g.raw("requestParameters", `{"bucketPolicy":{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::`+bucket+`/*"}]},"bucketName":"`+bucket+`","Host":"`+bucket+`.s3.`+gen.Region+`.amazonaws.com","policy":""}`)
			g.raw("responseElements", "null")
			g.raw("additionalEventData", `{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":187,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"`+g.ident(40)+`","bytesTransferredOut":0}`)
			g.tail(g.mallory, false, "AwsApiCall", true, "Management", bucket+".s3."+gen.Region+".amazonaws.com",
				`[{"accountId":"`+gen.Account+`","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::`+bucket+`"}]`)
		})
		add(2*time.Second, func(g *generator) {
			g.begin(g.mallory, "s3.amazonaws.com", "PutBucketAcl", g.mallory.ip, g.mallory.ua)
			g.raw("requestParameters", `{"bucketName":"`+bucket+`","AccessControlPolicy":{"AccessControlList":{"Grant":[{"Grantee":{"xsi:type":"CanonicalUser","xmlns:xsi":"http://www.w3.org/2001/XMLSchema-instance","ID":"`+g.hex(64)+`"},"Permission":"FULL_CONTROL"},{"Grantee":{"xsi:type":"Group","xmlns:xsi":"http://www.w3.org/2001/XMLSchema-instance","URI":"http://acs.amazonaws.com/groups/global/AllUsers"},"Permission":"READ"}]},"xmlns":"http://s3.amazonaws.com/doc/2006-03-01/","Owner":{"ID":"`+g.hex(64)+`"}},"Host":"`+bucket+`.s3.`+gen.Region+`.amazonaws.com","acl":""}`)
			g.raw("responseElements", "null")
			g.raw("additionalEventData", `{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":712,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"`+g.ident(40)+`","bytesTransferredOut":0}`)
			g.tail(g.mallory, false, "AwsApiCall", true, "Management", bucket+".s3."+gen.Region+".amazonaws.com",
				`[{"accountId":"`+gen.Account+`","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::`+bucket+`"}]`)
		})
	case 6: // access key created for another user
		add(time.Second, func(g *generator) {
			victim := g.users[0].name
			g.begin(g.mallory, "iam.amazonaws.com", "CreateAccessKey", g.mallory.ip, g.mallory.ua)
			g.raw("requestParameters", `{"userName":"`+victim+`"}`)
			g.raw("responseElements", `{"accessKey":{"accessKeyId":"AKIA`+g.ident(16)+`","status":"Active","userName":"`+victim+`","createDate":"`+g.now.Format("Jan 2, 2006, 3:04:05 PM")+`"}}`)
			g.tail(g.mallory, false, "AwsApiCall", true, "Management", "iam.amazonaws.com", "")
		})
	}
}

func (g *generator) trailCall(name, req, resp, trail string) {
	g.begin(g.mallory, "cloudtrail.amazonaws.com", name, g.mallory.ip, g.mallory.ua)
	g.raw("requestParameters", req)
	g.raw("responseElements", resp)
	g.tail(g.mallory, false, "AwsApiCall", true, "Management", "cloudtrail."+gen.Region+".amazonaws.com",
		`[{"accountId":"`+gen.Account+`","type":"AWS::CloudTrail::Trail","ARN":"`+trail+`"}]`)
}

func (g *generator) openIngress(a actor, sg string, port int, v6 bool) {
	p := strconv.Itoa(port)
	ranges := `"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},"ipv6Ranges":{}`
	cidr := `"cidrIpv4":"0.0.0.0/0"`
	if v6 {
		ranges = `"ipRanges":{},"ipv6Ranges":{"items":[{"cidrIpv6":"::/0"}]}`
		cidr = `"cidrIpv6":"::/0"`
	}
	g.begin(a, "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", a.ip, a.ua)
	g.raw("requestParameters", `{"groupId":"`+sg+`","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":`+p+`,"toPort":`+p+`,"groups":{},`+ranges+`,"prefixListIds":{}}]}}`)
	g.raw("responseElements", `{"requestId":"`+jsonlog.UUID(g.r)+`","_return":true,"securityGroupRuleSet":{"items":[{"groupOwnerId":"`+gen.Account+`","groupId":"`+sg+`","securityGroupRuleId":"sgr-0`+g.hex(16)+`","isEgress":false,"ipProtocol":"tcp","fromPort":`+p+`,"toPort":`+p+`,`+cidr+`}]}}`)
	g.tail(a, false, "AwsApiCall", true, "Management", "ec2."+gen.Region+".amazonaws.com", "")
}

func (g *generator) s3Object(name string, readOnly bool, key string, size int64, errCode string) {
	a := g.app
	bucket := "gannet-app-data"
	g.begin(a, "s3.amazonaws.com", name, a.ip, a.ua)
	if errCode != "" {
		g.str("errorCode", errCode)
		g.str("errorMessage", "Access Denied")
	}
	g.raw("requestParameters", `{"bucketName":"`+bucket+`","Host":"`+bucket+`.s3.`+gen.Region+`.amazonaws.com","key":"`+key+`"}`)
	g.raw("responseElements", "null")
	in, out := int64(0), size
	if !readOnly {
		in, out = size, 0
	}
	g.raw("additionalEventData", `{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":`+strconv.FormatInt(in, 10)+`,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"`+g.ident(40)+`","bytesTransferredOut":`+strconv.FormatInt(out, 10)+`}`)
	g.tail(a, readOnly, "AwsApiCall", false, "Data", bucket+".s3."+gen.Region+".amazonaws.com",
		`[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::`+bucket+`/`+key+`"},{"accountId":"`+gen.Account+`","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::`+bucket+`"}]`)
}

// consoleLogin writes a ConsoleLogin sign-in event.
func (g *generator) consoleLogin(a actor, success, mfa bool) {
	a.ua, a.console = consoleUA, true
	g.b = append(g.b, `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"`...)
	g.b = append(g.b, a.principal...)
	g.b = append(g.b, `","arn":"`...)
	g.b = append(g.b, a.arn...)
	g.b = append(g.b, `","accountId":"`+gen.Account+`","userName":"`...)
	g.b = append(g.b, a.name...)
	g.b = append(g.b, `"}`...)
	g.str("eventTime", g.now.Format("2006-01-02T15:04:05Z"))
	g.str("eventSource", "signin.amazonaws.com")
	g.str("eventName", "ConsoleLogin")
	g.str("awsRegion", "us-east-1")
	g.str("sourceIPAddress", a.ip)
	g.str("userAgent", a.ua)
	result := "Success"
	if !success {
		result = "Failure"
		g.str("errorMessage", "Failed authentication")
	}
	g.raw("requestParameters", "null")
	g.raw("responseElements", `{"ConsoleLogin":"`+result+`"}`)
	mfaUsed := `"MFAUsed":"No"`
	if mfa {
		mfaUsed = `"MFAIdentifier":"arn:aws:iam::` + gen.Account + `:mfa/` + a.name + `","MFAUsed":"Yes"`
	}
	g.raw("additionalEventData", `{"LoginTo":"https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_`+g.hex(16)+`","MobileVersion":"No",`+mfaUsed+`}`)
	g.str("eventID", jsonlog.UUID(g.r))
	g.b = append(g.b, `,"readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"`+gen.Account+`","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"signin.aws.amazon.com"}}`+"\n"...)
}

// begin writes the head of an event up to userAgent.
func (g *generator) begin(a actor, source, name, ip, ua string) {
	g.b = append(g.b, `{"eventVersion":"1.10","userIdentity":{"type":"`...)
	g.b = append(g.b, a.kind...)
	g.b = append(g.b, '"')
	switch a.kind {
	case "AWSService":
		g.str("invokedBy", a.service)
	default:
		g.str("principalId", a.principal)
		g.str("arn", a.arn)
		g.str("accountId", gen.Account)
		g.str("accessKeyId", a.key)
		if a.kind == "IAMUser" {
			g.str("userName", a.name)
		}
		if a.kind == "AssumedRole" || a.console {
			g.b = append(g.b, `,"sessionContext":{`...)
			if a.kind == "AssumedRole" {
				roleID, _, _ := strings.Cut(a.principal, ":")
				g.b = append(g.b, `"sessionIssuer":{"type":"Role","principalId":"`+roleID+`","arn":"arn:aws:iam::`+gen.Account+`:role/`+a.role+`","accountId":"`+gen.Account+`","userName":"`+a.role+`"},`...)
				if a.role == "app-backend" {
					g.b = append(g.b, `"ec2RoleDelivery":"2.0",`...)
				}
			}
			mfa := "false"
			if a.console && a.kind == "IAMUser" {
				mfa = "true"
			}
			g.b = append(g.b, `"attributes":{"creationDate":"`...)
			g.b = append(g.b, g.now.Add(-37*time.Minute).Format("2006-01-02T15:04:05Z")...)
			g.b = append(g.b, `","mfaAuthenticated":"`+mfa+`"}}`...)
		}
	}
	g.b = append(g.b, '}')
	g.str("eventTime", g.now.Format("2006-01-02T15:04:05Z"))
	g.str("eventSource", source)
	g.str("eventName", name)
	g.str("awsRegion", gen.Region)
	g.str("sourceIPAddress", ip)
	g.str("userAgent", ua)
}

// tail writes the fields after responseElements/additionalEventData.
func (g *generator) tail(a actor, readOnly bool, eventType string, mgmt bool, category, host, resources string) {
	g.str("requestID", jsonlog.UUID(g.r))
	g.str("eventID", jsonlog.UUID(g.r))
	g.b = append(g.b, `,"readOnly":`...)
	g.b = strconv.AppendBool(g.b, readOnly)
	if resources != "" {
		g.raw("resources", resources)
	}
	g.str("eventType", eventType)
	g.b = append(g.b, `,"managementEvent":`...)
	g.b = strconv.AppendBool(g.b, mgmt)
	g.str("recipientAccountId", gen.Account)
	g.str("eventCategory", category)
	if a.console {
		g.str("sessionCredentialFromConsole", "true")
	}
	if host != "" && a.kind != "AWSService" {
		g.b = append(g.b, `,"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"`+host+`"}`...)
	}
	g.b = append(g.b, "}\n"...)
}

func (g *generator) str(k, v string) { g.b = jsonlog.AppendField(g.b, k, v) }
func (g *generator) raw(k, v string) { g.b = jsonlog.AppendRawField(g.b, k, v) }
