package coldstart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/gannet-sec/gannet/sink/alerts"
	"github.com/gannet-sec/gannet/sink/elastic"
	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/setup"
)

// AlertSinks opens the alert outputs the configuration names — the lake's
// alerts table (GANNET_LAKE), Elasticsearch (GANNET_ES_URL), SNS
// (GANNET_ALERT_TOPIC_ARN), a webhook (GANNET_ALERT_WEBHOOK_URL) — for
// functions that raise alerts outside the event pipeline (scheduled
// queries, compliance checks). stream/setup keeps the pipeline's own alert
// sinks private; these are opened the same way from the same settings.
func AlertSinks(ctx context.Context, cfg config.Config, log *slog.Logger) (Alerts, error) {
	var out Alerts
	if cfg.Lake != "" {
		st, err := setup.LakeStore(ctx, cfg.Lake, cfg.LakeKMSKey)
		if err != nil {
			return nil, err
		}
		codec, err := lake.ParseCodec(cfg.LakeCodec)
		if err != nil {
			return nil, err
		}
		out = append(out, lake.New(st, lake.Options{Encoding: lake.Encoding{Codec: codec}}))
	}
	if cfg.ESURL != "" {
		es, err := elastic.New(ctx, elastic.Config{URL: cfg.ESURL, Username: cfg.ESUsername, Password: cfg.ESPassword,
			InsecureSkipVerify: cfg.ESInsecure, Logger: log})
		if err != nil {
			return nil, err
		}
		out = append(out, es)
	}
	if cfg.AlertTopicARN != "" {
		awsCfg, err := AWS(ctx)
		if err != nil {
			return nil, err
		}
		s, err := alerts.NewSNS(sns.NewFromConfig(awsCfg), alerts.SNSConfig{TopicARN: cfg.AlertTopicARN})
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if cfg.AlertWebhookURL != "" {
		w, err := alerts.NewWebhook(alerts.WebhookConfig{URL: cfg.AlertWebhookURL})
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// Alerts delivers to every sink; all must accept.
type Alerts []stream.AlertSink

// Deliver sends alerts to every sink and flushes them.
func (a Alerts) Deliver(ctx context.Context, list []stream.Alert) error {
	if len(list) == 0 {
		return nil
	}
	var errs []error
	for _, s := range a {
		if err := s.Alerts(ctx, list); err != nil {
			errs = append(errs, fmt.Errorf("alerts to %s: %w", s.Name(), err))
			continue
		}
		if err := s.Flush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flush alerts %s: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Close closes every sink.
func (a Alerts) Close(ctx context.Context) error {
	var errs []error
	for _, s := range a {
		errs = append(errs, s.Close(ctx))
	}
	return errors.Join(errs...)
}
