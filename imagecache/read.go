package imagecache

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
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
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("imagecache: open %s: %w", id, err)
	}
	return &hitReader{f: f, c: c, id: id, left: fi.Size()}, nil
}

// hitReader counts a hit when it is closed after reading to the end:
// after io.EOF, or after as many bytes as the file had (io.ReadFull of
// the whole image never sees io.EOF).
type hitReader struct {
	f    *os.File
	c    *Cache
	id   string
	left int64 // bytes not read yet
	end  bool
	done bool
}

func (r *hitReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	r.left -= int64(n)
	if err == io.EOF || r.left <= 0 {
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
	err := r.f.Close()
	if r.end {
		r.c.countHit(r.id)
	}
	if err != nil {
		return fmt.Errorf("imagecache: close %s: %w", r.id, err)
	}
	return nil
}

// countHit counts one read of id to its end, now.
func (c *Cache) countHit(id string) {
	if err := c.meta.hit(id, time.Now()); err != nil {
		c.log.Warn("imagecache: cannot count a hit", "id", id, "err", err)
	}
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
// without a record.
func (c *Cache) HitCount(id string) (int64, error) {
	if err := c.check("hits of", id); err != nil {
		return 0, err
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

// CachedImages returns the records of the cached images, by id.
func (c *Cache) CachedImages() ([]Record, error) {
	if err := c.checkOpen("list"); err != nil {
		return nil, err
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
	rs, err := c.meta.all()
	if err != nil {
		return 0, fmt.Errorf("imagecache: size: %w", err)
	}
	return totalSize(rs), nil
}

func totalSize(rs []Record) int64 {
	var n int64
	for _, r := range rs {
		n += r.Size
	}
	return n
}
