package elastic

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

// Test fixtures: deterministic events shaped like each format's parser
// output (the parsers are written elsewhere), with realistic raw records.

var fixtureStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

var (
	catAuth = []string{"authentication"}
	catNet  = []string{"network"}
	catWeb  = []string{"web"}
	typInfo = []string{"info"}
	typConn = []string{"connection"}
	typAcc  = []string{"access"}
)

func fixtureIP(r *rand.Rand) netip.Addr {
	nets := [...][2]byte{{81, 2}, {93, 184}, {104, 28}, {151, 101}, {172, 67}, {185, 199}, {52, 95}, {34, 240}}
	n := nets[r.IntN(len(nets))]
	return netip.AddrFrom4([4]byte{n[0], n[1], byte(r.IntN(8)), byte(1 + r.IntN(254))})
}

func cloudTrailRaw(r *rand.Rand, ts time.Time, ip netip.Addr, i int) []byte {
	return fmt.Appendf(nil, `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA%016d","arn":"arn:aws:iam::123456789012:user/alice%d","accountId":"123456789012","accessKeyId":"AKIA%016d","userName":"alice%d","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":"%s","mfaAuthenticated":"false"}}},"eventTime":"%s","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"%s","userAgent":"[aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2023 prompt/off command/s3.cp]","requestParameters":{"bucketName":"logs-%d","Host":"logs-%d.s3.eu-west-1.amazonaws.com","key":"data/2026/11/01/object-%d.json.gz"},"responseElements":null,"additionalEventData":{"SignatureVersion":"SigV4","CipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"Q2xvdWRUcmFpbCBpcyBhIHNlcnZpY2U=","bytesTransferredOut":%d},"requestID":"%016X","eventID":"%08x-1d2c-4e5f-8a9b-%012x","readOnly":true,"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::logs-%d/data/object-%d.json.gz"},{"accountId":"123456789012","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::logs-%d"}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"123456789012","eventCategory":"Data","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"logs-%d.s3.eu-west-1.amazonaws.com"}}`,
		i, i%50, i, i%50, ts.Add(-time.Hour).Format(time.RFC3339), ts.Format(time.RFC3339), ip, i%7, i%7, i, r.IntN(1<<20), r.Uint64(), r.Uint32(), r.Uint64()&0xffffffffffff, i%7, i, i%7, i%7)
}

// fixtureEvents returns n events of format f, one second apart from
// fixtureStart, each with a distinct lineage and id.
func fixtureEvents(f stream.Format, n int, seed uint64) []stream.Event {
	r := rand.New(rand.NewPCG(seed, uint64(f)))
	evs := make([]stream.Event, n)
	for i := range evs {
		ev := &evs[i]
		ts := fixtureStart.Add(time.Duration(i) * time.Second)
		ev.Lineage = stream.Lineage{Kind: stream.OriginKinesis, Source: "arn:aws:kinesis:eu-west-1:123456789012:stream/gannet-" + f.String(),
			Shard: "shardId-000000000001", Sequence: fmt.Sprintf("4963%048d", uint64(seed)*1e9+uint64(i)), SubSequence: -1, Index: int64(i % 3)}
		ev.ID = ev.Lineage.ID()
		ev.Timestamp = ts
		ev.Ingested = ts.Add(90 * time.Second)
		ev.Format = f
		ev.Kind = "event"
		ev.CloudProvider = "aws"
		ev.CloudAccountID = "123456789012"
		ev.CloudRegion = "eu-west-1"
		src := fixtureIP(r)
		ev.Source.IP = src
		ev.Source.Geo = stream.Geo{CountryISOCode: "DE", CountryName: "Germany", CityName: "Berlin",
			Location: stream.GeoPoint{Lat: 52.52 + float64(i%10)/100, Lon: 13.40, Valid: true}}
		ev.Source.AS = stream.AS{Number: 3320, OrganizationName: "Deutsche Telekom AG"}
		switch f {
		case stream.FormatCloudTrail:
			ev.Category, ev.Type = catAuth, typInfo
			ev.Action = "GetObject"
			ev.Provider = "s3.amazonaws.com"
			ev.Outcome = "success"
			ev.UserName = fmt.Sprintf("alice%d", i%50)
			ev.UserID = fmt.Sprintf("AIDA%016d", i)
			ev.UserAgent = "[aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2023 prompt/off command/s3.cp]"
			ev.Raw = cloudTrailRaw(r, ts, src, i)
		case stream.FormatALB:
			ev.Category, ev.Type = catWeb, typAcc
			ev.HTTPMethod, ev.HTTPVersion, ev.HTTPStatusCode = "GET", "1.1", 200
			ev.URLOriginal = fmt.Sprintf("https://shop.example.com:443/products/%d?ref=home&q=%d", i, r.IntN(1000))
			ev.URLDomain, ev.URLPath, ev.URLQuery = "shop.example.com", fmt.Sprintf("/products/%d", i), "ref=home"
			ev.UserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
			ev.Source.Port = int32(1024 + r.IntN(60000))
			ev.Destination.IP = netip.AddrFrom4([4]byte{10, 0, 1, byte(1 + i%200)})
			ev.Destination.Port = 80
			ev.Raw = fmt.Appendf(nil, `https %s app/my-alb/50dc6c495c0c9188 %s:%d 10.0.1.%d:80 0.000 0.001 0.000 200 200 34 366 "GET https://shop.example.com:443/products/%d?ref=home HTTP/1.1" "%s" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "shop.example.com" "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 0 %s "forward" "-" "-" "10.0.1.%d:80" "200" "-" "-"`,
				ts.Format("2006-01-02T15:04:05.000000Z"), src, ev.Source.Port, 1+i%200, i, ev.UserAgent, ts.Format("2006-01-02T15:04:05.000000Z"), 1+i%200)
		case stream.FormatVPCFlow:
			ev.Category, ev.Type = catNet, typConn
			ev.Action = "ACCEPT"
			ev.Destination.IP = netip.AddrFrom4([4]byte{10, 0, byte(i % 16), byte(1 + i%200)})
			ev.Source.Port, ev.Destination.Port = int32(1024+r.IntN(60000)), 443
			ev.NetworkTransport, ev.NetworkIANA = "tcp", 6
			ev.NetworkBytes, ev.NetworkPackets = int64(r.IntN(100000)), int64(r.IntN(100))
			ev.Raw = fmt.Appendf(nil, "2 123456789012 eni-0a1b2c3d4e5f60718 %s %s %d 443 6 %d %d %d %d ACCEPT OK",
				src, ev.Destination.IP, ev.Source.Port, ev.NetworkPackets, ev.NetworkBytes, ts.Unix(), ts.Unix()+60)
		default: // JSON formats without a dedicated fixture: a small JSON record
			ev.Category, ev.Type = catNet, typInfo
			ev.Action = "query"
			ev.DNSQuestionName, ev.DNSQuestionType, ev.DNSResponseCode = fmt.Sprintf("host%d.example.com", i%100), "A", "NOERROR"
			ev.Raw = fmt.Appendf(nil, `{"version":"1.100000","account_id":"123456789012","region":"eu-west-1","vpc_id":"vpc-0a1b2c3d","query_timestamp":"%s","query_name":"host%d.example.com.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"93.184.216.34","Type":"A","Class":"IN"}],"srcaddr":"%s","srcport":"%d","transport":"UDP","srcids":{"instance":"i-0123456789abcdef0"}}`,
				ts.Format(time.RFC3339), i%100, src, 1024+i%60000)
		}
	}
	return evs
}
