// Package harness holds the drivers the fault matrix and the soak share
// with nothing else: a KCL worker run as a child process (so a test can
// SIGKILL it), the consumer's test timing, and an event-source-mapping
// loop that feeds a Kinesis-triggered Lambda handler from kinesalite the
// way Lambda's Kinesis event source mapping does (ReportBatchItemFailures).
// They are not test files so that any test package can import them.
package harness

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/kcl"
	"github.com/gannet-sec/gannet/stream/setup"
)

// Environment of a worker child process.
const (
	envChild  = "GANNET_RELIABILITY_KCL_CHILD"
	envStream = "GANNET_RELIABILITY_KCL_STREAM"
	envApp    = "GANNET_RELIABILITY_KCL_APP"
	envWorker = "GANNET_RELIABILITY_KCL_WORKER"
	envLake   = "GANNET_RELIABILITY_KCL_LAKE"
	envDLQ    = "GANNET_RELIABILITY_KCL_DLQ"
	envES     = "GANNET_RELIABILITY_KCL_ES"
)

// FastTiming shortens the KCL's intervals for tests (leases of 3 s, shard
// sync every second, flush every second or 2000 records), as stream/kcl's
// own integration tests do.
func FastTiming(c *kcl.Config) {
	c.FailoverTime = 3 * time.Second
	c.LeaseRefresh = 750 * time.Millisecond
	c.IdleTime = 200 * time.Millisecond
	c.ShardSync = time.Second
	c.ParentPoll = 300 * time.Millisecond
	c.FlushInterval = time.Second
	c.FlushRecords = 2000
	c.MaxRecords = 500
	c.ShutdownTimeout = 15 * time.Second
}

// Worker describes one KCL worker: the stream and lease table, its name,
// and the pipeline's outputs (lake directory or s3:// URL, dead-letter
// directory, Elasticsearch URL or "").
type Worker struct {
	Stream, App, ID string
	Lake, DLQ, ES   string
	// Env holds extra KEY=VALUE entries: AWS endpoints and credentials
	// (AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION…).
	Env []string
}

// PipelineConfig is the pipeline configuration a worker runs: the defaults
// (formats sniffed, detection with the built-in rules) plus its outputs.
func (w Worker) PipelineConfig() config.Config {
	gc := config.Default()
	gc.Lake, gc.DLQ, gc.ESURL = w.Lake, w.DLQ, w.ES
	return gc
}

// Consumer builds the worker's consumer in this process (AWS settings from
// awsCfg), with FastTiming and lease stealing on; mods change the
// consumer's configuration after that.
func (w Worker) Consumer(ctx context.Context, awsCfg aws.Config, log *slog.Logger, mods ...func(*kcl.Config)) (*kcl.Consumer, error) {
	gc := w.PipelineConfig()
	cfg := kcl.Config{Stream: w.Stream, App: w.App, WorkerID: w.ID, AWS: awsCfg,
		NewPipeline: kcl.SetupFactory(gc, setup.Options{Logger: log}), FormatFor: gc.FormatFor, Logger: log,
		LeaseStealing: true}
	FastTiming(&cfg)
	for _, m := range mods {
		m(&cfg)
	}
	return kcl.New(ctx, cfg)
}

// RunChildIfAsked runs a worker child and exits when this process was
// started as one by Start; otherwise it returns at once. Call it first in
// TestMain.
func RunChildIfAsked() {
	if os.Getenv(envChild) != "1" {
		return
	}
	os.Exit(runChild())
}

func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("aws config", "error", err)
		return 1
	}
	w := Worker{Stream: os.Getenv(envStream), App: os.Getenv(envApp), ID: os.Getenv(envWorker),
		Lake: os.Getenv(envLake), DLQ: os.Getenv(envDLQ), ES: os.Getenv(envES)}
	c, err := w.Consumer(ctx, awsCfg, log)
	if err != nil {
		log.Error("consumer", "error", err)
		return 1
	}
	if err := c.Run(ctx); err != nil {
		log.Error("run", "error", err)
		return 1
	}
	return 0
}

// Process is a worker child process.
type Process struct {
	Name    string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// Start re-executes the running test binary as worker w (the binary's
// TestMain must call RunChildIfAsked). Its output goes to logDir/<ID>.log.
func Start(w Worker, logDir string) (*Process, error) {
	p := &Process{Name: w.ID, LogPath: filepath.Join(logDir, w.ID+".log"), done: make(chan struct{})}
	logf, err := os.Create(p.LogPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$") // #nosec G204 G702 -- re-executes this test binary as a KCL worker child; nothing from input reaches the command line
	p.cmd.Env = append(append(os.Environ(), w.Env...), envChild+"=1", envStream+"="+w.Stream, envApp+"="+w.App,
		envWorker+"="+w.ID, envLake+"="+w.Lake, envDLQ+"="+w.DLQ, envES+"="+w.ES)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start worker %s: %w", w.ID, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		_ = logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL and waits for the process to end.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM (flush, checkpoint, release the leases) and waits up
// to d; past it the process is killed and an error returned. The error of
// a process that exited non-zero is returned too.
func (p *Process) Stop(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		p.Kill()
		return fmt.Errorf("worker %s did not stop within %s of SIGTERM", p.Name, d)
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Tail returns the last n bytes of the child's log.
func (p *Process) Tail(n int) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > int64(n) {
		_, _ = f.Seek(st.Size()-int64(n), io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
