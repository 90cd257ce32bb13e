package imagecache

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/arcache-go/arcache/internal/fsutil"
)

// CacheFile caches a copy of the file at path as id (Glance's
// cache_image_file). See CacheReader.
func (c *Cache) CacheFile(id, path string) (bool, error) {
	if err := c.check("cache", id); err != nil {
		return false, err
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("imagecache: cache %s: %w", id, err)
	}
	defer f.Close()
	return c.CacheReader(id, f, Checksum{})
}

// CacheReader reads r to its end into the cache as id, checking sum
// (Glance's cache_image_iter). It reports whether the image was cached:
// an id already cached or being written is not, and r is left unread.
// Any failure (r's error, a checksum mismatch, a write that fails) leaves
// nothing cached, and returns false with the error; r's error is returned
// as it is, as CachingReader's Read returns it.
func (c *Cache) CacheReader(id string, r io.Reader, sum Checksum) (bool, error) {
	w, err := c.startWrite(id, sum)
	if err != nil || w == nil {
		return false, err
	}
	cr := &cachingReader{src: r, w: w}
	defer cr.abandon() // whatever happens in r, even a panic
	_, err = cr.WriteTo(io.Discard)
	if err == nil {
		err = cr.writeErr
	}
	if err != nil {
		return false, err
	}
	return cr.cached, nil
}

// CachingReader returns a reader that hands every byte of r through while
// caching them as id (Glance's get_caching_iter). Its Read returns r's
// errors as they are; a checksum mismatch is returned, as an error
// matching ErrChecksum, by the Read that would have returned io.EOF. A
// failing disk write never breaks the reader: the data flows on, uncached.
// Closing it before the end abandons the write; Close also closes r when
// r is an io.Closer.
//
// Read it to io.EOF: the write commits, and a checksum mismatch shows,
// only there. Image decoders stop at the image's end, so after decoding
// copy the rest to io.Discard; until then the bytes handed out are not
// verified.
//
// An id already cached, or being written by another writer, passes
// through uncached. An invalid id, a closed cache or an unknown checksum
// algorithm is the error of the first Read.
func (c *Cache) CachingReader(id string, sum Checksum, r io.Reader) io.ReadCloser {
	w, err := c.startWrite(id, sum)
	cr := &cachingReader{src: r, w: w, err: err}
	if w == nil && err == nil {
		// Passing through, the data is still checked.
		cr.pass = &check{id: id, sum: sum}
		cr.pass.h, _ = sum.newHash()
	}
	return cr
}

type cachingReader struct {
	src      io.Reader
	w        *writer // nil once finished, or when passing through
	pass     *check  // the checksum of data passing through uncached
	err      error   // returned by every Read once set
	writeErr error   // why the data was not cached, if it was not
	cached   bool
}

// check verifies data that is not being written.
type check struct {
	id  string
	sum Checksum
	h   hash.Hash // nil: nothing to check
}

func (cr *cachingReader) Read(p []byte) (int, error) {
	if cr.err != nil {
		return 0, cr.err
	}
	n, err := cr.src.Read(p)
	if cr.w == nil {
		if k := cr.pass; k != nil && k.h != nil {
			k.h.Write(p[:n])
			if err == io.EOF && !k.sum.matches(k.h) {
				cr.err = mismatch(k.id, k.sum)
				err = cr.err
			}
		}
		return n, err
	}
	if n > 0 {
		cr.w.write(p[:n])
	}
	switch {
	case err == io.EOF:
		w := cr.w
		cr.w = nil
		cr.cached, cr.writeErr, err = w.finish()
		if err != nil {
			cr.err = err
		}
	case err != nil:
		cr.abandon()
	}
	return n, err
}

