package imagecache

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// apCountingMeta counts the calls of all, the full scan AutoPrune must not
// make at every commit.
type apCountingMeta struct {
	metadata
	alls atomic.Int64
}

func (m *apCountingMeta) all() ([]Record, error) {
	m.alls.Add(1)
	return m.metadata.all()
}

func apCache(t *testing.T, c *Cache, id string, size int) {
	t.Helper()
	if ok, err := c.CacheReader(id, bytes.NewReader(bytes.Repeat([]byte{'a'}, size)), Checksum{}); !ok || err != nil {
		t.Fatalf("CacheReader(%s) = %v, %v", id, ok, err)
	}
}

// apCheckEstimate checks that AutoPrune's estimate is the recorded size,
// and returns that.
func apCheckEstimate(t *testing.T, c *Cache) int64 {
	t.Helper()
	size, err := c.Size()
	if err != nil {
		t.Fatal(err)
	}
	c.auto.mu.Lock()
	est := c.auto.size
	c.auto.mu.Unlock()
	if est != size {
		t.Errorf("AutoPrune's estimate is %d; the records add up to %d", est, size)
	}
	return size
}

func TestAutoPruneNeedsMaxSize(t *testing.T) {
	c, err := New(Config{Dir: t.TempDir(), AutoPrune: true}, WithLogger(nil))
	if !errors.Is(err, ErrConfig) {
		t.Errorf("New with AutoPrune and MaxSize 0 = %v; want ErrConfig", err)
	}
	if c != nil {
		c.Close()
	}
}

// TestAutoPruneScansRarely: commits under the budget go by the estimate,
// not by reading every record, as the first AutoPrune did at every
// commit. A commit measures again when the last measure is a second old,
// so a slow run may measure a few times.
func TestAutoPruneScansRarely(t *testing.T) {
	for _, drv := range []string{DriverSQLite, DriverXattr} {
		t.Run(drv, func(t *testing.T) {
			c := erNew(t, Config{Dir: t.TempDir(), Driver: drv, MaxSize: 1 << 30, AutoPrune: true})
			m := &apCountingMeta{metadata: c.meta}
			c.meta = m
			start := time.Now()
			const n = 200
			for i := range n {
				apCache(t, c, fmt.Sprintf("img-%03d", i), 100)
			}
			alls, most := m.alls.Load(), 2+int64(time.Since(start)/time.Second)
			if alls > most {
				t.Errorf("caching %d images read every record %d times; want at most %d", n, alls, most)
			}
			if size := apCheckEstimate(t, c); size != n*100 {
				t.Errorf("Size = %d; want %d", size, n*100)
			}
		})
	}
}

// TestAutoPruneKeepsBudget caches, re-caches and deletes many images of
// many sizes, and checks after each step that the cache is within its
// budget and the estimate right.
func TestAutoPruneKeepsBudget(t *testing.T) {
	const budget = 8 << 10
	for _, drv := range []string{DriverSQLite, DriverXattr} {
		t.Run(drv, func(t *testing.T) {
			c := erNew(t, Config{Dir: t.TempDir(), Driver: drv, MaxSize: budget, AutoPrune: true})
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range 300 {
				id := fmt.Sprintf("img-%02d", rng.IntN(40))
				switch {
				case !c.IsCached(id):
					apCache(t, c, id, 200+rng.IntN(1800))
				case i%3 == 0:
					if err := c.DeleteCached(id); err != nil {
						t.Fatal(err)
					}
				default: // read it, so that Prune's order changes
					rc, err := c.OpenForRead(id)
					if err != nil {
						t.Fatal(err)
					}
					rc.Close()
				}
				if size := apCheckEstimate(t, c); size > budget {
					t.Fatalf("step %d: the cache holds %d bytes; its budget is %d", i, size, budget)
				}
			}
			if _, err := c.DeleteAllCached(); err != nil {
				t.Fatal(err)
			}
			if size := apCheckEstimate(t, c); size != 0 {
				t.Errorf("Size after DeleteAllCached = %d", size)
			}
		})
	}
}

