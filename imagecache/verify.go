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

// VerifyResult tells what Verify found.
type VerifyResult struct {
	Checked int      // images re-hashed
	Invalid []string // images that failed their checksums, by id
}

// Verify re-hashes every cached image whose record has a checksum. An
// image that does not match is moved to invalid/, where Clean finds it,
// and its record removed. An image removed or replaced meanwhile is
// skipped. An image that cannot be read is reported in the error, and
// Verify goes on with the others.
func (c *Cache) Verify() (VerifyResult, error) {
	var res VerifyResult
	if err := c.checkOpen("verify"); err != nil {
		return res, err
	}
	rs, err := c.meta.all()
	if err != nil {
		return res, fmt.Errorf("imagecache: verify: %w", err)
	}
	slices.SortFunc(rs, func(a, b Record) int { return strings.Compare(a.ID, b.ID) })
	var errs []error
	for _, r := range rs {
		if r.Checksum.IsZero() {
			continue
		}
		checked, bad, err := c.verifyOne(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.ID, err))
		}
		if checked {
			res.Checked++
		}
		if bad {
			res.Invalid = append(res.Invalid, r.ID)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("imagecache: verify: %w", err)
	}
	return res, nil
}

// verifyOne re-hashes r's file, and reports whether it did and whether
// the file failed and went to invalid/.
func (c *Cache) verifyOne(r Record) (checked, bad bool, err error) {
	h, err := r.Checksum.newHash()
	if err != nil {
		return false, false, err
	}
	f, err := os.Open(c.path(dataDir, r.ID))
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	defer f.Close()
	// Hashing happens outside the data lock, which commits of every
	// process wait for; the lock is taken only to remove a bad file.
	if _, err := io.Copy(h, f); err != nil {
		return false, false, err
	}
	if r.Checksum.matches(h) {
		return true, false, nil
	}
	hashed, err := f.Stat()
	if err != nil {
		return true, false, err
	}
	bad, err = c.invalidate(r.ID, hashed)
	return true, bad, err
}

// invalidate moves the file of id to invalid/ and removes its record, if
// the file is still the one that was hashed: a new commit of id meanwhile
// brought a new file, and perhaps a new checksum. The caller keeps the
// hashed file open, so that the new one cannot reuse its inode.
func (c *Cache) invalidate(id string, hashed fs.FileInfo) (bool, error) {
	lock, err := c.lockData()
	if err != nil {
		return false, err
	}
	defer lock.Unlock()
	now, err := os.Stat(c.path(dataDir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !os.SameFile(now, hashed) {
		return false, nil
	}
	var size int64
	if c.auto != nil {
		size = c.recordedSize(id)
	}
	if err := os.Rename(c.path(dataDir, id), c.path(invalidDir, id)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	if err := c.meta.remove(id); err != nil {
		if c.auto != nil {
			c.auto.forget()
		}
		return true, err
	}
	if c.auto != nil {
		c.auto.add(-size)
	}
	c.log.Warn("imagecache: a cached image failed its checksum; moved to invalid/", "id", id)
	return true, nil
}
