package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// One-method interfaces over the AWS calls the steps make (the SDK clients fit).
type (
	DescribeInstancesAPI interface {
		DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
	}
	DescribeSecurityGroupsAPI interface {
		DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
	}
	CreateSecurityGroupAPI interface {
		CreateSecurityGroup(ctx context.Context, in *ec2.CreateSecurityGroupInput, optFns ...func(*ec2.Options)) (*ec2.CreateSecurityGroupOutput, error)
	}
	RevokeEgressAPI interface {
		RevokeSecurityGroupEgress(ctx context.Context, in *ec2.RevokeSecurityGroupEgressInput, optFns ...func(*ec2.Options)) (*ec2.RevokeSecurityGroupEgressOutput, error)
	}
	ModifyInstanceAttributeAPI interface {
		ModifyInstanceAttribute(ctx context.Context, in *ec2.ModifyInstanceAttributeInput, optFns ...func(*ec2.Options)) (*ec2.ModifyInstanceAttributeOutput, error)
	}
	CreateTagsAPI interface {
		CreateTags(ctx context.Context, in *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	}
	DescribeSnapshotsAPI interface {
		DescribeSnapshots(ctx context.Context, in *ec2.DescribeSnapshotsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSnapshotsOutput, error)
	}
	CreateSnapshotAPI interface {
		CreateSnapshot(ctx context.Context, in *ec2.CreateSnapshotInput, optFns ...func(*ec2.Options)) (*ec2.CreateSnapshotOutput, error)
	}
	SendCommandAPI interface {
		SendCommand(ctx context.Context, in *ssm.SendCommandInput, optFns ...func(*ssm.Options)) (*ssm.SendCommandOutput, error)
	}
	PublishAPI interface {
		Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
	}
)

// Clients are the AWS calls of the steps.
type Clients struct {
	DescribeInstances      DescribeInstancesAPI
	DescribeSecurityGroups DescribeSecurityGroupsAPI
	CreateSecurityGroup    CreateSecurityGroupAPI
	RevokeEgress           RevokeEgressAPI
	ModifyInstance         ModifyInstanceAttributeAPI
	CreateTags             CreateTagsAPI
	DescribeSnapshots      DescribeSnapshotsAPI
	CreateSnapshot         CreateSnapshotAPI
	SendCommand            SendCommandAPI
	Publish                PublishAPI
}

// FromSDK fills Clients from SDK clients.
func FromSDK(e *ec2.Client, s *ssm.Client, n *sns.Client) Clients {
	return Clients{e, e, e, e, e, e, e, e, s, n}
}

// Tags the steps write (and read back to stay idempotent).
const (
	TagIncident       = "gannet:incident"        // on the instance, the isolation group's users and snapshots
	TagQuarantined    = "gannet:quarantined"     // instance: the incident that quarantined it
	TagOriginalGroups = "gannet:original-groups" // instance: its groups before quarantine (for release)
	TagVolume         = "gannet:volume"          // snapshot: the volume it was taken of
	TagMemoryCommand  = "gannet:memory-command"  // instance: the SSM command id of the memory capture
	IsolationPrefix   = "gannet-isolation-"      // + VPC id: the isolation security group
)

// Input is what the state machine passes to a step.
type Input struct {
	Step       string          `json:"step"` // quarantine, snapshot, memory, notify
	IncidentID string          `json:"incident_id"`
	InstanceID string          `json:"instance_id"`
	Alert      json.RawMessage `json:"alert,omitempty"`
	// Memory capture: where the image goes (s3://bucket/prefix).
	EvidenceS3 string `json:"evidence_s3,omitempty"`
	// Notify: topic (default GANNET_RESPOND_TOPIC_ARN) and subject.
	TopicARN string `json:"topic_arn,omitempty"`
	Subject  string `json:"subject,omitempty"`
	// Results of earlier steps, passed along by the state machine.
	Previous map[string]any `json:"previous,omitempty"`
}

// Output is what a step returns (merged into the execution's state).
type Output struct {
	Step           string   `json:"step"`
	IncidentID     string   `json:"incident_id"`
	InstanceID     string   `json:"instance_id,omitempty"`
	IsolationGroup string   `json:"isolation_group,omitempty"`
	OriginalGroups []string `json:"original_groups,omitempty"`
	Snapshots      []string `json:"snapshots,omitempty"`
	CommandID      string   `json:"command_id,omitempty"`
	MessageID      string   `json:"message_id,omitempty"`
	// AlreadyDone is true when the step found its work done by an earlier run.
	AlreadyDone bool `json:"already_done"`
}

// Responder runs the incident-response steps.
type Responder struct {
	C        Clients
	TopicARN string // default topic of notify
	Logger   *slog.Logger
}

// Permanent errors: bad input; Step Functions should not retry them.
var ErrBadInput = errors.New("respond: bad input")

// Handle dispatches on in.Step.
func (r *Responder) Handle(ctx context.Context, in Input) (Output, error) {
	if in.IncidentID == "" {
		return Output{}, fmt.Errorf("%w: incident_id is required", ErrBadInput)
	}
	var out Output
	var err error
	switch in.Step {
	case "quarantine":
		out, err = r.Quarantine(ctx, in)
	case "snapshot":
		out, err = r.Snapshot(ctx, in)
	case "memory":
		out, err = r.Memory(ctx, in)
	case "notify":
		out, err = r.Notify(ctx, in)
	default:
		return Output{}, fmt.Errorf("%w: step %q: want quarantine, snapshot, memory or notify", ErrBadInput, in.Step)
	}
	if r.Logger != nil {
		r.Logger.Info("step", "step", in.Step, "incident", in.IncidentID, "instance", in.InstanceID, "already_done", out.AlreadyDone, "error", errString(err))
	}
	return out, err
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (r *Responder) instance(ctx context.Context, id string) (*ec2types.Instance, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: instance_id is required", ErrBadInput)
	}
	out, err := r.C.DescribeInstances.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", id, err)
	}
	for _, res := range out.Reservations {
		for i := range res.Instances {
			if aws.ToString(res.Instances[i].InstanceId) == id {
				return &res.Instances[i], nil
			}
		}
	}
	return nil, fmt.Errorf("%w: instance %s not found", ErrBadInput, id)
}

