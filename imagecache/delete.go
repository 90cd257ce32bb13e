package imagecache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DeleteCached removes the cached image id and its record; an id that is
// not cached is not an error.
func (c *Cache) DeleteCached(id string) error {
	_, err := c.deleteCached(id)
	return err
}

// deleteCached is DeleteCached, and reports whether there was anything to
// remove: the file, or a record left without one (which CachedImages
// still lists).
func (c *Cache) deleteCached(id string) (removed bool, err error) {
	if err := c.check("delete", id); err != nil {
		return false, err
	}
	lock, err := c.lockData()
	if err != nil {
		return false, fmt.Errorf("imagecache: delete %s: %w", id, err)
	}
	defer lock.Unlock()
	var size int64
	if c.auto != nil {
		size = c.recordedSize(id)
	}
	switch err := os.Remove(c.path(dataDir, id)); {
	case err == nil:
		removed = true
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("imagecache: delete %s: %w", id, err)
	default:
		_, had, err := c.meta.get(id)
		if err != nil {
			return false, fmt.Errorf("imagecache: delete %s: %w", id, err)
		}
		removed = had
	}
	if err := c.meta.remove(id); err != nil {
		return removed, fmt.Errorf("imagecache: delete %s: %w", id, err)
	}
	if c.auto != nil {
		c.auto.add(-size)
	}
	return removed, nil
}

// DeleteAllCached removes every cached image and every record, those of
// files already gone included, and returns how many images it removed.
// Writes in progress and the queue stay.
func (c *Cache) DeleteAllCached() (int, error) {
	if err := c.checkOpen("delete all cached"); err != nil {
		return 0, err
	}
	lock, err := c.lockData()
	if err != nil {
		return 0, fmt.Errorf("imagecache: delete all cached: %w", err)
	}
	defer lock.Unlock()
	n, err := c.removeAll(dataDir)
	// The records of the files removed, and of any already gone.
	rs, aerr := c.meta.all()
	var (
		gone []string
		kept int64 // the size of the records of files left
	)
	for _, r := range rs {
		if c.IsCached(r.ID) {
			kept += r.Size
		} else {
			gone = append(gone, r.ID)
		}
	}
	if len(gone) > 0 {
		aerr = errors.Join(aerr, c.meta.remove(gone...))
	}
	if c.auto != nil {
		if aerr == nil {
			c.auto.set(kept)
		} else {
			c.auto.forget()
		}
	}
	if err = errors.Join(err, aerr); err != nil {
		return n, fmt.Errorf("imagecache: delete all cached: %w", err)
	}
	return n, nil
}

// removeAll removes the id files in dir and returns how many it removed.
func (c *Cache) removeAll(dir string) (int, error) {
	ids, err := listIDs(filepath.Join(c.cfg.Dir, dir))
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, id := range ids {
		switch err := os.Remove(c.path(dir, id)); {
		case err == nil:
			n++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// listIDs returns the names in dir that are ids of regular files.
func listIDs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range entries {
		if e.Type().IsRegular() && ValidID(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}
