package arcache

import (
	"bufio"
	"encoding/gob"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/arcache-go/arcache/internal/fsutil"
)

// Save writes every entry to the bin file, least recently used first, so
// that Load restores recency too. The file is replaced atomically, under
// an advisory lock that keeps two processes from saving at once. Save
// waits for the debug writer first. With persistence off it does nothing.
//
// Once a save holds them, images that Refresh imported are removed from
// CacheDir, unless DebugImages keeps them there.
func (c *SlugCache) Save() error {
	if c.closed.Load() {
		return fmt.Errorf("arcache: save: %w", ErrClosed)
	}
	return c.save()
}

func (c *SlugCache) save() error {
	c.flushDebug()
	if c.binFile == "" {
		return nil
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()

	c.mu.Lock()
	changes := c.changes
	entries := c.lru.Values() // least recent first
	c.mu.Unlock()

	if err := writeBin(c.binFile, entries); err != nil {
		return fmt.Errorf("arcache: save %s: %w", c.binFile, err)
	}
	c.mu.Lock()
	c.saved = max(c.saved, changes)
	c.mu.Unlock()

	if !c.cfg.DebugImages {
		for _, e := range entries {
			if e.src != nil && !e.placeholder {
				e.src.remove(c.log)
			}
		}
	}
	return nil
}

func writeBin(path string, entries []*entry) error {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	lock, err := fsutil.LockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer lock.Unlock()
	fsutil.RemoveStaleTemps(path)
	return fsutil.WriteAtomic(path, 1<<20, func(w io.Writer) error { return encodeBin(w, entries) })
}

// SaveTo writes every entry to w in the bin file's format, as Save writes
// them to the bin file; Save's record of what changed is left alone.
func (c *SlugCache) SaveTo(w io.Writer) error {
	if c.closed.Load() {
		return fmt.Errorf("arcache: save: %w", ErrClosed)
	}
	c.mu.Lock()
	entries := c.lru.Values()
	c.mu.Unlock()
	if err := encodeBin(w, entries); err != nil {
		return fmt.Errorf("arcache: save: %w", err)
	}
	return nil
}

// Load adds the entries of the bin file to the cache, in the file's order,
// so that the most recently used entry saved is the most recently used
// one now; the cache's bounds still hold. A missing bin file loads
// nothing.
//
// A damaged bin file (truncated, altered, or of a newer format) is moved
// to ErrorDir and logged, the entries before the damage are kept, and
// Load returns an error matching ErrCorrupt. A file that cannot be read
// is left where it is and loads nothing.
func (c *SlugCache) Load() error {
	if c.closed.Load() {
		return fmt.Errorf("arcache: load: %w", ErrClosed)
	}
	path := c.binFile
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil // a file under a file cannot exist, and Save says so
	}
	if err != nil {
		return fmt.Errorf("arcache: load %s: %w", path, err)
	}
	// A file that cannot be read is not damaged: leave it where it is,
	// and load nothing, rather than let a later Save replace it.
	r := &readErrs{r: f}
	recs, damage := readBin(bufio.NewReaderSize(r, 1<<20))
	f.Close()
	if r.err != nil {
		return fmt.Errorf("arcache: load %s: %w", path, r.err)
	}
	if err := c.storeLoaded(recs); err != nil {
		return fmt.Errorf("arcache: load %s: %w", path, err)
	}
	if damage == nil {
		c.mu.Lock()
		c.saved = c.changes
		c.mu.Unlock()
		return nil
	}
	// The cache stays changed, so that Close writes a good file in place
	// of the damaged one.
	err = fmt.Errorf("arcache: load %s: %w after %d entries: %w", path, ErrCorrupt, len(recs), damage)
	if moved, qerr := fsutil.Quarantine(path, c.cfg.ErrorDir); qerr != nil {
		err = fmt.Errorf("%w (and it could not be moved to %s: %w)", err, c.cfg.ErrorDir, qerr)
	} else {
		c.quarantined.Add(1)
		err = fmt.Errorf("%w (moved to %s)", err, moved)
	}
	c.log.Warn("arcache: damaged bin file", "err", err)
	return err
}

// LoadFrom adds the entries of a bin file read from r, as Load does, and
// returns how many it added. A program can start warm from a bin file
// built into it with go:embed. A damaged stream keeps the entries before
// the damage and returns an error matching ErrCorrupt; an error reading
// r keeps them too, and is returned as it is.
func (c *SlugCache) LoadFrom(r io.Reader) (int, error) {
	if c.closed.Load() {
		return 0, fmt.Errorf("arcache: load: %w", ErrClosed)
	}
	re := &readErrs{r: r}
	n, damage, err := scanBin(bufio.NewReader(re), func(key string, img image.Image) error {
		if _, err := c.storeEntry(keyIndex(key), &entry{key: key, img: img}); err != nil {
			return err
		}
		c.imported.Add(1)
		return nil
	})
	switch {
	case err != nil:
		return n, fmt.Errorf("arcache: load: %w", err)
	case re.err != nil:
		return n, fmt.Errorf("arcache: load after %d entries: %w", n, re.err)
	case damage != nil:
		return n, fmt.Errorf("arcache: load: %w after %d entries: %w", ErrCorrupt, n, damage)
	}
	return n, nil
}

