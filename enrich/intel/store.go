package intel

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gannet-sec/gannet/enrich/dbfile"
	"github.com/gannet-sec/gannet/stream"
)

// Format is a feed file format.
type Format uint8

const (
	FormatAuto Format = iota // by extension: .csv, .json/.stix; else text
	FormatText
	FormatCSV
	FormatSTIX
)

// FeedSpec says where a feed is and how to read it.
type FeedSpec struct {
	Location string // local path or s3://bucket/key
	SHA256   string // expected content hash (hex), optional
	Format   Format
	Feed     string // feed name; default: the file name without extension
	// Confidence is the default confidence (0–100) of the feed's indicators.
	Confidence int32
	CSV        CSVOptions // for FormatCSV
}

// DefaultConfidence is the confidence of indicators whose feed gives none.
const DefaultConfidence = 50

// ParseFeedSpec parses "LOCATION[#key=value&key=value…]", the form used by
// `gannet run --intel` and GANNET_INTEL. Keys: format (text|csv|stix), feed,
// confidence, sha256, and for CSV column, kind, confidence_column,
// expiry_column, type_column, header (true|false), comma.
// Example: "feeds/abuse.csv#column=ip&expiry_column=valid_until&feed=abuse".
func ParseFeedSpec(s string) (FeedSpec, error) {
	loc, frag, _ := strings.Cut(s, "#")
	spec := FeedSpec{Location: loc, Confidence: DefaultConfidence}
	if loc == "" {
		return spec, errors.New("intel: empty feed location")
	}
	q, err := url.ParseQuery(frag)
	if err != nil {
		return spec, fmt.Errorf("intel: feed %q: %w", s, err)
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "format":
			switch v {
			case "text", "txt":
				spec.Format = FormatText
			case "csv":
				spec.Format = FormatCSV
			case "stix", "json":
				spec.Format = FormatSTIX
			default:
				return spec, fmt.Errorf("intel: feed %q: unknown format %q", s, v)
			}
		case "feed":
			spec.Feed = v
		case "sha256":
			spec.SHA256 = v
		case "confidence":
			c, err := parseConfidence(v)
			if err != nil {
				return spec, fmt.Errorf("intel: feed %q: %v", s, err)
			}
			spec.Confidence = c
		case "column":
			spec.CSV.Column = v
		case "kind", "type":
			k, ok := ParseKind(v)
			if !ok {
				return spec, fmt.Errorf("intel: feed %q: unknown kind %q", s, v)
			}
			spec.CSV.Kind = k
		case "confidence_column":
			spec.CSV.ConfidenceColumn = v
		case "expiry_column", "valid_until_column":
			spec.CSV.ExpiryColumn = v
		case "type_column":
			spec.CSV.TypeColumn = v
		case "header":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return spec, fmt.Errorf("intel: feed %q: header: %v", s, err)
			}
			spec.CSV.Header = b
		case "comma":
			if v == "tab" || v == `\t` {
				v = "\t"
			}
			if r := []rune(v); len(r) != 1 || r[0] == '\r' || r[0] == '\n' || r[0] == '"' || r[0] == '#' || r[0] == utf8.RuneError {
				return spec, fmt.Errorf("intel: feed %q: comma must be one character other than CR, LF, '\"' and '#'", s)
			}
			spec.CSV.Comma = []rune(v)[0]
		default:
			return spec, fmt.Errorf("intel: feed %q: unknown key %q", s, key)
		}
	}
	if spec.Format == FormatCSV || spec.Format == FormatAuto {
		if spec.CSV.Column != "" || spec.CSV.ConfidenceColumn != "" || spec.CSV.ExpiryColumn != "" {
			spec.Format = FormatCSV
		}
	}
	return spec, nil
}

