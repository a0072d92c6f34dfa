package kcl

import (
	"bytes"
	"context"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/gannet-sec/gannet/stream"
)

// vmware-go-kcl-v2 v1.0.0 de-aggregates KPL records before the record
// processor sees them, and that loses what Gannet needs: the sub-sequence
// number (so every user record of an aggregate would get the same event id),
// and the batch itself when an aggregate's protobuf is bad (the library logs
// and hands over nothing, yet the iterator moves on). So the Kinesis client
// given to the library marks aggregated records on the way in (keepAggregated),
// the library passes them through untouched, and Gannet's own decoder
// de-aggregates them with sub-sequence numbers and dead-letters bad ones.

// kplMagic starts every KPL aggregated record.
var kplMagic = []byte{0xf3, 0x89, 0x9a, 0xc2}

// rawMarker is prepended to records that start with kplMagic, and (to keep
// the escaping unambiguous) to records that already start with rawMarker.
var rawMarker = []byte("\x00gannet.kcl.raw\x00")

func wrapData(b []byte) []byte {
	if !bytes.HasPrefix(b, kplMagic) && !bytes.HasPrefix(b, rawMarker) {
		return b
	}
	out := make([]byte, 0, len(rawMarker)+len(b))
	return append(append(out, rawMarker...), b...)
}

func unwrapData(b []byte) []byte {
	if bytes.HasPrefix(b, rawMarker) {
		return b[len(rawMarker):]
	}
	return b
}

// keepAggregated is an API option for the Kinesis client the library uses.
func keepAggregated(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("gannet.kcl.KeepAggregated",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if err == nil {
				if o, ok := out.Result.(*kinesis.GetRecordsOutput); ok && o != nil {
					for i := range o.Records {
						o.Records[i].Data = wrapData(o.Records[i].Data)
					}
				}
			}
			return out, md, err
		}), middleware.After)
}

// convert turns a Kinesis record into a pipeline record with the same
// lineage the Lambda path gives it (stream/kinesisevent.Record): Source the
// stream ARN, Shard, Sequence, SubSequence -1, arrival time in UTC
// milliseconds. Data aliases r.Data.
func convert(r *ktypes.Record, streamARN, shardID string, f stream.Format) stream.Record {
	var arrival time.Time
	if t := aws.ToTime(r.ApproximateArrivalTimestamp); !t.IsZero() {
		arrival = time.UnixMilli(int64(math.Round(float64(t.UnixNano()) / 1e6))).UTC()
	}
	return stream.Record{
		Data: unwrapData(r.Data),
		Lineage: stream.Lineage{
			Kind:        stream.OriginKinesis,
			Source:      streamARN,
			Shard:       shardID,
			Sequence:    aws.ToString(r.SequenceNumber),
			SubSequence: -1,
		},
		PartitionKey: aws.ToString(r.PartitionKey),
		ArrivalTime:  arrival,
		Format:       f,
	}
}
