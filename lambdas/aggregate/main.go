// Command aggregate (DP4) is partition with one output: the event source
// mappings of many streams invoke it, and it writes their user records,
// KPL-aggregated, to the one stream named by GANNET_OUTPUT_STREAMS.
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
	cfg, log, metrics, err := coldstart.Settings("aggregate")
	coldstart.Must(0, err)
	pc := coldstart.Must(partition.ParseOutputs(partition.ByKey, os.Getenv("GANNET_OUTPUT_STREAMS")))
	if len(pc.Outputs) != 1 {
		coldstart.Must(0, errAggregate)
	}
	awsCfg := coldstart.Must(coldstart.AWS(ctx))
	router := coldstart.Must(partition.New(kinesis.NewFromConfig(awsCfg), pc))
	log.Info("aggregate ready", "output", pc.Outputs[0])
	h := &handler.Route{Router: router, Margin: cfg.DeadlineMargin, Logger: log, Metrics: metrics}
	lambda.Start(h.Handle)
}
