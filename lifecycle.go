package arcache

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Option configures New and Open.
type Option func(*options)

type options struct {
	log  *slog.Logger
	tier Tier
}

// WithLogger sends the cache's log lines to l instead of slog.Default().
// WithLogger(nil) discards them.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		o.log = l
	}
}

// New returns a cache with the settings of cfg. With
// PurgeCacheOnStartup it first deletes the bin file and the debug PNGs;
// with Preload it then loads the bin file and imports the images in
// CacheDir (see [SlugCache.Load] and [SlugCache.Refresh]).
//
// A damaged bin file does not stop New: it is moved to ErrorDir, logged,
// and the entries before the damage are kept. A bin file that cannot be
// read at all does, so that nothing overwrites it.
func New(cfg Config, opts ...Option) (*SlugCache, error) {
	if key, err := cfg.check(); err != nil {
		return nil, fmt.Errorf("arcache: new: %w: %s: %w", ErrConfig, key, err)
	}
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	c := &SlugCache{cfg: cfg, log: o.log, binFile: cfg.binFile()}
	if o.tier != nil {
		c.tier = newTier(o.tier, cfg.MaxImagePixels, c.log)
	}
	if c.binFile == "" {
		c.cfg.BinFile = NoBinFile
	} else {
		c.cfg.BinFile = c.binFile
	}
	lru, err := simplelru.NewLRU(cfg.CacheMax, c.left)
	if err != nil {
		return nil, fmt.Errorf("arcache: new: %w: %w", ErrConfig, err)
	}
	c.lru = lru
	if cfg.DebugImages {
		c.debug = newDebugWriter(cfg.CacheDir, c.log)
	}
	if err := c.start(); err != nil {
		c.abandon()
		return nil, err
	}
	return c, nil
}

// Open reads the config file (the defaults when configFile is "") and
// returns New's cache with its settings.
func Open(configFile string, opts ...Option) (*SlugCache, error) {
	cfg := DefaultConfig()
	if configFile != "" {
		var err error
		if cfg, err = LoadConfig(configFile); err != nil {
			return nil, err
		}
	}
	return New(cfg, opts...)
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
	// The files Refresh refuses are quarantined and logged: they must
	// not keep the program from starting.
	_, _, err := c.refresh(false)
	return err
}

// Config returns the settings the cache was made with. BinFile is the
// path in use, or NoBinFile.
func (c *SlugCache) Config() Config { return c.cfg }

// Clear empties the cache. With persistent it also deletes the bin file
// and the debug PNGs in CacheDir.
func (c *SlugCache) Clear(persistent bool) error {
	if c.closed.Load() {
		return fmt.Errorf("arcache: clear: %w", ErrClosed)
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
	if c.binFile != "" {
		if err := os.Remove(c.binFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
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
// the last Save or Load and a bin file is set, and releases it. Every
// later call returns an error matching ErrClosed (Get and Remove report
// false, Keys nil), and so does a second Close.
func (c *SlugCache) Close() error {
	if c.closed.Swap(true) {
		return fmt.Errorf("arcache: close: %w", ErrClosed)
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