func tag(tags []ec2types.Tag, k string) (string, bool) {
	for _, t := range tags {
		if aws.ToString(t.Key) == k {
			return aws.ToString(t.Value), true
		}
	}
	return "", false
}

// Quarantine moves the instance into its VPC's isolation security group (no
// inbound, no outbound rule), created on first use, and tags it with the
// incident and its original groups. Re-running it changes nothing.
func (r *Responder) Quarantine(ctx context.Context, in Input) (Output, error) {
	out := Output{Step: "quarantine", IncidentID: in.IncidentID, InstanceID: in.InstanceID}
	inst, err := r.instance(ctx, in.InstanceID)
	if err != nil {
		return out, err
	}
	vpc := aws.ToString(inst.VpcId)
	if vpc == "" {
		return out, fmt.Errorf("%w: instance %s is not in a VPC", ErrBadInput, in.InstanceID)
	}
	sg, err := r.isolationGroup(ctx, vpc)
	if err != nil {
		return out, err
	}
	out.IsolationGroup = sg
	var current []string
	for _, g := range inst.SecurityGroups {
		current = append(current, aws.ToString(g.GroupId))
	}
	sort.Strings(current)
	orig, tagged := tag(inst.Tags, TagOriginalGroups)
	if tagged {
		out.OriginalGroups = strings.Split(orig, ",")
	} else {
		out.OriginalGroups = current
	}
	if len(current) == 1 && current[0] == sg {
		out.AlreadyDone = true
	}
	// Tags first: the original groups must be recorded before they are replaced.
	tags := []ec2types.Tag{{Key: aws.String(TagQuarantined), Value: aws.String(in.IncidentID)}, {Key: aws.String(TagIncident), Value: aws.String(in.IncidentID)}}
	if !tagged {
		tags = append(tags, ec2types.Tag{Key: aws.String(TagOriginalGroups), Value: aws.String(strings.Join(current, ","))})
	}
	if _, err := r.C.CreateTags.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{in.InstanceID}, Tags: tags}); err != nil {
		return out, fmt.Errorf("tag %s: %w", in.InstanceID, err)
	}
	if !out.AlreadyDone {
		if _, err := r.C.ModifyInstance.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(in.InstanceID), Groups: []string{sg}}); err != nil {
			return out, fmt.Errorf("move %s into %s: %w", in.InstanceID, sg, err)
		}
	}
	return out, nil
}

