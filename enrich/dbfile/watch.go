package dbfile

import (
	"context"
	"os"
	"syscall"
	"time"
)

// Stamp identifies one version of a file: a replaced or rewritten file gets
// a different stamp (modification time, size, inode).
type Stamp struct {
	ModTime time.Time
	Size    int64
	Inode   uint64
}

// StampOf returns the current stamp of path.
func StampOf(path string) (Stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Stamp{}, err
	}
	s := Stamp{ModTime: fi.ModTime(), Size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.Inode = uint64(st.Ino)
	}
	return s, nil
}

// Watch polls the stamps of paths every interval until ctx is done, and
// calls changed with the paths whose stamp differs from the previous poll
// (a file that vanished counts as changed once it reappears). The first
// poll only records stamps. changed runs on Watch's goroutine; a slow
// callback delays the next poll, never overlaps it. Replace watched files by
// renaming a complete new file over them, not by rewriting in place.
func Watch(ctx context.Context, interval time.Duration, paths []string, changed func(paths []string)) {
	if interval <= 0 || len(paths) == 0 {
		return
	}
	last := make([]Stamp, len(paths))
	ok := make([]bool, len(paths))
	for i, p := range paths {
		last[i], _ = StampOf(p)
		ok[i] = true
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var diff []string
		for i, p := range paths {
			s, err := StampOf(p)
			if err != nil {
				ok[i] = false // missing for now: wait for it to come back
				continue
			}
			if !ok[i] || s != last[i] {
				diff = append(diff, p)
			}
			last[i], ok[i] = s, true
		}
		if len(diff) > 0 {
			changed(diff)
		}
	}
}
