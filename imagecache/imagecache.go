package imagecache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Errors, matched with errors.Is. The errors the package returns wrap
// them in "imagecache: <operation> <subject>: ", so their own text has no
// prefix.
var (
	// ErrNotFound reports an id that is not cached.
	ErrNotFound = errors.New("not found")
	// ErrInvalidID reports an id outside [A-Za-z0-9._-]{1,200}, or "."
	// or "..".
	ErrInvalidID = errors.New("invalid image id")
	// ErrChecksum reports image data that does not match its checksum.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrClosed reports a call on a closed cache.
	ErrClosed = errors.New("cache is closed")
	// ErrConfig reports settings New cannot work with.
	ErrConfig = errors.New("bad configuration")
)

// Driver names for Config.Driver.
const (
	DriverSQLite = "sqlite"
	DriverXattr  = "xattr"
	// DriverPostgres keeps the records of many nodes' caches in one
	// PostgreSQL database, Config.DSN, each node's under its URL,
	// Config.Node; the files stay on each node's disk.
	DriverPostgres = "postgres"
)

// Config holds a cache's settings.
type Config struct {
	Dir       string        // the cache directory; required
	MaxSize   int64         // the byte budget Prune keeps the cache to
	StallTime time.Duration // Clean's stall time when it is given 0; 0: a day
	Driver    string        // DriverSQLite (the default), DriverXattr or DriverPostgres
	DSN       string        // Driver "postgres": the database, e.g. "postgres://cache@db/images" or "host=/run/postgresql dbname=images"
	Node      string        // Driver "postgres": this node's URL, as Glance's worker_self_reference_url

	// AutoPrune prunes when a commit takes the cache over MaxSize, which
	// must then be above 0. Commits go by a running estimate of the size
	// that this process keeps, rather than read every record. Other
	// processes sharing the directory change the size too, so a commit
	// measures it again from the metadata when the last measure is about
	// a second old (or ten times as long as that measure took, for a
	// cache too large to read in a tenth of a second).
	AutoPrune bool
}

// Record is what the cache knows of one cached image.
type Record struct {
	ID                         string
	Size, Hits                 int64
	LastAccessed, LastModified time.Time
	Checksum                   Checksum
}

// Option configures New.
type Option func(*options)

type options struct {
	log *slog.Logger
}

// WithLogger sends the cache's log lines to l instead of slog.Default();
// WithLogger(nil) discards them.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// Cache is an on-disk image cache. It is safe for concurrent use, and
// several processes may use one directory at once.
type Cache struct {
	cfg    Config
	root   string // the cleaned cfg.Dir and a separator
	log    *slog.Logger
	meta   metadata
	driver string
	auto   *autoPrune // nil without Config.AutoPrune
	hits   hitBatch

	mu     sync.Mutex
	closed bool
	// Work the cache runs for no caller, such as NewHandler's fetches,
	// ends with stop, which Close cancels before it waits for bg.
	stop   context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup
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
		return nil, fmt.Errorf("imagecache: open: %w: no cache directory", ErrConfig)
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("imagecache: open %s: %w", cfg.Dir, err)
	}
	if cfg.StallTime == 0 {
		cfg.StallTime = defaultStall
	}
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	c, err := openCache(cfg, o.log)
	if err != nil {
		return nil, fmt.Errorf("imagecache: open %s: %w", cfg.Dir, err)
	}
	return c, nil
}

// check reports settings that New cannot work with, before anything on
// disk is touched. The driver's name is checked where it is chosen.
func (cfg Config) check() error {
	if cfg.MaxSize < 0 {
		return fmt.Errorf("%w: MaxSize %d is negative", ErrConfig, cfg.MaxSize)
	}
	if cfg.AutoPrune && cfg.MaxSize == 0 {
		// It would delete every image as soon as it was cached.
		return fmt.Errorf("%w: AutoPrune needs a MaxSize above 0", ErrConfig)
	}
	if cfg.Driver == DriverPostgres {
		if cfg.DSN == "" || cfg.Node == "" {
			return fmt.Errorf("%w: driver %s needs a DSN and a Node", ErrConfig, DriverPostgres)
		}
	} else if cfg.DSN != "" || cfg.Node != "" {
		// A DSN given to another driver would be ignored silently.
		return fmt.Errorf("%w: DSN and Node are for driver %s only", ErrConfig, DriverPostgres)
	}
	return nil
}

