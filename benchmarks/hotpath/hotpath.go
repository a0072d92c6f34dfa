// Package hotpath builds the measured subject of Gannet's benchmarks: the
// whole hot path — decode → parse → enrich (demo intel + a generated GeoIP
// and ASN database) → detect (built-in rules + the SigmaHQ CloudTrail
// corpus) → Parquet lake (ZSTD, into a store that discards the bytes) +
// Elasticsearch bulk-body encoding — over generated logs of every format.
// The benchmarks, the peak-RSS run and the cost model all use it, so they
// measure the same work.
package hotpath

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gannet-sec/gannet/detect"
	"github.com/gannet-sec/gannet/enrich"
	"github.com/gannet-sec/gannet/enrich/geoip/geoiptest"
	"github.com/gannet-sec/gannet/sink/elastic"
	"github.com/gannet-sec/gannet/sink/lake"
	"github.com/gannet-sec/gannet/stream"
	"github.com/gannet-sec/gannet/stream/decode"
	"github.com/gannet-sec/gannet/stream/format"
	"github.com/gannet-sec/gannet/stream/gen"
	"github.com/gannet-sec/gannet/stream/pipeline"
)

// Formats are the formats the benchmarks cover, in report order.
var Formats = []stream.Format{
	stream.FormatCloudTrail, stream.FormatALB, stream.FormatVPCFlow, stream.FormatWAF,
	stream.FormatRoute53Resolver, stream.FormatS3Access, stream.FormatGuardDuty,
}

// Fixture is generated log data of one format, one entry per record, as a
// Kinesis-triggered Lambda receives it (with attacks among clean traffic,
// so rules and intel match now and then).
type Fixture struct {
	Format  stream.Format
	Records []stream.Record
	Bytes   int64 // sum of record sizes
}

// Generate returns n entries of format f (seed fixes the bytes).
func Generate(f stream.Format, n int, seed int64) (*Fixture, error) {
	var buf bytes.Buffer
	if err := format.Generate(f, &buf, gen.Options{Count: n, Seed: seed, Attacks: true}); err != nil {
		return nil, err
	}
	fx := &Fixture{Format: f}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	arrival := gen.DefaultStart
	for i := 0; sc.Scan(); i++ {
		line := bytes.Clone(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		seq := "49" + strings.Repeat("0", 20) + strconv.FormatInt(int64(1_000_000_000+i), 10)
		fx.Records = append(fx.Records, stream.Record{
			Data: line,
			Lineage: stream.Lineage{Kind: stream.OriginKinesis,
				Source: "arn:aws:kinesis:eu-west-1:123456789012:stream/gannet-" + f.String(),
				Shard:  "shardId-000000000000", Sequence: seq, SubSequence: -1},
			PartitionKey: strconv.Itoa(i % 64),
			ArrivalTime:  arrival,
			Format:       f,
		})
		fx.Bytes += int64(len(line))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(fx.Records) == 0 {
		return nil, fmt.Errorf("generator for %s wrote nothing", f)
	}
	return fx, nil
}

// Batch returns the k-th batch of size n, cycling through the fixture, and
// its size in bytes.
func (fx *Fixture) Batch(k, n int) ([]stream.Record, int64) {
	nb := max(1, len(fx.Records)/n)
	start := (k % nb) * n
	end := min(start+n, len(fx.Records))
	recs := fx.Records[start:end]
	var sz int64
	for i := range recs {
		sz += int64(len(recs[i].Data))
	}
	return recs, sz
}

// Env is what every pipeline of a run shares: the enricher (safe for
// concurrent use; one memory-mapped GeoIP database per process, as in a
// Lambda container) and where the rules come from.
type Env struct {
	Enricher  *enrich.Enricher
	RuleDirs  []string
	GeoIPPath string
	ASNPath   string
	Rules     int // detection rules loaded (built-ins + corpus)
	Skipped   int // rules the engine could not load
}

// SigmaDir finds the SigmaHQ AWS CloudTrail corpus: $GANNET_SIGMA_DIR, else
// ../shared/corpus/sigma-aws-cloudtrail beside the module root.
func SigmaDir() (string, error) {
	if d := os.Getenv("GANNET_SIGMA_DIR"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "..", "shared", "corpus", "sigma-aws-cloudtrail")
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if _, err := os.Stat(c); err == nil {
				return filepath.Clean(c), nil
			}
		}
		if filepath.Dir(d) == d {
			return "", errors.New("hotpath: SigmaHQ corpus not found (set GANNET_SIGMA_DIR)")
		}
	}
}

