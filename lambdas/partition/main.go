// Command partition (DP4) reads one Kinesis stream and writes its user
// records, KPL-aggregated, to N output streams chosen by log type, partition
// key or size balance. Environment: GANNET_ROUTING (format, key or size;
// default format) and GANNET_OUTPUT_STREAMS ("cloudtrail=ct-stream,alb=web,*=rest"
// in format mode, "s1,s2,s3" otherwise). See lambdas/README.md.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/gannet-sec/gannet/lambdas/coldstart"
	"github.com/gannet-sec/gannet/lambdas/handler"
	"github.com/gannet-sec/gannet/stream/partition"
)

func main() {
	ctx := context.Background()
	cfg, log, metrics, err := coldstart.Settings("partition")
	coldstart.Must(0, err)
	mode := partition.Mode(os.Getenv("GANNET_ROUTING"))
	if mode == "" {
		mode = partition.ByFormat
	}
	pc := coldstart.Must(partition.ParseOutputs(mode, os.Getenv("GANNET_OUTPUT_STREAMS")))
	awsCfg := coldstart.Must(coldstart.AWS(ctx))
	router := coldstart.Must(partition.New(kinesis.NewFromConfig(awsCfg), pc))
	log.Info("partition ready", "routing", string(mode), "outputs", router.Outputs())
	h := &handler.Route{Router: router, Margin: cfg.DeadlineMargin, Logger: log, Metrics: metrics}
	lambda.Start(h.Handle)
}
