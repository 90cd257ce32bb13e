package arcache

import (
	"fmt"
	"image"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// SlugCache is an in-memory LRU of images keyed by slug, bounded by entry
// count and by pixel bytes. It is safe for concurrent use.
type SlugCache struct {
	cfg     Config
	log     *slog.Logger
	binFile string // "" when persistence is off

	mu      sync.Mutex
	lru     *simplelru.LRU[uint64, *entry]
	bytes   int64  // pixel bytes held; guarded by mu
	changes uint64 // count of stores and removals; guarded by mu
	saved   uint64 // changes as of the last Save or Load; guarded by mu

	saveMu    sync.Mutex   // one Save at a time in this process
	refreshMu sync.Mutex   // one Refresh at a time
	debug     *debugWriter // nil unless debug_images

	flights flightGroup
	tier    *tier // nil without WithTier
	closed  atomic.Bool

	// watchers are told of every entry that leaves the LRU; Views keep
	// their toolkit forms of images by them. Guarded by mu.
	watchers []*watcher

	hits, misses, builds, buildErrors, evictions atomic.Uint64
	imported, quarantined                        atomic.Uint64
}

// entry is one cached image. Entries are never changed once stored, but
// for gone.
type entry struct {
	key  string
	img  image.Image
	size int64 // pixel bytes
	// placeholder marks the ErrorImage standing for a file Refresh
	// could not read: Get returns it, Provide rebuilds, Save skips it.
	placeholder bool
	src         *importedFile // the file Refresh read it from, if any
	// gone is set when the entry leaves the LRU, before the watchers
	// are told, so that a view made for it meanwhile is not kept.
	gone atomic.Bool
}

// watcher is told, under the cache's lock, of each entry that leaves.
type watcher struct{ left func(h uint64, e *entry) }

// left is the LRU's eviction callback, which every way out of the cache
// goes through: eviction by either bound, Remove, Clear, Close, and the
// replacement of an entry (storeLocked removes the old one first).
// c.mu is held.
func (c *SlugCache) left(h uint64, e *entry) {
	c.bytes -= e.size
	e.gone.Store(true)
	for _, w := range c.watchers {
		w.left(h, e)
	}
}

// Stats is a snapshot of a cache's counters.
type Stats struct {
	Hits        uint64 // lookups that found an image of the wanted type
	Misses      uint64 // lookups that did not
	Builds      uint64 // constructor calls made by Provide
	BuildErrors uint64 // constructor calls that failed, panicked or gave nil
	Evictions   uint64 // entries dropped to respect cache_max or max_bytes
	Entries     int    // entries held now
	Bytes       int64  // pixel bytes held now
	Imported    uint64 // images brought in by Load or Refresh
	Quarantined uint64 // files moved to error_dir
	TierHits    uint64 // local misses answered by the tier (see WithTier)
	TierMisses  uint64 // local misses the tier could not answer at first
	TierErrors  uint64 // tier calls that failed, and values that did not decode
}

// Get returns the image stored under key and makes it the most recently
// used. It reports false where arcache returned -1: no such key, or a
// closed cache.
func (c *SlugCache) Get(key string) (image.Image, bool) {
	if c.closed.Load() {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.lru.Get(keyIndex(key))
	c.mu.Unlock()
	if !ok || e.key != key {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return e.img, true
}

// lookup is Get by index, for Provide's hit path. Placeholders are not
// found.
func (c *SlugCache) lookup(h uint64) (*entry, bool) {
	c.mu.Lock()
	e, ok := c.lru.Get(h)
	c.mu.Unlock()
	if !ok || e.placeholder {
		return nil, false
	}
	return e, true
}

// Put stores img under key as the most recently used entry, replacing what
// was there. The key must be slug-safe (see ValidKey); two keys that end in
// the same "-" and 16-digit hash, as Provide's keys do, name one entry.
// An image larger than max_bytes is not kept.
func (c *SlugCache) Put(key string, img image.Image) error {
	if err := checkPut("put", key, img); err != nil {
		return err
	}
	if _, err := c.store(keyIndex(key), key, img); err != nil {
		return fmt.Errorf("arcache: put %s: %w", key, err)
	}
	return nil
}

// checkPut checks what op (put or update) is given to store.
func checkPut(op, key string, img image.Image) error {
	if !ValidKey(key) {
		return fmt.Errorf("arcache: %s %q: %w", op, key, ErrInvalidKey)
	}
	if isNil(img) {
		return fmt.Errorf("arcache: %s %s: %w", op, key, ErrNilImage)
	}
	return nil
}

// Update puts every image of images, in key order. Nothing is stored
// unless every key is valid.
func (c *SlugCache) Update(images map[string]image.Image) error {
	keys := make([]string, 0, len(images))
	for k, img := range images {
		if err := checkPut("update", k, img); err != nil {
			return err
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, err := c.store(keyIndex(k), k, images[k]); err != nil {
			return fmt.Errorf("arcache: update %s: %w", k, err)
		}
	}
	return nil
}

// store adds or replaces the image under key, and hands it to the debug
// writer.
// It returns the entry stored, or nil when the image was too large to
// keep.
func (c *SlugCache) store(h uint64, key string, img image.Image) (*entry, error) {
	e := &entry{key: key, img: img}
	kept, err := c.storeEntry(h, e)
	if !kept {
		return nil, err
	}
	if c.debug != nil {
		c.debug.enqueue(key, img)
	}
	return e, err
}

// storeEntry adds or replaces the entry at index h as the most recently
// used, and evicts what the bounds require. It reports whether e was
// kept: an image larger than max_bytes is not.
func (c *SlugCache) storeEntry(h uint64, e *entry) (bool, error) {
	e.size = pixelBytes(e.img)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.storeLocked(h, e)
}

func (c *SlugCache) storeLocked(h uint64, e *entry) (bool, error) {
	if c.closed.Load() {
		return false, ErrClosed
	}
	c.changes++
	if max := c.cfg.MaxBytes; max > 0 && e.size > max {
		// Too large to keep; a stale image under the same key must not
		// outlive it.
		c.lru.Remove(h)
		c.log.Debug("arcache: image larger than max_bytes not kept", "key", e.key, "bytes", e.size, "max_bytes", max)
		return false, nil
	}
	// Not Add over the old entry, which would replace it without telling
	// left.
	c.lru.Remove(h)
	if c.lru.Add(h, e) {
		c.evictions.Add(1)
	}
	c.bytes += e.size
	for c.cfg.MaxBytes > 0 && c.bytes > c.cfg.MaxBytes {
		c.lru.RemoveOldest()
		c.evictions.Add(1)
	}
	return true, nil
}

// holds reports whether key holds an image that is not a placeholder.
func (c *SlugCache) holds(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.holdsLocked(key)
}

func (c *SlugCache) holdsLocked(key string) bool {
	e, ok := c.lru.Peek(keyIndex(key))
	return ok && e.key == key && !e.placeholder
}

// storePlaceholder stores img as the placeholder of key, unless a real
// image has been stored there meanwhile.
func (c *SlugCache) storePlaceholder(key string, img image.Image) {
	e := &entry{key: key, img: img, placeholder: true, size: pixelBytes(img)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holdsLocked(key) {
		c.storeLocked(keyIndex(key), e)
	}
}

// Keys returns the keys held, least recently used first.
func (c *SlugCache) Keys() []string {
	if c.closed.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, c.lru.Len())
	for _, e := range c.lru.Values() {
		keys = append(keys, e.key)
	}
	return keys
}

// Remove deletes key and reports whether it was there.
func (c *SlugCache) Remove(key string) bool {
	if c.closed.Load() {
		return false
	}
	h := keyIndex(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.lru.Peek(h); !ok || e.key != key {
		return false
	}
	c.changes++
	return c.lru.Remove(h)
}

// Len returns the number of entries held.
func (c *SlugCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Stats returns a snapshot of the cache's counters.
func (c *SlugCache) Stats() Stats {
	c.mu.Lock()
	entries, bytes := c.lru.Len(), c.bytes
	c.mu.Unlock()
	s := Stats{
		Hits:        c.hits.Load(),
		Misses:      c.misses.Load(),
		Builds:      c.builds.Load(),
		BuildErrors: c.buildErrors.Load(),
		Evictions:   c.evictions.Load(),
		Entries:     entries,
		Bytes:       bytes,
		Imported:    c.imported.Load(),
		Quarantined: c.quarantined.Load(),
	}
	if t := c.tier; t != nil {
		s.TierHits, s.TierMisses, s.TierErrors = t.hits.Load(), t.misses.Load(), t.errors.Load()
	}
	return s
}
