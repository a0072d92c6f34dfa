package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gannet-sec/gannet/detect/scheduled"
	"github.com/gannet-sec/gannet/lambdas/emf"
	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/stream"
)

// DescribeSecurityGroupsAPI is the one EC2 call of the compliance check (*ec2.Client fits).
type DescribeSecurityGroupsAPI interface {
	DescribeSecurityGroups(ctx context.Context, in *ec2.DescribeSecurityGroupsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSecurityGroupsOutput, error)
}

// Rule id and kind of the compliance alerts.
const (
	RuleOpenSG     = "gannet.compliance.sg-open-to-world"
	KindCompliance = "compliance"
)

// sensitivePorts make an open rule high rather than medium.
var sensitivePorts = []int32{22, 23, 445, 1433, 3306, 3389, 5432, 5900, 6379, 9200, 27017}

// OpenSecurityGroups reports every security group with an inbound rule open
// to 0.0.0.0/0 or ::/0, one alert per group. The alert id is derived from
// the group and the UTC day: a re-run on the same day raises the same alert.
func OpenSecurityGroups(ctx context.Context, api DescribeSecurityGroupsAPI, now time.Time) ([]stream.Alert, error) {
	day := now.UTC().Truncate(24 * time.Hour)
	var out []stream.Alert
	in := &ec2.DescribeSecurityGroupsInput{}
	for {
		page, err := api.DescribeSecurityGroups(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("DescribeSecurityGroups: %w", err)
		}
		for _, g := range page.SecurityGroups {
			if a, ok := openGroupAlert(g, now, day); ok {
				out = append(out, a)
			}
		}
		if aws.ToString(page.NextToken) == "" {
			break
		}
		in.NextToken = page.NextToken
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GroupKey < out[j].GroupKey })
	return out, nil
}

func openGroupAlert(g ec2types.SecurityGroup, now, day time.Time) (stream.Alert, bool) {
	var open []string
	level := "medium"
	for _, p := range g.IpPermissions {
		world := ""
		for _, r := range p.IpRanges {
			if aws.ToString(r.CidrIp) == "0.0.0.0/0" {
				world = "0.0.0.0/0"
			}
		}
		for _, r := range p.Ipv6Ranges {
			if aws.ToString(r.CidrIpv6) == "::/0" {
				world = strings.TrimPrefix(world+",::/0", ",")
			}
		}
		if world == "" {
			continue
		}
		proto := aws.ToString(p.IpProtocol)
		from, to := aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort)
		var what string
		switch {
		case proto == "-1":
			what, level = "all traffic", "high"
		case from == to:
			what = fmt.Sprintf("%s/%d", proto, from)
		default:
			what = fmt.Sprintf("%s/%d-%d", proto, from, to)
		}
		for _, s := range sensitivePorts {
			if proto != "-1" && from <= s && s <= to {
				level = "high"
			}
		}
		open = append(open, what+" from "+world)
	}
	if len(open) == 0 {
		return stream.Alert{}, false
	}
	id := aws.ToString(g.GroupId)
	key := "security_group.id=" + id
	return stream.Alert{
		ID:          stream.AlertID(RuleOpenSG, key, day),
		RuleID:      RuleOpenSG,
		RuleTitle:   "Security group open to the world",
		Level:       level,
		Tags:        []string{"attack.initial_access", "attack.t1190", "cis.aws.5.2"},
		Description: fmt.Sprintf("Security group %s (%s) in %s allows inbound %s.", id, aws.ToString(g.GroupName), aws.ToString(g.VpcId), strings.Join(open, "; ")),
		Kind:        KindCompliance,
		GroupKey:    key,
		WindowStart: day, WindowEnd: day.Add(24 * time.Hour),
		FirstSeen: now.UTC(), LastSeen: now.UTC(),
		Count: int64(len(open)),
		Fields: map[string]string{"security_group.id": id, "security_group.name": aws.ToString(g.GroupName),
			"vpc.id": aws.ToString(g.VpcId), "cloud.account.id": aws.ToString(g.OwnerId), "open": strings.Join(open, "; ")},
	}, true
}

// Deliverer delivers alerts durably (coldstart.Alerts fits).
type Deliverer interface {
	Deliver(ctx context.Context, alerts []stream.Alert) error
}