// isolationGroup finds or creates the VPC's isolation group and makes sure
// it has no rule (a new group allows all egress: that rule is revoked).
func (r *Responder) isolationGroup(ctx context.Context, vpc string) (string, error) {
	name := IsolationPrefix + vpc
	find := func() (*ec2types.SecurityGroup, error) {
		out, err := r.C.DescribeSecurityGroups.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("group-name"), Values: []string{name}}}})
		if err != nil {
			return nil, fmt.Errorf("find %s: %w", name, err)
		}
		if len(out.SecurityGroups) == 0 {
			return nil, nil
		}
		return &out.SecurityGroups[0], nil
	}
	g, err := find()
	if err != nil {
		return "", err
	}
	if g == nil {
		_, err := r.C.CreateSecurityGroup.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
			GroupName: aws.String(name), VpcId: aws.String(vpc),
			Description: aws.String("Gannet incident response: isolation, no inbound or outbound rule"),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup,
				Tags: []ec2types.Tag{{Key: aws.String("gannet:role"), Value: aws.String("isolation")}}}},
		})
		if err != nil && !strings.Contains(err.Error(), "InvalidGroup.Duplicate") { // a concurrent run created it
			return "", fmt.Errorf("create %s: %w", name, err)
		}
		if g, err = find(); err != nil {
			return "", err
		}
		if g == nil {
			return "", fmt.Errorf("%s not found after creating it", name)
		}
	}
	if len(g.IpPermissionsEgress) > 0 {
		if _, err := r.C.RevokeEgress.RevokeSecurityGroupEgress(ctx, &ec2.RevokeSecurityGroupEgressInput{GroupId: g.GroupId, IpPermissions: g.IpPermissionsEgress}); err != nil {
			return "", fmt.Errorf("revoke egress of %s: %w", aws.ToString(g.GroupId), err)
		}
	}
	return aws.ToString(g.GroupId), nil
}

// Snapshot snapshots every EBS volume of the instance once per incident:
// a volume that already has a snapshot tagged with the incident is skipped.
func (r *Responder) Snapshot(ctx context.Context, in Input) (Output, error) {
	out := Output{Step: "snapshot", IncidentID: in.IncidentID, InstanceID: in.InstanceID}
	inst, err := r.instance(ctx, in.InstanceID)
	if err != nil {
		return out, err
	}
	existing, err := r.C.DescribeSnapshots.DescribeSnapshots(ctx, &ec2.DescribeSnapshotsInput{OwnerIds: []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + TagIncident), Values: []string{in.IncidentID}}}})
	if err != nil {
		return out, fmt.Errorf("describe snapshots: %w", err)
	}
	done := map[string]string{}
	for _, s := range existing.Snapshots {
		if v, ok := tag(s.Tags, TagVolume); ok {
			done[v] = aws.ToString(s.SnapshotId)
		}
	}
	var vols []string
	for _, bd := range inst.BlockDeviceMappings {
		if bd.Ebs != nil && bd.Ebs.VolumeId != nil {
			vols = append(vols, *bd.Ebs.VolumeId)
		}
	}
	if len(vols) == 0 {
		return out, fmt.Errorf("%w: instance %s has no EBS volume", ErrBadInput, in.InstanceID)
	}
	created := 0
	for _, v := range vols {
		if id, ok := done[v]; ok {
			out.Snapshots = append(out.Snapshots, id)
			continue
		}
		s, err := r.C.CreateSnapshot.CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(v),
			Description: aws.String(fmt.Sprintf("Gannet incident %s: %s %s", in.IncidentID, in.InstanceID, v)),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSnapshot, Tags: []ec2types.Tag{
				{Key: aws.String(TagIncident), Value: aws.String(in.IncidentID)},
				{Key: aws.String(TagVolume), Value: aws.String(v)},
				{Key: aws.String("gannet:instance"), Value: aws.String(in.InstanceID)}}}}})
		if err != nil {
			return out, fmt.Errorf("snapshot %s: %w", v, err)
		}
		out.Snapshots = append(out.Snapshots, aws.ToString(s.SnapshotId))
		created++
	}
	out.AlreadyDone = created == 0
	return out, nil
}

