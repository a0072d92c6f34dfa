package geoip

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"
	"unicode/utf8"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Check says how thoroughly a database is checked when it is opened.
type Check uint8

const (
	// CheckFull checks the metadata and the data section separator, runs
	// the library's verifier (when the metadata has the description it
	// requires), walks every network of the search tree and decodes every
	// data record. A database that passes cannot fail a lookup. It costs
	// about one second per 60 MB database.
	CheckFull Check = iota
	// CheckQuick checks the metadata and the data section separator only
	// (microseconds); a corrupt record then surfaces as a lookup error.
	// Pair it with a SHA-256 of a database checked once with CheckFull.
	CheckQuick
)

// ParseCheck maps "full" or "quick" ("" is full) to a Check.
func ParseCheck(s string) (Check, error) {
	switch s {
	case "", "full":
		return CheckFull, nil
	case "quick":
		return CheckQuick, nil
	}
	return 0, fmt.Errorf("geoip: unknown check %q (want full or quick)", s)
}

// Info describes an opened database.
type Info struct {
	Path      string
	Type      string    // metadata database_type, e.g. "GeoLite2-City"
	Built     time.Time // metadata build_epoch
	IPVersion int       // 4: IPv4 only; 6: IPv4 and IPv6
	Nodes     int       // search tree nodes
	Size      int64     // file size in bytes
	// Networks and Records are counted by CheckFull (0 with CheckQuick).
	Networks int
	Records  int
}

// DB is one opened MaxMind DB file (GeoIP2/GeoLite2 City or Country, DB-IP
// Lite, GeoLite2/DB-IP ASN), memory-mapped. Lookups are safe for concurrent
// use; Close must not overlap them (Resolver takes care of that).
type DB struct {
	r    *maxminddb.Reader
	info Info
}

// maxBuildEpoch rejects absurd build times (year 2242 and later), such as
// the uint64-max epoch some corrupt files carry.
const maxBuildEpoch = 1 << 33

// Open opens and checks the database at path. Every defect it finds is
// returned as an error naming the file; Open never panics on bad input.
func Open(path string, check Check) (*DB, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip: %s: not a valid MaxMind DB: %w", path, err)
	}
	db := &DB{r: r, info: Info{
		Path:      path,
		Type:      r.Metadata.DatabaseType,
		IPVersion: int(r.Metadata.IPVersion),
		Nodes:     int(r.Metadata.NodeCount),
		Size:      fi.Size(),
	}}
	if err := db.check(check); err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("geoip: %s: %w", path, err)
	}
	db.info.Built = time.Unix(int64(r.Metadata.BuildEpoch), 0).UTC()
	return db, nil
}

func (db *DB) check(check Check) error {
	m := &db.r.Metadata
	switch {
	case m.BinaryFormatMajorVersion != 2:
		return fmt.Errorf("unsupported binary format version %d.%d", m.BinaryFormatMajorVersion, m.BinaryFormatMinorVersion)
	case m.IPVersion != 4 && m.IPVersion != 6:
		return fmt.Errorf("invalid metadata: ip_version %d", m.IPVersion)
	case m.RecordSize != 24 && m.RecordSize != 28 && m.RecordSize != 32:
		return fmt.Errorf("invalid metadata: record_size %d", m.RecordSize)
	case m.NodeCount == 0:
		return errors.New("invalid metadata: node_count 0")
	case m.DatabaseType == "" || !utf8.ValidString(m.DatabaseType):
		return errors.New("invalid metadata: empty or non-UTF-8 database_type")
	case m.BuildEpoch >= maxBuildEpoch:
		return fmt.Errorf("invalid metadata: build_epoch %d out of range", m.BuildEpoch)
	}
	if err := db.checkSeparator(); err != nil {
		return err
	}
	if check == CheckQuick {
		return nil
	}
	// The library verifier insists on a description, which third-party
	// databases (ip-location-db's DB-IP Lite builds) leave empty; the walk
	// below covers the search tree and every record either way.
	if len(m.Description) > 0 {
		if err := db.r.Verify(); err != nil {
			return fmt.Errorf("verification failed: %w", err)
		}
	}
	return db.walk()
}

// checkSeparator checks that the 16 zero bytes between the search tree and
// the data section are where node_count says, which catches a node count
// that does not match the tree.
func (db *DB) checkSeparator() error {
	m := &db.r.Metadata
	treeSize := int64(m.NodeCount) * int64(m.RecordSize) / 4
	if treeSize < 0 || treeSize+16 > db.info.Size {
		return fmt.Errorf("corrupt search tree: %d nodes do not fit in %d bytes", m.NodeCount, db.info.Size)
	}
	f, err := os.Open(db.info.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	var sep [16]byte
	if _, err := f.ReadAt(sep[:], treeSize); err != nil {
		return fmt.Errorf("reading data section separator: %w", err)
	}
	if sep != [16]byte{} {
		return fmt.Errorf("corrupt search tree: no data section separator after %d nodes", m.NodeCount)
	}
	return nil
}

// walk visits every network and decodes every distinct data record.
func (db *DB) walk() error {
	seen := make(map[uintptr]struct{})
	known := false
	networks := 0
	for res := range db.r.Networks() {
		if err := res.Err(); err != nil {
			return fmt.Errorf("corrupt search tree: %w", err)
		}
		networks++
		off := res.Offset()
		if _, ok := seen[off]; ok {
			continue
		}
		seen[off] = struct{}{}
		var rec mmdbRecord
		if err := res.Decode(&rec); err != nil {
			return fmt.Errorf("corrupt data record for %s: %w", res.Prefix(), err)
		}
		known = known || rec.known
	}
	if networks == 0 {
		return errors.New("database holds no networks")
	}
	if !known {
		return fmt.Errorf("database type %q has no GeoIP city/country or ASN fields", db.r.Metadata.DatabaseType)
	}
	db.info.Networks, db.info.Records = networks, len(seen)
	return nil
}

// Info describes the database.
func (db *DB) Info() Info { return db.info }

// Lookup returns the database's answer for addr, without skipping reserved
// ranges. found is false when the database has no record for addr (or is
// IPv4-only and addr is IPv6); err reports a corrupt database.
func (db *DB) Lookup(addr netip.Addr) (rec Record, found bool, err error) {
	res, ok := db.find(addr)
	if !ok {
		return Record{}, false, res.Err()
	}
	var r mmdbRecord
	if err := res.Decode(&r); err != nil {
		return Record{}, false, err
	}
	return r.Record, true, nil
}

// find looks addr up in the search tree; ok is false when not found or on error.
func (db *DB) find(addr netip.Addr) (maxminddb.Result, bool) {
	addr = addr.Unmap()
	if db.info.IPVersion == 4 && !addr.Is4() {
		return maxminddb.Result{}, false
	}
	res := db.r.Lookup(addr)
	return res, res.Found()
}

// decodeAt decodes the record at a data offset returned by find.
func (db *DB) decodeAt(off uintptr) (Record, error) {
	var r mmdbRecord
	if err := db.r.LookupOffset(off).Decode(&r); err != nil {
		return Record{}, err
	}
	return r.Record, nil
}

// Close unmaps the database. No lookup may run during or after Close.
func (db *DB) Close() error { return db.r.Close() }