// openCache does New's work once the settings are checked.
func openCache(cfg Config, log *slog.Logger) (*Cache, error) {
	for _, d := range []string{dataDir, incompleteDir, invalidDir, queueDir} {
		if err := os.MkdirAll(filepath.Join(cfg.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	meta, driver, err := openMetadata(cfg, log)
	if err != nil {
		return nil, err
	}
	root := filepath.Clean(cfg.Dir) + string(filepath.Separator)
	c := &Cache{cfg: cfg, root: root, log: log, meta: meta, driver: driver}
	c.stop, c.cancel = context.WithCancel(context.Background())
	if err := c.adopt(); err != nil {
		meta.close()
		return nil, err
	}
	if cfg.AutoPrune {
		if c.auto, err = c.newAutoPrune(); err != nil {
			meta.close()
			return nil, err
		}
	}
	return c, nil
}

// Driver names the metadata driver in use: DriverSQLite, DriverXattr or
// DriverPostgres.
func (c *Cache) Driver() string { return c.driver }

// Close ends the cache's own work (the fetches of NewHandler's handlers
// that no request waits for any more are abandoned: nothing of theirs is
// cached), writes the hits counted in memory and releases the cache.
// Later calls return ErrClosed; so does a second Close.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("imagecache: close: %w", ErrClosed)
	}
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.bg.Wait()
	if err := errors.Join(c.closeHits(), c.meta.close()); err != nil {
		return fmt.Errorf("imagecache: close: %w", err)
	}
	return nil
}

// background runs fn on a goroutine of its own, with a context that has
// parent's values but ends only when the cache closes, and reports
// whether it did: a closed cache runs nothing.
func (c *Cache) background(parent context.Context, fn func(ctx context.Context)) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.bg.Add(1)
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	stop := context.AfterFunc(c.stop, cancel)
	go func() {
		defer c.bg.Done()
		defer cancel()
		defer stop()
		fn(ctx)
	}()
	return true
}

// check reports an invalid id or a closed cache, before anything on disk
// is touched, as an error of the operation op on id.
func (c *Cache) check(op, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("imagecache: %s %q: %w", op, id, ErrInvalidID)
	}
	if c.isClosed() {
		return fmt.Errorf("imagecache: %s %s: %w", op, id, ErrClosed)
	}
	return nil
}

// checkOpen reports a closed cache as an error of the operation op.
func (c *Cache) checkOpen(op string) error {
	if c.isClosed() {
		return fmt.Errorf("imagecache: %s: %w", op, ErrClosed)
	}
	return nil
}

func (c *Cache) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
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

// path names the file id in the layout directory dir. It joins by hand,
// on the hit path, what filepath.Join would: dir is one of the layout's
// names and id a single path element, so there is nothing to clean.
func (c *Cache) path(dir, id string) string { return c.root + dir + string(filepath.Separator) + id }

// adopt records files in data/ that have no record, as if they had been
// written at their modification time, so that size and pruning see them.
func (c *Cache) adopt() error {
	entries, err := os.ReadDir(filepath.Join(c.cfg.Dir, dataDir))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !ValidID(e.Name()) {
			continue
		}
		if _, ok, err := c.meta.get(e.Name()); err != nil || ok {
			if err != nil {
				return fmt.Errorf("adopt %s: %w", e.Name(), err)
			}
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone meanwhile
		}
		r := Record{ID: e.Name(), Size: fi.Size(), LastAccessed: fi.ModTime(), LastModified: fi.ModTime()}
		if err := c.meta.put(r); err != nil {
			return fmt.Errorf("adopt %s: %w", e.Name(), err)
		}
		c.log.Info("imagecache: adopted a file without a record", "id", e.Name(), "size", fi.Size())
	}
	return nil
}
