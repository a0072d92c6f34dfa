package lake

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/gannet-sec/gannet/stream"
)

var (
	ctActions   = []string{"ConsoleLogin", "AssumeRole", "GetObject", "PutObject", "DescribeInstances", "ListBuckets", "CreateUser", "StopLogging", "AuthorizeSecurityGroupIngress", "GetCallerIdentity"}
	ctProviders = []string{"signin.amazonaws.com", "sts.amazonaws.com", "s3.amazonaws.com", "ec2.amazonaws.com", "iam.amazonaws.com", "cloudtrail.amazonaws.com"}
	ctUsers     = []string{"alice", "bob", "carol", "deploy-bot", "mallory", "terraform", "ci-runner", "admin"}
	ctAgents    = []string{
		"aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.ubuntu.22 prompt/off command/s3.ls",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/sts#1.30.3",
		"Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.12.1",
		"console.amazonaws.com",
	}
	ctRegions = []string{"eu-west-1", "us-east-1", "eu-central-1"}
	ctErrors  = []string{"AccessDenied", "UnauthorizedOperation", "ThrottlingException"}
	catIAM    = []string{"iam"}
	catAuth   = []string{"authentication"}
	typeInfo  = []string{"info"}
	typeAcc   = []string{"access", "change"}
)

// cloudTrailEvents returns n CloudTrail-shaped events (common fields as a
// CloudTrail parser fills them) from one Kinesis shard, starting at start.
func cloudTrailEvents(n int, seed uint64, start time.Time) []stream.Event {
	r := rand.New(rand.NewPCG(seed, 7))
	evs := make([]stream.Event, n)
	for i := range evs {
		e := &evs[i]
		e.Lineage = stream.Lineage{
			Kind:        stream.OriginKinesis,
			Source:      "arn:aws:kinesis:eu-west-1:123456789012:stream/gannet-cloudtrail",
			Shard:       "shardId-000000000001",
			Sequence:    fmt.Sprintf("49590338271490256608559692538361571095921575989136%06d", seed*1_000_000+uint64(i)/4),
			SubSequence: int64(i % 4),
			Index:       0,
		}
		e.ID = e.Lineage.ID()
		e.Format = stream.FormatCloudTrail
		e.Timestamp = start.Add(time.Duration(i) * 37 * time.Millisecond)
		e.Ingested = e.Timestamp.Add(2*time.Second + time.Duration(r.IntN(900))*time.Millisecond)
		e.Kind = "event"
		e.Action = ctActions[r.IntN(len(ctActions))]
		e.Provider = ctProviders[r.IntN(len(ctProviders))]
		if e.Provider == "signin.amazonaws.com" {
			e.Category, e.Type = catAuth, typeInfo
		} else {
			e.Category, e.Type = catIAM, typeAcc
		}
		e.Outcome = "success"
		if r.IntN(10) == 0 {
			e.Outcome = "failure"
			e.ErrorCode = ctErrors[r.IntN(len(ctErrors))]
			e.ErrorMessage = "User: arn:aws:iam::123456789012:user/" + ctUsers[r.IntN(len(ctUsers))] + " is not authorized to perform: " + e.Action
		}
		e.Source.IP = netip.AddrFrom4([4]byte{81, 2, byte(r.IntN(8)), byte(1 + r.IntN(254))})
		e.Source.Address = e.Source.IP.String()
		e.UserName = ctUsers[r.IntN(len(ctUsers))]
		e.UserID = fmt.Sprintf("AIDA%016X", r.Uint64()%4096)
		e.UserAgent = ctAgents[r.IntN(len(ctAgents))]
		e.CloudProvider = "aws"
		e.CloudAccountID = "123456789012"
		e.CloudRegion = ctRegions[r.IntN(len(ctRegions))]
		if r.IntN(50) == 0 {
			e.Threat = append(e.Threat, stream.ThreatEnrichment{Indicator: e.Source.IP.String(), Type: "ipv4-addr", Feed: "demo", Confidence: 80, MatchedField: "source.ip", MatchedValue: e.Source.IP.String()})
		}
		if r.IntN(3) == 0 {
			e.Source.Geo = stream.Geo{CountryISOCode: "GB", CountryName: "United Kingdom", CityName: "London", Location: stream.GeoPoint{Lat: 51.5, Lon: -0.12, Valid: true}}
			e.Source.AS = stream.AS{Number: 2856, OrganizationName: "British Telecommunications PLC"}
		}
	}
	return evs
}
