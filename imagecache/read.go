package imagecache

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// OpenForRead opens the cached image id. Reading it to the end and
// closing it counts one hit and sets its last access time.
func (c *Cache) OpenForRead(id string) (io.ReadCloser, error) {
	if err := c.check("open", id); err != nil {
		return nil, err
	}
	f, err := os.Open(c.path(dataDir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("imagecache: open %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("imagecache: open %s: %w", id, err)
	}
	return &hitReader{f: f, c: c, id: id}, nil
}

// hitReader counts a hit when it is closed after reading to the end:
// after io.EOF, or after as many bytes as the file has (io.ReadFull of
// the whole image never sees io.EOF). The file's size is asked only in
// the second case, at Close: a hit costs no more system calls than
// reading a file does.
type hitReader struct {
	f    *os.File
	c    *Cache
	id   string
	read int64 // bytes read so far
	end  bool  // io.EOF was seen
	done bool
}

func (r *hitReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.read += int64(n)
	if err == io.EOF {
		r.end = true
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("imagecache: read %s: %w", r.id, err)
	}
	return n, err
}

// WriteTo lets io.Copy use the file's fast paths. Its error is returned
// as it is: it may be w's own.
func (r *hitReader) WriteTo(w io.Writer) (int64, error) {
	n, err := io.Copy(w, r.f)
	r.read += n
	if err == nil {
		r.end = true
	}
	return n, err
}

func (r *hitReader) Close() error {
	if r.done {
		return nil
	}
	r.done = true
	if !r.end && r.read > 0 {
		if fi, err := r.f.Stat(); err == nil && r.read >= fi.Size() {
			r.end = true
		}
	}
	err := r.f.Close()
	if r.end {
		r.c.countHit(r.id)
	}
	if err != nil {
		return fmt.Errorf("imagecache: close %s: %w", r.id, err)
	}
	return nil
}

// IsCached reports whether id is cached.
func (c *Cache) IsCached(id string) bool {
	if c.check("stat", id) != nil {
		return false
	}
	fi, err := os.Stat(c.path(dataDir, id))
	return err == nil && fi.Mode().IsRegular()
}

// HitCount returns how many times id was read to the end; 0 for an id
// without a record. It counts this process's hits exactly, and other
// processes' within about a second.
func (c *Cache) HitCount(id string) (int64, error) {
	if err := c.check("hits of", id); err != nil {
		return 0, err
	}
	if err := c.flushHits(); err != nil {
		return 0, fmt.Errorf("imagecache: hits of %s: %w", id, err)
	}
	r, _, err := c.meta.get(id)
	if err != nil {
		return 0, fmt.Errorf("imagecache: hits of %s: %w", id, err)
	}
	return r.Hits, nil
}

// ImageSize returns the size of the cached image id.
func (c *Cache) ImageSize(id string) (int64, error) {
	if err := c.check("size of", id); err != nil {
		return 0, err
	}
	fi, err := os.Stat(c.path(dataDir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("imagecache: size of %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("imagecache: size of %s: %w", id, err)
	}
	return fi.Size(), nil
}

// CachedImages returns the records of the cached images, by id. Hit
// counts and access times are as HitCount's.
func (c *Cache) CachedImages() ([]Record, error) {
	if err := c.checkOpen("list"); err != nil {
		return nil, err
	}
	if err := c.flushHits(); err != nil {
		return nil, fmt.Errorf("imagecache: list: %w", err)
	}
	rs, err := c.meta.all()
	if err != nil {
		return nil, fmt.Errorf("imagecache: list: %w", err)
	}
	slices.SortFunc(rs, func(a, b Record) int { return strings.Compare(a.ID, b.ID) })
	return rs, nil
}

// Size returns the total size of the cached images, from the same
// records Prune chooses its victims from.
func (c *Cache) Size() (int64, error) {
	if err := c.checkOpen("size"); err != nil {
		return 0, err
	}
	n, err := c.meta.size()
	if err != nil {
		return 0, fmt.Errorf("imagecache: size: %w", err)
	}
	return n, nil
}

func totalSize(rs []Record) int64 {
	var n int64
	for _, r := range rs {
		n += r.Size
	}
	return n
}
