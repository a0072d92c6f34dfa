package kcl

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/gannet-sec/gannet/deploy/local/stacktest"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/setup"
)

// syncBuffer collects alert lines from the shard pipelines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// consoleFailure is one failed console sign-in from ip at second sec.
func consoleFailure(ip string, sec int) []byte {
	return fmt.Appendf(nil, `{"eventVersion":"1.08","eventTime":"2026-11-01T10:%02d:%02dZ","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"eu-west-1","sourceIPAddress":%q,"userIdentity":{"type":"IAMUser","userName":"mallory","accountId":"123456789012"},"errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure"},"eventType":"AwsConsoleSignIn","recipientAccountId":"123456789012","eventID":"bf-%s-%d"}`,
		sec/60, sec%60, ip, ip, sec)
}

// The brute-force correlation through the KCL consumer: 20 failed console
// logins from one address within 5 minutes raise exactly one alert; 4 from
// another address raise none.
func TestIntegrationBruteForceThroughConsumer(t *testing.T) {
	const attacker, other = "185.220.101.34", "198.51.100.7"
	ep := localAWS(t)
	kc := ep.Kinesis(t)
	name := stacktest.UniqueName(t, "brute")
	table := stacktest.UniqueName(t, "leases")
	createStream(t, kc, name, 1)

	var entries []ktypes.PutRecordsRequestEntry
	for i := 0; i < 20; i++ {
		entries = append(entries, ktypes.PutRecordsRequestEntry{Data: consoleFailure(attacker, i*10), PartitionKey: aws.String("a")})
	}
	for i := 0; i < 4; i++ {
		entries = append(entries, ktypes.PutRecordsRequestEntry{Data: consoleFailure(other, i*10), PartitionKey: aws.String("b")})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(name), Records: entries})
	if err != nil || aws.ToInt32(res.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords: %v (%d failed)", err, aws.ToInt32(res.FailedRecordCount))
	}
	last := aws.ToString(res.Records[len(res.Records)-1].SequenceNumber)

	dir := t.TempDir()
	gc := config.Default()
	gc.Format = "cloudtrail"
	gc.DLQ = dir + "/dlq"
	if err := gc.Validate(); err != nil {
		t.Fatal(err)
	}
	alerts := &syncBuffer{}
	var (
		cpMu   sync.Mutex
		lastCP string
	)
	cfg := Config{Stream: name, App: table, WorkerID: "brute-worker", AWS: ep.AWSConfig(t), FormatFor: gc.FormatFor,
		Logger:      testLogger(t, "brute-worker"),
		NewPipeline: SetupFactory(gc, setup.Options{Logger: testLogger(t, "brute-pipeline"), AlertsTo: alerts}),
		OnCheckpoint: func(_, seq string) {
			cpMu.Lock()
			lastCP = seq
			cpMu.Unlock()
		},
	}
	fastTiming(&cfg)
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(runCtx) }()
	waitFor(t, 60*time.Second, 100*time.Millisecond, "every record checkpointed", func() bool {
		cpMu.Lock()
		defer cpMu.Unlock()
		return lastCP != "" && !seqLess(lastCP, last)
	})
	stopRun()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of the cancel")
	}

	var brute []string
	for _, line := range strings.Split(alerts.String(), "\n") {
		if strings.Contains(line, "Console login brute force") {
			brute = append(brute, line)
		}
	}
	if len(brute) != 1 {
		t.Fatalf("%d brute-force alerts, want exactly 1:\n%s", len(brute), alerts.String())
	}
	if !strings.Contains(brute[0], attacker) || strings.Contains(brute[0], other) || !strings.Contains(brute[0], "count=20") {
		t.Errorf("alert = %s, want the 20 failures from %s", brute[0], attacker)
	}
}
