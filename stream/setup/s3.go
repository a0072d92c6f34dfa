package setup

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gannet-sec/gannet/sink/lake"
)

func newS3Client(c aws.Config) *s3.Client {
	return s3.NewFromConfig(c, func(o *s3.Options) {
		// A custom endpoint (an S3-compatible server) needs path-style addressing.
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
	})
}

// lakeStore opens the lake location: a directory, or s3://bucket/prefix.
func lakeStore(ctx context.Context, loc string) (lake.Store, error) {
	if !strings.HasPrefix(loc, "s3://") {
		return lake.NewDirStore(loc)
	}
	return nil, fmt.Errorf("lake %s: the S3 lake store is not wired into this build yet; use a directory", loc)
}
