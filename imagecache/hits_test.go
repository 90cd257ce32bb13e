package imagecache

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The batched hit counter, on both drivers.
func init() {
	icSuite = append(icSuite,
		icCase{name: "HitsExactInProcess", run: icTestHitsExact},
		icCase{name: "HitsReachOtherCaches", run: icTestHitsReachOthers},
		icCase{name: "HitsWrittenOnClose", run: icTestHitsOnClose},
		icCase{name: "HitsKeptWhenWriteFails", run: icTestHitsWriteFails},
		icCase{name: "PruneOrderWithBatchedHits", run: icTestPruneBatchedHits},
	)
}

// icTestHitsExact: hits from many goroutines are all counted, at once,
// by HitCount and CachedImages, before any batch is due.
func icTestHitsExact(t *testing.T, e *icEnv) {
	icCache(t, e.c, "a", icBytes(1, 512), Checksum{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				rc, err := e.c.OpenForRead("a")
				if err != nil {
					t.Error(err)
					return
				}
				buf := make([]byte, 1024)
				for {
					if _, err := rc.Read(buf); err != nil {
						break
					}
				}
				rc.Close()
			}
		})
	}
	wg.Wait()
	if n, err := e.c.HitCount("a"); n != 200 || err != nil {
		t.Errorf("HitCount = %d, %v; want 200", n, err)
	}
	icRead(t, e.c, "a")
	rs, err := e.c.CachedImages()
	if err != nil || len(rs) != 1 || rs[0].Hits != 201 {
		t.Errorf("CachedImages = %+v, %v; want one record of 201 hits", rs, err)
	}
}

// icTestHitsReachOthers: another Cache on the directory, as another
// process, sees the hits within about a second, without a flush.
func icTestHitsReachOthers(t *testing.T, e *icEnv) {
	icCache(t, e.c, "a", icBytes(2, 512), Checksum{})
	other := e.open(t)
	before := time.Now()
	for range 3 {
		icRead(t, e.c, "a")
	}
	deadline := before.Add(5 * time.Second) // the delay, and room for a loaded machine
	for {
		n, err := other.HitCount("a")
		if err != nil {
			t.Fatal(err)
		}
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("another Cache sees %d hits after %v; want 3 within about %v", n, time.Since(before), hitFlushDelay)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rs, err := other.CachedImages()
	if err != nil || len(rs) != 1 || rs[0].LastAccessed.Before(before) {
		t.Errorf("CachedImages in another Cache = %+v, %v; want the access after %v", rs, err, before)
	}
}

// icTestHitsOnClose: Close writes what the batch holds.
func icTestHitsOnClose(t *testing.T, e *icEnv) {
	icCache(t, e.c, "a", icBytes(3, 512), Checksum{})
	for range 100 {
		icRead(t, e.c, "a")
	}
	if err := e.c.Close(); err != nil {
		t.Fatal(err)
	}
	again := e.open(t)
	if n, err := again.HitCount("a"); n != 100 || err != nil {
		t.Errorf("HitCount after Close and New = %d, %v; want 100", n, err)
	}
}

// failingMeta fails addHits while fail is set.
type failingMeta struct {
	metadata
	fail *atomic.Bool
}

var errHitWrite = errors.New("hit write refused")

func (m failingMeta) addHits(batch map[string]pendingHit) error {
	if m.fail.Load() {
		return errHitWrite
	}
	return m.metadata.addHits(batch)
}

// icTestHitsWriteFails: a batch that cannot be written is kept, with the
// hits counted meanwhile, and written once the metadata works again.
func icTestHitsWriteFails(t *testing.T, e *icEnv) {
	icCache(t, e.c, "a", icBytes(4, 512), Checksum{})
	var fail atomic.Bool
	fail.Store(true)
	e.c.meta = failingMeta{e.c.meta, &fail}
	icRead(t, e.c, "a")
	if _, err := e.c.HitCount("a"); !errors.Is(err, errHitWrite) {
		t.Errorf("HitCount with failing writes: %v; want an error matching errHitWrite", err)
	}
	icRead(t, e.c, "a")
	if _, err := e.c.HitCount("a"); !errors.Is(err, errHitWrite) {
		t.Errorf("HitCount with failing writes, again: %v", err)
	}
	if n := strings.Count(e.logs.String(), "cannot write hit counts"); n != 1 {
		t.Errorf("two failed writes logged %d lines; want 1", n)
	}
	fail.Store(false)
	if n, err := e.c.HitCount("a"); n != 2 || err != nil {
		t.Errorf("HitCount once writes work = %d, %v; want 2", n, err)
	}
}

// icTestPruneBatchedHits: Prune goes by the access times of hits not yet
// written.
func icTestPruneBatchedHits(t *testing.T, e *icEnv) {
	const kib = 1024
	for _, id := range []string{"old", "mid", "new"} {
		icCache(t, e.c, id, icBytes(5, kib), Checksum{})
	}
	icRead(t, e.c, "old") // now the most recently accessed
	e.c.cfg.MaxSize = 2 * kib
	if files, _, err := e.c.Prune(); files != 1 || err != nil {
		t.Fatalf("Prune = %d files, %v; want 1", files, err)
	}
	if e.c.IsCached("mid") || !e.c.IsCached("old") || !e.c.IsCached("new") {
		t.Errorf("after Prune: old %v, mid %v, new %v; want mid pruned", e.c.IsCached("old"), e.c.IsCached("mid"), e.c.IsCached("new"))
	}
}
