// Package stacktest connects integration tests to the real services that
// deploy/local/stack starts on loopback: kinesalite (Kinesis), dynalite
// (DynamoDB), versitygw (S3), Elasticsearch, OpenSearch, moto, the AWS Lambda
// runtime interface emulator and a Python virtualenv with DuckDB and pyarrow.
//
// A test asks for the components it needs:
//
//	func TestIntegrationSink(t *testing.T) {
//		ep := stacktest.Require(t, "kinesis", "s3")
//		kc := ep.Kinesis(t)
//		...
//	}
//
// Endpoints come from GANNET_* environment variables (deploy/local/stack env)
// and, for each one not set, from the state file that `stack up` writes in the
// cache folder. A missing component skips the test, or fails it when CI=true.
package stacktest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	"github.com/olivere/elastic/v7"
)

// Component names accepted by Require.
const (
	Kinesis       = "kinesis"
	DynamoDB      = "dynamodb"
	S3            = "s3"
	Elasticsearch = "elasticsearch"
	OpenSearch    = "opensearch"
	LambdaRIE     = "lambda-rie"
	Moto          = "moto"
	Python        = "python"
)

// Region is the region every local client uses.
const Region = "us-east-1"

// Timeouts that bound every call the helpers make.
var (
	// RequestTimeout bounds one HTTP request to a local service (AWS SDK and elastic clients).
	RequestTimeout = 30 * time.Second
	// DialTimeout bounds a TCP connect to a loopback service.
	DialTimeout = 2 * time.Second
	// ProbeTimeout bounds the reachability probe Require makes.
	ProbeTimeout = 3 * time.Second
)

// StartCommand is what a developer runs to get the endpoints into a shell.
const StartCommand = `deploy/local/stack up && eval "$(deploy/local/stack env)"`

var envNames = map[string]string{
	Kinesis:       "GANNET_KINESIS_ENDPOINT",
	DynamoDB:      "GANNET_DYNAMODB_ENDPOINT",
	S3:            "GANNET_S3_ENDPOINT",
	Elasticsearch: "GANNET_ES_URL",
	OpenSearch:    "GANNET_OPENSEARCH_URL",
	LambdaRIE:     "GANNET_LAMBDA_RIE",
	Moto:          "GANNET_MOTO_ENDPOINT",
	Python:        "GANNET_PYTHON",
}

// serverNames name the program behind each component in error messages.
var serverNames = map[string]string{
	Kinesis:       "kinesis (kinesalite)",
	DynamoDB:      "dynamodb (dynalite)",
	S3:            "s3 (versitygw)",
	Elasticsearch: "elasticsearch",
	OpenSearch:    "opensearch",
	LambdaRIE:     "lambda-rie (aws-lambda-rie)",
	Moto:          "moto (moto_server)",
	Python:        "python (virtualenv with duckdb, pyarrow)",
}

// Endpoints are the addresses of the running local services. Empty fields are
// components that are not available.
type Endpoints struct {
	KinesisEndpoint  string // http://127.0.0.1:PORT of kinesalite
	DynamoDBEndpoint string // http://127.0.0.1:PORT of dynalite
	S3Endpoint       string // http://127.0.0.1:PORT of versitygw
	ESURL            string // http://127.0.0.1:PORT of Elasticsearch 7.17
	OpenSearchURL    string // http://127.0.0.1:PORT of OpenSearch 2.x
	MotoEndpoint     string // http://127.0.0.1:PORT of moto_server
	LambdaRIE        string // path of the aws-lambda-rie binary
	Python           string // path of the virtualenv's python (duckdb, pyarrow, moto)
	StackDir         string // the stack's cache folder
	AccessKeyID      string // static test credentials (accepted by every local service)
	SecretAccessKey  string

	nodeServer string // serve-node.js in the cache, for private kinesalite/dynalite instances
}

