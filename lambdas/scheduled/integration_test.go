package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/lambdas/coldstart"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
)

// capture records alerts and passes them on.
type capture struct {
	next   Deliverer
	alerts []stream.Alert
}

func (c *capture) Deliver(ctx context.Context, a []stream.Alert) error {
	c.alerts = append(c.alerts, a...)
	return c.next.Deliver(ctx, a)
}

func TestIntegrationComplianceOpenSecurityGroups(t *testing.T) {
	ep := stacktest.Require(t, stacktest.Moto)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ec2c := ec2.NewFromConfig(ep.AWSConfig(t))
	vpc, err := ec2c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.77.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := *vpc.Vpc.VpcId
	// moto checks group names across VPCs: names unique per run keep reruns
	// against a long-lived moto independent.
	suffix := stacktest.UniqueName(t, "sg")
	mk := func(name string, perms ...ec2types.IpPermission) string {
		name += "-" + suffix
		g, err := ec2c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(name), VpcId: aws.String(vpcID)})
		if err != nil {
			t.Fatal(err)
		}
		if len(perms) > 0 {
			if _, err := ec2c.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: perms}); err != nil {
				t.Fatal(err)
			}
		}
		return *g.GroupId
	}
	tcp := func(port int32, cidr string) ec2types.IpPermission {
		return ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(port), ToPort: aws.Int32(port), IpRanges: []ec2types.IpRange{{CidrIp: aws.String(cidr)}}}
	}
	open := mk("ssh-world", tcp(22, "0.0.0.0/0"))
	mk("https-internal", tcp(443, "10.0.0.0/8"))
	mk("ssh-office", tcp(22, "203.0.113.0/24"))
	mk("empty")

	lakeDir := t.TempDir()
	cfg := config.Default()
	cfg.Lake = lakeDir
	sinks, err := coldstart.AlertSinks(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sinks.Close(ctx)
	cap := &capture{next: sinks}
	r := &Runner{EC2: ec2c, Alerts: cap}
	out, err := r.Handle(ctx, json.RawMessage(`{"task":"compliance"}`))
	if err != nil {
		t.Fatal(err)
	}
	var mine []stream.Alert
	for _, a := range cap.alerts {
		if a.Fields["vpc.id"] == vpcID {
			mine = append(mine, a)
		}
	}
	if len(mine) != 1 || mine[0].Fields["security_group.id"] != open {
		t.Fatalf("alerts for the test VPC: %+v, want exactly %s", mine, open)
	}
	a := mine[0]
	if a.Kind != KindCompliance || a.Level != "high" || a.RuleID != RuleOpenSG || !strings.Contains(a.Fields["open"], "tcp/22 from 0.0.0.0/0") {
		t.Errorf("alert %+v", a)
	}
	if out["compliance"].(int) < 1 {
		t.Errorf("output %v", out)
	}
	// The same day, the same alert id.
	cap.alerts = nil
	if _, err := r.Handle(ctx, json.RawMessage(`{"task":"compliance"}`)); err != nil {
		t.Fatal(err)
	}
	for _, b := range cap.alerts {
		if b.Fields["security_group.id"] == open && b.ID != a.ID {
			t.Errorf("re-run gave a new alert id")
		}
	}
	// The lake's alerts table holds it.
	var files []string
	filepath.WalkDir(filepath.Join(lakeDir, "alerts"), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatalf("no alerts file in the lake at %s", lakeDir)
	}
}
