package s3store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// One-method interfaces over the S3 calls the store makes, with function
// adapters, so tests inject behaviour call by call. *s3.Client implements all.
type (
	PutObjectAPI interface {
		PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	}
	CreateMultipartUploadAPI interface {
		CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	}
	UploadPartAPI interface {
		UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	}
	CompleteMultipartUploadAPI interface {
		CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	}
	AbortMultipartUploadAPI interface {
		AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	}
	CopyObjectAPI interface {
		CopyObject(ctx context.Context, in *s3.CopyObjectInput, opts ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	}
	GetObjectAPI interface {
		GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	}
	HeadObjectAPI interface {
		HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	}
	ListObjectsV2API interface {
		ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	}
	DeleteObjectAPI interface {
		DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	}
)

// Function adapters.
type (
	PutObjectFunc               func(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CreateMultipartUploadFunc   func(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPartFunc              func(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUploadFunc func(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUploadFunc    func(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	CopyObjectFunc              func(context.Context, *s3.CopyObjectInput, ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	GetObjectFunc               func(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObjectFunc              func(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	ListObjectsV2Func           func(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjectFunc            func(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
)

func (f PutObjectFunc) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return f(ctx, in, o...)
}
func (f CreateMultipartUploadFunc) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, o ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return f(ctx, in, o...)
}
func (f UploadPartFunc) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	return f(ctx, in, o...)
}
func (f CompleteMultipartUploadFunc) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, o ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	return f(ctx, in, o...)
}
func (f AbortMultipartUploadFunc) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, o ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return f(ctx, in, o...)
}
func (f CopyObjectFunc) CopyObject(ctx context.Context, in *s3.CopyObjectInput, o ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	return f(ctx, in, o...)
}
func (f GetObjectFunc) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return f(ctx, in, o...)
}
func (f HeadObjectFunc) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return f(ctx, in, o...)
}
func (f ListObjectsV2Func) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return f(ctx, in, o...)
}
func (f DeleteObjectFunc) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, o ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	return f(ctx, in, o...)
}

// Calls are the S3 calls a Store makes.
type Calls struct {
	PutObject               PutObjectAPI
	CreateMultipartUpload   CreateMultipartUploadAPI
	UploadPart              UploadPartAPI
	CompleteMultipartUpload CompleteMultipartUploadAPI
	AbortMultipartUpload    AbortMultipartUploadAPI
	CopyObject              CopyObjectAPI
	GetObject               GetObjectAPI
	HeadObject              HeadObjectAPI
	ListObjectsV2           ListObjectsV2API
	DeleteObject            DeleteObjectAPI
}

// FromClient returns Calls served by c.
func FromClient(c *s3.Client) Calls {
	return Calls{c, c, c, c, c, c, c, c, c, c}
}
