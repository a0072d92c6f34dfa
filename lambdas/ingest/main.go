// Command ingest is the Kinesis-triggered Lambda: Kinesis event → decode →
// parse → enrich → detect → lake + Elasticsearch + alerts, answering with
// batchItemFailures (ReportBatchItemFailures) at the lowest unfinished
// sequence number. Configuration: GANNET_* environment (see lambdas/README.md).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/gannet-sec/gannet/lambdas/coldstart"
	"github.com/gannet-sec/gannet/lambdas/handler"
)

func main() {
	c := coldstart.Must(coldstart.Pipeline(context.Background(), "ingest"))
	h := &handler.Kinesis{
		Pipeline:  c.Built.Pipeline,
		FormatFor: c.Config.FormatFor,
		Margin:    c.Config.DeadlineMargin,
		Logger:    c.Logger,
		Metrics:   c.Metrics,
		Stats:     c.Built.Pipeline.Stats,
	}
	lambda.Start(h.Handle)
}
