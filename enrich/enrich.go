// Package enrich is Gannet's enrichment stage: it adds GeoIP and ASN data to
// source and destination addresses and appends threat-intel matches to
// events, in place over a batch (stream.Enricher). Databases and feeds can
// be replaced while a stream is consumed.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gannet-sec/gannet/enrich/dbfile"
	"github.com/gannet-sec/gannet/enrich/geoip"
	"github.com/gannet-sec/gannet/enrich/intel"
	"github.com/gannet-sec/gannet/enrich/intel/demo"
	"github.com/gannet-sec/gannet/stream"
)

// Options configure an Enricher. Every field is optional; an Enricher with
// nothing configured leaves events unchanged.
type Options struct {
	// GeoIPPath lists city or country databases (path or s3://bucket/key),
	// comma-separated, consulted in order (DB-IP ships IPv4 and IPv6 in two
	// files).
	GeoIPPath string
	// ASNPath lists ASN databases, comma-separated.
	ASNPath string
	// GeoIPSHA256 and ASNSHA256 are the expected SHA-256 (hex) of the
	// databases, comma-separated in the same order; empty entries skip the
	// check.
	GeoIPSHA256, ASNSHA256 string
	// IntelPaths are threat-intel feeds in intel.ParseFeedSpec form:
	// "PATH[#format=csv&column=ip&feed=name&confidence=80…]".
	IntelPaths []string
	// DemoIntel adds the embedded demo feed (intel/demo).
	DemoIntel bool
	// CacheSize is the number of addresses the GeoIP cache holds: 0 means
	// geoip.DefaultCacheSize (65536), negative disables it.
	CacheSize int
	// Check is how GeoIP databases are checked when (re)opened.
	Check geoip.Check
	// Reload, when positive, polls local database and feed files at this
	// interval and reloads them when replaced (long-running consumers).
	Reload time.Duration
	// S3 downloads s3:// databases and feeds; required only for those.
	S3 dbfile.ObjectGetter
	// Now is the clock indicator expiry is judged by; nil means time.Now.
	Now func() time.Time
	// Logf, when set, receives reload errors and feed problems.
	Logf func(format string, args ...any)
}

// Environment variable names read by OptionsFromEnv.
const (
	EnvGeoIP       = "GANNET_GEOIP"         // city/country database(s), comma-separated paths or s3:// URLs
	EnvGeoIPSHA256 = "GANNET_GEOIP_SHA256"  // expected SHA-256 of each, comma-separated
	EnvASN         = "GANNET_ASN"           // ASN database(s)
	EnvASNSHA256   = "GANNET_ASN_SHA256"    // expected SHA-256 of each
	EnvIntel       = "GANNET_INTEL"         // feeds, separated by commas or newlines, each PATH[#key=value&…]
	EnvIntelDemo   = "GANNET_INTEL_DEMO"    // "true": add the embedded demo feed
	EnvCacheSize   = "GANNET_GEOIP_CACHE"   // cached addresses (default 65536, -1 disables)
	EnvCheck       = "GANNET_GEOIP_CHECK"   // full (default) or quick
	EnvReload      = "GANNET_ENRICH_RELOAD" // poll interval for replaced files, e.g. "60s"; unset: no polling
)

// OptionsFromEnv reads Options from environment variables (the Lambdas'
// configuration); getenv is usually os.Getenv.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	o := Options{
		GeoIPPath:   strings.TrimSpace(getenv(EnvGeoIP)),
		GeoIPSHA256: strings.TrimSpace(getenv(EnvGeoIPSHA256)),
		ASNPath:     strings.TrimSpace(getenv(EnvASN)),
		ASNSHA256:   strings.TrimSpace(getenv(EnvASNSHA256)),
	}
	for _, f := range strings.FieldsFunc(getenv(EnvIntel), func(r rune) bool { return r == ',' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			o.IntelPaths = append(o.IntelPaths, f)
		}
	}
	var err error
	if v := getenv(EnvIntelDemo); v != "" {
		if o.DemoIntel, err = strconv.ParseBool(v); err != nil {
			return o, fmt.Errorf("enrich: %s: %w", EnvIntelDemo, err)
		}
	}
	if v := getenv(EnvCacheSize); v != "" {
		if o.CacheSize, err = strconv.Atoi(v); err != nil {
			return o, fmt.Errorf("enrich: %s: %w", EnvCacheSize, err)
		}
	}
	if o.Check, err = geoip.ParseCheck(getenv(EnvCheck)); err != nil {
		return o, fmt.Errorf("enrich: %s: %w", EnvCheck, err)
	}
	if v := getenv(EnvReload); v != "" {
		if o.Reload, err = time.ParseDuration(v); err != nil {
			return o, fmt.Errorf("enrich: %s: %w", EnvReload, err)
		}
	}
	return o, nil
}

// Enricher implements stream.Enricher over optional GeoIP/ASN databases and
// threat-intel feeds. It is safe for concurrent use.
type Enricher struct {
	geo   *geoip.Resolver
	intel *intel.Store
	now   func() time.Time

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ stream.Enricher = (*Enricher)(nil)

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}

func sources(paths, sums string) ([]geoip.Source, error) {
	if strings.TrimSpace(paths) == "" {
		if strings.TrimSpace(sums) != "" {
			return nil, errors.New("enrich: SHA-256 given without a database")
		}
		return nil, nil
	}
	ps := splitList(paths)
	var ss []string
	if strings.TrimSpace(sums) != "" {
		ss = splitList(sums)
		if len(ss) != len(ps) {
			return nil, fmt.Errorf("enrich: %d databases but %d SHA-256 values", len(ps), len(ss))
		}
	}
	out := make([]geoip.Source, len(ps))
	for i, p := range ps {
		if p == "" {
			return nil, fmt.Errorf("enrich: empty database path in %q", paths)
		}
		out[i].Location = p
		if ss != nil {
			out[i].SHA256 = ss[i]
		}
	}
	return out, nil
}

