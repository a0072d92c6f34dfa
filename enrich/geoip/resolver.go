// Package geoip adds the location (ECS *.geo) and network owner (*.as) of
// IP addresses, from MaxMind DB files: GeoIP2/GeoLite2 City or Country,
// DB-IP Lite, GeoLite2/DB-IP ASN. Reserved ranges are skipped, answers are
// cached per address in bounded memory, and databases can be replaced while
// lookups go on.
package geoip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gannet-sec/gannet/enrich/dbfile"
	"github.com/gannet-sec/gannet/stream"
)

// Source is where a database comes from: a local path or "s3://bucket/key",
// with an optional expected SHA-256 (hex).
type Source struct {
	Location string
	SHA256   string
}

// Config configures a Resolver.
type Config struct {
	// City lists city or country databases, consulted in order: the first
	// that knows an address answers (e.g. DB-IP's separate IPv4 and IPv6
	// files).
	City []Source
	// ASN lists ASN databases, consulted in order.
	ASN []Source
	// CacheSize is the number of cached addresses: 0 means
	// DefaultCacheSize, negative disables the cache.
	CacheSize int
	// Check is how databases are checked when (re)opened.
	Check Check
	// Fetcher resolves s3:// sources; nil means local paths only.
	Fetcher *dbfile.Fetcher
}

// Stats counts resolver activity since it was created.
type Stats struct {
	Misses       uint64 // lookups that went to the databases
	LookupErrors uint64 // database errors (corrupt records), answered as "unknown"
	Reloads      uint64 // successful database swaps
}

// Resolver answers GeoIP and ASN lookups through a bounded cache. It is safe
// for concurrent use. Reload swaps in freshly opened databases atomically:
// lookups never pause, and the old databases are closed once the lookups
// that were using them have finished.
type Resolver struct {
	cfg   Config
	cache *cache
	set   atomic.Pointer[dbSet]
	gen   atomic.Uint64

	reloadMu sync.Mutex // serializes Reload and Close

	misses, lookupErrs, reloads atomic.Uint64
	lastErr                     atomic.Pointer[error]
}

// dbSet is one generation of opened databases, reference counted: the
// resolver holds one reference while the set is current, each in-flight
// lookup holds one, and the last to let go closes the databases.
type dbSet struct {
	city, asn []*DB
	gen       uint64
	refs      atomic.Int64

	internMu  sync.Mutex
	intern    map[internKey]*Record
	internCap int
}

type internKey struct {
	cityDB, asnDB   int // 1-based index of the answering database; 0: none
	cityOff, asnOff uintptr
}

func (s *dbSet) tryAcquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (s *dbSet) release() {
	if s.refs.Add(-1) == 0 {
		for _, db := range s.city {
			_ = db.Close()
		}
		for _, db := range s.asn {
			_ = db.Close()
		}
	}
}

// New opens the configured databases and returns a Resolver over them.
func New(ctx context.Context, cfg Config) (*Resolver, error) {
	if len(cfg.City) == 0 && len(cfg.ASN) == 0 {
		return nil, errors.New("geoip: no database configured")
	}
	r := &Resolver{cfg: cfg, cache: newCache(cfg.CacheSize)}
	s, err := r.open(ctx, false)
	if err != nil {
		return nil, err
	}
	r.set.Store(s)
	return r, nil
}

// NewFromDBs returns a Resolver over databases the caller opened. The
// resolver owns them from then on; Reload reopens them from their paths.
func NewFromDBs(city, asn []*DB, cacheSize int) *Resolver {
	r := &Resolver{cache: newCache(cacheSize)}
	for _, db := range city {
		r.cfg.City = append(r.cfg.City, Source{Location: db.info.Path})
	}
	for _, db := range asn {
		r.cfg.ASN = append(r.cfg.ASN, Source{Location: db.info.Path})
	}
	r.set.Store(r.newSet(city, asn))
	return r
}

