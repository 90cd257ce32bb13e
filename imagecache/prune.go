package imagecache

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/arcache-go/arcache/internal/fsutil"
)

// pruneLock keeps prunes, deletes and commits of all processes apart:
// removing a file and then its record must not let a commit of the same
// id slip in between, or the new file would lose its record.
const pruneLock = "prune.lock"

// lockData takes pruneLock; the caller must Unlock it.
func (c *Cache) lockData() (*fsutil.Lock, error) {
	l, err := fsutil.LockFile(filepath.Join(c.cfg.Dir, pruneLock))
	if err != nil {
		return nil, fmt.Errorf("imagecache: %w", err)
	}
	return l, nil
}

// Prune removes the least recently accessed images (an image never read
// counts as accessed when it was written) until the cache's size is at
// most MaxSize, and returns how many files and bytes it removed. Size and
// victims come from the same records; prunes in this and other processes
// take turns, so together they never remove more than needed.
func (c *Cache) Prune() (files int, bytes int64, err error) {
	if err := c.checkOpen(); err != nil {
		return 0, 0, err
	}
	c.pruneMu.Lock()
	defer c.pruneMu.Unlock()
	lock, err := c.lockData()
	if err != nil {
		return 0, 0, err
	}
	defer lock.Unlock()

	rs, err := c.meta.all()
	if err != nil {
		return 0, 0, fmt.Errorf("imagecache: prune: %w", err)
	}
	var size int64
	for _, r := range rs {
		size += r.Size
	}
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
	if len(gone) > 0 {
		if err := c.meta.remove(gone...); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return files, bytes, fmt.Errorf("imagecache: prune: %w", err)
	}
	return files, bytes, nil
}

// CleanResult tells what Clean removed.
type CleanResult struct {
	Invalid, Stalled int   // files removed from invalid/ and incomplete/
	Bytes            int64 // their total size
}

// Clean removes every file in invalid/, and the files in incomplete/ older
// than stall that no live writer holds (0 means Config.StallTime). A file
// that vanishes meanwhile is not an error.
func (c *Cache) Clean(stall time.Duration) (CleanResult, error) {
	var res CleanResult
	if err := c.checkOpen(); err != nil {
		return res, err
	}
	if stall == 0 {
		stall = c.cfg.StallTime
	}
	var errs []error
	entries, err := os.ReadDir(filepath.Join(c.cfg.Dir, invalidDir))
	if err != nil {
		return res, fmt.Errorf("imagecache: clean: %w", err)
	}
	for _, e := range entries {
		path := c.path(invalidDir, e.Name())
		fi, err := os.Lstat(path)
		if err != nil || fi.IsDir() {
			continue
		}
		if err := os.Remove(path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		res.Invalid++
		res.Bytes += fi.Size()
	}

	entries, err = os.ReadDir(filepath.Join(c.cfg.Dir, incompleteDir))
	if err != nil {
		return res, fmt.Errorf("imagecache: clean: %w", err)
	}
	for _, e := range entries {
		removed, size, err := c.cleanStalled(c.path(incompleteDir, e.Name()), stall)
		if err != nil {
			errs = append(errs, err)
		}
		if removed {
			res.Stalled++
			res.Bytes += size
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("imagecache: clean: %w", err)
	}
	return res, nil
}

// cleanStalled removes the file at path if it is older than stall and no
// writer holds its lock.
func (c *Cache) cleanStalled(path string, stall time.Duration) (bool, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || time.Since(fi.ModTime()) < stall {
		return false, 0, nil
	}
	if free, err := fsutil.TryLock(f); !free || err != nil {
		return false, 0, nil // a live writer
	}
	// Holding the lock, the file is ours: a new writer of the id cannot
	// start while the name exists.
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, 0, nil
		}
		return false, 0, err
	}
	return true, fi.Size(), nil
}
