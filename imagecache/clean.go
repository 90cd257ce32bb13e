package imagecache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/arcache-go/arcache/internal/fsutil"
)

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
	if err := c.checkOpen("clean"); err != nil {
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