// Lookup reads the endpoints from the environment and the state file, without
// checking anything. Most tests want Require instead.
func Lookup() Endpoints {
	state, _ := readState(stateFile())
	get := func(name string) string {
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return v
		}
		return state[name]
	}
	e := Endpoints{
		KinesisEndpoint:  get(envNames[Kinesis]),
		DynamoDBEndpoint: get(envNames[DynamoDB]),
		S3Endpoint:       get(envNames[S3]),
		ESURL:            get(envNames[Elasticsearch]),
		OpenSearchURL:    get(envNames[OpenSearch]),
		MotoEndpoint:     get(envNames[Moto]),
		LambdaRIE:        get(envNames[LambdaRIE]),
		Python:           get(envNames[Python]),
		StackDir:         get("GANNET_STACK_DIR"),
		AccessKeyID:      get("GANNET_S3_ACCESS_KEY"),
		SecretAccessKey:  get("GANNET_S3_SECRET_KEY"),
		nodeServer:       get("GANNET_NODE_SERVER"),
	}
	if e.StackDir == "" {
		e.StackDir = stackDir()
	}
	if e.AccessKeyID == "" || e.SecretAccessKey == "" {
		e.AccessKeyID, e.SecretAccessKey = "gannet", "gannet-local-secret"
	}
	if e.nodeServer == "" {
		e.nodeServer = filepath.Join(e.StackDir, "node", "serve-node.js")
	}
	return e
}

// Require returns the endpoints after checking that each named component is
// configured and reachable. When one is not, the test is skipped, or fails
// when CI=true, with a message naming the component and how to start it.
func Require(t testing.TB, components ...string) Endpoints {
	t.Helper()
	e := Lookup()
	state, _ := readState(stateFile())
	for _, c := range components {
		if err := e.check(c, state); err != nil {
			unavailable(t, c, err)
		}
	}
	return e
}

// InCI reports whether CI=true (or CI=1).
func InCI() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v == "true" || v == "1"
}

func unavailable(t testing.TB, c string, err error) {
	t.Helper()
	msg := fmt.Sprintf("stacktest: component %s is not available: %v; start it with: %s", c, err, StartCommand)
	if InCI() {
		t.Fatalf("%s (CI=true: not skipping)", msg)
	}
	t.Skip(msg)
}

// Endpoint returns the configured endpoint (URL or path) of a component, or "".
func (e Endpoints) Endpoint(component string) string {
	switch component {
	case Kinesis:
		return e.KinesisEndpoint
	case DynamoDB:
		return e.DynamoDBEndpoint
	case S3:
		return e.S3Endpoint
	case Elasticsearch:
		return e.ESURL
	case OpenSearch:
		return e.OpenSearchURL
	case Moto:
		return e.MotoEndpoint
	case LambdaRIE:
		return e.LambdaRIE
	case Python:
		return e.Python
	}
	return ""
}

func (e Endpoints) check(c string, state map[string]string) error {
	env, ok := envNames[c]
	if !ok {
		return fmt.Errorf("unknown component %q (known: kinesis, dynamodb, s3, elasticsearch, opensearch, lambda-rie, moto, python)", c)
	}
	v := e.Endpoint(c)
	if v == "" {
		why := fmt.Sprintf("%s is not set and the state file %s has no entry for it", env, stateFile())
		if reason := state["GANNET_UNAVAILABLE_"+strings.ToUpper(strings.ReplaceAll(c, "-", "_"))]; reason != "" {
			why += " (stack up skipped it: " + reason + ")"
		}
		return errors.New(why)
	}
	switch c {
	case LambdaRIE, Python:
		st, err := os.Stat(v)
		if err != nil {
			return fmt.Errorf("%s=%s: %v", env, v, err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return fmt.Errorf("%s=%s is not an executable file", env, v)
		}
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%s=%q is not a URL", env, v)
	}
	conn, err := net.DialTimeout("tcp", u.Host, ProbeTimeout)
	if err != nil {
		return fmt.Errorf("%s at %s does not accept connections (%v)", serverNames[c], v, err)
	}
	_ = conn.Close()
	return nil
}

// stackDir is the cache folder deploy/local/stack uses.
func stackDir() string {
	if d := os.Getenv("GANNET_STACK_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gannet", "stack")
	}
	return filepath.Join(os.TempDir(), "gannet", "stack")
}