// MemoryScript is the AWS-RunShellScript the memory step sends: capture RAM
// with LiME into the evidence bucket, then a Volatility 3 process list for
// triage. lambdas/respond/README.md documents it.
func MemoryScript(incident, evidence string) []string {
	dst := strings.TrimSuffix(evidence, "/") + "/" + incident
	return []string{
		"set -euo pipefail",
		"INC=" + shellQuote(incident) + "; DST=" + shellQuote(dst) + "; OUT=/var/tmp/gannet-$INC; mkdir -p $OUT",
		"modprobe lime \"path=$OUT/mem.lime format=lime\" || insmod /opt/gannet/lime-$(uname -r).ko \"path=$OUT/mem.lime format=lime\"",
		"sha256sum $OUT/mem.lime > $OUT/mem.lime.sha256",
		"aws s3 cp $OUT/mem.lime \"$DST/$(hostname)-mem.lime\" && aws s3 cp $OUT/mem.lime.sha256 \"$DST/$(hostname)-mem.lime.sha256\"",
		"if command -v vol >/dev/null; then vol -f $OUT/mem.lime linux.pslist > $OUT/pslist.txt && aws s3 cp $OUT/pslist.txt \"$DST/$(hostname)-pslist.txt\"; fi",
		"rm -f $OUT/mem.lime",
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Memory sends the memory-capture command through SSM Run Command once per
// incident: the command id is kept in a tag of the instance, and a re-run
// returns it instead of sending another.
func (r *Responder) Memory(ctx context.Context, in Input) (Output, error) {
	out := Output{Step: "memory", IncidentID: in.IncidentID, InstanceID: in.InstanceID}
	inst, err := r.instance(ctx, in.InstanceID)
	if err != nil {
		return out, err
	}
	if v, ok := tag(inst.Tags, TagMemoryCommand); ok && strings.HasPrefix(v, in.IncidentID+"/") {
		out.CommandID, out.AlreadyDone = strings.TrimPrefix(v, in.IncidentID+"/"), true
		return out, nil
	}
	if !strings.HasPrefix(in.EvidenceS3, "s3://") {
		return out, fmt.Errorf("%w: evidence_s3 (s3://bucket/prefix) is required", ErrBadInput)
	}
	cmd, err := r.C.SendCommand.SendCommand(ctx, &ssm.SendCommandInput{
		DocumentName: aws.String("AWS-RunShellScript"), InstanceIds: []string{in.InstanceID},
		Comment:        aws.String("gannet memory capture " + in.IncidentID),
		TimeoutSeconds: aws.Int32(3600),
		Parameters:     map[string][]string{"commands": MemoryScript(in.IncidentID, in.EvidenceS3), "executionTimeout": {"3600"}},
	})
	if err != nil {
		return out, fmt.Errorf("send memory capture to %s: %w", in.InstanceID, err)
	}
	out.CommandID = aws.ToString(cmd.Command.CommandId)
	if _, err := r.C.CreateTags.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{in.InstanceID},
		Tags: []ec2types.Tag{{Key: aws.String(TagMemoryCommand), Value: aws.String(in.IncidentID + "/" + out.CommandID)}}}); err != nil {
		return out, fmt.Errorf("tag %s with command %s: %w", in.InstanceID, out.CommandID, err)
	}
	return out, nil
}

// Notify publishes the incident summary to SNS. On a FIFO topic the
// incident and step make the deduplication id, so a re-run is not
// delivered twice; on a standard topic subscribers deduplicate by incident_id.
func (r *Responder) Notify(ctx context.Context, in Input) (Output, error) {
	out := Output{Step: "notify", IncidentID: in.IncidentID, InstanceID: in.InstanceID}
	topic := in.TopicARN
	if topic == "" {
		topic = r.TopicARN
	}
	if topic == "" {
		return out, fmt.Errorf("%w: no topic (topic_arn or GANNET_RESPOND_TOPIC_ARN)", ErrBadInput)
	}
	body, _ := json.Marshal(map[string]any{"incident_id": in.IncidentID, "instance_id": in.InstanceID, "alert": in.Alert, "steps": in.Previous})
	subject := in.Subject
	if subject == "" {
		subject = "Gannet incident " + in.IncidentID
	}
	pin := &sns.PublishInput{TopicArn: aws.String(topic), Subject: aws.String(subject[:min(len(subject), 100)]), Message: aws.String(string(body))}
	if strings.HasSuffix(topic, ".fifo") {
		pin.MessageGroupId = aws.String(in.IncidentID)
		pin.MessageDeduplicationId = aws.String(in.IncidentID + "-notify")
	}
	res, err := r.C.Publish.Publish(ctx, pin)
	if err != nil {
		return out, fmt.Errorf("publish to %s: %w", topic, err)
	}
	out.MessageID = aws.ToString(res.MessageId)
	return out, nil
}
