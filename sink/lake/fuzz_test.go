package lake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// FuzzReadParquet: compaction (and anything else that reads the lake back)
// opens Parquet files from the store — written by an older version, cut by a
// crash, damaged at rest. mergeFiles reads a file through arrow-go's reader
// and readColumn (levels, dictionary and ZSTD pages) into the table's column
// buffers and writes it again: it must return an error or rows, never panic.
func FuzzReadParquet(f *testing.F) {
	ctx := context.Background()
	dir := f.TempDir()
	st, err := NewDirStore(dir)
	if err != nil {
		f.Fatal(err)
	}
	l := New(st, Options{})
	if err := l.Write(ctx, cloudTrailEvents(30, 1, t0)); err != nil {
		f.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		f.Fatal(err)
	}
	var seeds int
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			data, rerr := os.ReadFile(p)
			if rerr == nil {
				f.Add(data)
				f.Add(data[:len(data)/2])
				f.Add(append([]byte("PAR1"), data[len(data)-200:]...))
				seeds++
			}
		}
		return nil
	})
	if seeds == 0 {
		f.Fatal("the lake wrote no Parquet file to seed from")
	}
	f.Add([]byte("PAR1PAR1"))
	tb, ok := TableFor("cloudtrail")
	if !ok {
		f.Fatal("no cloudtrail table")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := NewDirStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		in := filepath.Join(st.Root(), "in.parquet")
		if err := os.WriteFile(in, data, 0o600); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		var crash string
		go func() {
			defer close(done)
			defer func() {
				if r := recover(); r != nil {
					buf := make([]byte, 64<<10)
					crash = fmt.Sprintf("%v\n%s", r, buf[:runtime.Stack(buf, false)])
				}
			}()
			_, _ = mergeFiles(ctx, st, tb, compactUnit{Key: "out.parquet", Inputs: []string{"in.parquet"}})
		}()
		select {
		case <-done:
			if crash != "" {
				t.Fatalf("mergeFiles panicked: %s", crash)
			}
		case <-time.After(20 * time.Second):
			// A hang is a crasher too: report where it is.
			buf := make([]byte, 1<<20)
			t.Fatalf("mergeFiles still running after 20 s:\n%s", buf[:runtime.Stack(buf, true)])
		}
	})
}