func stateFile() string { return filepath.Join(stackDir(), "state.env") }

// readState parses KEY=VALUE lines (an optional "export " prefix is allowed).
func readState(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return map[string]string{}, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		m[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return m, sc.Err()
}

// ---------------------------------------------------------------- AWS clients

// componentForService maps an AWS SDK service ID to the local component serving it.
func (e Endpoints) componentForService(serviceID string) (component, endpoint string) {
	switch serviceID {
	case kinesis.ServiceID:
		return Kinesis, e.KinesisEndpoint
	case dynamodb.ServiceID:
		return DynamoDB, e.DynamoDBEndpoint
	case s3.ServiceID:
		return S3, e.S3Endpoint
	default: // EC2, SSM, SNS, STS, IAM, ... are served by moto
		return Moto, e.MotoEndpoint
	}
}

// AWSConfig returns an aws.Config for the local services: static test
// credentials, region us-east-1, bounded request timeouts and retries, and
// every client made from it (kinesis.NewFromConfig, s3.NewFromConfig, ...)
// pointed at the local server of its service (S3 path-style; services other
// than Kinesis, DynamoDB and S3 go to moto). Errors name the component.
func (e Endpoints) AWSConfig(t testing.TB) aws.Config {
	t.Helper()
	httpClient := awshttp.NewBuildableClient().
		WithTimeout(RequestTimeout).
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = DialTimeout })
	cfg := aws.Config{
		Region:      Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(e.AccessKeyID, e.SecretAccessKey, "")),
		HTTPClient:  httpClient,
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.MaxBackoff = time.Second
			})
		},
		RetryMaxAttempts: 3,
		// The local servers do not understand the newer default checksums in all cases.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	cfg.ServiceOptions = append(cfg.ServiceOptions, func(serviceID string, opts any) {
		_, ep := e.componentForService(serviceID)
		setOption(opts, "BaseEndpoint", reflect.ValueOf(aws.String(ep)), ep != "")
		setOption(opts, "UsePathStyle", reflect.ValueOf(true), true)
	})
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(nameComponentErrors{e}, middleware.Before)
	})
	return cfg
}

// setOption sets a field of a service's *Options struct if it exists.
func setOption(opts any, field string, v reflect.Value, ok bool) {
	if !ok {
		return
	}
	rv := reflect.ValueOf(opts)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return
	}
	f := rv.Elem().FieldByName(field)
	if f.IsValid() && f.CanSet() && f.Type() == v.Type() {
		f.Set(v)
	}
}

// nameComponentErrors prefixes every SDK error with the component and endpoint.
type nameComponentErrors struct{ e Endpoints }

func (nameComponentErrors) ID() string { return "gannet.stacktest.NameComponent" }

func (m nameComponentErrors) HandleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleInitialize(ctx, in)
	if err != nil {
		c, ep := m.e.componentForService(awsmiddleware.GetServiceID(ctx))
		err = &ComponentError{Component: c, Server: serverNames[c], Endpoint: ep, Err: err}
	}
	return out, md, err
}

// ComponentError is an error from a call to a local service; its message
// starts with the component's name.
type ComponentError struct {
	Component string // e.g. "kinesis"
	Server    string // e.g. "kinesis (kinesalite)"
	Endpoint  string
	Err       error
}

func (e *ComponentError) Error() string {
	return fmt.Sprintf("%s at %s: %v", e.Server, e.Endpoint, e.Err)
}

func (e *ComponentError) Unwrap() error { return e.Err }

// Kinesis returns a client for kinesalite.
func (e Endpoints) Kinesis(t testing.TB) *kinesis.Client {
	t.Helper()
	e.need(t, Kinesis)
	return kinesis.NewFromConfig(e.AWSConfig(t))
}