// TestAutoPruneReplacedRecord: a commit that replaces a record (another
// writer's, which came in between this writer's start and its commit)
// takes the old size off the estimate.
func TestAutoPruneReplacedRecord(t *testing.T) {
	for _, drv := range []string{DriverSQLite, DriverXattr} {
		t.Run(drv, func(t *testing.T) {
			c := erNew(t, Config{Dir: t.TempDir(), Driver: drv, MaxSize: 1 << 20, AutoPrune: true})
			w, err := c.startWrite("x", Checksum{})
			if err != nil || w == nil {
				t.Fatalf("startWrite = %v, %v", w, err)
			}
			// The other writer's image, as if its commit had been measured.
			if err := os.WriteFile(c.path(dataDir, "x"), make([]byte, 3000), 0o644); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			if err := c.meta.put(Record{ID: "x", Size: 3000, LastAccessed: now, LastModified: now}); err != nil {
				t.Fatal(err)
			}
			c.auto.set(3000)
			c.auto.mu.Lock()
			c.auto.next = now.Add(time.Hour) // no measure: the estimate alone must be right
			c.auto.mu.Unlock()
			w.write(make([]byte, 1000))
			if cached, werr, serr := w.finish(); !cached || werr != nil || serr != nil {
				t.Fatalf("finish = %v, %v, %v", cached, werr, serr)
			}
			if size := apCheckEstimate(t, c); size != 1000 {
				t.Errorf("Size = %d; want 1000", size)
			}
		})
	}
}

// TestAutoPruneConcurrent commits and deletes from several goroutines at
// once; run with -race.
func TestAutoPruneConcurrent(t *testing.T) {
	const budget = 16 << 10
	c := erNew(t, Config{Dir: t.TempDir(), MaxSize: budget, AutoPrune: true})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 40 {
				id := fmt.Sprintf("g%d-%02d", g, i)
				data := bytes.Repeat([]byte{'c'}, 500+rng.IntN(1500))
				if _, err := c.CacheReader(id, bytes.NewReader(data), Checksum{}); err != nil {
					errs <- err
					return
				}
				if i%4 == 0 {
					if err := c.DeleteCached(fmt.Sprintf("g%d-%02d", g, i/2)); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if size := apCheckEstimate(t, c); size > budget {
		t.Errorf("the cache holds %d bytes; its budget is %d", size, budget)
	}
}

// TestAutoPruneSeesOtherProcesses: what another process caches is not in
// this one's estimate until a commit measures again, at most about a
// second later.
func TestAutoPruneSeesOtherProcesses(t *testing.T) {
	const budget = 10 << 10
	dir := t.TempDir()
	c := erNew(t, Config{Dir: dir, MaxSize: budget, AutoPrune: true})
	other := erNew(t, Config{Dir: dir, MaxSize: budget, AutoPrune: true})
	apCache(t, other, "other", 9<<10)
	apCache(t, c, "mine", 2<<10)
	if size, _ := c.Size(); size <= budget {
		t.Fatalf("Size = %d; the test needs the cache over its budget of %d", size, budget)
	}
	c.auto.mu.Lock()
	next := c.auto.next
	c.auto.mu.Unlock()
	if wait := time.Until(next); wait > 2*time.Second {
		t.Fatalf("the next measure is %v away; want about a second", wait)
	} else {
		time.Sleep(wait)
	}
	apCache(t, c, "later", 100)
	if size := apCheckEstimate(t, c); size > budget {
		t.Errorf("a commit a second later left %d bytes; the budget is %d", size, budget)
	}
	rs, err := c.CachedImages()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].ID != "later" || rs[1].ID != "mine" {
		t.Errorf("cached %v; want later and mine, the oldest pruned", rs)
	}
}
