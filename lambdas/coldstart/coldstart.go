// Package coldstart is what every pipeline Lambda does once per container,
// before lambda.Start: read the configuration from the environment
// (GANNET_*), set up JSON logging through log/slog and build the whole
// pipeline with stream/setup, flushing every batch (a Lambda acknowledges
// per invocation).
package coldstart

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/gannet-sec/gannet/lambdas/emf"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/setup"
)

// Logger returns a JSON slog logger on stderr at level ("debug", "info",
// "warn", "error"), tagged with the function name, and makes it the default.
func Logger(level, function string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})).With("function", function)
	slog.SetDefault(log)
	return log
}

// Core is a built pipeline with what the handlers around it need.
type Core struct {
	Config  config.Config
	Built   *setup.Built
	Logger  *slog.Logger
	Metrics *emf.Emitter
}

// Pipeline loads the configuration from the environment and builds the
// pipeline for function. It logs and reports how long that took (the part
// of the Init Duration that is ours). It sets the Go memory limit from the
// function's memory size first (MemoryLimit).
func Pipeline(ctx context.Context, function string) (*Core, error) {
	start := time.Now()
	memLimit := MemoryLimit()
	cfg, err := config.Load("", nil)
	if err != nil {
		return nil, err
	}
	function = emf.FunctionName(function)
	log := Logger(cfg.LogLevel, function)
	b, err := setup.Build(ctx, cfg, setup.Options{Logger: log, DeferFlush: false})
	if err != nil {
		return nil, fmt.Errorf("%s: building the pipeline: %w", function, err)
	}
	c := &Core{Config: cfg, Built: b, Logger: log, Metrics: emf.New(function)}
	took := time.Since(start)
	log.Info("pipeline built", "outputs", b.Outputs, "took_ms", took.Milliseconds(), "go_memory_limit", memLimit)
	_ = c.Metrics.Emit(nil, emf.Metric{Name: "ColdStartBuild", Unit: emf.Milliseconds, Value: float64(took.Microseconds()) / 1000})
	return c, nil
}

// Must exits the process with the error logged when err is not nil: a
// Lambda that cannot build its pipeline must fail its init, not its events.
func Must[T any](v T, err error) T {
	if err != nil {
		slog.Error("init failed", "error", err.Error())
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return v
}

// AWS loads the AWS configuration of the function (region, credentials and
// AWS_ENDPOINT_URL_<SERVICE> overrides from the environment).
func AWS(ctx context.Context) (aws.Config, error) {
	c, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return c, fmt.Errorf("aws configuration: %w", err)
	}
	return c, nil
}

// Settings loads the configuration and logger of a function that runs no
// pipeline (partition, respond, …): log level, deadline margin.
func Settings(function string) (config.Config, *slog.Logger, *emf.Emitter, error) {
	MemoryLimit()
	cfg, err := config.Load("", nil)
	if err != nil {
		return cfg, nil, nil, err
	}
	function = emf.FunctionName(function)
	return cfg, Logger(cfg.LogLevel, function), emf.New(function), nil
}