// GeoNets are the networks of the generated GeoIP/ASN databases: every
// client network the generators draw addresses from, plus filler networks
// so the database has a realistic depth (about 20,000 /24s).
func GeoNets() []geoiptest.Network {
	var out []geoiptest.Network
	countries := []string{"DE", "FR", "US", "GB", "JP", "IE", "NL", "BR", "IN", "SG"}
	add := func(prefix string, i int) {
		out = append(out, geoiptest.Network{Prefix: prefix, Country: countries[i%len(countries)],
			CountryName: "Country " + countries[i%len(countries)], Region: fmt.Sprintf("Region %d", i%50),
			City: fmt.Sprintf("City %d", i%1000), Lat: float64(i%170) - 85, Lon: float64(i%360) - 180,
			ASN: uint32(64000 + i%500), Org: fmt.Sprintf("AS Org %d", i%500)})
	}
	// The generators' client pools (gen.PublicIP) and the attack addresses.
	for i, n := range [][2]int{{81, 2}, {93, 184}, {104, 28}, {151, 101}, {172, 67}, {185, 199}, {52, 95}, {34, 240}, {62, 210}, {90, 84}} {
		add(fmt.Sprintf("%d.%d.0.0/16", n[0], n[1]), i)
	}
	add("185.220.101.0/24", 3)
	add("45.155.205.0/24", 7)
	for i := range 20000 {
		add(fmt.Sprintf("%d.%d.%d.0/24", 20+i>>16, (i>>8)&255, i&255), i)
	}
	return out
}

// WriteGeoIP writes the generated GeoIP2 city and ASN databases of GeoNets
// into dir and returns their paths.
func WriteGeoIP(dir string) (city, asn string, err error) {
	city, asn = filepath.Join(dir, "bench-city.mmdb"), filepath.Join(dir, "bench-asn.mmdb")
	nets := GeoNets()
	if _, err := geoiptest.Write(city, geoiptest.GeoIP2, nets); err != nil {
		return "", "", err
	}
	if _, err := geoiptest.Write(asn, geoiptest.ASN, nets); err != nil {
		return "", "", err
	}
	return city, asn, nil
}

// NewEnv writes the GeoIP and ASN databases into dir and opens the
// enricher (GeoIP + ASN + the embedded demo threat-intel feed).
func NewEnv(ctx context.Context, dir string) (*Env, error) {
	city, asn, err := WriteGeoIP(dir)
	if err != nil {
		return nil, err
	}
	return OpenEnv(ctx, city, asn)
}

// OpenEnv is NewEnv over GeoIP and ASN databases already written (by
// WriteGeoIP, in another process when the measurement must not count it:
// writing them takes about 140 MB of heap).
func OpenEnv(ctx context.Context, city, asn string) (*Env, error) {
	sigmaDir, err := SigmaDir()
	if err != nil {
		return nil, err
	}
	e := &Env{RuleDirs: []string{sigmaDir}, GeoIPPath: city, ASNPath: asn}
	e.Enricher, err = enrich.New(ctx, enrich.Options{GeoIPPath: e.GeoIPPath, ASNPath: e.ASNPath, DemoIntel: true})
	if err != nil {
		return nil, err
	}
	d, err := e.NewDetector()
	if err != nil {
		return nil, err
	}
	st := d.Stats()
	e.Rules, e.Skipped = st.Rules+st.Correlations, len(d.Skipped())
	return e, nil
}

// Close releases the enricher.
func (e *Env) Close() error { return e.Enricher.Close() }