// New opens what opts configure. Databases and feeds that cannot be read
// are errors (a misconfigured enrichment should not start silently); feed
// entries that are no indicator are logged through Logf.
func New(ctx context.Context, opts Options) (*Enricher, error) {
	e := &Enricher{now: opts.Now}
	if e.now == nil {
		e.now = time.Now
	}
	fetcher := &dbfile.Fetcher{S3: opts.S3}
	city, err := sources(opts.GeoIPPath, opts.GeoIPSHA256)
	if err != nil {
		return nil, err
	}
	asn, err := sources(opts.ASNPath, opts.ASNSHA256)
	if err != nil {
		return nil, err
	}
	if len(city)+len(asn) > 0 {
		e.geo, err = geoip.New(ctx, geoip.Config{City: city, ASN: asn, CacheSize: opts.CacheSize, Check: opts.Check, Fetcher: fetcher})
		if err != nil {
			return nil, err
		}
	}
	if len(opts.IntelPaths) > 0 || opts.DemoIntel {
		var specs []intel.FeedSpec
		for _, p := range opts.IntelPaths {
			spec, err := intel.ParseFeedSpec(p)
			if err != nil {
				e.Close()
				return nil, err
			}
			specs = append(specs, spec)
		}
		if opts.DemoIntel {
			// The embedded demo feed is written to a file so that it loads
			// (and reloads) like any other feed.
			p, err := demoFile()
			if err != nil {
				e.Close()
				return nil, err
			}
			specs = append(specs, intel.FeedSpec{Location: p, Format: intel.FormatText, Feed: demo.FeedName, Confidence: demo.Confidence})
		}
		e.intel, err = intel.NewStore(ctx, specs, intel.StoreOptions{Fetcher: fetcher, Now: e.now})
		if err != nil {
			e.Close()
			return nil, err
		}
		if opts.Logf != nil {
			for _, p := range e.intel.Problems() {
				opts.Logf("enrich: intel feed problem: %s", p)
			}
		}
	}
	if opts.Reload > 0 {
		wctx, cancel := context.WithCancel(context.Background())
		e.cancel = cancel
		onErr := func(err error) {
			if opts.Logf != nil {
				opts.Logf("enrich: reload failed, keeping the current data: %v", err)
			}
		}
		if e.geo != nil {
			e.wg.Go(func() { e.geo.Watch(wctx, opts.Reload, onErr) })
		}
		if e.intel != nil {
			e.wg.Go(func() { e.intel.Watch(wctx, opts.Reload, onErr) })
		}
	}
	return e, nil
}

// NewFrom builds an Enricher over an existing resolver and store (either
// may be nil); the Enricher owns them from then on.
func NewFrom(geo *geoip.Resolver, store *intel.Store) *Enricher {
	return &Enricher{geo: geo, intel: store, now: time.Now}
}

// Enrich fills source/destination .geo and .as and appends threat-intel
// matches to each event's Threat, in place. It never fails: lookups that
// hit a corrupt database record count in Stats and leave the fields empty.
// Apart from appending matches it allocates nothing for cached addresses.
func (e *Enricher) Enrich(ctx context.Context, events []stream.Event) error {
	if e.geo != nil {
		for i := range events {
			ev := &events[i]
			e.geo.Enrich(&ev.Source)
			e.geo.Enrich(&ev.Destination)
		}
	}
	if e.intel != nil {
		e.intel.Enrich(events)
	}
	return nil
}

// Reload reopens the databases and re-reads the feeds now (S3 objects are
// downloaded again). On error the current data stays in use.
func (e *Enricher) Reload(ctx context.Context) error {
	var errs []error
	if e.geo != nil {
		errs = append(errs, e.geo.Reload(ctx))
	}
	if e.intel != nil {
		errs = append(errs, e.intel.Reload(ctx))
	}
	return errors.Join(errs...)
}

// GeoIP returns the resolver, nil when no database is configured.
func (e *Enricher) GeoIP() *geoip.Resolver { return e.geo }

// Intel returns the indicator store, nil when no feed is configured.
func (e *Enricher) Intel() *intel.Store { return e.intel }

// Describe says in one line what the enricher does, for startup logs.
func (e *Enricher) Describe() string {
	var parts []string
	if e.geo != nil {
		city, asn := e.geo.Databases()
		for _, db := range city {
			parts = append(parts, fmt.Sprintf("geoip %s (%s, %d MB)", db.Path, db.Type, db.Size>>20))
		}
		for _, db := range asn {
			parts = append(parts, fmt.Sprintf("asn %s (%s, %d MB)", db.Path, db.Type, db.Size>>20))
		}
		parts = append(parts, fmt.Sprintf("cache %d addresses ≤ %d KiB", e.geo.CacheSlots(), e.geo.CacheBytes()>>10))
	}
	if e.intel != nil {
		parts = append(parts, fmt.Sprintf("intel %d indicators (%d problems)", e.intel.Set().Len(), len(e.intel.Problems())))
	}
	if len(parts) == 0 {
		return "no enrichment configured"
	}
	return strings.Join(parts, "; ")
}

// Close stops watching and releases the databases once in-flight lookups
// finish.
func (e *Enricher) Close() error {
	if e.cancel != nil {
		e.cancel()
		e.wg.Wait()
	}
	if e.geo != nil {
		return e.geo.Close()
	}
	return nil
}
