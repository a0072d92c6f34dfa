package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/gannet-sec/gannet/benchmarks/hotpath"
	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
)

// cmdGen writes generated logs of one format to a file.
func cmdGen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	f := fs.String("format", "cloudtrail", "format")
	n := fs.Int("n", 100000, "entries")
	out := fs.String("out", "", "file")
	_ = fs.Parse(args)
	ft, ok := stream.ParseFormat(*f)
	if !ok {
		return fmt.Errorf("unknown format %q", *f)
	}
	w, err := os.Create(*out)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := format.Generate(ft, bw, gen.Options{Count: *n, Seed: 11, Attacks: true}); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return w.Close()
}

// cmdGannetFile is Gannet as a whole process on an NDJSON file, the way
// `gannet run --format cloudtrail --lake DIR` does it: batches of 1,000
// lines through the pipeline into a ZSTD Parquet lake in a local
// directory, flushed every 20,000 events and at the end. -full adds
// enrichment, every rule and the Elasticsearch bulk encoding; without it
// the work matches the peer's (parse + Parquet).
func cmdGannetFile(args []string) error {
	fs := flag.NewFlagSet("gannet-file", flag.ExitOnError)
	in := fs.String("in", "", "NDJSON input")
	out := fs.String("out", "", "lake directory")
	full := fs.Bool("full", false, "enrich + detect + ES encode as well")
	envDir := fs.String("env", "", "directory for the GeoIP databases (with -full)")
	_ = fs.Parse(args)
	ctx := context.Background()
	store, err := lake.NewDirStore(*out)
	if err != nil {
		return err
	}
	lk := lake.New(store, lake.Options{Encoding: lake.Encoding{Codec: lake.ZSTD}})
	env := &hotpath.Env{}
	parts := hotpath.Parts{Lake: true, DeferFlush: true}
	if *full {
		// The databases are opened as a deployed Gannet opens them; they
		// are written here only when benchrun report has not written them
		// beforehand (writing them is benchmark setup, not Gannet's work).
		city, asn := filepath.Join(*envDir, "bench-city.mmdb"), filepath.Join(*envDir, "bench-asn.mmdb")
		_, e1 := os.Stat(city)
		_, e2 := os.Stat(asn)
		if e1 == nil && e2 == nil {
			env, err = hotpath.OpenEnv(ctx, city, asn)
		} else {
			env, err = hotpath.NewEnv(ctx, *envDir)
		}
		if err != nil {
			return err
		}
		parts = hotpath.UpToES.Parts()
		parts.DeferFlush = true
	}
	r, err := env.NewRigParts(lk, parts)
	if err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	const batch, flushEvery = 1000, 20000
	recs := make([]stream.Record, 0, batch)
	var lines, sinceFlush int64
	process := func() error {
		if len(recs) == 0 {
			return nil
		}
		res := r.Pipeline.Process(ctx, recs)
		if res.Err != nil {
			return res.Err
		}
		sinceFlush += int64(len(recs))
		if sinceFlush >= flushEvery {
			sinceFlush = 0
			if err := r.Pipeline.Flush(ctx); err != nil {
				return err
			}
		}
		for i := range recs {
			recs[i].Data = recs[i].Data[:0]
		}
		recs = recs[:0]
		return nil
	}
	bufs := make([][]byte, batch)
	for sc.Scan() {
		lines++
		i := len(recs)
		bufs[i] = append(bufs[i][:0], sc.Bytes()...)
		recs = append(recs, stream.Record{Data: bufs[i], Format: stream.FormatCloudTrail,
			Lineage: stream.Lineage{Kind: stream.OriginFile, Source: *in, Line: lines, SubSequence: -1}})
		if len(recs) == batch {
			if err := process(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := process(); err != nil {
		return err
	}
	if err := r.Pipeline.Flush(ctx); err != nil {
		return err
	}
	if err := lk.Close(ctx); err != nil {
		return err
	}
	st := r.Pipeline.Stats()
	if st.Events != lines || st.DeadLetters != 0 {
		return fmt.Errorf("%d lines → %d events, %d dead letters", lines, st.Events, st.DeadLetters)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]int64{"events": st.Events, "alerts": st.Alerts})
}

// PeerColumns are the 16 columns the peer and the baseline write.
var PeerColumns = []string{"event_id", "event_time", "event_source", "event_name", "aws_region", "source_ip",
	"user_agent", "user_identity_type", "user_identity_arn", "account_id", "user_name", "error_code",
	"error_message", "request_id", "read_only", "request_parameters"}

// benthosConfig is the peer's configuration: the same CloudTrail NDJSON →
// 16 columns → ZSTD Parquet work, 20,000-event batches (one Parquet file
// each), one processing thread per GOMAXPROCS.
const benthosConfig = `# Benthos v4.27.0: CloudTrail NDJSON -> 16-column ZSTD Parquet (written by benchmarks/cmd/benchrun)
http:
  enabled: false
logger:
  level: WARN
input:
  broker:
    inputs:
      - file:
          paths: [ "%s" ]
          scanner:
            lines:
              max_buffer_size: 67108864
    batching:
      count: 20000
      period: 10s
pipeline:
  processors:
    - mapping: |
        root.event_id = this.eventID
        root.event_time = this.eventTime.ts_parse("2006-01-02T15:04:05Z").ts_unix_milli()
        root.event_source = this.eventSource
        root.event_name = this.eventName
        root.aws_region = this.awsRegion
        root.source_ip = this.sourceIPAddress
        root.user_agent = this.userAgent
        root.user_identity_type = this.userIdentity.type
        root.user_identity_arn = this.userIdentity.arn
        root.account_id = this.userIdentity.accountId
        root.user_name = this.userIdentity.userName
        root.error_code = this.errorCode
        root.error_message = this.errorMessage
        root.request_id = this.requestID
        root.read_only = this.readOnly.or(false)
        root.request_parameters = if this.requestParameters != null { this.requestParameters.format_json(indent: "", no_indent: true) }
    - parquet_encode:
        default_compression: zstd
        schema:
          - { name: event_id, type: UTF8, optional: true }
          - { name: event_time, type: INT64, optional: true }
          - { name: event_source, type: UTF8, optional: true }
          - { name: event_name, type: UTF8, optional: true }
          - { name: aws_region, type: UTF8, optional: true }
          - { name: source_ip, type: UTF8, optional: true }
          - { name: user_agent, type: UTF8, optional: true }
          - { name: user_identity_type, type: UTF8, optional: true }
          - { name: user_identity_arn, type: UTF8, optional: true }
          - { name: account_id, type: UTF8, optional: true }
          - { name: user_name, type: UTF8, optional: true }
          - { name: error_code, type: UTF8, optional: true }
          - { name: error_message, type: UTF8, optional: true }
          - { name: request_id, type: UTF8, optional: true }
          - { name: read_only, type: BOOLEAN, optional: true }
          - { name: request_parameters, type: UTF8, optional: true }
output:
  file:
    path: '%s/${! uuid_v4() }.parquet'
    codec: all-bytes
`

// writeBenthosConfig writes the peer configuration for in → outDir.
func writeBenthosConfig(path, in, outDir string) error {
	return os.WriteFile(path, []byte(fmt.Sprintf(benthosConfig, in, outDir)), 0o644)
}

// dirBytes sums the sizes of the files under dir.
func dirBytes(dir string) (int64, int, error) {
	var n int64
	files := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".parquet") {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
			files++
		}
		return nil
	})
	return n, files, err
}

// countParquetRows reads the row counts from the footers of the Parquet
// files under dir (a check that each system wrote every event).
func countParquetRows(dir string) (int64, error) {
	var rows int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") {
			return err
		}
		n, err := parquetRows(p)
		rows += n
		return err
	})
	return rows, err
}

func parquetRows(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rdr, err := file.NewParquetReader(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	defer rdr.Close()
	return rdr.NumRows(), nil
}
