package redistier_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arcache-go/arcache"
	"github.com/arcache-go/arcache/internal/redistest"
	"github.com/arcache-go/arcache/redistier"
	"github.com/redis/go-redis/v9"
)

// tileArgs are the arguments of the tests' constructor.
type tileArgs struct {
	N    int
	Tint uint8
}

// tiles is a constructor that counts its builds.
type tiles struct {
	builds atomic.Int64
	delay  time.Duration
	block  chan struct{} // when set, builds wait for it to close
}

func (b *tiles) build(a tileArgs) (*image.NRGBA, error) {
	b.builds.Add(1)
	if b.block != nil {
		<-b.block
	}
	time.Sleep(b.delay)
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = byte(i*a.N) ^ a.Tint
	}
	return img, nil
}

// newCache returns a cache that keeps nothing on disk, on tier t.
func newCache(t testing.TB, tier arcache.Tier) *arcache.SlugCache {
	t.Helper()
	cfg := arcache.DefaultConfig()
	cfg.CacheDir = t.TempDir()
	cfg.BinFile = arcache.NoBinFile
	cfg.Preload = false
	c, err := arcache.New(cfg, arcache.WithTier(tier), arcache.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func provideTile(c *arcache.SlugCache, b *tiles, a tileArgs) (*image.NRGBA, error) {
	return arcache.Provide(c, b.build, a, arcache.Name("tile"))
}

// Two caches on one tier: one build, the same pixels and type, the
// second a tier hit, and its next call a local hit.
func TestProvideTwoCachesOneTier(t *testing.T) {
	tier, _, _ := newTier(t)
	a, b := newCache(t, tier), newCache(t, tier)
	var fn tiles
	args := tileArgs{N: 3, Tint: 9}
	first, err := provideTile(a, &fn, args)
	if err != nil {
		t.Fatal(err)
	}
	second, err := provideTile(b, &fn, args)
	if err != nil {
		t.Fatal(err)
	}
	if n := fn.builds.Load(); n != 1 {
		t.Fatalf("%d builds; want 1", n)
	}
	if reflect.TypeOf(first) != reflect.TypeOf(second) || !reflect.DeepEqual(first, second) {
		t.Errorf("the second cache's image differs: %T %v", second, second.Bounds())
	}
	st := b.Stats()
	if st.TierHits != 1 || st.TierErrors != 0 || st.Builds != 0 {
		t.Errorf("second cache: %d tier hits, %d tier errors, %d builds; want 1, 0, 0", st.TierHits, st.TierErrors, st.Builds)
	}
	if st := a.Stats(); st.TierMisses != 1 || st.Builds != 1 {
		t.Errorf("first cache: %d tier misses, %d builds; want 1, 1", st.TierMisses, st.Builds)
	}
	hits := b.Stats().Hits
	if _, err := provideTile(b, &fn, args); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.Hits != hits+1 || st.TierHits != 1 {
		t.Errorf("the next call: %d local hits, %d tier hits; want %d, 1", st.Hits, st.TierHits, hits+1)
	}
}

// Concurrent local misses of one key make one tier request, and one
// build.
func TestProvideConcurrentMissesOneProcess(t *testing.T) {
	tier, _, _ := newTier(t)
	c := newCache(t, tier)
	fn := tiles{delay: 20 * time.Millisecond}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := provideTile(c, &fn, tileArgs{N: 1}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if st := c.Stats(); fn.builds.Load() != 1 || st.TierMisses != 1 || st.TierHits != 0 {
		t.Errorf("%d builds, %d tier misses, %d tier hits; want 1, 1, 0", fn.builds.Load(), st.TierMisses, st.TierHits)
	}
}

// fleetEnv, when set, makes the test binary a member of the fleet of
// TestProvideFleet: its value is the server's socket.
const fleetEnv = "REDISTIER_FLEET_SOCKET"

const (
	fleetProcs   = 4
	fleetWorkers = 8
	fleetKeys    = 40
)

// Four processes of 8 goroutines each, over 40 keys: 40 builds in all.
func TestProvideFleet(t *testing.T) {
	if sock := os.Getenv(fleetEnv); sock != "" {
		fleetMember(t, sock)
		return
	}
	srv, _ := start(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for range fleetProcs {
		cmd := exec.Command(exe, "-test.run", "^TestProvideFleet$", "-test.v")
		cmd.Env = append(os.Environ(), fleetEnv+"="+srv.Addr())
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	total := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("member %d: %v\n%s", i, err, outs[i])
		}
		n, ok := fleetBuilds(outs[i].String())
		if !ok {
			t.Fatalf("member %d said nothing of its builds:\n%s", i, outs[i])
		}
		total += n
	}
	if total != fleetKeys {
		t.Errorf("the fleet built %d images for %d keys; want one build a key", total, fleetKeys)
	}
}

func fleetMember(t *testing.T, sock string) {
	client := redis.NewClient(&redis.Options{Network: "unix", Addr: sock})
	defer client.Close()
	tier := redistier.New(client)
	c := newCache(t, tier)
	fn := tiles{delay: 5 * time.Millisecond}
	var wg sync.WaitGroup
	for w := range fleetWorkers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(w)))
			for _, k := range rng.Perm(fleetKeys) {
				if _, err := provideTile(c, &fn, tileArgs{N: k}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if st := c.Stats(); st.TierErrors != 0 {
		t.Errorf("%d tier errors", st.TierErrors)
	}
	fmt.Printf("fleet builds %d\n", fn.builds.Load())
}

func fleetBuilds(out string) (int, bool) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "fleet builds "); ok {
			n, err := strconv.Atoi(rest)
			return n, err == nil
		}
	}
	return 0, false
}

