package imagecache

import (
	"sync"
	"time"
)

// Hits are counted in memory and written to the metadata in batches, so
// that a hit costs about what reading the file does: a metadata write per
// read cost two to five times that. A batch is written within
// hitFlushDelay of its first hit, and before anything that reads hit
// counts or access times in this process (HitCount, CachedImages, Prune),
// so that this process always sees exact counts and other processes see
// them within a second. A crash loses at most the hits of that delay.
const hitFlushDelay = 500 * time.Millisecond

// hitWarnEvery is how often, at most, a failing write of hits is logged.
const hitWarnEvery = 10 * time.Second

// pendingHit is what a batch holds of one id: how many hits, and when the
// last was.
type pendingHit struct {
	n  int64
	at time.Time
}

// hitBatch is the hits not yet written.
type hitBatch struct {
	mu      sync.Mutex
	pending map[string]pendingHit
	armed   bool      // a flush is scheduled
	closed  bool      // the metadata is closed: hits are no longer counted
	warned  time.Time // when a failed write was last logged

	// flushing keeps flushes apart, and makes a reader that flushes wait
	// for a batch another goroutine has taken but not yet written.
	flushing sync.Mutex
}

// countHit counts one read of id to its end, now.
func (c *Cache) countHit(id string) {
	at := time.Now()
	b := &c.hits
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return // a read that outlived the cache
	}
	if b.pending == nil {
		b.pending = make(map[string]pendingHit)
	}
	p := b.pending[id]
	b.pending[id] = pendingHit{n: p.n + 1, at: at}
	if !b.armed {
		b.armed = true
		time.AfterFunc(hitFlushDelay, func() { c.flushHits() })
	}
}

// flushHits writes the pending hits. A batch that cannot be written is
// kept for the next flush and logged, not lost.
func (c *Cache) flushHits() error { return c.writeHits(false) }

// closeHits writes the pending hits for the last time: later hits are not
// counted, since the metadata closes next.
func (c *Cache) closeHits() error { return c.writeHits(true) }

func (c *Cache) writeHits(final bool) error {
	b := &c.hits
	b.flushing.Lock()
	defer b.flushing.Unlock()
	b.mu.Lock()
	batch, closed := b.pending, b.closed
	b.pending, b.armed = nil, false
	b.closed = closed || final
	b.mu.Unlock()
	if len(batch) == 0 || closed {
		return nil
	}
	err := c.meta.addHits(batch)
	if err == nil || final {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// A metadata store that is away fails every flush: one line in a
	// while says so.
	if now := time.Now(); now.Sub(b.warned) >= hitWarnEvery {
		b.warned = now
		c.log.Warn("imagecache: cannot write hit counts; keeping them for the next try", "ids", len(batch), "err", err)
	}
	for id, p := range b.pending { // hits counted meanwhile
		q := batch[id]
		batch[id] = pendingHit{n: q.n + p.n, at: p.at}
	}
	b.pending = batch
	if !b.armed {
		b.armed = true
		time.AfterFunc(hitFlushDelay, func() { c.flushHits() })
	}
	return err
}

// dropHits forgets the pending hits of ids, whose records are about to be
// replaced: their hits belong to images that are gone. (Hits of a record
// removed for good are harmless: writing them finds no record.) A batch
// being written is written first.
func (c *Cache) dropHits(ids ...string) {
	b := &c.hits
	b.flushing.Lock()
	defer b.flushing.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range ids {
		delete(b.pending, id)
	}
}
