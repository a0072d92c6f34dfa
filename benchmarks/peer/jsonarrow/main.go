// Command jsonarrow is the plain baseline of Gannet's peer comparison:
// CloudTrail NDJSON decoded with encoding/json into a typed struct, appended
// to Arrow builders and written by arrow-go's pqarrow writer with ZSTD, in
// 20,000-row row groups — the same 16 columns as the Benthos peer. It lives
// in the peer's tools module because pqarrow pulls in gRPC (arrow/flight),
// which the main module does not need.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "jsonarrow:", err)
		os.Exit(1)
	}
}

// ctRecord is the typed CloudTrail subset the baseline decodes.
type ctRecord struct {
	EventID      string `json:"eventID"`
	EventTime    string `json:"eventTime"`
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	AWSRegion    string `json:"awsRegion"`
	SourceIP     string `json:"sourceIPAddress"`
	UserAgent    string `json:"userAgent"`
	UserIdentity struct {
		Type      string `json:"type"`
		ARN       string `json:"arn"`
		AccountID string `json:"accountId"`
		UserName  string `json:"userName"`
	} `json:"userIdentity"`
	ErrorCode         string          `json:"errorCode"`
	ErrorMessage      string          `json:"errorMessage"`
	RequestID         string          `json:"requestID"`
	ReadOnly          bool            `json:"readOnly"`
	RequestParameters json.RawMessage `json:"requestParameters"`
}

// columns are the 16 columns both the peer and the baseline write (the same
// list as benchmarks/cmd/benchrun.columns).
var columns = []string{"event_id", "event_time", "event_source", "event_name", "aws_region", "source_ip",
	"user_agent", "user_identity_type", "user_identity_arn", "account_id", "user_name", "error_code",
	"error_message", "request_id", "read_only", "request_parameters"}

// cmdJSONArrow is the plain baseline: encoding/json into a typed struct,
// Arrow builders, pqarrow writer with ZSTD, 20,000-row row groups.
func run() error {
	in := flag.String("in", "", "NDJSON input")
	out := flag.String("out", "", "Parquet output file")
	flag.Parse()
	fields := make([]arrow.Field, len(columns))
	for i, c := range columns {
		fields[i] = arrow.Field{Name: c, Type: arrow.BinaryTypes.String, Nullable: true}
	}
	fields[1].Type = arrow.FixedWidthTypes.Timestamp_ms
	fields[14].Type = arrow.FixedWidthTypes.Boolean
	schema := arrow.NewSchema(fields, nil)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithDictionaryDefault(false), parquet.WithMaxRowGroupLength(20000))
	fw, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.DefaultWriterProps())
	if err != nil {
		return err
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	str := func(i int, s string) {
		sb := b.Field(i).(*array.StringBuilder)
		if s == "" {
			sb.AppendNull()
		} else {
			sb.Append(s)
		}
	}
	in0, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer in0.Close()
	sc := bufio.NewScanner(in0)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	rows, n := 0, 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		rows = 0
		return fw.Write(rec)
	}
	for sc.Scan() {
		var r ctRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("line %d: %w", n+1, err)
		}
		n++
		str(0, r.EventID)
		if t, err := time.Parse(time.RFC3339, r.EventTime); err == nil {
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(t.UnixMilli()))
		} else {
			b.Field(1).AppendNull()
		}
		str(2, r.EventSource)
		str(3, r.EventName)
		str(4, r.AWSRegion)
		str(5, r.SourceIP)
		str(6, r.UserAgent)
		str(7, r.UserIdentity.Type)
		str(8, r.UserIdentity.ARN)
		str(9, r.UserIdentity.AccountID)
		str(10, r.UserIdentity.UserName)
		str(11, r.ErrorCode)
		str(12, r.ErrorMessage)
		str(13, r.RequestID)
		b.Field(14).(*array.BooleanBuilder).Append(r.ReadOnly)
		if p := string(r.RequestParameters); p != "" && p != "null" {
			str(15, p)
		} else {
			str(15, "")
		}
		if rows++; rows == 20000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if err := fw.Close(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]int{"events": n})
}