// NewDetector compiles every rule: built-ins and the SigmaHQ corpus.
func (e *Env) NewDetector() (*detect.Engine, error) {
	return detect.New(detect.Options{RuleDirs: e.RuleDirs, AllowedCountries: []string{"IE", "DE", "US"}})
}

// NewLake returns a ZSTD Parquet lake writing into a store that counts and
// discards the bytes (no disk or network in the measurement).
func NewLake() (*lake.Lake, *DiscardStore) {
	st := &DiscardStore{}
	return lake.New(st, lake.Options{Encoding: lake.Encoding{Codec: lake.ZSTD}}), st
}

// Rig is one pipeline (one shard's worth of work) and its own sinks.
type Rig struct {
	Pipeline *pipeline.Pipeline
	Detector *detect.Engine
	ES       *BulkEncoder
}

// Stage names a prefix of the hot path, for the per-stage breakdown: a
// pipeline built up to a stage runs that stage and every stage before it.
type Stage int

// The stages in hot-path order.
const (
	UpToParse  Stage = iota // decode + parse
	UpToEnrich              // + GeoIP/ASN + threat intel
	UpToDetect              // + every rule
	UpToLake                // + Parquet (ZSTD) encode at flush
	UpToES                  // + Elasticsearch bulk-body encode: the whole hot path
)

// Stages lists the stages in order; StageNames their names.
var (
	Stages     = []Stage{UpToParse, UpToEnrich, UpToDetect, UpToLake, UpToES}
	StageNames = []string{"parse", "enrich", "detect", "lake", "es"}
)

func (s Stage) String() string { return StageNames[s] }

// Parts selects the optional stages of a pipeline (decode and parse always run).
type Parts struct {
	Enrich, Detect, Lake, ES bool
	// DeferFlush leaves flushing to the caller (pipeline.Config.DeferFlush).
	DeferFlush bool
}

// Parts returns the stages a pipeline built up to s runs.
func (s Stage) Parts() Parts {
	return Parts{Enrich: s >= UpToEnrich, Detect: s >= UpToDetect, Lake: s >= UpToLake, ES: s >= UpToES}
}

// NewRig builds the whole hot path over the shared enricher and lake, with
// its own decoder, parsers, detector and Elasticsearch encoder. The
// pipeline flushes every batch, as the ingest Lambda does.
func (e *Env) NewRig(lk *lake.Lake) (*Rig, error) { return e.NewRigParts(lk, UpToES.Parts()) }

// NewRigUpTo builds the hot path up to stage upto.
func (e *Env) NewRigUpTo(lk *lake.Lake, upto Stage) (*Rig, error) {
	return e.NewRigParts(lk, upto.Parts())
}

// NewRigParts builds a pipeline with the given parts. Dead letters go to
// the lake whatever the parts (there are none in generated data).
func (e *Env) NewRigParts(lk *lake.Lake, parts Parts) (*Rig, error) {
	r := &Rig{ES: &BulkEncoder{}}
	cfg := pipeline.Config{
		Decoder:    decode.New(decode.Options{}),
		Parsers:    format.NewSet(format.Options{}),
		DeadLetter: lk,
		DeferFlush: parts.DeferFlush,
	}
	if parts.Enrich {
		cfg.Enricher = e.Enricher
	}
	if parts.Detect {
		d, err := e.NewDetector()
		if err != nil {
			return nil, err
		}
		r.Detector, cfg.Detector = d, d
		cfg.AlertSinks = []stream.AlertSink{lk}
	}
	if parts.Lake {
		cfg.Sinks = append(cfg.Sinks, lk)
	}
	if parts.ES {
		cfg.Sinks = append(cfg.Sinks, r.ES)
	}
	p, err := pipeline.New(cfg)
	if err != nil {
		return nil, err
	}
	r.Pipeline = p
	return r, nil
}

// BulkEncoder is a stream.Sink that encodes each event as an Elasticsearch
// bulk "index" action and document (elastic.Encoder.AppendBulkIndex) into a
// reused body buffer and discards it at Flush: the CPU work of the
// Elasticsearch sink without the network.
type BulkEncoder struct {
	enc   elastic.Encoder
	body  []byte
	Bytes atomic.Int64 // bulk-body bytes produced
}

