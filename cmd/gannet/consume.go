package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/kcl"
	"github.com/gannet-sec/gannet/stream/setup"
)

const consumeHelp = `Consumes a Kinesis stream as a KCL application (vmware-go-kcl-v2): leases in the
DynamoDB table named after --app (several workers share the shards), one pipeline
per shard, the same decode → parse → enrich → detect → sinks as 'gannet run' and the
Lambdas. A checkpoint covers only records every sink made durable (or that were
dead-lettered); a worker that lost a shard's lease cannot move its checkpoint.
SIGTERM/SIGINT: flush, checkpoint and release the leases within --shutdown-timeout.

Endpoints and credentials come from the standard AWS environment and files
(AWS_REGION, AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB, profiles…);
--kinesis-endpoint / --dynamodb-endpoint override them. Settings come from
--config (YAML), then GANNET_* environment variables, then flags.
Metrics (Prometheus text format) are served at http://--metrics-addr/metrics.
`

// cmdConsume runs `gannet consume` until ctx ends (SIGTERM/SIGINT).
func cmdConsume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("consume", "--stream NAME --app NAME [flags]", consumeHelp, stderr)
	var (
		streamName, app, table, workerID, configFile       string
		lakeDir, es, dlqDir, out, format, metricsAddr      string
		region, kinesisEndpoint, dynamoEndpoint, startAt   string
		geoip, asn                                         string
		intel, rules                                       listFlag
		intelDemo, leaseStealing                           bool
		flushRecords, maxGap, maxRecords                   int
		flushInterval, shutdownTimeout, failover, idleTime time.Duration
		enrichReload                                       time.Duration
	)
	fs.StringVar(&streamName, "stream", "", "Kinesis stream name (required)")
	fs.StringVar(&app, "app", "", "KCL application name; names the lease table (required)")
	fs.StringVar(&table, "table", "", "lease table name (default: --app)")
	fs.StringVar(&workerID, "worker-id", "", "this worker's name in the lease table (default host-pid)")
	fs.StringVar(&configFile, "config", "", "YAML configuration file")
	fs.StringVar(&lakeDir, "lake", "", "write the Parquet lake to DIR or s3://bucket/prefix")
	fs.StringVar(&es, "es", "", "index into Elasticsearch/OpenSearch at URL (credentials from GANNET_ES_USERNAME/GANNET_ES_PASSWORD)")
	fs.StringVar(&dlqDir, "dlq", "", "dead-letter directory or s3://bucket/prefix (default ./gannet-dlq)")
	fs.StringVar(&out, "out", "", "also write normalized events as NDJSON to FILE, or - for stdout")
	fs.StringVar(&format, "format", "", "format of the stream's records: auto (sniff) or a format name (default from config: auto)")
	fs.StringVar(&metricsAddr, "metrics-addr", "127.0.0.1:9464", "serve Prometheus metrics at ADDR/metrics (empty: off)")
	fs.StringVar(&region, "region", "", "AWS region (default from the AWS environment)")
	fs.StringVar(&kinesisEndpoint, "kinesis-endpoint", "", "Kinesis endpoint URL (default from AWS_ENDPOINT_URL_KINESIS)")
	fs.StringVar(&dynamoEndpoint, "dynamodb-endpoint", "", "DynamoDB endpoint URL (default from AWS_ENDPOINT_URL_DYNAMODB)")
	fs.StringVar(&startAt, "start-at", "trim_horizon", "where shards without a checkpoint start: trim_horizon or latest")
	fs.IntVar(&flushRecords, "flush-records", 10000, "flush the sinks and checkpoint after this many records per shard")
	fs.DurationVar(&flushInterval, "flush-interval", 5*time.Second, "... or this long after the last flush")
	fs.IntVar(&maxGap, "max-gap", 50000, "records held past the first unacknowledged one before fetching stops and the failed records are retried")
	fs.IntVar(&maxRecords, "max-records", 10000, "records per GetRecords call (at most 10000)")
	fs.DurationVar(&shutdownTimeout, "shutdown-timeout", 30*time.Second, "bound on the graceful shutdown")
	fs.DurationVar(&failover, "failover-time", 10*time.Second, "lease duration: a worker that does not renew within it loses its shards")
	fs.DurationVar(&idleTime, "idle-time", time.Second, "wait between reads of a shard that returned nothing")
	fs.BoolVar(&leaseStealing, "lease-stealing", true, "take a fair share of the leases from busier workers (the KCL's balancing)")
	fs.BoolVar(&intelDemo, "intel-demo", false, "add the embedded demo threat-intel feed")
	fs.StringVar(&geoip, "geoip", "", "GeoIP city or country database (MaxMind DB format), path or s3://")
	fs.StringVar(&asn, "asn", "", "ASN database (MaxMind DB format), path or s3://")
	fs.Var(&intel, "intel", "threat-intel feed PATH[#format=csv&column=ip&feed=name…] (repeatable)")
	fs.DurationVar(&enrichReload, "enrich-reload", 0, "poll local GeoIP/ASN databases and intel files at this interval and swap them in when replaced (mv a complete file over them); 0: from config (enrich_reload), off by default")
	fs.Var(&rules, "rules", "directory of Sigma rules, loaded besides the built-ins (repeatable)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || streamName == "" || app == "" {
		fmt.Fprintln(stderr, "gannet consume: --stream and --app are required and no arguments are taken; see gannet consume --help")
		return errUsage
	}
	if startAt != "trim_horizon" && startAt != "latest" {
		fmt.Fprintf(stderr, "gannet consume: --start-at %q: want trim_horizon or latest\n", startAt)
		return errUsage
	}

	cfg, err := config.Load(configFile, nil)
	if err != nil {
		return err
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Format, format)
	set(&cfg.Lake, lakeDir)
	set(&cfg.ESURL, es)
	set(&cfg.DLQ, dlqDir)
	set(&cfg.Out, out)
	set(&cfg.GeoIP, geoip)
	set(&cfg.ASN, asn)
	if enrichReload != 0 {
		cfg.EnrichReload = enrichReload
	}
	if cfg.DLQ == "" {
		cfg.DLQ = "gannet-dlq"
	}
	if cfg.Out != "" && cfg.Out != "-" {
		// One NDJSON file per shard pipeline would overwrite each other.
		fmt.Fprintln(stderr, "gannet consume: --out takes only - (stdout) here; use --lake or --es for files")
		return errUsage
	}
	cfg.IntelDemo = cfg.IntelDemo || intelDemo
	cfg.Intel = append(cfg.Intel, intel...)
	cfg.Rules = append(cfg.Rules, rules...)
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)

	var loadOpts []func(*awsconfig.LoadOptions) error
	if region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return fmt.Errorf("aws configuration: %w", err)
	}
	if kinesisEndpoint != "" || dynamoEndpoint != "" {
		awsCfg.ServiceOptions = append(awsCfg.ServiceOptions, func(_ string, opts any) {
			switch o := opts.(type) {
			case *kinesis.Options:
				if kinesisEndpoint != "" {
					o.BaseEndpoint = aws.String(kinesisEndpoint)
				}
			case *dynamodb.Options:
				if dynamoEndpoint != "" {
					o.BaseEndpoint = aws.String(dynamoEndpoint)
				}
			}
		})
	}

	// Shard pipelines write alert lines and NDJSON from several goroutines.
	var outMu sync.Mutex
	lockedOut := writerFunc(func(p []byte) (int, error) {
		outMu.Lock()
		defer outMu.Unlock()
		return stdout.Write(p)
	})
	opts := setup.Options{Stdout: lockedOut, Logger: logger, AlertsTo: alertsTo(cfg, lockedOut, stderr)}
	if cfg.Out == "-" {
		opts.AlertsTo = stderr
	}
	// Fail fast on a configuration that cannot build (bad rules, missing
	// GeoIP file, unreachable Elasticsearch) before taking any lease.
	probe, err := setup.Build(ctx, cfg, opts)
	if err != nil {
		return err
	}
	_ = probe.Close(context.WithoutCancel(ctx))

	metrics := kcl.NewMetrics()
	c, err := kcl.New(ctx, kcl.Config{
		Stream: streamName, App: app, Table: table, WorkerID: workerID, AWS: awsCfg,
		NewPipeline: kcl.SetupFactory(cfg, opts), FormatFor: cfg.FormatFor,
		StartAtLatest: startAt == "latest",
		FlushRecords:  flushRecords, FlushInterval: flushInterval, MaxGap: maxGap, MaxRecords: maxRecords,
		ShutdownTimeout: shutdownTimeout, FailoverTime: failover, IdleTime: idleTime,
		LeaseStealing: leaseStealing, Metrics: metrics, Logger: logger,
	})
	if err != nil {
		return err
	}

	if metricsAddr != "" {
		ln, err := net.Listen("tcp", metricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("metrics server", "error", err)
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		logger.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	}

	logger.Info("consume", "stream", streamName, "app", app, "worker", c.WorkerID(), "outputs", probe.Outputs)
	err = c.Run(ctx)
	logger.Info("consume stopped",
		slog.Float64("records", metrics.Sum("gannet_kcl_records_total")),
		slog.Float64("checkpointed", metrics.Sum("gannet_kcl_records_checkpointed_total")),
		slog.Float64("dead_letters", metrics.Sum("gannet_kcl_dead_letters_total")))
	return err
}

// writerFunc adapts a function to io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
