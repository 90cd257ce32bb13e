package imagecache

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/arcache-go/arcache/internal/fsutil"
)

// pruneLock keeps prunes, deletes and commits of all processes apart:
// removing a file and then its record must not let a commit of the same
// id slip in between, or the new file would lose its record.
const pruneLock = "prune.lock"

// lockData takes pruneLock; the caller must Unlock it.
func (c *Cache) lockData() (*fsutil.Lock, error) {
	return fsutil.LockFile(filepath.Join(c.cfg.Dir, pruneLock))
}

// Prune removes the least recently accessed images (an image never read
// counts as accessed when it was written) until the cache's size is at
// most MaxSize, and returns how many files and bytes it removed. Size and
// victims come from the same records; prunes in this and other processes
// take turns, so together they never remove more than needed.
func (c *Cache) Prune() (files int, bytes int64, err error) {
	if err := c.checkOpen("prune"); err != nil {
		return 0, 0, err
	}
	c.pruneMu.Lock()
	defer c.pruneMu.Unlock()
	// The access times of this process's hits decide the order too.
	if err := c.flushHits(); err != nil {
		return 0, 0, fmt.Errorf("imagecache: prune: %w", err)
	}
	lock, err := c.lockData()
	if err != nil {
		return 0, 0, fmt.Errorf("imagecache: prune: %w", err)
	}
	defer lock.Unlock()

	rs, err := c.meta.all()
	if err != nil {
		return 0, 0, fmt.Errorf("imagecache: prune: %w", err)
	}
	size := totalSize(rs)
	slices.SortFunc(rs, func(a, b Record) int {
		return cmp.Or(a.LastAccessed.Compare(b.LastAccessed), cmp.Compare(a.ID, b.ID))
	})
	var (
		errs []error
		gone []string // files removed, or found gone: their records go
	)
	// One pass over a fixed list: prune always ends, even when a file
	// cannot be removed.
	for _, r := range rs {
		if size <= c.cfg.MaxSize {
			break
		}
		err := os.Remove(c.path(dataDir, r.ID))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		gone = append(gone, r.ID)
		size -= r.Size
		if err == nil {
			files++
			bytes += r.Size
		}
	}
	var removeErr error
	if len(gone) > 0 {
		if removeErr = c.meta.remove(gone...); removeErr != nil {
			errs = append(errs, removeErr)
		}
	}
	if c.auto != nil {
		if removeErr == nil {
			c.auto.set(size)
		} else {
			c.auto.forget() // some of the records may be left
		}
	}
	if err := errors.Join(errs...); err != nil {
		return files, bytes, fmt.Errorf("imagecache: prune: %w", err)
	}
	return files, bytes, nil
}