func (r *Resolver) newSet(city, asn []*DB) *dbSet {
	s := &dbSet{city: city, asn: asn, gen: r.gen.Add(1)}
	s.refs.Store(1)
	s.internCap = internCap(r.CacheSlots())
	s.intern = make(map[internKey]*Record)
	return s
}

func (r *Resolver) open(ctx context.Context, refresh bool) (*dbSet, error) {
	var city, asn []*DB
	closeAll := func() {
		for _, db := range append(city, asn...) {
			_ = db.Close()
		}
	}
	for _, kind := range []struct {
		srcs []Source
		dst  *[]*DB
	}{{r.cfg.City, &city}, {r.cfg.ASN, &asn}} {
		for _, src := range kind.srcs {
			path, err := r.local(ctx, src, refresh)
			if err != nil {
				closeAll()
				return nil, err
			}
			db, err := Open(path, r.cfg.Check)
			if err != nil {
				closeAll()
				return nil, err
			}
			*kind.dst = append(*kind.dst, db)
		}
	}
	return r.newSet(city, asn), nil
}

func (r *Resolver) local(ctx context.Context, src Source, refresh bool) (string, error) {
	f := r.cfg.Fetcher
	if f == nil {
		if dbfile.IsS3(src.Location) {
			return "", fmt.Errorf("geoip: %s: no S3 client configured", src.Location)
		}
		f = &dbfile.Fetcher{}
	}
	p, err := f.Local(ctx, src.Location, src.SHA256, refresh)
	if err != nil {
		return "", fmt.Errorf("geoip: %w", err)
	}
	return p, nil
}

// Reload reopens every database from its source (downloading S3 objects
// again) and swaps the new set in atomically. On error the current
// databases stay in use. Cached answers of the old set stop being used.
func (r *Resolver) Reload(ctx context.Context) error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	if r.set.Load() == nil {
		return errors.New("geoip: resolver is closed")
	}
	s, err := r.open(ctx, true)
	if err != nil {
		return err
	}
	old := r.set.Swap(s)
	old.release()
	r.reloads.Add(1)
	return nil
}

// Paths returns the local paths of the current databases (for watching).
func (r *Resolver) Paths() []string {
	s := r.acquire()
	if s == nil {
		return nil
	}
	defer s.release()
	var out []string
	for _, db := range append(append([]*DB(nil), s.city...), s.asn...) {
		out = append(out, db.info.Path)
	}
	return out
}

// Watch polls the local database files every interval until ctx is done
// and reloads when one is replaced; onErr (may be nil) receives reload
// errors. S3 sources are not watched.
func (r *Resolver) Watch(ctx context.Context, interval time.Duration, onErr func(error)) {
	var paths []string
	for _, src := range append(append([]Source(nil), r.cfg.City...), r.cfg.ASN...) {
		if !dbfile.IsS3(src.Location) {
			paths = append(paths, src.Location)
		}
	}
	dbfile.Watch(ctx, interval, paths, func([]string) {
		if err := r.Reload(ctx); err != nil && onErr != nil {
			onErr(err)
		}
	})
}

// Databases describes the databases in use.
func (r *Resolver) Databases() (city, asn []Info) {
	s := r.acquire()
	if s == nil {
		return nil, nil
	}
	defer s.release()
	for _, db := range s.city {
		city = append(city, db.info)
	}
	for _, db := range s.asn {
		asn = append(asn, db.info)
	}
	return city, asn
}

// Close releases the databases once in-flight lookups finish. Lookups after
// Close find nothing.
func (r *Resolver) Close() error {
	r.reloadMu.Lock()
	defer r.reloadMu.Unlock()
	if s := r.set.Swap(nil); s != nil {
		s.release()
	}
	return nil
}

func (r *Resolver) acquire() *dbSet {
	for {
		s := r.set.Load()
		if s == nil || s.tryAcquire() {
			return s
		}
		// s was retired between Load and tryAcquire: the next Load sees
		// its successor.
	}
}

