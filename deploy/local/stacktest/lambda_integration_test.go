package stacktest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
)

// kinesisEvent is a Kinesis event as Lambda's event source mapping sends it.
func kinesisEvent(lines ...string) ([]byte, []string) {
	var ev events.KinesisEvent
	var seqs []string
	for i, l := range lines {
		seq := fmt.Sprintf("4959%036d", i+1)
		seqs = append(seqs, seq)
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			AwsRegion:         stacktest.Region,
			EventID:           "shardId-000000000000:" + seq,
			EventName:         "aws:kinesis:record",
			EventSource:       "aws:kinesis",
			EventSourceArn:    "arn:aws:kinesis:us-east-1:123456789012:stream/gannet-smoke",
			EventVersion:      "1.0",
			InvokeIdentityArn: "arn:aws:iam::123456789012:role/gannet-ingest",
			Kinesis: events.KinesisRecord{
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: time.Unix(1793491200, 0)},
				Data:                        []byte(l),
				KinesisSchemaVersion:        "1.0",
				PartitionKey:                fmt.Sprintf("pk-%d", i),
				SequenceNumber:              seq,
			},
		})
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return b, seqs
}

const echoHandler = `package main

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// A throwaway handler: records whose data contains "fail" are reported as batch item failures.
func handle(ctx context.Context, ev events.KinesisEvent) (events.KinesisEventResponse, error) {
	var resp events.KinesisEventResponse
	for _, r := range ev.Records {
		if strings.Contains(string(r.Kinesis.Data), "fail") {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.KinesisBatchItemFailure{ItemIdentifier: r.Kinesis.SequenceNumber})
		}
	}
	return resp, nil
}

func main() { lambda.Start(handle) }
`

// writeThrowawayHandler writes a Kinesis handler module into a temp dir outside
// the repository, requiring the aws-lambda-go version of the root go.mod.
func writeThrowawayHandler(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	version, sums := "", []string{}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "github.com/aws/aws-lambda-go" {
			version = f[1]
		}
	}
	if version == "" {
		t.Fatalf("github.com/aws/aws-lambda-go is not in %s/go.mod", root)
	}
	gosum, err := os.Open(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	defer gosum.Close()
	sc := bufio.NewScanner(gosum)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "github.com/aws/aws-lambda-go "+version) {
			sums = append(sums, sc.Text())
		}
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/throwaway/echo\n\ngo 1.24\n\nrequire github.com/aws/aws-lambda-go " + version + "\n",
		"go.sum":  strings.Join(sums, "\n") + "\n",
		"main.go": echoHandler,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tidy := exec.CommandContext(ctx, "go", "mod", "tidy")
	tidy.Dir = dir
	tidy.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := tidy.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy in the throwaway handler module: %v\n%s", err, out)
	}
	return dir
}

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/gannet-sec/gannet").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// RunLambda machinery, on a throwaway handler that lives only in a temp dir.
func TestIntegrationLambdaRIEThrowawayHandler(t *testing.T) {
	ep := stacktest.Require(t, stacktest.LambdaRIE)
	fn := ep.RunLambda(t, writeThrowawayHandler(t))
	payload, seqs := kinesisEvent("ok one", "please fail this one", "ok two")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := fn.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("invoke: %v\nlog:\n%s", err, fn.Log())
	}
	var resp events.KinesisEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %q is not a KinesisEventResponse: %v", out, err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != seqs[1] {
		t.Fatalf("batch item failures = %+v, want only %s", resp.BatchItemFailures, seqs[1])
	}
	// A second invoke reuses the warm runtime.
	if _, err := fn.Invoke(ctx, payload); err != nil {
		t.Fatalf("second invoke: %v", err)
	}
}

// 5. The ingest handler under lambdas/ built as bootstrap answers a Kinesis event.
func TestIntegrationLambdaIngestAnswersKinesisEvent(t *testing.T) {
	ep := stacktest.Require(t, stacktest.LambdaRIE)
	mainGo := filepath.Join(repoRoot(t), "lambdas", "ingest", "main.go")
	if _, err := os.Stat(mainGo); err != nil {
		t.Fatalf("lambdas/ingest/main.go: %v", err)
	}
	// Minimal configuration of the pipeline (stream/config): local dead-letter and lake
	// directories, no Elasticsearch sink (its own integration tests cover that).
	tmp := t.TempDir()
	fn := ep.RunLambdaEnv(t, "./lambdas/ingest",
		"GANNET_DLQ="+filepath.Join(tmp, "dlq"),
		"GANNET_LAKE="+filepath.Join(tmp, "lake"),
		"GANNET_ES_URL=",
		"GANNET_OUT=",
	)
	payload, seqs := kinesisEvent(
		`{"eventVersion":"1.08","eventTime":"2026-11-01T00:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userIdentity":{"type":"IAMUser","userName":"alice"}}`,
		`{"eventVersion":"1.08","eventTime":"2026-11-01T00:00:01Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.8","userIdentity":{"type":"IAMUser","userName":"mallory"}}`,
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := fn.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("invoke lambdas/ingest: %v\nlog:\n%s", err, fn.Log())
	}
	var resp events.KinesisEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("lambdas/ingest response %q is not a KinesisEventResponse: %v", out, err)
	}
	known := map[string]bool{}
	for _, s := range seqs {
		known[s] = true
	}
	for _, f := range resp.BatchItemFailures {
		if !known[f.ItemIdentifier] {
			t.Errorf("batch item failure %q is not a sequence number of the event", f.ItemIdentifier)
		}
	}
	t.Logf("lambdas/ingest answered %s", out)
}