// The server killed mid-run: every call still succeeds, promptly, and
// the tier's errors are counted.
func TestProvideServerGone(t *testing.T) {
	tier, _, srv := newTier(t)
	c := newCache(t, tier)
	var fn tiles
	for k := range 5 {
		if _, err := provideTile(c, &fn, tileArgs{N: k}); err != nil {
			t.Fatal(err)
		}
	}
	srv.Kill()
	for k := 5; k < 25; k++ {
		start := time.Now()
		img, err := provideTile(c, &fn, tileArgs{N: k})
		if err != nil || img == nil {
			t.Fatalf("key %d with the server gone: %v", k, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("key %d took %v with the server gone", k, d)
		}
	}
	if n := fn.builds.Load(); n != 25 {
		t.Errorf("%d builds; want 25", n)
	}
	if st := c.Stats(); st.TierErrors == 0 {
		t.Error("no tier errors counted with the server gone")
	}
}

// A damaged, foreign or empty value under a key is counted, never
// returned, and replaced by the next build's.
func TestProvidePoisonedValues(t *testing.T) {
	tier, _, _ := newTier(t)
	var fn tiles
	good := newCache(t, tier)
	args := tileArgs{N: 7}
	want, err := provideTile(good, &fn, args)
	if err != nil {
		t.Fatal(err)
	}
	key, err := arcache.Key(fn.build, args, arcache.Name("tile"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	valid, ok, err := tier.Get(ctx, key)
	if err != nil || !ok {
		t.Fatalf("the tier holds no value under %s: %v", key, err)
	}
	flipped := append([]byte(nil), valid...)
	flipped[len(flipped)-100] ^= 1
	for name, v := range map[string][]byte{
		"cut":     valid[:len(valid)/2],
		"flipped": flipped,
		"text":    []byte("not an image"),
		"empty":   {},
	} {
		t.Run(name, func(t *testing.T) {
			if err := tier.Set(ctx, key, v); err != nil {
				t.Fatal(err)
			}
			c := newCache(t, tier)
			builds := fn.builds.Load()
			got, err := provideTile(c, &fn, args)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Error("the image differs from the one built")
			}
			if st := c.Stats(); st.TierErrors != 1 || st.TierHits != 0 || fn.builds.Load() != builds+1 {
				t.Errorf("%d tier errors, %d tier hits, %d builds; want 1, 0, 1", st.TierErrors, st.TierHits, fn.builds.Load()-builds)
			}
			// The build replaced the value: the next cache hits.
			next := newCache(t, tier)
			if _, err := provideTile(next, &fn, args); err != nil {
				t.Fatal(err)
			}
			if st := next.Stats(); st.TierHits != 1 || st.TierErrors != 0 {
				t.Errorf("after the rebuild: %d tier hits, %d errors; want 1, 0", st.TierHits, st.TierErrors)
			}
		})
	}
}

// A holder stuck in its constructor: another cache waits about the
// lease's time, then builds itself.
func TestProvideStuckHolder(t *testing.T) {
	const lease = 400 * time.Millisecond
	tier, _, _ := newTier(t, redistier.LeaseTTL(lease))
	stuck := tiles{block: make(chan struct{})}
	defer close(stuck.block)
	holder := newCache(t, tier)
	go provideTile(holder, &stuck, tileArgs{N: 2})
	within(t, 5*time.Second, "the holder to start building", func() bool { return stuck.builds.Load() == 1 })

	var fn tiles
	other := newCache(t, tier)
	start := time.Now()
	if _, err := provideTile(other, &fn, tileArgs{N: 2}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if fn.builds.Load() != 1 {
		t.Errorf("the other cache built %d times; want once", fn.builds.Load())
	}
	if took < lease*3/4 || took > 10*lease {
		t.Errorf("the other cache waited %v; want about the lease's %v", took, lease)
	}
}

// A holder whose build fails lets a waiter build at once, without
// waiting out the lease.
func TestProvideFailedHolder(t *testing.T) {
	tier, _, _ := newTier(t) // a lease of 30 seconds
	release := make(chan struct{})
	failing := func(tileArgs) (*image.NRGBA, error) { <-release; return nil, errors.New("no") }
	holder := newCache(t, tier)
	done := make(chan error, 1)
	go func() { _, err := arcache.Provide(holder, failing, tileArgs{N: 4}, arcache.Name("tile")); done <- err }()
	time.Sleep(50 * time.Millisecond) // the holder takes the lease
	var fn tiles
	other := newCache(t, tier)
	got := make(chan error, 1)
	go func() { _, err := provideTile(other, &fn, tileArgs{N: 4}); got <- err }()
	time.Sleep(50 * time.Millisecond)
	close(release)
	if err := <-done; err == nil {
		t.Fatal("the failing build succeeded")
	}
	select {
	case err := <-got:
		if err != nil || fn.builds.Load() != 1 {
			t.Errorf("the waiter: %v, %d builds; want its own build", err, fn.builds.Load())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter waits out the lease of a holder that failed")
	}
}

// The package's Tier is what arcache wants.
var _ arcache.Tier = (*redistier.Tier)(nil)

// logLines counts the lines logged at Warn and above.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

func (l *logLines) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// A server that has gone away is logged once, not once a call.
func TestProvideTierErrorsLoggedOnce(t *testing.T) {
	tier, _, srv := newTier(t)
	logs := &logLines{}
	cfg := arcache.DefaultConfig()
	cfg.CacheDir = t.TempDir()
	cfg.BinFile = arcache.NoBinFile
	c, err := arcache.New(cfg, arcache.WithTier(tier), arcache.WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv.Kill()
	var fn tiles
	for k := range 30 {
		if _, err := provideTile(c, &fn, tileArgs{N: k}); err != nil {
			t.Fatal(err)
		}
		if k%10 == 9 {
			time.Sleep(1100 * time.Millisecond) // past the tier's pause, so that it is asked again
		}
	}
	if st := c.Stats(); st.TierErrors < 3 {
		t.Errorf("%d tier errors counted; want one at least after each pause", st.TierErrors)
	}
	if n := logs.count(); n != 1 {
		t.Errorf("%d lines logged for the tier's errors; want 1:\n%q", n, logs.lines)
	}
}

// ProvideContext's context bounds the wait on a server that hangs.
func TestProvideContextHungServer(t *testing.T) {
	tier, _, srv := newTier(t)
	c := newCache(t, tier)
	srv.Pause()
	defer srv.Resume()
	var fn tiles
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := arcache.ProvideContext(ctx, c, func(_ context.Context, a tileArgs) (*image.NRGBA, error) { return fn.build(a) }, tileArgs{N: 5}, arcache.Name("tile"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ProvideContext on a hung server: %v; want its context's deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ProvideContext on a hung server returned after %v; its context ends at 100ms", d)
	}
}

// A server that hangs does not hang Provide: the tier's call gives up
// after its second, and the image is built locally, whether or not the
// client heeds its contexts.
func TestProvideHungServer(t *testing.T) {
	for _, heeds := range []bool{false, true} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", heeds), func(t *testing.T) {
			srv := redistest.Start(t)
			// go-redis's own read timeout, 3 s, is longer than the
			// tier's bound on a call.
			o := srv.Options()
			o.ContextTimeoutEnabled = heeds
			tier := redistier.New(srv.NewClient(o))
			if tier.HonorsContext() != heeds {
				t.Errorf("HonorsContext = %v; want %v", tier.HonorsContext(), heeds)
			}
			c := newCache(t, tier)
			srv.Pause()
			defer srv.Resume()
			var fn tiles
			start := time.Now()
			if _, err := provideTile(c, &fn, tileArgs{N: 6}); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 2500*time.Millisecond {
				t.Errorf("Provide on a hung server took %v; the tier's calls are bounded by a second", d)
			}
			if st := c.Stats(); st.TierErrors != 1 || fn.builds.Load() != 1 {
				t.Errorf("%d tier errors, %d builds; want 1, 1", st.TierErrors, fn.builds.Load())
			}
		})
	}
}
