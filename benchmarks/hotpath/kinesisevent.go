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
