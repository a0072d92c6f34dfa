// Package setup builds a complete pipeline — decoder, parsers, enrichment,
// detection, sinks and dead-letter store — from configuration. `gannet run`,
// the KCL consumer and every Lambda build theirs here, so they behave alike.
package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/gannet-sec/gannet/detect"
	"github.com/gannet-sec/gannet/detect/anomaly"
	"github.com/gannet-sec/gannet/enrich"
	"github.com/gannet-sec/gannet/enrich/geoip"
	"github.com/gannet-sec/gannet/sink/alertout"
	"github.com/gannet-sec/gannet/sink/alerts"
	"github.com/gannet-sec/gannet/sink/dlq"
	"github.com/gannet-sec/gannet/sink/elastic"
	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/sink/ndjson"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/decode"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

// Options are what configuration cannot say: where "-" writes, the logger.
type Options struct {
	Stdout io.Writer
	Logger *slog.Logger
	// AlertsTo, when set, receives every alert as a readable line.
	AlertsTo io.Writer
	// DeferFlush: see pipeline.Config.DeferFlush.
	DeferFlush bool
	// StateName names this pipeline's files in the anomaly_state directory
	// (the KCL consumer passes the shard id); "" means "gannet".
	StateName string
}

// Built is a configured pipeline and the parts it owns.
type Built struct {
	Pipeline *pipeline.Pipeline
	Decoder  *decode.Decoder
	Enricher *enrich.Enricher
	Detector *detect.Engine
	// DeadLetter is the dead-letter store the pipeline uses (for rejects
	// found before the pipeline, e.g. an oversized input line).
	DeadLetter stream.DeadLetterSink
	// Outputs describe where data goes, for the summary ("lake: out/lake").
	Outputs []string

	closers []func(context.Context) error
	closed  bool
	// anomalySaver takes the periodic anomaly snapshots (nil when there are none).
	anomalySaver *anomalySaver
}

