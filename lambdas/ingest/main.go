// Command ingest is the Kinesis-triggered Lambda: Kinesis event → decode →
// parse → enrich → detect → lake + Elasticsearch + alerts, answering with
// batchItemFailures (ReportBatchItemFailures) at the lowest unfinished
// sequence number. Configuration: GANNET_* environment (see lambdas/README.md).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/gannet-sec/gannet/lambdas/coldstart"
)

func main() {
	c := coldstart.Must(coldstart.Pipeline(context.Background(), "ingest"))
	lambda.Start(c.Kinesis().Handle)
}
