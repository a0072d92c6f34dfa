package kcl

import (
	"context"

	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/config"
	"github.com/gannet-sec/gannet/stream/pipeline"
	"github.com/gannet-sec/gannet/stream/setup"
)

// SetupFactory builds each shard's pipeline with setup.Build from cfg, the
// way `gannet run` and the Lambdas build theirs, with DeferFlush on. Each
// shard owns its sinks: a flush makes only that shard's records durable.
func SetupFactory(cfg config.Config, o setup.Options) PipelineFactory {
	o.DeferFlush = true
	return func(ctx context.Context, shardID string) (Pipeline, error) {
		o := o
		o.StateName = shardID // anomaly_state: one snapshot per shard
		b, err := setup.Build(ctx, cfg, o)
		if err != nil {
			return nil, err
		}
		return built{b}, nil
	}
}

type built struct{ b *setup.Built }

func (b built) Process(ctx context.Context, recs []stream.Record) pipeline.Result {
	return b.b.Pipeline.Process(ctx, recs)
}
func (b built) Flush(ctx context.Context) error { return b.b.Pipeline.Flush(ctx) }
func (b built) Stats() pipeline.Stats           { return b.b.Pipeline.Stats() }
func (b built) Close(ctx context.Context) error { return b.b.Close(ctx) }