// copyBufs holds the buffers of WriteTo. Pieces larger than io.Copy's
// 32 KiB halve the system calls per byte on both sides of the cache.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// WriteTo hands the rest of the stream to w, reading it in large pieces;
// io.Copy uses it. It stops at w's first error, leaving the write
// unfinished until Close.
func (cr *cachingReader) WriteTo(w io.Writer) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	var total int64
	for {
		n, err := cr.Read(*bp)
		if n > 0 {
			m, werr := w.Write((*bp)[:n])
			total += int64(m)
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (cr *cachingReader) abandon() {
	if cr.w != nil {
		cr.w.abandon()
		cr.w = nil
	}
}

func (cr *cachingReader) Close() error {
	cr.abandon()
	if c, ok := cr.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// writer is one image being written to incomplete/<id>. It holds a lock on
// its file for as long as it lives, which is how Clean tells it from an
// abandoned file.
type writer struct {
	c    *Cache
	id   string
	f    *os.File
	h    hash.Hash // nil: nothing to check
	sum  Checksum
	size int64
	err  error // the first write error: from then on, data passes uncached
}

// startWrite begins caching id, or returns nil when id is cached or being
// written, or cannot be written: then the data passes through.
func (c *Cache) startWrite(id string, sum Checksum) (*writer, error) {
	if err := c.check("cache", id); err != nil {
		return nil, err
	}
	h, err := sum.newHash()
	if err != nil {
		return nil, fmt.Errorf("imagecache: cache %s: %w", id, err)
	}
	if c.IsCached(id) {
		return nil, nil
	}
	// The file is created under a private name and locked before it is
	// linked as incomplete/<id>, so that Clean never sees it unlocked;
	// the link fails if another writer has the id.
	// '+' keeps the private name from ever being taken for an id.
	tmp := c.path(incompleteDir, id+"+"+strconv.FormatUint(rand.Uint64(), 36))
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		c.log.Warn("imagecache: cannot start a write; passing through", "id", id, "err", err)
		return nil, nil
	}
	defer os.Remove(tmp)
	if ok, err := fsutil.TryLock(f); !ok {
		f.Close()
		c.log.Warn("imagecache: cannot lock a new file; passing through", "id", id, "err", err)
		return nil, nil
	}
	if err := os.Link(tmp, c.path(incompleteDir, id)); err != nil {
		f.Close()
		if !errors.Is(err, fs.ErrExist) {
			c.log.Warn("imagecache: cannot start a write; passing through", "id", id, "err", err)
		}
		return nil, nil
	}
	return &writer{c: c, id: id, f: f, h: h, sum: sum}, nil
}

func (w *writer) write(p []byte) {
	if w.h != nil {
		w.h.Write(p)
	}
	w.size += int64(len(p))
	if w.err != nil {
		return
	}
	if _, err := w.f.Write(p); err != nil {
		w.err = err
		w.c.log.Warn("imagecache: write failed; the image passes through uncached", "id", w.id, "err", err)
	}
}

// finish ends a write whose source is exhausted: it commits it, or
// abandons it. It reports whether the image was cached, why not if the
// disk was at fault, and a checksum mismatch.
func (w *writer) finish() (cached bool, writeErr, sumErr error) {
	if w.h != nil && !w.sum.matches(w.h) {
		w.abandon()
		return false, nil, mismatch(w.id, w.sum)
	}
	if w.err == nil {
		w.err = w.commit()
	}
	if w.err != nil {
		w.abandon()
		return false, fmt.Errorf("imagecache: cache %s: %w", w.id, w.err), nil
	}
	return true, nil, nil
}

func mismatch(id string, sum Checksum) error {
	return fmt.Errorf("imagecache: cache %s: %w: %s digest is not %s", id, ErrChecksum, sum.Algo, sum.Hex)
}

// commit syncs the file, moves it into data/, records it, takes it off
// the queue and, with AutoPrune, prunes if the cache is now over budget.
func (w *writer) commit() error {
	c := w.c
	if err := w.f.Sync(); err != nil {
		return err
	}
	lock, err := c.lockData()
	if err != nil {
		return err
	}
	var replaced int64 // the size of an image this one replaces
	if c.auto != nil {
		// The file's size is its record's, and a stat costs far less
		// than a metadata query; a measure corrects any difference.
		if fi, err := os.Lstat(c.path(dataDir, w.id)); err == nil {
			replaced = fi.Size()
		}
	}
	// Hits of an image this one replaces, or of one deleted before it,
	// are not its own.
	c.dropHits(w.id)
	if err := os.Rename(c.path(incompleteDir, w.id), c.path(dataDir, w.id)); err != nil {
		lock.Unlock()
		return err
	}
	w.f.Close() // releases the lock, now that the file has left incomplete/
	w.f = nil
	now := time.Now()
	r := Record{ID: w.id, Size: w.size, LastAccessed: now, LastModified: now, Checksum: w.sum}
	over := false
	if err := c.meta.put(r); err != nil {
		// The file is in data/ without a record: New adopts it.
		c.log.Warn("imagecache: cannot record a cached image", "id", w.id, "err", err)
		if c.auto != nil {
			c.auto.forget() // a record it replaced may be gone
		}
	} else if c.auto != nil {
		var merr error
		if over, merr = c.auto.committed(c.meta, w.size-replaced); merr != nil {
			c.log.Warn("imagecache: cannot measure the cache for AutoPrune", "err", merr)
		}
	}
	lock.Unlock()
	if err := os.Remove(c.path(queueDir, w.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("imagecache: cannot unqueue a cached image", "id", w.id, "err", err)
	}
	if over {
		if _, _, err := c.Prune(); err != nil {
			c.log.Warn("imagecache: auto prune", "err", err)
		}
	}
	return nil
}

// abandon moves the file to invalid/, where Clean finds it.
func (w *writer) abandon() {
	if w.f == nil {
		return
	}
	c := w.c
	if err := os.Rename(c.path(incompleteDir, w.id), c.path(invalidDir, w.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("imagecache: cannot move a failed write to invalid/", "id", w.id, "err", err)
	}
	w.f.Close()
	w.f = nil
}
