// Command s3event (DP2) processes S3 object-created notifications — direct,
// through SNS, through SQS or from EventBridge — for CloudTrail, ALB, VPC
// flow, WAF and S3 access log files: each object is streamed through gzip
// and a line / "Records" element splitter into the pipeline with bounded
// memory. An object that does not fit one invocation continues in the next
// through a message on GANNET_S3EVENT_QUEUE_URL (the function's own queue).
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/gannet-sec/gannet/lambdas/coldstart"
	"github.com/gannet-sec/gannet/lambdas/handler"
)

func main() {
	ctx := context.Background()
	c := coldstart.Must(coldstart.Pipeline(ctx, "s3event"))
	h := newHandler(c, coldstart.Must(coldstart.AWS(ctx)), os.Getenv("GANNET_S3EVENT_QUEUE_URL"))
	lambda.Start(h.Handle)
}

func newHandler(c *coldstart.Core, awsCfg aws.Config, queueURL string) *handler.S3 {
	return &handler.S3{
		Pipeline: c.Built.Pipeline,
		S3: s3.NewFromConfig(awsCfg, func(o *s3.Options) {
			o.UsePathStyle = o.UsePathStyle || o.BaseEndpoint != nil // S3-compatible servers
		}),
		SQS:        sqs.NewFromConfig(awsCfg),
		QueueURL:   queueURL,
		DeadLetter: c.Built.DeadLetter,
		FormatFor:  c.Config.FormatFor,
		Margin:     c.Config.DeadlineMargin,
		MaxRecord:  int(c.Config.MaxRecordBytes),
		Logger:     c.Logger,
		Metrics:    c.Metrics,
		Stats:      c.Built.Pipeline.Stats,
	}
}
