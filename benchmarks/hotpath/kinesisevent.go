package hotpath

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/gannet-sec/gannet/stream"
)

// KinesisPayload is the invocation payload a Kinesis-triggered Lambda
// receives for n generated entries of format f: the event JSON, with per
// entries in each Kinesis record (gzip-compressed when per > 1, as a
// producer batching lines does; one plain entry per record when per is 1).
// It returns the payload and the size of the entries it carries.
func KinesisPayload(f stream.Format, n, per int, seed int64) ([]byte, int64, error) {
	fx, err := Generate(f, n, seed)
	if err != nil {
		return nil, 0, err
	}
	per = max(per, 1)
	var ev events.KinesisEvent
	for i := 0; i*per < len(fx.Records); i++ {
		recs := fx.Records[i*per : min(len(fx.Records), (i+1)*per)]
		data := recs[0].Data
		if per > 1 {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			for _, r := range recs {
				_, _ = zw.Write(r.Data)
				_, _ = zw.Write([]byte{'\n'})
			}
			if err := zw.Close(); err != nil {
				return nil, 0, err
			}
			data = buf.Bytes()
		}
		seq := fmt.Sprintf("4959%036d", i+1)
		ev.Records = append(ev.Records, events.KinesisEventRecord{
			AwsRegion: "eu-west-1", EventID: "shardId-000000000000:" + seq, EventName: "aws:kinesis:record",
			EventSource: "aws:kinesis", EventSourceArn: "arn:aws:kinesis:eu-west-1:123456789012:stream/gannet-" + f.String(),
			EventVersion: "1.0", InvokeIdentityArn: "arn:aws:iam::123456789012:role/gannet-ingest",
			Kinesis: events.KinesisRecord{ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: time.Unix(1793491200, 0)},
				Data: data, KinesisSchemaVersion: "1.0", PartitionKey: strconv.Itoa(i), SequenceNumber: seq},
		})
	}
	b, err := json.Marshal(ev)
	return b, fx.Bytes, err
}

// PayloadLimit is the largest invocation payload Lambda accepts (6 MB).
const PayloadLimit = 6 << 20

// Invocation is what one ingest Lambda invocation receives for a fixture:
// the Kinesis event JSON of as many of its records (one entry each) as fit
// the payload limit, up to max (an event source mapping's batch size).
type Invocation struct {
	Payload []byte
	Records int   // Kinesis records (= entries) in the payload
	Bytes   int64 // their size
}

// NewInvocation builds the payload from the first records of fx.
func NewInvocation(fx *Fixture, maxRecords int) (*Invocation, error) {
	var ev events.KinesisEvent
	inv := &Invocation{}
	size := 64 // {"Records":[]}
	for i := range fx.Records[:min(maxRecords, len(fx.Records))] {
		r := &fx.Records[i]
		kr := events.KinesisEventRecord{
			AwsRegion: "eu-west-1", EventID: r.Lineage.Shard + ":" + r.Lineage.Sequence, EventName: "aws:kinesis:record",
			EventSource: "aws:kinesis", EventSourceArn: r.Lineage.Source,
			EventVersion: "1.0", InvokeIdentityArn: "arn:aws:iam::123456789012:role/gannet-ingest",
			Kinesis: events.KinesisRecord{ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: r.ArrivalTime},
				Data: r.Data, KinesisSchemaVersion: "1.0", PartitionKey: r.PartitionKey, SequenceNumber: r.Lineage.Sequence},
		}
		one, err := json.Marshal(kr)
		if err != nil {
			return nil, err
		}
		if size+len(one)+1 > PayloadLimit {
			break
		}
		size += len(one) + 1
		ev.Records = append(ev.Records, kr)
		inv.Bytes += int64(len(r.Data))
	}
	inv.Records = len(ev.Records)
	var err error
	inv.Payload, err = json.Marshal(ev)
	if err == nil && len(inv.Payload) > PayloadLimit {
		err = fmt.Errorf("hotpath: invocation payload %d bytes exceeds the limit", len(inv.Payload))
	}
	return inv, err
}
