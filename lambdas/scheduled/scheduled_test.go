package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gannet-sec/gannet/detect/scheduled"
	"github.com/gannet-sec/gannet/lambdas/emf"
	"github.com/gannet-sec/gannet/stream"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

type pages []ec2.DescribeSecurityGroupsOutput

func (p pages) DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error) {
	i := 0
	if in.NextToken != nil {
		i = int((*in.NextToken)[0] - '0')
	}
	return &p[i], nil
}

func sg(id string, perms ...ec2types.IpPermission) ec2types.SecurityGroup {
	return ec2types.SecurityGroup{GroupId: aws.String(id), GroupName: aws.String(id), VpcId: aws.String("vpc-1"), IpPermissions: perms}
}

func TestOpenSecurityGroups(t *testing.T) {
	world6 := ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(8000), ToPort: aws.Int32(8100), Ipv6Ranges: []ec2types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}}
	all := ec2types.IpPermission{IpProtocol: aws.String("-1"), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}
	rdpRange := ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(3000), ToPort: aws.Int32(4000), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}
	private := ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}}
	api := pages{
		{SecurityGroups: []ec2types.SecurityGroup{sg("sg-web6", world6), sg("sg-private", private)}, NextToken: aws.String("1")},
		{SecurityGroups: []ec2types.SecurityGroup{sg("sg-all", all), sg("sg-rdp", rdpRange), sg("sg-none")}},
	}
	now := time.Date(2026, 11, 2, 15, 4, 5, 0, time.UTC)
	alerts, err := OpenSecurityGroups(context.Background(), api, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range alerts {
		got[a.Fields["security_group.id"]] = a.Level + " " + a.Fields["open"]
		if !a.WindowStart.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)) || a.Kind != "compliance" {
			t.Errorf("alert %+v", a)
		}
	}
	want := map[string]string{
		"sg-web6": "medium tcp/8000-8100 from ::/0",
		"sg-all":  "high all traffic from 0.0.0.0/0",
		"sg-rdp":  "high tcp/3000-4000 from 0.0.0.0/0",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

// TestCorrelateEmitsOrderedCounters: the correlate task reports the
// temporal_ordered follow-up searches and unconfirmed groups counted by the
// search runner since the last report, and resets them.
func TestCorrelateEmitsOrderedCounters(t *testing.T) {
	var out bytes.Buffer
	r := &Runner{Search: &scheduled.Runner{}, Tasks: []string{"correlate"}, Alerts: nopAlerts{},
		Metrics: &emf.Emitter{W: &out, Base: []emf.Dim{{Name: "Function", Value: "scheduled"}}}}
	r.Search.Followups.Add(3)
	r.Search.Unconfirmed.Add(1)
	if _, err := r.Handle(context.Background(), json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if m["OrderedFollowups"] != float64(3) || m["OrderedUnconfirmed"] != float64(1) || m["Task"] != "correlate" {
		t.Fatalf("emitted %s", out.String())
	}
	if r.Search.Followups.Load() != 0 || r.Search.Unconfirmed.Load() != 0 {
		t.Fatal("counters not reset after the report")
	}
}

type nopAlerts struct{}

func (nopAlerts) Deliver(context.Context, []stream.Alert) error { return nil }
