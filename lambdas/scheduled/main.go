// Command scheduled (DP1) runs on EventBridge schedules: compliance checks
// (security groups open to the world, via EC2 DescribeSecurityGroups) and
// long-window Sigma correlations as Elasticsearch queries (detect/scheduled)
// raise alerts (Kind "compliance" / "correlation") into the alert outputs
// and the lake; lake compaction merges the small Parquet files of a past hour.
// Each EventBridge rule names its task in its constant input ({"task":"compliance"}).
package main

import (
	"context"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/olivere/elastic/v7"

	"github.com/gannet-sec/gannet/detect"
	"github.com/gannet-sec/gannet/detect/scheduled"
	"github.com/gannet-sec/gannet/detect/sigma"
	"github.com/gannet-sec/gannet/lambdas/coldstart"
	"github.com/gannet-sec/gannet/stream/setup"
)

func main() {
	ctx := context.Background()
	cfg, log, metrics, err := coldstart.Settings("scheduled")
	coldstart.Must(0, err)
	awsCfg := coldstart.Must(coldstart.AWS(ctx))
	r := &Runner{
		EC2:          ec2.NewFromConfig(awsCfg),
		Alerts:       coldstart.Must(coldstart.AlertSinks(ctx, cfg, log)),
		CompactBytes: 128 << 20,
		Logger:       log,
		Metrics:      metrics,
	}
	if t := os.Getenv("GANNET_SCHEDULED_TASKS"); t != "" {
		r.Tasks = strings.Split(t, ",")
	}
	if cfg.Lake != "" {
		r.Lake = coldstart.Must(setup.LakeStore(ctx, cfg.Lake, cfg.LakeKMSKey))
	}
	if cfg.ESURL != "" {
		opts := []elastic.ClientOptionFunc{elastic.SetURL(cfg.ESURL), elastic.SetSniff(false), elastic.SetHealthcheck(false)}
		if cfg.ESUsername != "" {
			opts = append(opts, elastic.SetBasicAuth(cfg.ESUsername, cfg.ESPassword))
		}
		client := coldstart.Must(elastic.NewClient(opts...))
		r.Search = &scheduled.Runner{Client: client, Logger: log}
		var rules []*sigma.Rule
		if !cfg.NoBuiltinRules {
			rules = coldstart.Must(detect.BuiltinRules())
		}
		for _, dir := range cfg.Rules {
			rs, _, err := detect.LoadDir(dir)
			coldstart.Must(0, err)
			rules = append(rules, rs...)
		}
		for _, rule := range rules {
			if rule.Correlation == nil {
				continue
			}
			q, err := scheduled.Translate(rule, rules, scheduled.Options{})
			if err != nil {
				log.Warn("correlation not scheduled", "rule", rule.ID, "title", rule.Title, "reason", err.Error())
				continue
			}
			r.Correlations = append(r.Correlations, q)
		}
		log.Info("scheduled correlations", "count", len(r.Correlations))
	}
	lambda.Start(r.Handle)
}
