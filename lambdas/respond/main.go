// Command respond (DP5) holds the task handlers of the incident-response
// Step Functions workflow, one per step, chosen by the input's "step":
// quarantine (isolation security group + tags), snapshot (every EBS volume),
// memory (LiME capture through SSM Run Command, see README.md) and notify
// (SNS). Every step is idempotent: re-running it does not duplicate its work.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/gannet-sec/gannet/lambdas/coldstart"
)

func main() {
	ctx := context.Background()
	_, log, _, err := coldstart.Settings("respond")
	coldstart.Must(0, err)
	awsCfg := coldstart.Must(coldstart.AWS(ctx))
	r := &Responder{
		C:        FromSDK(ec2.NewFromConfig(awsCfg), ssm.NewFromConfig(awsCfg), sns.NewFromConfig(awsCfg)),
		TopicARN: os.Getenv("GANNET_RESPOND_TOPIC_ARN"),
		Logger:   log,
	}
	lambda.Start(r.Handle)
}
