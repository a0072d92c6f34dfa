package anomaly

// lru is a bounded map whose least recently used key is evicted when a new
// key would exceed max. Nodes live in one slice and link by index, so a
// lookup or an update of a known key never allocates.
type lru[K comparable, V any] struct {
	max     int
	idx     map[K]int32
	nodes   []lruNode[K, V]
	head    int32 // most recently used, -1 when empty
	tail    int32 // least recently used, -1 when empty
	evicted int64
}

type lruNode[K comparable, V any] struct {
	key        K
	val        V
	prev, next int32
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, idx: map[K]int32{}, head: -1, tail: -1}
}

func (l *lru[K, V]) len() int { return len(l.idx) }

// get returns the value of k and marks it most recently used.
func (l *lru[K, V]) get(k K) (*V, bool) {
	i, ok := l.idx[k]
	if !ok {
		return nil, false
	}
	l.toFront(i)
	return &l.nodes[i].val, true
}

// add inserts k (not present) as most recently used and returns its value:
// zero, or, when the least recently used key was evicted to make room, that
// key's old value for reset to reuse its memory. The pointer is valid until
// the next add.
func (l *lru[K, V]) add(k K, reset func(*V)) *V {
	var i int32
	if len(l.nodes) < l.max {
		l.nodes = append(l.nodes, lruNode[K, V]{key: k, prev: -1, next: -1})
		i = int32(len(l.nodes) - 1)
	} else {
		i = l.tail
		l.unlink(i)
		delete(l.idx, l.nodes[i].key)
		l.evicted++
		l.nodes[i].key = k
		reset(&l.nodes[i].val)
	}
	l.idx[k] = i
	l.pushFront(i)
	return &l.nodes[i].val
}

func (l *lru[K, V]) unlink(i int32) {
	n := &l.nodes[i]
	if n.prev >= 0 {
		l.nodes[n.prev].next = n.next
	} else {
		l.head = n.next
	}
	if n.next >= 0 {
		l.nodes[n.next].prev = n.prev
	} else {
		l.tail = n.prev
	}
	n.prev, n.next = -1, -1
}

func (l *lru[K, V]) pushFront(i int32) {
	n := &l.nodes[i]
	n.prev, n.next = -1, l.head
	if l.head >= 0 {
		l.nodes[l.head].prev = i
	}
	l.head = i
	if l.tail < 0 {
		l.tail = i
	}
}

func (l *lru[K, V]) toFront(i int32) {
	if l.head == i {
		return
	}
	l.unlink(i)
	l.pushFront(i)
}

// each visits the keys from least to most recently used.
func (l *lru[K, V]) each(fn func(k K, v *V)) {
	for i := l.tail; i >= 0; i = l.nodes[i].prev {
		fn(l.nodes[i].key, &l.nodes[i].val)
	}
}
