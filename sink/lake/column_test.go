package lake

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gannet-sec/gannet/stream"
)

// dictValues returns the values a dictionary-encoded or plain column buffer
// holds, in order (nulls skipped).
func bufValues(b *colBuf) []string {
	var out []string
	if b.dict {
		for r, d := range b.def {
			if d != 0 {
				out = append(out, string(b.entry(b.idx[r])))
			}
		}
		return out
	}
	for i := 0; i+1 < len(b.offs); i++ {
		out = append(out, string(b.data[b.offs[i]:b.offs[i+1]]))
	}
	return out
}

// TestColBufDict checks the dictionary of a column against the values put
// in: values of equal length (which share a bylen slot), values whose
// lengths collide modulo 32, repeats, nulls, and the fallback to plain.
func TestColBufDict(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var pool []string
	for i := range 40 {
		pool = append(pool, fmt.Sprintf("v%03d", i))              // same length
		pool = append(pool, fmt.Sprintf("%0*d", 1+i%3*32+i%5, i)) // lengths equal mod 32
	}
	for _, reset := range []bool{false, true} {
		b := newColBuf(Column{Name: "c", Type: String, Dict: true})
		if reset {
			b.str("stale")
			b.reset()
		}
		var want []string
		for range 5000 {
			if r.IntN(10) == 0 {
				b.str("")
				continue
			}
			s := pool[r.IntN(len(pool))]
			b.str(s)
			want = append(want, s)
		}
		if !b.dict || b.dictEntries() != len(pool) {
			t.Fatalf("dict %v with %d entries, want %d", b.dict, b.dictEntries(), len(pool))
		}
		if got := bufValues(&b); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("values differ:\n got %q\nwant %q", got[:10], want[:10])
		}
		b.undict()
		if got := bufValues(&b); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("plain values differ after undict")
		}
	}
	// Past dictMaxEntries distinct values the column falls back to plain
	// and keeps every value.
	b := newColBuf(Column{Name: "c", Type: String, Dict: true})
	var want []string
	for i := range dictMaxEntries + 100 {
		s := fmt.Sprintf("id-%d", i)
		b.str(s)
		want = append(want, s)
	}
	if b.dict {
		t.Fatal("still dictionary-encoded past dictMaxEntries")
	}
	if got := bufValues(&b); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatal("values lost in the fallback to plain")
	}
}

func TestColBufHexID(t *testing.T) {
	b := newColBuf(Column{Name: "event_id", Type: String})
	var want []string
	for i := range 100 {
		var id stream.EventID
		for j := range id {
			id[j] = byte(i*31 + j*7)
		}
		b.id(id)
		want = append(want, id.String())
	}
	if got := bufValues(&b); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hex ids differ: %q vs %q", got[:2], want[:2])
	}
}

// TestDictOverflowWhileAdding writes more distinct user agents than a row
// group's dictionary holds, with nulls among them: the column falls back to
// plain in the middle of a row group, and every value reads back.
func TestDictOverflowWhileAdding(t *testing.T) {
	ctx := t.Context()
	l, st := newDirLake(t, Options{})
	evs := cloudTrailEvents(dictMaxEntries+3000, 5, t0)
	for i := range evs {
		evs[i].UserAgent = fmt.Sprintf("agent/%d", i)
		if i%7 == 3 {
			evs[i].UserAgent = ""
		}
	}
	if err := l.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	keys := listKeys(t, st, "cloudtrail/")
	if len(keys) != 1 {
		t.Fatalf("keys = %v", keys)
	}
	rows, _ := readFile(t, st, keys[0])
	if len(rows["user_agent"]) != len(evs) {
		t.Fatalf("rows = %d, want %d", len(rows["user_agent"]), len(evs))
	}
	for i := range evs {
		var want any
		if evs[i].UserAgent != "" {
			want = evs[i].UserAgent
		}
		if got := rows["user_agent"][i]; got != want {
			t.Fatalf("row %d user_agent = %#v, want %#v", i, got, want)
		}
	}
}
