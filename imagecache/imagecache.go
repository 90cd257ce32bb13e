// Package imagecache is an on-disk LRU cache of image files keyed by image
// id, after OpenStack Glance's image cache: images are streamed into the
// cache while they are served, verified against a checksum, counted when
// read, pruned to a byte budget, and prefetched from a queue. Several
// goroutines and processes can share one cache directory.
//
// A cache directory holds:
//
//	data/        finished images, one file per id; nothing else
//	incomplete/  images being written
//	invalid/     writes that failed, until the next Clean
//	queue/       ids waiting for Prefetch
//	cache.db     the metadata, with the sqlite driver
//	*.lock       advisory locks that keep processes apart
//	queue.seq    the queue's insertion counter
package imagecache

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Errors, matched with errors.Is.
var (
	// ErrNotFound reports an id that is not cached.
	ErrNotFound = errors.New("imagecache: not found")
	// ErrInvalidID reports an id outside [A-Za-z0-9._-]{1,200}, or "."
	// or "..".
	ErrInvalidID = errors.New("imagecache: invalid image id")
	// ErrChecksum reports image data that does not match its checksum.
	ErrChecksum = errors.New("imagecache: checksum mismatch")
	// ErrClosed reports a call on a closed cache.
	ErrClosed = errors.New("imagecache: cache is closed")
	// ErrConfig reports settings New cannot work with.
	ErrConfig = errors.New("imagecache: bad configuration")
)

// Driver names for Config.Driver.
const (
	DriverSQLite = "sqlite"
	DriverXattr  = "xattr"
)

// Config holds a cache's settings.
type Config struct {
	Dir       string        // the cache directory; required
	MaxSize   int64         // the byte budget Prune keeps the cache to
	StallTime time.Duration // Clean's stall time when it is given 0; 0: a day
	Driver    string        // DriverSQLite (the default) or DriverXattr
	AutoPrune bool          // prune when a new image takes the cache over MaxSize
}

// Record is what the cache knows of one cached image.
type Record struct {
	ID                         string
	Size, Hits                 int64
	LastAccessed, LastModified time.Time
	Checksum                   Checksum
}

// Option configures New.
type Option func(*Cache)

// WithLogger sends the cache's log lines to l instead of slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *Cache) {
		if l != nil {
			c.log = l
		}
	}
}

// Cache is an on-disk image cache. It is safe for concurrent use, and
// several processes may use one directory at once.
type Cache struct {
	cfg    Config
	log    *slog.Logger
	meta   metadata
	driver string

	mu     sync.Mutex
	closed bool
	// pruneMu keeps this process's prunes apart; a lock file keeps
	// other processes' out.
	pruneMu sync.Mutex
}

const (
	dataDir       = "data"
	incompleteDir = "incomplete"
	invalidDir    = "invalid"
	queueDir      = "queue"
	dbFile        = "cache.db"
	defaultStall  = 24 * time.Hour
)

// New opens the cache directory cfg.Dir, creating its layout, and adopts
// files in data/ that have no metadata record.
func New(cfg Config, opts ...Option) (*Cache, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: no cache directory", ErrConfig)
	}
	if cfg.MaxSize < 0 {
		return nil, fmt.Errorf("%w: MaxSize %d is negative", ErrConfig, cfg.MaxSize)
	}
	if cfg.StallTime == 0 {
		cfg.StallTime = defaultStall
	}
	c := &Cache{cfg: cfg, log: slog.Default()}
	for _, o := range opts {
		o(c)
	}
	for _, d := range []string{dataDir, incompleteDir, invalidDir, queueDir} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("imagecache: %w", err)
		}
	}
	var err error
	switch cfg.Driver {
	case "", DriverSQLite:
		c.meta, err = openSQLite(cfg.Dir, c.log)
		c.driver = DriverSQLite
	case DriverXattr:
		if perr := probeXattr(filepath.Join(cfg.Dir, dataDir)); perr != nil {
			c.log.Warn("imagecache: extended attributes do not work here; using sqlite", "dir", cfg.Dir, "err", perr)
			c.meta, err = openSQLite(cfg.Dir, c.log)
			c.driver = DriverSQLite
		} else {
			c.meta = &xattrMeta{dir: filepath.Join(cfg.Dir, dataDir)}
			c.driver = DriverXattr
		}
	default:
		return nil, fmt.Errorf("%w: unknown driver %q", ErrConfig, cfg.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("imagecache: open %s metadata: %w", c.driver, err)
	}
	if err := c.adopt(); err != nil {
		c.meta.close()
		return nil, err
	}
	return c, nil
}

// Driver names the metadata driver in use: DriverSQLite or DriverXattr.
func (c *Cache) Driver() string { return c.driver }

// Close releases the cache. Later calls return ErrClosed; so does a
// second Close.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.closed = true
	return c.meta.close()
}

// check reports a closed cache or an invalid id, before anything on disk
// is touched.
func (c *Cache) check(id string) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if !ValidID(id) {
		return fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	return nil
}

// ValidID reports whether id can name a cached image: 1 to 200 bytes of
// [A-Za-z0-9._-], and not "." or "..".
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > 200 || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '.' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

func (c *Cache) path(dir, id string) string { return filepath.Join(c.cfg.Dir, dir, id) }

// adopt records files in data/ that have no record, as if they had just
// been written, so that size and pruning see them.
func (c *Cache) adopt() error {
	entries, err := os.ReadDir(filepath.Join(c.cfg.Dir, dataDir))
	if err != nil {
		return fmt.Errorf("imagecache: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !ValidID(e.Name()) {
			continue
		}
		if _, ok, err := c.meta.get(e.Name()); err != nil || ok {
			if err != nil {
				return fmt.Errorf("imagecache: adopt %s: %w", e.Name(), err)
			}
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		r := Record{ID: e.Name(), Size: fi.Size(), LastAccessed: fi.ModTime(), LastModified: fi.ModTime()}
		if err := c.meta.put(r); err != nil {
			return fmt.Errorf("imagecache: adopt %s: %w", e.Name(), err)
		}
		c.log.Info("imagecache: adopted a file without a record", "id", e.Name(), "size", fi.Size())
	}
	return nil
}