// Build assembles the pipeline cfg describes. Close releases it.
func Build(ctx context.Context, cfg config.Config, o Options) (_ *Built, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Built{}
	defer func() {
		if err != nil {
			b.Close(context.WithoutCancel(ctx))
		}
	}()
	var sinks []stream.Sink
	var alertSinks []stream.AlertSink
	var letters []stream.DeadLetterSink

	if cfg.DLQ == "" {
		return nil, errors.New("setup: a dead-letter location (dlq) is required")
	}
	if strings.HasPrefix(cfg.DLQ, "s3://") {
		bucket, prefix, err := splitS3(cfg.DLQ)
		if err != nil {
			return nil, fmt.Errorf("dlq: %w", err)
		}
		awsCfg, err := loadAWS(ctx)
		if err != nil {
			return nil, err
		}
		d := dlq.NewS3(newS3Client(awsCfg), bucket, prefix)
		letters = append(letters, d)
		b.closers = append(b.closers, d.Close)
	} else {
		d, err := dlq.NewDir(cfg.DLQ)
		if err != nil {
			return nil, err
		}
		letters = append(letters, d)
		b.closers = append(b.closers, d.Close)
	}
	b.Outputs = append(b.Outputs, "dead letters: "+cfg.DLQ)

	if cfg.Out != "" {
		var s *ndjson.Sink
		if cfg.Out == "-" {
			s = ndjson.New(o.Stdout)
		} else if s, err = ndjson.Create(cfg.Out); err != nil {
			return nil, err
		}
		sinks = append(sinks, s)
		b.closers = append(b.closers, s.Close)
		b.Outputs = append(b.Outputs, "events: "+cfg.Out)
	}
	if cfg.Lake != "" {
		codec, err := lake.ParseCodec(cfg.LakeCodec)
		if err != nil {
			return nil, err
		}
		store, err := LakeStore(ctx, cfg.Lake, cfg.LakeKMSKey)
		if err != nil {
			return nil, err
		}
		l := lake.New(store, lake.Options{Encoding: lake.Encoding{Codec: codec}})
		sinks = append(sinks, l)
		alertSinks = append(alertSinks, l)
		letters = append(letters, l)
		b.closers = append(b.closers, l.Close)
		b.Outputs = append(b.Outputs, "lake: "+cfg.Lake)
	}
	if cfg.ESURL != "" {
		ec := elastic.Config{URL: cfg.ESURL, Username: cfg.ESUsername, Password: cfg.ESPassword,
			InsecureSkipVerify: cfg.ESInsecure, Logger: o.Logger}
		if cfg.ESSigV4Region != "" {
			awsCfg, err := loadAWS(ctx)
			if err != nil {
				return nil, err
			}
			ec.SigV4 = &elastic.SigV4{Region: cfg.ESSigV4Region, Credentials: awsCfg.Credentials}
		}
		es, err := elastic.New(ctx, ec)
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, es)
		alertSinks = append(alertSinks, es)
		b.closers = append(b.closers, es.Close)
		b.Outputs = append(b.Outputs, "elasticsearch: "+redactURL(cfg.ESURL))
	}
	if cfg.AlertTopicARN != "" {
		awsCfg, err := loadAWS(ctx)
		if err != nil {
			return nil, err
		}
		s, err := alerts.NewSNS(sns.NewFromConfig(awsCfg), alerts.SNSConfig{TopicARN: cfg.AlertTopicARN})
		if err != nil {
			return nil, err
		}
		alertSinks = append(alertSinks, s)
		b.closers = append(b.closers, s.Close)
		b.Outputs = append(b.Outputs, "alerts: "+cfg.AlertTopicARN)
	}
	if cfg.AlertWebhookURL != "" {
		w, err := alerts.NewWebhook(alerts.WebhookConfig{URL: cfg.AlertWebhookURL})
		if err != nil {
			return nil, err
		}
		alertSinks = append(alertSinks, w)
		b.closers = append(b.closers, w.Close)
		b.Outputs = append(b.Outputs, "alerts: webhook")
	}
	if o.AlertsTo != nil {
		alertSinks = append(alertSinks, alertout.NewText(o.AlertsTo))
	}

	check, err := geoip.ParseCheck(cfg.GeoIPCheck)
	if err != nil {
		return nil, err
	}
	eo := enrich.Options{GeoIPPath: cfg.GeoIP, ASNPath: cfg.ASN, IntelPaths: cfg.Intel, DemoIntel: cfg.IntelDemo,
		GeoIPSHA256: cfg.GeoIPSHA256, ASNSHA256: cfg.ASNSHA256, Check: check,
		Reload: cfg.EnrichReload,
		Logf:   func(format string, args ...any) { o.Logger.Warn(fmt.Sprintf(format, args...)) }}
	var enricher stream.Enricher
	if eo.GeoIPPath != "" || eo.ASNPath != "" || len(eo.IntelPaths) > 0 || eo.DemoIntel {
		if b.Enricher, err = enrich.New(ctx, eo); err != nil {
			return nil, err
		}
		enricher = b.Enricher
		b.closers = append(b.closers, func(context.Context) error { return b.Enricher.Close() })
	}

	var detector stream.Detector
	if cfg.Detect {
		do := detect.Options{RuleDirs: cfg.Rules, NoBuiltins: cfg.NoBuiltinRules, AllowedCountries: cfg.AllowedCountries}
		if cfg.Anomaly {
			do.Anomaly = &anomaly.Config{ErrorFactor: float64(cfg.AnomalyErrorFactor)}
		}
		b.Detector, err = detect.New(do)
		if err != nil {
			return nil, err
		}
		for _, s := range b.Detector.Skipped() {
			o.Logger.Info("rule skipped", "source", s.Source, "title", s.Title, "reason", s.Reason)
		}
		detector = b.Detector
		if cfg.AnomalyState != "" {
			if err := b.keepAnomalyState(cfg.AnomalyState, cfg.AnomalySnapshotInterval, o); err != nil {
				return nil, err
			}
		}
	}

	b.Decoder = decode.New(decode.Options{MaxDecompressed: int64(cfg.MaxRecordBytes)})
	var dl stream.DeadLetterSink = letters[0]
	if len(letters) > 1 {
		dl = fanout(letters)
	}
	b.DeadLetter = dl
	if b.anomalySaver != nil {
		// Periodic anomaly snapshots at the pipeline's successful flushes
		// (b.DeadLetter, for input rejects, stays as it is).
		dl = snapshotOnFlush{DeadLetterSink: dl, saver: b.anomalySaver}
	}
	b.Pipeline, err = pipeline.New(pipeline.Config{
		Decoder:    b.Decoder,
		Parsers:    format.NewSet(format.Options{VPCFlowFields: cfg.VPCFlowFieldList()}),
		Enricher:   enricher,
		Detector:   detector,
		Sinks:      sinks,
		AlertSinks: alertSinks,
		DeadLetter: dl,
		DeferFlush: o.DeferFlush,
		Logger:     o.Logger,
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Close flushes and closes every sink (in reverse order of creation).
func (b *Built) Close(ctx context.Context) error {
	if b.closed {
		return nil
	}
	b.closed = true
	var errs []error
	for i := len(b.closers) - 1; i >= 0; i-- {
		if err := b.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func splitS3(u string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URL", u)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket (want s3://bucket/prefix)", u)
	}
	return bucket, strings.TrimSuffix(prefix, "/"), nil
}

func loadAWS(ctx context.Context) (aws.Config, error) {
	c, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return c, fmt.Errorf("aws configuration: %w", err)
	}
	return c, nil
}

// redactURL drops credentials from a URL before it is shown.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if slash := strings.Index(rest, "/"); slash < 0 || at < slash {
			return scheme + "://***@" + rest[at+1:]
		}
	}
	return u
}

// fanout writes dead letters to several stores; all must accept them.
type fanout []stream.DeadLetterSink

func (f fanout) DeadLetter(ctx context.Context, l []stream.DeadLetter) error {
	for _, s := range f {
		if err := s.DeadLetter(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

func (f fanout) Flush(ctx context.Context) error {
	for _, s := range f {
		if err := s.Flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (f fanout) Close(context.Context) error { return nil } // the stores are closed by Built.Close
