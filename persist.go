package arcache

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/arcache-go/arcache/internal/fsutil"
)

// Open reads the config file (the defaults when configFile is "") and
// returns a cache with its settings, as arcache's SlugCache did on start:
// with purge_cache_on_startup it first deletes the bin file and the debug
// PNGs; with preload it loads the bin file and then imports the images in
// cache_dir (see Refresh).
//
// A damaged bin file does not stop Open: it is moved to error_dir, logged,
// and the entries before the damage are kept. Other I/O errors do.
func Open(configFile string, opts ...Option) (*SlugCache, error) {
	cfg := DefaultConfig()
	if configFile != "" {
		var err error
		if cfg, err = LoadConfig(configFile); err != nil {
			return nil, err
		}
	}
	c, err := New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.start(); err != nil {
		c.abandon()
		return nil, err
	}
	return c, nil
}

func (c *SlugCache) start() error {
	if c.cfg.PurgeCacheOnStartup {
		if err := c.removeFiles(); err != nil {
			return err
		}
	}
	if !c.cfg.Preload {
		return nil
	}
	if err := c.Load(); err != nil && !errors.Is(err, ErrCorrupt) {
		return err
	}
	_, err := c.Refresh(false)
	return err
}

// Save writes every entry to the bin file, least recently used first, so
// that Load restores recency too. The file is replaced atomically, under
// an advisory lock that keeps two processes from saving at once. Save
// waits for the debug writer first. With bin_file empty it does nothing.
//
// Once a save holds them, images that Refresh imported are removed from
// cache_dir, unless debug_images keeps them there.
func (c *SlugCache) Save() error {
	if c.closed.Load() {
		return ErrClosed
	}
	return c.save()
}

func (c *SlugCache) save() error {
	c.flushDebug()
	if c.cfg.BinFile == "" {
		return nil
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()

	c.mu.Lock()
	changes := c.changes
	entries := c.lru.Values() // least recent first
	c.mu.Unlock()

	if err := writeBin(c.cfg.BinFile, entries); err != nil {
		return fmt.Errorf("arcache: save %s: %w", c.cfg.BinFile, err)
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

// Load adds the entries of the bin file to the cache, in the file's order,
// so that the most recently used entry saved is the most recently used
// one now; the cache's bounds still hold. A missing bin file loads
// nothing.
//
// A damaged bin file (truncated, altered, or of a newer format) is moved
// to error_dir and logged, the entries before the damage are kept, and
// Load returns an error matching ErrCorrupt.
func (c *SlugCache) Load() error {
	if c.closed.Load() {
		return ErrClosed
	}
	path := c.cfg.BinFile
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
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
	for _, r := range recs {
		if _, err := c.storeEntry(keyIndex(r.key), &entry{key: r.key, img: r.img}); err != nil {
			return err
		}
	}
	c.imported.Add(uint64(len(recs)))
	if damage == nil {
		c.mu.Lock()
		c.saved = c.changes
		c.mu.Unlock()
		return nil
	}
	// The cache stays changed, so that Close writes a good file in place
	// of the damaged one.
	err = fmt.Errorf("%w: %s after %d entries: %w", ErrCorrupt, path, len(recs), damage)
	if moved, qerr := fsutil.Quarantine(path, c.cfg.ErrorDir); qerr != nil {
		err = fmt.Errorf("%w (and it could not be moved to %s: %w)", err, c.cfg.ErrorDir, qerr)
	} else {
		c.quarantined.Add(1)
		err = fmt.Errorf("%w (moved to %s)", err, moved)
	}
	c.log.Warn("arcache: damaged bin file", "err", err)
	return fmt.Errorf("arcache: load: %w", err)
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

// Clear empties the cache. With persistent it also deletes the bin file
// and the debug PNGs in cache_dir, as arcache's clear(persistent=True) did.
func (c *SlugCache) Clear(persistent bool) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if c.debug != nil {
		c.debug.discard()
	}
	c.mu.Lock()
	c.lru.Purge()
	c.changes++
	c.mu.Unlock()
	if persistent {
		return c.removeFiles()
	}
	return nil
}

// removeFiles deletes the bin file and the debug PNGs: every PNG in
// cache_dir whose name is a key.
func (c *SlugCache) removeFiles() error {
	var errs []error
	if c.cfg.BinFile != "" {
		if err := os.Remove(c.cfg.BinFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	entries, err := os.ReadDir(c.cfg.CacheDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range entries {
		key, ok := strings.CutSuffix(e.Name(), ".png")
		if ok && e.Type().IsRegular() && ValidKey(key) {
			if err := os.Remove(filepath.Join(c.cfg.CacheDir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("arcache: remove cache files: %w", err)
	}
	return nil
}

// Close waits for the debug writer, saves the cache if it changed since
// the last Save or Load and bin_file is set, and releases it. Every later
// call returns ErrClosed (Get and Remove report false, Keys nil), and so
// does a second Close.
func (c *SlugCache) Close() error {
	if c.closed.Swap(true) {
		return ErrClosed
	}
	if c.debug != nil {
		c.debug.close()
	}
	c.mu.Lock()
	dirty := c.changes != c.saved
	c.mu.Unlock()
	var err error
	if dirty {
		err = c.save()
	}
	c.mu.Lock()
	c.lru.Purge()
	c.mu.Unlock()
	return err
}

// abandon closes a cache that failed to open, without saving it.
func (c *SlugCache) abandon() {
	c.closed.Store(true)
	if c.debug != nil {
		c.debug.close()
	}
}