// CacheBytes is the upper bound of the memory the address cache can hold.
func (r *Resolver) CacheBytes() int { return bytesBound(r.CacheSlots()) }

// CacheSlots is the number of cached addresses (0: no cache).
func (r *Resolver) CacheSlots() int {
	if r.cache == nil {
		return 0
	}
	return len(r.cache.slots)
}

// Stats returns activity counters.
func (r *Resolver) Stats() Stats {
	return Stats{Misses: r.misses.Load(), LookupErrors: r.lookupErrs.Load(), Reloads: r.reloads.Load()}
}

// LastError returns the last database error met by a lookup, or nil.
func (r *Resolver) LastError() error {
	if p := r.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Lookup returns what the databases know about addr. ok is false for
// reserved addresses and addresses no database knows. The returned record
// is shared and must not be modified.
func (r *Resolver) Lookup(addr netip.Addr) (rec *Record, ok bool) {
	addr = addr.Unmap()
	if Reserved(addr) {
		return nil, false
	}
	rec = r.lookup(addr)
	return rec, rec != nil
}

// Enrich fills ep.Geo and ep.AS from ep.IP when the databases know it.
// Fields the databases do not know are left as they were. It allocates
// nothing when the address is cached.
func (r *Resolver) Enrich(ep *stream.Endpoint) {
	addr := ep.IP.Unmap()
	if Reserved(addr) {
		return
	}
	rec := r.lookup(addr)
	if rec == nil {
		return
	}
	if rec.HasGeo() {
		ep.Geo = rec.Geo
	}
	if rec.HasAS() {
		ep.AS = rec.AS
	}
}

func (r *Resolver) lookup(addr netip.Addr) *Record {
	s := r.set.Load()
	if s == nil {
		return nil
	}
	if r.cache != nil {
		if e := r.cache.get(addr, s.gen); e != nil {
			return e.rec
		}
	}
	return r.miss(addr)
}

func (r *Resolver) miss(addr netip.Addr) *Record {
	s := r.acquire()
	if s == nil {
		return nil
	}
	defer s.release()
	r.misses.Add(1)
	var key internKey
	for i, db := range s.city {
		if res, ok := db.find(addr); ok {
			key.cityDB, key.cityOff = i+1, res.Offset()
			break
		} else if err := res.Err(); err != nil {
			r.lookupError(err)
		}
	}
	for i, db := range s.asn {
		if res, ok := db.find(addr); ok {
			key.asnDB, key.asnOff = i+1, res.Offset()
			break
		} else if err := res.Err(); err != nil {
			r.lookupError(err)
		}
	}
	var rec *Record
	if key != (internKey{}) {
		rec = r.record(s, key)
	}
	if r.cache != nil {
		r.cache.put(&entry{addr: addr, gen: s.gen, rec: rec})
	}
	return rec
}

// record returns the interned record for key, decoding it on first use.
// The intern table is bounded: when full it is reset (records still cached
// stay alive through their entries).
func (r *Resolver) record(s *dbSet, key internKey) *Record {
	s.internMu.Lock()
	rec, ok := s.intern[key]
	s.internMu.Unlock()
	if ok {
		return rec
	}
	var out Record
	if key.cityDB > 0 {
		c, err := s.city[key.cityDB-1].decodeAt(key.cityOff)
		if err != nil {
			r.lookupError(err)
		} else {
			out = c
		}
	}
	if key.asnDB > 0 {
		a, err := s.asn[key.asnDB-1].decodeAt(key.asnOff)
		if err != nil {
			r.lookupError(err)
		} else if a.HasAS() {
			out.AS = a.AS
		}
	}
	if !out.HasGeo() && !out.HasAS() {
		return nil
	}
	rec = &out
	s.internMu.Lock()
	if len(s.intern) >= s.internCap {
		clear(s.intern)
	}
	s.intern[key] = rec
	s.internMu.Unlock()
	return rec
}

func (r *Resolver) lookupError(err error) {
	r.lookupErrs.Add(1)
	r.lastErr.Store(&err)
}
