package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Store holds the lake's objects under slash-separated keys
// ("cloudtrail/dt=2026-11-01/hr=05/….parquet").
type Store interface {
	// Create starts a new object. Nothing is visible to readers until Commit.
	Create(ctx context.Context) (ObjectWriter, error)
	// Open opens an object for random-access reading.
	Open(ctx context.Context, key string) (Object, error)
	// List returns the objects whose keys start with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Delete removes an object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
}

// ObjectWriter receives the bytes of one object. It is used by one goroutine.
type ObjectWriter interface {
	// Write appends p; the writer does not keep p after returning.
	Write(ctx context.Context, p []byte) error
	// Commit makes the written bytes visible under key, atomically replacing
	// any object there. If Commit fails, the writer keeps its state and
	// Commit may be called again.
	Commit(ctx context.Context, key string) error
	// Abort discards the object. It is safe to call after Commit (no-op).
	Abort(ctx context.Context) error
}

// Object is an object open for reading.
type Object interface {
	io.ReaderAt
	io.Seeker
	io.Closer
	Size() int64
}

// ObjectInfo describes a listed object.
type ObjectInfo struct {
	Key  string
	Size int64
}

// DirStore is a Store in a local directory. Objects are written to a
// temporary file under <root>/_tmp and renamed into place on Commit, so a
// reader never sees a partial file.
type DirStore struct {
	root string
}

// tmpDir is where DirStore keeps objects being written (beside, never inside, a table).
const tmpDir = "_tmp"

// NewDirStore returns a store rooted at dir, creating it if needed.
func NewDirStore(dir string) (*DirStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o750); err != nil {
		return nil, err
	}
	return &DirStore{root: dir}, nil
}

// Root returns the directory of the store.
func (s *DirStore) Root() string { return s.root }

func (s *DirStore) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || path.Clean(key) != key || strings.HasPrefix(key, "../") || key == ".." {
		return "", fmt.Errorf("lake: invalid object key %q", key)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// Create implements Store.
func (s *DirStore) Create(ctx context.Context) (ObjectWriter, error) {
	f, err := os.CreateTemp(filepath.Join(s.root, tmpDir), "obj-*")
	if err != nil {
		return nil, err
	}
	return &dirObject{s: s, f: f, tmp: f.Name()}, nil
}

type dirObject struct {
	s      *DirStore
	f      *os.File
	tmp    string
	closed bool
	done   bool
}

func (o *dirObject) Write(ctx context.Context, p []byte) error {
	if o.closed {
		return errors.New("lake: write after commit")
	}
	_, err := o.f.Write(p)
	return err
}

func (o *dirObject) Commit(ctx context.Context, key string) error {
	if o.done {
		return nil
	}
	dst, err := o.s.path(key)
	if err != nil {
		return err
	}
	if !o.closed {
		if err := o.f.Sync(); err != nil {
			return err
		}
		if err := o.f.Close(); err != nil {
			return err
		}
		o.closed = true
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	if err := os.Rename(o.tmp, dst); err != nil {
		return err
	}
	o.done = true
	if d, err := os.Open(filepath.Dir(dst)); err == nil { // make the rename durable
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

func (o *dirObject) Abort(ctx context.Context) error {
	if o.done {
		return nil
	}
	o.done = true
	if !o.closed {
		_ = o.f.Close()
		o.closed = true
	}
	err := os.Remove(o.tmp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

type dirReader struct {
	*os.File
	size int64
}

func (r dirReader) Size() int64 { return r.size }

// Open implements Store.
func (s *DirStore) Open(ctx context.Context, key string) (Object, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return dirReader{File: f, size: st.Size()}, nil
}

// List implements Store. Temporary files are never listed.
func (s *DirStore) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	// Walk the deepest directory that contains every key with the prefix.
	dir := prefix
	if i := strings.LastIndexByte(dir, '/'); i >= 0 {
		dir = dir[:i]
	} else {
		dir = ""
	}
	start := filepath.Join(s.root, filepath.FromSlash(dir))
	var out []ObjectInfo
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, rerr := filepath.Rel(s.root, p)
		if rerr != nil {
			return rerr
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if key == tmpDir {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		out = append(out, ObjectInfo{Key: key, Size: info.Size()})
		return ctx.Err()
	})
	slices.SortFunc(out, func(a, b ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, err
}

// Delete implements Store.
func (s *DirStore) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	err = os.Remove(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