// storeLoaded stores the records read from a bin file.
func (c *SlugCache) storeLoaded(recs []loaded) error {
	for _, r := range recs {
		if _, err := c.storeEntry(keyIndex(r.key), &entry{key: r.key, img: r.img}); err != nil {
			return err
		}
	}
	c.imported.Add(uint64(len(recs)))
	return nil
}

// readErrs remembers the read errors of r other than io.EOF, which tell an
// unreadable file from a damaged one.
type readErrs struct {
	r   io.Reader
	err error
}

func (e *readErrs) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// The bin file's pixels pass through a CRC-32C, which costs about a third
// as much as the writing or reading itself; both directions run it on a
// second goroutine, beside the gob encoder or decoder.

// pipeDepth is how many records may wait between the two goroutines.
const pipeDepth = 8

// encodeBin writes a bin file of entries, skipping placeholders.
func encodeBin(w io.Writer, entries []*entry) error {
	enc := gob.NewEncoder(w)
	if err := enc.Encode(binHeader{Magic: binMagic, Version: binVersion}); err != nil {
		return err
	}
	recs := make(chan []byte, pipeDepth)
	stop := make(chan struct{})
	defer func() {
		close(stop)
		for range recs { // wait for the goroutine to end
		}
	}()
	go func() {
		defer close(recs)
		for _, e := range entries {
			if e.placeholder {
				continue // never saved: the file it stands for is quarantined
			}
			select {
			case recs <- newRecord(e.key, e.img).appendBinary(nil):
			case <-stop:
				return
			}
		}
	}()
	n := 0
	for r := range recs {
		if err := enc.Encode(binEntry{Bytes: r}); err != nil {
			return err
		}
		n++
	}
	return enc.Encode(binEntry{Trailer: &binTrailer{Count: n}})
}

type loaded struct {
	key string
	img image.Image
}

// readBin decodes a bin file whole. It returns the records read before
// any damage, and the damage.
func readBin(r io.Reader) ([]loaded, error) {
	var recs []loaded
	_, damage, _ := scanBin(r, func(key string, img image.Image) error {
		recs = append(recs, loaded{key, img})
		return nil
	})
	return recs, damage
}

// scanBin decodes a bin file, handing each record to fn in file order as
// it is checked. It returns how many records fn accepted, the damage
// found, if any, and fn's error, which stops it.
func scanBin(r io.Reader, fn func(key string, img image.Image) error) (n int, damage, stopped error) {
	dec := gob.NewDecoder(r)
	var h binHeader
	if err := dec.Decode(&h); err != nil {
		return 0, fmt.Errorf("header: %w", err), nil
	}
	if h.Magic != binMagic {
		return 0, fmt.Errorf("not an arcache bin file"), nil
	}
	if h.Version != binVersion && h.Version != 1 {
		return 0, fmt.Errorf("format version %d, this arcache reads versions 1 to %d", h.Version, binVersion), nil
	}

	// The decoder runs ahead, to the first error; io.EOF after the
	// trailer is the one error a good file ends with.
	type decoded struct {
		e   binEntry
		err error
	}
	entries := make(chan decoded, pipeDepth)
	stop := make(chan struct{})
	defer func() {
		// The decoder reads r: it must be done before r's owner goes on.
		close(stop)
		for range entries {
		}
	}()
	go func() {
		defer close(entries)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var d decoded // fresh each time: gob leaves absent fields alone
			d.err = dec.Decode(&d.e)
			select {
			case entries <- d:
			case <-stop:
				return
			}
			if d.err != nil {
				return
			}
		}
	}()

	for d := range entries {
		switch e := d.e; {
		case d.err != nil:
			if d.err == io.EOF {
				d.err = io.ErrUnexpectedEOF // the trailer is missing
			}
			return n, fmt.Errorf("record %d: %w", n, d.err), nil
		case e.Bytes != nil || e.Record != nil:
			rec := e.Record
			if e.Bytes != nil {
				var err error
				if rec, err = parseRecord(e.Bytes); err != nil {
					return n, fmt.Errorf("record %d: %w", n, err), nil
				}
			}
			img, err := rec.image()
			if err != nil {
				return n, fmt.Errorf("record %d: %w", n, err), nil
			}
			if err := fn(rec.Key, img); err != nil {
				return n, nil, err
			}
			n++
		case e.Trailer != nil:
			if e.Trailer.Count != n {
				return n, fmt.Errorf("trailer counts %d records, file holds %d", e.Trailer.Count, n), nil
			}
			if end := <-entries; end.err != io.EOF {
				return n, errors.New("data after the trailer"), nil
			}
			return n, nil, nil
		default:
			return n, fmt.Errorf("record %d: empty", n), nil
		}
	}
	panic("unreachable: the decoder stops only after sending an error")
}