// Task is what one EventBridge rule asks for, in its constant input:
// {"task":"compliance"}, {"task":"correlate"}, {"task":"compact","hours_ago":2}.
// A plain scheduled event without "task" runs Tasks.
type Task struct {
	Task string `json:"task"`
	// Compact: the hour to compact, this many hours ago (default 2), and the tables (default all event tables and alerts).
	HoursAgo int      `json:"hours_ago"`
	Tables   []string `json:"tables"`
}

// Runner runs the periodic tasks.
type Runner struct {
	EC2    DescribeSecurityGroupsAPI
	Alerts Deliverer
	// Correlations are the translated scheduled queries and the client that runs them (nil: no correlate task).
	Correlations []*scheduled.Query
	Search       *scheduled.Runner
	// Lake is the lake store to compact (nil: no compact task).
	Lake         lake.Store
	CompactBytes int64
	Tasks        []string // default compliance, correlate, compact
	Now          func() time.Time
	Logger       *slog.Logger
	Metrics      *emf.Emitter
}

// Handle runs the task of the event.
func (r *Runner) Handle(ctx context.Context, payload json.RawMessage) (map[string]any, error) {
	var t Task
	_ = json.Unmarshal(payload, &t) // an EventBridge scheduled event has no "task": run the defaults
	tasks := r.Tasks
	if t.Task != "" {
		tasks = []string{t.Task}
	}
	if len(tasks) == 0 {
		tasks = []string{"compliance", "correlate", "compact"}
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	out := map[string]any{}
	var errs []error
	for _, task := range tasks {
		start := time.Now()
		n, err := r.run(ctx, task, t, now())
		out[task] = n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", task, err))
		}
		if r.Metrics != nil {
			ms := []emf.Metric{
				{Name: "Results", Unit: emf.Count, Value: float64(n)},
				{Name: "TaskTime", Unit: emf.Milliseconds, Value: float64(time.Since(start).Milliseconds())},
				{Name: "TaskFailed", Unit: emf.Count, Value: map[bool]float64{true: 1, false: 0}[err != nil]},
			}
			if task == "correlate" && r.Search != nil {
				// Follow-up searches that confirmed temporal_ordered groups,
				// and groups past the per-run bound that alerted unconfirmed.
				ms = append(ms,
					emf.Metric{Name: "OrderedFollowups", Unit: emf.Count, Value: float64(r.Search.Followups.Swap(0))},
					emf.Metric{Name: "OrderedUnconfirmed", Unit: emf.Count, Value: float64(r.Search.Unconfirmed.Swap(0))})
			}
			_ = r.Metrics.Emit([]emf.Dim{{Name: "Task", Value: task}}, ms...)
		}
	}
	return out, errors.Join(errs...)
}

func (r *Runner) run(ctx context.Context, task string, t Task, now time.Time) (int, error) {
	switch task {
	case "compliance":
		if r.EC2 == nil {
			return 0, errors.New("no EC2 client")
		}
		alerts, err := OpenSecurityGroups(ctx, r.EC2, now)
		if err != nil {
			return 0, err
		}
		return len(alerts), r.Alerts.Deliver(ctx, alerts)
	case "correlate":
		n := 0
		var errs []error
		for _, q := range r.Correlations {
			alerts, err := r.Search.Run(ctx, q, scheduled.LastWindow(now, q.Timespan))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if err := r.Alerts.Deliver(ctx, alerts); err != nil {
				errs = append(errs, err)
			}
			n += len(alerts)
		}
		return n, errors.Join(errs...)
	case "compact":
		if r.Lake == nil {
			return 0, errors.New("no lake configured (GANNET_LAKE)")
		}
		hours := t.HoursAgo
		if hours <= 0 {
			hours = 2
		}
		tables := t.Tables
		if len(tables) == 0 {
			for _, f := range stream.Formats() {
				tables = append(tables, f.String())
			}
			tables = append(tables, lake.AlertsTable)
		}
		at := now.Add(-time.Duration(hours) * time.Hour)
		files := 0
		var errs []error
		for _, tb := range tables {
			part := strings.TrimPrefix(lake.Layout{}.Partition(tb, at, "", ""), tb+"/")
			res, err := lake.Compact(ctx, r.Lake, tb, part, r.CompactBytes)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", tb, part, err))
				continue
			}
			files += res.Inputs
			if res.Inputs > 0 && r.Logger != nil {
				r.Logger.Info("compacted", "table", tb, "partition", part, "inputs", res.Inputs, "outputs", res.Outputs, "rows", res.Rows)
			}
		}
		return files, errors.Join(errs...)
	}
	return 0, fmt.Errorf("unknown task %q: want compliance, correlate or compact", task)
}
