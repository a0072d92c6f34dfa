package elastic

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// headerContentSHA256 carries the hex SHA-256 of the request body; the bulk
// path sets it so the signer does not hash the body twice.
const headerContentSHA256 = "X-Amz-Content-Sha256"

// SigV4 signs every request for Amazon OpenSearch Service (or Elasticsearch
// behind SigV4) with AWS credentials.
type SigV4 struct {
	Region string
	// Service is the signing name: "es" (default) for OpenSearch Service
	// domains, "aoss" for OpenSearch Serverless.
	Service     string
	Credentials aws.CredentialsProvider
}

// sigv4Transport signs requests; it never logs or exposes the credentials.
type sigv4Transport struct {
	base   http.RoundTripper
	cfg    SigV4
	signer *v4.Signer
}

func (t *sigv4Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	hash := r.Header.Get(headerContentSHA256)
	if hash == "" {
		var body []byte
		if r.Body != nil && r.Body != http.NoBody {
			var err error
			body, err = io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil {
				return nil, err
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
		r.Header.Set(headerContentSHA256, hash)
	}
	creds, err := t.cfg.Credentials.Retrieve(r.Context())
	if err != nil {
		return nil, fmt.Errorf("sigv4: retrieving credentials: %w", err)
	}
	service := t.cfg.Service
	if service == "" {
		service = "es"
	}
	if err := t.signer.SignHTTP(r.Context(), creds, r, hash, service, t.cfg.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sigv4: signing: %w", err)
	}
	return t.base.RoundTrip(r)
}

// basicTransport adds HTTP basic authentication.
type basicTransport struct {
	base           http.RoundTripper
	user, password string
}

func (t *basicTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.SetBasicAuth(t.user, t.password)
	return t.base.RoundTrip(r)
}