func (s FeedSpec) feedName() string {
	if s.Feed != "" {
		return s.Feed
	}
	base := filepath.Base(s.Location)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

func (s FeedSpec) format() Format {
	if s.Format != FormatAuto {
		return s.Format
	}
	switch strings.ToLower(filepath.Ext(s.Location)) {
	case ".csv", ".tsv":
		return FormatCSV
	case ".json", ".stix":
		return FormatSTIX
	}
	return FormatText
}

// LoadFeed reads one feed from a local path.
func LoadFeed(path string, spec FeedSpec) ([]Indicator, []Problem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("intel: %w", err)
	}
	defer f.Close()
	name := spec.feedName()
	switch spec.format() {
	case FormatCSV:
		opts := spec.CSV
		if opts.Confidence == 0 {
			opts.Confidence = spec.Confidence
		}
		if opts.Comma == 0 && strings.EqualFold(filepath.Ext(path), ".tsv") {
			opts.Comma = '\t'
		}
		return ParseCSV(f, name, opts)
	case FormatSTIX:
		return ParseSTIX(f, name, spec.Confidence)
	}
	return ParseText(f, name, spec.Confidence)
}

// StoreOptions configures a Store.
type StoreOptions struct {
	// Fetcher resolves s3:// feeds; nil means local paths only.
	Fetcher *dbfile.Fetcher
	// Now is the clock expiry is judged by; nil means time.Now.
	Now func() time.Time
}

// Store holds the current indicator Set of a list of feeds. Reload reads
// every feed again and swaps the new Set in atomically: matching never
// pauses, and each batch is matched against one Set. Safe for concurrent use.
type Store struct {
	specs []FeedSpec
	opts  StoreOptions
	set   atomic.Pointer[Set]

	mu       sync.Mutex // serializes Reload
	problems atomic.Pointer[[]Problem]
	reloads  atomic.Uint64
}

// NewStore loads the feeds. A feed that cannot be read is an error; entries
// that are no indicator are kept as Problems.
func NewStore(ctx context.Context, specs []FeedSpec, opts StoreOptions) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{specs: specs, opts: opts}
	set, probs, err := s.load(ctx, false)
	if err != nil {
		return nil, err
	}
	s.set.Store(set)
	s.problems.Store(&probs)
	return s, nil
}

// NewStoreFromSet returns a Store holding a fixed set (tests, embedded feeds).
func NewStoreFromSet(set *Set, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	s := &Store{opts: StoreOptions{Now: now}}
	s.set.Store(set)
	s.problems.Store(&[]Problem{})
	return s
}

func (s *Store) load(ctx context.Context, refresh bool) (*Set, []Problem, error) {
	f := s.opts.Fetcher
	if f == nil {
		f = &dbfile.Fetcher{}
	}
	var all []Indicator
	var probs []Problem
	for _, spec := range s.specs {
		path, err := f.Local(ctx, spec.Location, spec.SHA256, refresh)
		if err != nil {
			return nil, nil, fmt.Errorf("intel: %w", err)
		}
		inds, p, err := LoadFeed(path, spec)
		if err != nil {
			return nil, nil, err
		}
		all = append(all, inds...)
		probs = append(probs, p...)
	}
	set, p := NewSet(all)
	return set, append(probs, p...), nil
}

// Set returns the current set.
func (s *Store) Set() *Set { return s.set.Load() }

// Problems returns the unusable entries of the current set's feeds.
func (s *Store) Problems() []Problem { return *s.problems.Load() }

// Reloads counts successful reloads.
func (s *Store) Reloads() uint64 { return s.reloads.Load() }

// Reload reads every feed again (S3 feeds are downloaded again) and swaps
// the new set in. On error the current set stays.
func (s *Store) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	set, probs, err := s.load(ctx, true)
	if err != nil {
		return err
	}
	s.set.Store(set)
	s.problems.Store(&probs)
	s.reloads.Add(1)
	return nil
}

// Watch polls the local feed files every interval until ctx is done and
// reloads when one is replaced; onErr (may be nil) receives reload errors.
func (s *Store) Watch(ctx context.Context, interval time.Duration, onErr func(error)) {
	var paths []string
	for _, spec := range s.specs {
		if !dbfile.IsS3(spec.Location) {
			paths = append(paths, spec.Location)
		}
	}
	dbfile.Watch(ctx, interval, paths, func([]string) {
		if err := s.Reload(ctx); err != nil && onErr != nil {
			onErr(err)
		}
	})
}

// Enrich appends matches to the Threat of every event, all against the set
// current when Enrich started and the clock read once.
func (s *Store) Enrich(events []stream.Event) {
	set := s.set.Load()
	if set.Len() == 0 {
		return
	}
	now := s.opts.Now().UnixNano()
	for i := range events {
		set.EnrichEvent(&events[i], now)
	}
}
