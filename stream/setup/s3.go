package setup

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/sink/lake/s3store"
)

func newS3Client(c aws.Config) *s3.Client {
	return s3.NewFromConfig(c, func(o *s3.Options) {
		// A custom endpoint (an S3-compatible server) needs path-style addressing.
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
	})
}

// LakeStore opens the lake location: a directory, or s3://bucket/prefix
// (credentials, region and endpoint from the standard AWS configuration;
// AWS_ENDPOINT_URL_S3 points it at an S3-compatible server).
func LakeStore(ctx context.Context, loc, kmsKey string) (lake.Store, error) {
	if !strings.HasPrefix(loc, "s3://") {
		return lake.NewDirStore(loc)
	}
	bucket, prefix, err := splitS3(loc)
	if err != nil {
		return nil, err
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return nil, err
	}
	if prefix != "" {
		prefix += "/"
	}
	return s3store.New(s3store.FromClient(newS3Client(awsCfg)), s3store.Options{Bucket: bucket, Prefix: prefix, SSEKMSKeyID: kmsKey}), nil
}
