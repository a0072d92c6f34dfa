package lake

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gannet-sec/gannet/stream"
	"github.com/zeebo/xxh3"
)

// Layout is the partition layout of the lake: always dt and hr, optionally
// preceded by account and region levels.
type Layout struct {
	Account bool // add account=<cloud.account.id>/ before dt
	Region  bool // add region=<cloud.region>/ before dt
}

// unknownPart is the partition value used when an account or region is unknown.
const unknownPart = "unknown"

// partKey identifies one partition of a table.
type partKey struct {
	hour            int64 // hours since the Unix epoch (UTC)
	account, region string
}

func (l Layout) key(ri *rowInfo) partKey {
	k := partKey{hour: floorDiv(ri.time.Unix(), 3600)}
	if l.Account {
		k.account = ri.account
	}
	if l.Region {
		k.region = ri.region
	}
	return k
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// dir returns the partition directory of k in table: "<table>/[account=…/][region=…/]dt=YYYY-MM-DD/hr=HH/".
func (l Layout) dir(table string, k partKey) string {
	var b strings.Builder
	b.WriteString(table)
	b.WriteByte('/')
	if l.Account {
		b.WriteString("account=")
		b.WriteString(partValue(k.account))
		b.WriteByte('/')
	}
	if l.Region {
		b.WriteString("region=")
		b.WriteString(partValue(k.region))
		b.WriteByte('/')
	}
	t := time.Unix(k.hour*3600, 0).UTC()
	b.WriteString(t.Format("dt=2006-01-02/hr=15/"))
	return b.String()
}

// Partition returns the partition directory (relative to the lake root, with
// a trailing slash) that holds a row of table with the given time, account and region.
func (l Layout) Partition(table string, t time.Time, account, region string) string {
	return l.dir(table, l.key(&rowInfo{time: t, account: account, region: region}))
}

// partValue makes a partition value safe as one path segment.
func partValue(v string) string {
	if v == "" {
		return unknownPart
	}
	ok := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			ok = false
			break
		}
	}
	if ok && v != "." && v != ".." {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// pos is a position inside one source: Kinesis sequence, sub-sequence and
// index, or S3/file offset and index.
type pos struct {
	seq      []byte
	sub, off int64
	idx      int64
}

func (p *pos) set(l *stream.Lineage) {
	p.seq = append(p.seq[:0], l.Sequence...)
	p.sub, p.off, p.idx = l.SubSequence, l.Offset, l.Index
}

func (p *pos) appendTo(b []byte, kind stream.OriginKind) []byte {
	if kind == stream.OriginKinesis {
		b = append(b, p.seq...)
		b = append(b, '_')
		if p.sub < 0 {
			b = append(b, 'n')
		} else {
			b = strconv.AppendInt(b, p.sub, 10)
		}
	} else {
		b = strconv.AppendInt(b, p.off, 10)
	}
	b = append(b, '_')
	return strconv.AppendInt(b, p.idx, 10)
}

// srcRange is the first and last position of the rows of one source in a file.
type srcRange struct {
	kind          stream.OriginKind
	source, shard string
	first, last   pos
}

// keyer derives a file's object name from the lineage of its rows: the same
// rows in the same order always give the same name, different rows a different one.
type keyer struct {
	srcs []srcRange
	cur  int
	ids  uint64 // order-dependent fold of the row ids
	n    int64
}

func (k *keyer) reset() {
	k.srcs, k.cur, k.ids, k.n = k.srcs[:0], 0, 0, 0
}

var zeroLineage stream.Lineage

func (k *keyer) add(l *stream.Lineage, id stream.EventID) {
	if l == nil {
		l = &zeroLineage
	}
	k.n++
	k.ids = (k.ids ^ binary.LittleEndian.Uint64(id[:8]) ^ bitsRotl(binary.LittleEndian.Uint64(id[8:]), 29)) * 0x9e3779b97f4a7c15
	if k.cur < len(k.srcs) {
		s := &k.srcs[k.cur]
		if s.kind == l.Kind && s.source == l.Source && s.shard == l.Shard {
			s.last.set(l)
			return
		}
	}
	for i := range k.srcs {
		s := &k.srcs[i]
		if s.kind == l.Kind && s.source == l.Source && s.shard == l.Shard {
			k.cur = i
			s.last.set(l)
			return
		}
	}
	k.srcs = append(k.srcs, srcRange{kind: l.Kind, source: strings.Clone(l.Source), shard: strings.Clone(l.Shard)})
	k.cur = len(k.srcs) - 1
	s := &k.srcs[k.cur]
	s.first.set(l)
	s.last.set(l)
}

func bitsRotl(x uint64, k uint) uint64 { return x<<k | x>>(64-k) }

// name returns "<hash>-<first>-<last>.parquet": hash is 16 hex digits over
// every source, its range, the row count and the row ids; first and last are
// the positions of the file's first source.
func (k *keyer) name() string {
	var buf [512]byte
	h := buf[:0]
	for i := range k.srcs {
		s := &k.srcs[i]
		h = append(h, byte(s.kind))
		h = binary.LittleEndian.AppendUint32(h, uint32(len(s.source)))
		h = append(h, s.source...)
		h = binary.LittleEndian.AppendUint32(h, uint32(len(s.shard)))
		h = append(h, s.shard...)
		h = s.first.appendTo(h, s.kind)
		h = append(h, 0)
		h = s.last.appendTo(h, s.kind)
		h = append(h, 0)
	}
	h = binary.LittleEndian.AppendUint64(h, uint64(k.n))
	h = binary.LittleEndian.AppendUint64(h, k.ids)
	sum := xxh3.Hash(h)

	out := make([]byte, 0, 128)
	out = fmt.Appendf(out, "%016x", sum)
	if len(k.srcs) > 0 {
		s := &k.srcs[0]
		out = append(out, '-')
		out = s.first.appendTo(out, s.kind)
		out = append(out, '-')
		out = s.last.appendTo(out, s.kind)
	}
	out = append(out, ".parquet"...)
	return string(out)
}