// DynamoDB returns a client for dynalite.
func (e Endpoints) DynamoDB(t testing.TB) *dynamodb.Client {
	t.Helper()
	e.need(t, DynamoDB)
	return dynamodb.NewFromConfig(e.AWSConfig(t))
}

// S3 returns a path-style client for versitygw.
func (e Endpoints) S3(t testing.TB) *s3.Client {
	t.Helper()
	e.need(t, S3)
	return s3.NewFromConfig(e.AWSConfig(t), func(o *s3.Options) { o.UsePathStyle = true })
}

func (e Endpoints) need(t testing.TB, c string) {
	t.Helper()
	if e.Endpoint(c) == "" {
		unavailable(t, c, fmt.Errorf("%s is not set (call stacktest.Require(t, %q) first)", envNames[c], c))
	}
}

// ---------------------------------------------------------------- Elasticsearch / OpenSearch

// Elastic returns an olivere/elastic/v7 client for Elasticsearch (sniffing and
// health checks off, bounded request timeout, errors naming the component).
func (e Endpoints) Elastic(t testing.TB) *elastic.Client {
	t.Helper()
	e.need(t, Elasticsearch)
	return ElasticAt(t, Elasticsearch, e.ESURL)
}

// OpenSearch returns an olivere/elastic/v7 client for OpenSearch.
func (e Endpoints) OpenSearch(t testing.TB) *elastic.Client {
	t.Helper()
	e.need(t, OpenSearch)
	return ElasticAt(t, OpenSearch, e.OpenSearchURL)
}

// ElasticAt returns an olivere/elastic/v7 client for the search engine at rawURL;
// component names it in errors.
func ElasticAt(t testing.TB, component, rawURL string) *elastic.Client {
	t.Helper()
	hc := &http.Client{
		Timeout: RequestTimeout,
		Transport: namingTransport{
			component: component,
			endpoint:  rawURL,
			rt: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: DialTimeout}).DialContext,
				MaxIdleConnsPerHost: 8,
				IdleConnTimeout:     30 * time.Second,
			},
		},
	}
	c, err := elastic.NewClient(
		elastic.SetURL(rawURL),
		elastic.SetSniff(false),
		elastic.SetHealthcheck(false),
		elastic.SetHttpClient(hc),
		elastic.SetRetrier(elastic.NewBackoffRetrier(elastic.NewSimpleBackoff(200, 400))), // two retries
	)
	if err != nil {
		t.Fatalf("stacktest: %s client for %s: %v", component, rawURL, err)
	}
	return c
}

type namingTransport struct {
	component, endpoint string
	rt                  http.RoundTripper
}

func (n namingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := n.rt.RoundTrip(r)
	if err != nil {
		return nil, &ComponentError{Component: n.component, Server: serverNames[n.component], Endpoint: n.endpoint, Err: err}
	}
	return resp, nil
}

// ---------------------------------------------------------------- names

// UniqueName returns a name for a stream, table, bucket or index that is unique
// to this test run: lower case, [a-z0-9-], at most 63 characters, starting with
// a letter (valid for Kinesis, DynamoDB, S3 buckets and Elasticsearch indices).
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	clean := func(s string) string {
		var b strings.Builder
		for _, r := range strings.ToLower(s) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
				b.WriteRune(r)
			default:
				b.WriteByte('-')
			}
		}
		return strings.Trim(b.String(), "-")
	}
	p := clean(prefix)
	if len(p) > 20 {
		p = strings.Trim(p[:20], "-")
	}
	if p == "" {
		p = "t"
	}
	if p[0] < 'a' || p[0] > 'z' {
		p = "t-" + p
	}
	suffix := fmt.Sprintf("%x%04x", time.Now().UnixNano()&0xffffffffff, nameCounter.next())
	name := clean(t.Name())
	if maxTest := 63 - len(p) - len(suffix) - 2; len(name) > maxTest {
		name = name[len(name)-maxTest:]
	}
	parts := []string{p}
	if name = strings.Trim(name, "-"); name != "" {
		parts = append(parts, name)
	}
	out := strings.Join(append(parts, suffix), "-")
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	return out
}
