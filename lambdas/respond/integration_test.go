package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
)

func TestIntegrationRespondStepsAgainstMoto(t *testing.T) {
	ep := stacktest.Require(t, stacktest.Moto)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := ep.AWSConfig(t)
	ec2c, ssmc, snsc := ec2.NewFromConfig(cfg), ssm.NewFromConfig(cfg), sns.NewFromConfig(cfg)

	vpc, err := ec2c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.42.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := *vpc.Vpc.VpcId
	subnet, err := ec2c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String("10.42.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	web, err := ec2c.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web"), VpcId: aws.String(vpcID)})
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := ec2c.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	if err != nil || len(imgs.Images) == 0 {
		t.Fatalf("no AMI in moto: %v", err)
	}
	run, err := ec2c.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: imgs.Images[0].ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
		InstanceType: ec2types.InstanceTypeT3Micro, SubnetId: subnet.Subnet.SubnetId, SecurityGroupIds: []string{*web.GroupId}})
	if err != nil {
		t.Fatal(err)
	}
	inst := *run.Instances[0].InstanceId
	topic, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("gannet-incidents")})
	if err != nil {
		t.Fatal(err)
	}
	r := &Responder{C: FromSDK(ec2c, ssmc, snsc), TopicARN: *topic.TopicArn}
	incident := "inc-" + time.Now().Format("150405.000")

	for pass := range 2 { // the second pass re-runs every step: nothing may be duplicated
		q, err := r.Handle(ctx, Input{Step: "quarantine", IncidentID: incident, InstanceID: inst})
		if err != nil {
			t.Fatal(err)
		}
		if q.AlreadyDone != (pass == 1) || !strings.HasPrefix(q.IsolationGroup, "sg-") || len(q.OriginalGroups) != 1 || q.OriginalGroups[0] != *web.GroupId {
			t.Fatalf("pass %d quarantine: %+v", pass, q)
		}
		d, err := ec2c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{inst}})
		if err != nil {
			t.Fatal(err)
		}
		i := d.Reservations[0].Instances[0]
		if len(i.SecurityGroups) != 1 || *i.SecurityGroups[0].GroupId != q.IsolationGroup {
			t.Fatalf("instance groups %+v, want only %s", i.SecurityGroups, q.IsolationGroup)
		}
		if v, _ := tag(i.Tags, TagQuarantined); v != incident {
			t.Errorf("quarantine tag = %q", v)
		}
		if v, _ := tag(i.Tags, TagOriginalGroups); v != *web.GroupId {
			t.Errorf("original groups tag = %q (a re-run must not overwrite it with the isolation group)", v)
		}
		groups, err := ec2c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{IsolationPrefix + vpcID}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(groups.SecurityGroups) != 1 || len(groups.SecurityGroups[0].IpPermissions) != 0 || len(groups.SecurityGroups[0].IpPermissionsEgress) != 0 {
			t.Fatalf("isolation groups: %+v (want exactly one, without rules)", groups.SecurityGroups)
		}

		s, err := r.Handle(ctx, Input{Step: "snapshot", IncidentID: incident, InstanceID: inst})
		if err != nil {
			t.Fatal(err)
		}
		snaps, err := ec2c.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + TagIncident), Values: []string{incident}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Snapshots) == 0 || len(snaps.Snapshots) != len(s.Snapshots) || s.AlreadyDone != (pass == 1) {
			t.Fatalf("pass %d snapshot: %+v; incident snapshots in EC2: %d", pass, s, len(snaps.Snapshots))
		}

		m, err := r.Handle(ctx, Input{Step: "memory", IncidentID: incident, InstanceID: inst, EvidenceS3: "s3://evidence/incidents"})
		if err != nil {
			t.Fatal(err)
		}
		cmds, err := ssmc.ListCommands(ctx, &ssm.ListCommandsInput{InstanceId: aws.String(inst)})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range cmds.Commands {
			if aws.ToString(c.Comment) == "gannet memory capture "+incident {
				n++
				if aws.ToString(c.DocumentName) != "AWS-RunShellScript" || *c.CommandId != m.CommandID || !strings.Contains(strings.Join(c.Parameters["commands"], "\n"), "lime") {
					t.Errorf("command %+v", c)
				}
			}
		}
		if n != 1 || m.AlreadyDone != (pass == 1) {
			t.Fatalf("pass %d: %d memory capture commands sent (want exactly 1), output %+v", pass, n, m)
		}

		no, err := r.Handle(ctx, Input{Step: "notify", IncidentID: incident, InstanceID: inst, Previous: map[string]any{"snapshot": s.Snapshots}})
		if err != nil || no.MessageID == "" {
			t.Fatalf("notify: %+v %v", no, err)
		}
	}
	if _, err := r.Handle(ctx, Input{Step: "reboot", IncidentID: incident}); !errors.Is(err, ErrBadInput) {
		t.Errorf("unknown step: %v", err)
	}
}
