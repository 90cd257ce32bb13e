package imagecache

import (
	"fmt"
	"sync"
	"time"
)

// autoPrune is this process's running estimate of the cache's size, by
// which AutoPrune decides to prune without reading every record at every
// commit. It changes under the data lock, after the metadata change it
// follows, so it stays the recorded size but for what other processes do;
// measuring again from time to time catches that.
type autoPrune struct {
	max int64

	// mu orders the changes for the race detector and the memory model,
	// which know nothing of the data lock, a file lock.
	mu   sync.Mutex
	size int64
	next time.Time // when a commit measures again
}

// newAutoPrune measures the cache for a first estimate.
func (c *Cache) newAutoPrune() (*autoPrune, error) {
	lock, err := c.lockData()
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	a := &autoPrune{max: c.cfg.MaxSize}
	if err := a.measure(c.meta); err != nil {
		return nil, fmt.Errorf("measure the cache: %w", err)
	}
	return a, nil
}

// measure sets the estimate to the recorded size. It is due again a
// second later, or ten times as long as it took if that is more, so that
// a cache too large to read quickly is not read most of the time. The
// caller holds the data lock.
func (a *autoPrune) measure(m metadata) error {
	start := time.Now()
	size, err := m.size()
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next = now.Add(max(time.Second, 10*now.Sub(start)))
	if err != nil {
		return err
	}
	a.size = size
	return nil
}

// committed notes a commit that changed the recorded size by delta bytes,
// or measures the size when that is due, and reports whether the cache is
// over budget. The caller holds the data lock.
func (a *autoPrune) committed(m metadata, delta int64) (over bool, err error) {
	a.mu.Lock()
	due := !time.Now().Before(a.next)
	a.mu.Unlock()
	if due {
		if err = a.measure(m); err == nil {
			return a.over(), nil // the new record was measured with the rest
		}
	}
	a.add(delta)
	return a.over(), err
}

// add changes the estimate by delta bytes. The caller holds the data lock.
func (a *autoPrune) add(delta int64) {
	a.mu.Lock()
	a.size += delta
	a.mu.Unlock()
}

// set makes size, just measured, the estimate. The caller holds the data
// lock.
func (a *autoPrune) set(size int64) {
	a.mu.Lock()
	a.size = size
	a.mu.Unlock()
}

// forget makes the next commit measure: the estimate may be wrong.
func (a *autoPrune) forget() {
	a.mu.Lock()
	a.next = time.Time{}
	a.mu.Unlock()
}

func (a *autoPrune) over() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.size > a.max
}

// recordedSize returns the size in id's record, 0 if it has none. The
// caller holds the data lock.
func (c *Cache) recordedSize(id string) int64 {
	r, ok, err := c.meta.get(id)
	if err != nil {
		c.auto.forget()
	}
	if !ok {
		return 0
	}
	return r.Size
}