// Name implements stream.Sink.
func (s *BulkEncoder) Name() string { return "es" }

// Write implements stream.Sink.
func (s *BulkEncoder) Write(_ context.Context, events []stream.Event) error {
	for i := range events {
		s.body = s.enc.AppendBulkIndex(s.body, &events[i])
	}
	return nil
}

// Flush implements stream.Sink.
func (s *BulkEncoder) Flush(context.Context) error {
	s.Bytes.Add(int64(len(s.body)))
	s.body = s.body[:0]
	return nil
}

// Close implements stream.Sink.
func (s *BulkEncoder) Close(ctx context.Context) error { return s.Flush(ctx) }

// DiscardStore is a lake.Store that counts the bytes and objects committed
// and keeps nothing. It is safe for concurrent use.
type DiscardStore struct {
	Bytes   atomic.Int64
	Objects atomic.Int64
}

type discardObject struct {
	s *DiscardStore
	n int64
}

// Create implements lake.Store.
func (s *DiscardStore) Create(context.Context) (lake.ObjectWriter, error) {
	return &discardObject{s: s}, nil
}

// Open implements lake.Store (nothing is ever readable).
func (s *DiscardStore) Open(_ context.Context, key string) (lake.Object, error) {
	return nil, fmt.Errorf("discard store: %s: %w", key, os.ErrNotExist)
}

// List implements lake.Store.
func (s *DiscardStore) List(context.Context, string) ([]lake.ObjectInfo, error) { return nil, nil }

// Delete implements lake.Store.
func (s *DiscardStore) Delete(context.Context, string) error { return nil }

func (o *discardObject) Write(_ context.Context, p []byte) error {
	o.n += int64(len(p))
	return nil
}

func (o *discardObject) Commit(context.Context, string) error {
	o.s.Bytes.Add(o.n)
	o.s.Objects.Add(1)
	o.n = 0
	return nil
}

func (o *discardObject) Abort(context.Context) error { return nil }

// CPUTime returns the CPU time the process used so far, user and system,
// all threads, GC included (CLOCK_PROCESS_CPUTIME_ID: precise, unlike the
// tick-sampled getrusage split).
func CPUTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return time.Duration(ts.Nano())
}

// MaxRSS returns the process's peak resident set size in bytes.
func MaxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024 // kilobytes on Linux
}

// Run processes ops batches of size batch from fx on the rigs' pipelines in
// parallel goroutines (sharing the enricher and the lake), and returns the
// counters of this run. Each worker takes the next batch index from a
// shared counter, so ops batches are processed in all.
func Run(ctx context.Context, rigs []*Rig, fx *Fixture, batch, ops int) (pipeline.Stats, error) {
	before := Stats(rigs)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, len(rigs))
	for w, r := range rigs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= ops {
					return
				}
				recs, _ := fx.Batch(k, batch)
				res := r.Pipeline.Process(ctx, recs)
				if len(res.Failed) > 0 {
					errs[w] = fmt.Errorf("%d of %d records not acknowledged: %w", len(res.Failed), len(recs), res.Err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return Delta(Stats(rigs), before), errors.Join(errs...)
}

// Stats merges the counters of the rigs' pipelines.
func Stats(rigs []*Rig) pipeline.Stats {
	var st pipeline.Stats
	for _, r := range rigs {
		s := r.Pipeline.Stats()
		st.Merge(&s)
	}
	return st
}

// Delta returns after − before for the counters the benchmarks report.
func Delta(after, before pipeline.Stats) pipeline.Stats {
	d := after.Clone()
	d.Records -= before.Records
	d.RecordBytes -= before.RecordBytes
	d.Units -= before.Units
	d.Events -= before.Events
	d.DeadLetters -= before.DeadLetters
	d.Alerts -= before.Alerts
	d.Acked -= before.Acked
	d.Failed -= before.Failed
	for k, v := range before.StageTime {
		d.StageTime[k] -= v
	}
	return d
}
