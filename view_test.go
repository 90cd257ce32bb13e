package arcache

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// goroutineID returns the id of the calling goroutine, read from the
// header line of its stack ("goroutine 42 [running]:"). Tests use it to
// check on which goroutine convert and release run.
func goroutineID() int64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	s, ok := strings.CutPrefix(string(buf[:n]), "goroutine ")
	if !ok {
		panic("unexpected stack header: " + string(buf[:n]))
	}
	if i := strings.IndexByte(s, ' '); i >= 0 {
		s = s[:i]
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic("unexpected stack header: " + string(buf[:n]))
	}
	return id
}

// testView is the view the tests make: it remembers the image it was
// made from, and how often and when it was released.
type testView struct {
	id          int64
	img         image.Image
	released    atomic.Int32
	releasedSeq atomic.Int64 // the recorder's release count when it was released; 0 until then
}

// viewRecorder makes testViews and records their releases. Its release
// fails the test when it runs outside a Release or Close made through the
// recorder, on another goroutine than theirs, or twice for one view.
type viewRecorder struct {
	t testing.TB

	converts  atomic.Int64 // convert calls, failed ones included
	convertG  atomic.Int64 // goroutine of the last convert call
	nextID    atomic.Int64
	relSeq    atomic.Int64 // release calls so far
	releasing atomic.Bool  // set while Release or Close runs through the recorder
	releaser  atomic.Int64 // the goroutine calling it

	// hook, when set, runs first in convert; an error it returns is
	// convert's. Set it before the views are used.
	hook func(img image.Image) error

	mu       sync.Mutex
	released []*testView
	seen     map[*testView]int
}

func newViewRecorder(t testing.TB) *viewRecorder {
	return &viewRecorder{t: t, seen: make(map[*testView]int)}
}

func (r *viewRecorder) convert(img image.Image) (*testView, error) {
	r.converts.Add(1)
	r.convertG.Store(goroutineID())
	if r.hook != nil {
		if err := r.hook(img); err != nil {
			return nil, err
		}
	}
	return &testView{id: r.nextID.Add(1), img: img}, nil
}

func (r *viewRecorder) release(tv *testView) {
	if tv == nil {
		r.t.Errorf("release of a nil view")
		return
	}
	if !r.releasing.Load() {
		r.t.Errorf("view %d released outside Release and Close", tv.id)
	} else if g, want := goroutineID(), r.releaser.Load(); g != want {
		r.t.Errorf("view %d released on goroutine %d, not on %d that called Release", tv.id, g, want)
	}
	if n := tv.released.Add(1); n != 1 {
		r.t.Errorf("view %d released %d times", tv.id, n)
	}
	tv.releasedSeq.Store(r.relSeq.Add(1))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[tv]++
	if r.seen[tv] > 1 {
		r.t.Errorf("view %d released again (%d times)", tv.id, r.seen[tv])
	}
	r.released = append(r.released, tv)
}

// Release calls v.Release on this goroutine, marked as the one allowed
// to release.
func (r *viewRecorder) Release(v *Views[*testView]) int {
	r.releaser.Store(goroutineID())
	r.releasing.Store(true)
	defer r.releasing.Store(false)
	return v.Release()
}

// Close calls v.Close likewise.
func (r *viewRecorder) Close(v *Views[*testView]) {
	r.releaser.Store(goroutineID())
	r.releasing.Store(true)
	defer r.releasing.Store(false)
	v.Close()
}

// releasedViews returns the views released so far, in order.
func (r *viewRecorder) releasedViews() []*testView {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*testView(nil), r.released...)
}

// wantReleased fails unless exactly the views want, in any order, have
// been released after the recorder's first from releases.
func (r *viewRecorder) wantReleased(t *testing.T, from int, want ...*testView) {
	t.Helper()
	got := r.releasedViews()
	if len(got) < from {
		t.Fatalf("%d views released, fewer than the %d before", len(got), from)
	}
	got = got[from:]
	if len(got) != len(want) {
		t.Fatalf("released %s, want %s", viewIDs(got), viewIDs(want))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Fatalf("released %s, want %s", viewIDs(got), viewIDs(want))
		}
	}
}

func viewIDs(vs []*testView) string {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = strconv.FormatInt(v.id, 10)
	}
	return "[" + strings.Join(ids, " ") + "]"
}

func newTestViews(t *testing.T, c *SlugCache) (*Views[*testView], *viewRecorder) {
	r := newViewRecorder(t)
	return NewViews(c, r.convert, r.release), r
}

// wantViewStats fails unless v's stats are made, released and held.
func wantViewStats(t *testing.T, v *Views[*testView], made, released uint64, held int) {
	t.Helper()
	want := ViewStats{Made: made, Released: released, Held: held}
	if s := v.Stats(); s != want {
		t.Fatalf("view stats = %+v, want %+v", s, want)
	}
	if n := v.Len(); n != held {
		t.Fatalf("Len() = %d, want %d", n, held)
	}
}

func mustView[A any, I image.Image](t *testing.T, v *Views[*testView], fn func(A) (I, error), args A, opts ...ProvideOption) *testView {
	t.Helper()
	tv, err := ProvideView(v, fn, args, opts...)
	if err != nil {
		t.Fatalf("ProvideView(%v): %v", args, err)
	}
	if tv == nil {
		t.Fatalf("ProvideView(%v) gave a nil view", args)
	}
	return tv
}

func TestViewsOneConvertPerImage(t *testing.T) {
	c := newTestCache(t, nil)
	v, r := newTestViews(t, c)
	defer r.Close(v)
	var calls atomic.Int64
	fn := counted(&calls)
	green := iconArgs{Fill: "green", Size: 4}

	first := mustView(t, v, fn, green)
	if g := r.convertG.Load(); g != goroutineID() {
		t.Errorf("convert ran on goroutine %d, not the caller's %d", g, goroutineID())
	}
	img, err := Provide(c, fn, green)
	if err != nil {
		t.Fatal(err)
	}
	if first.img != image.Image(img) {
		t.Fatal("the view was not made from the cached image")
	}
	for range 10 {
		if tv := mustView(t, v, fn, green); tv != first {
			t.Fatalf("a hit gave view %d, want the first, %d", tv.id, first.id)
		}
	}
	if tv, ok := v.View(mustKey(t, fn, green)); !ok || tv != first {
		t.Fatalf("View(key) = %v, %v; want the first view", tv, ok)
	}
	if n := r.converts.Load(); n != 1 {
		t.Fatalf("convert called %d times for one image, want 1", n)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("constructor called %d times, want 1", n)
	}

	red := mustView(t, v, fn, iconArgs{Fill: "red", Size: 5})
	if red == first || r.converts.Load() != 2 {
		t.Fatalf("another image: view %d (first %d), %d converts", red.id, first.id, r.converts.Load())
	}
	if b := red.img.Bounds(); b.Dx() != 5 {
		t.Fatalf("red view made from a %v image, want 5x5", b)
	}
	if n := r.Release(v); n != 0 {
		t.Fatalf("Release() = %d with nothing evicted, want 0", n)
	}
	wantViewStats(t, v, 2, 0, 2)
	if got := r.releasedViews(); len(got) != 0 {
		t.Fatalf("released %s with nothing evicted", viewIDs(got))
	}
}

func TestViewsConcurrentMissOneBuildOneConvert(t *testing.T) {
	const n = 64
	c := newTestCache(t, nil)
	v, r := newTestViews(t, c)
	defer r.Close(v)
	var started atomic.Int64
	all := make(chan struct{})
	var calls atomic.Int64
	fn := func(a iconArgs) (*image.NRGBA, error) {
		calls.Add(1)
		<-all // until every caller has started
		return image.NewNRGBA(image.Rect(0, 0, a.Size, a.Size)), nil
	}
	var wg sync.WaitGroup
	views := make([]*testView, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			if started.Add(1) == n {
				close(all)
			}
			views[i], errs[i] = ProvideView(v, fn, iconArgs{Fill: "blue", Size: 3})
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if views[i] == nil || views[i] != views[0] {
			t.Fatalf("call %d got view %v, call 0 got %v", i, views[i], views[0])
		}
	}
	if s := c.Stats(); s.Builds != 1 || calls.Load() != 1 {
		t.Fatalf("%d builds (%d constructor calls), want 1", s.Builds, calls.Load())
	}
	if k := r.converts.Load(); k != 1 {
		t.Fatalf("convert called %d times, want 1", k)
	}
	img, ok := c.Get(mustKey(t, fn, iconArgs{Fill: "blue", Size: 3}))
	if !ok || views[0].img != img {
		t.Fatal("the shared view was not made from the cached image")
	}
	wantViewStats(t, v, 1, 0, 1)
}

// testEviction stores three images in a cache that holds two and checks
// that the first one's view, and only it, is released, by Release alone.
func testEviction(t *testing.T, edit func(*Config)) {
	c := newTestCache(t, edit)
	v, r := newTestViews(t, c)
	defer r.Close(v)
	var calls atomic.Int64
	fn := counted(&calls)
	argsOf := func(fill string) iconArgs { return iconArgs{Fill: fill, Size: 4} } // 64 pixel bytes
	a := mustView(t, v, fn, argsOf("a"))
	b := mustView(t, v, fn, argsOf("b"))
	cv := mustView(t, v, fn, argsOf("c")) // evicts a
	if s := c.Stats(); s.Evictions != 1 || s.Entries != 2 {
		t.Fatalf("cache stats %+v, want one eviction and two entries", s)
	}
	if got := r.releasedViews(); len(got) != 0 {
		t.Fatalf("released %s before any Release", viewIDs(got))
	}
	wantViewStats(t, v, 3, 0, 3) // a is queued, still held
	if _, ok := v.View(mustKey(t, fn, argsOf("a"))); ok {
		t.Fatal("View found the evicted image")
	}
	if n := r.Release(v); n != 1 {
		t.Fatalf("Release() = %d, want 1", n)
	}
	r.wantReleased(t, 0, a)
	wantViewStats(t, v, 3, 1, 2)
	if n := r.Release(v); n != 0 {
		t.Fatalf("second Release() = %d, want 0", n)
	}
	r.wantReleased(t, 0, a)

	// a comes back as a new image with a new view, and evicts b.
	a2 := mustView(t, v, fn, argsOf("a"))
	if a2 == a || a2.img == a.img {
		t.Fatal("the rebuilt image kept the old view or image")
	}
	if n := r.Release(v); n != 1 {
		t.Fatalf("Release() = %d after b's eviction, want 1", n)
	}
	r.wantReleased(t, 1, b)
	if tv := mustView(t, v, fn, argsOf("c")); tv != cv {
		t.Fatal("c's view changed though c stayed")
	}
	if n := r.converts.Load(); n != 4 {
		t.Fatalf("%d converts, want 4", n)
	}
}

func TestViewsReleasedOnEvictionByCount(t *testing.T) {
	testEviction(t, func(cfg *Config) { cfg.CacheMax = 2 })
}

func TestViewsReleasedOnEvictionByBytes(t *testing.T) {
	testEviction(t, func(cfg *Config) { cfg.CacheMax = 100; cfg.MaxBytes = 2*64 + 63 })
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestViewsReleasedWhenImageLeaves(t *testing.T) {
	args := iconArgs{Fill: "green", Size: 4}
	setup := func(t *testing.T, edit func(*Config)) (*SlugCache, *Views[*testView], *viewRecorder, func(iconArgs) (*image.NRGBA, error), *testView) {
		c := newTestCache(t, edit, WithLogger(quiet))
		v, r := newTestViews(t, c)
		t.Cleanup(func() { r.Close(v) })
		var calls atomic.Int64
		fn := counted(&calls)
		return c, v, r, fn, mustView(t, v, fn, args)
	}
	// releasedOnce checks that the next Release, and it alone, releases
	// old.
	releasedOnce := func(t *testing.T, r *viewRecorder, v *Views[*testView], old *testView) {
		t.Helper()
		if got := r.releasedViews(); len(got) != 0 {
			t.Fatalf("released %s before Release", viewIDs(got))
		}
		if n := r.Release(v); n != 1 {
			t.Fatalf("Release() = %d, want 1", n)
		}
		r.wantReleased(t, 0, old)
		if n := r.Release(v); n != 0 {
			t.Fatalf("second Release() = %d, want 0", n)
		}
	}

	t.Run("Remove", func(t *testing.T) {
		c, v, r, fn, old := setup(t, nil)
		key := mustKey(t, fn, args)
		if !c.Remove(key) {
			t.Fatal("Remove found nothing")
		}
		if _, ok := v.View(key); ok {
			t.Fatal("View found the removed image")
		}
		releasedOnce(t, r, v, old)
		tv := mustView(t, v, fn, args)
		img, _ := c.Get(key)
		if tv == old || tv.img == old.img || tv.img != img {
			t.Fatal("the view after Remove is not made from the rebuilt image")
		}
	})

	t.Run("Clear", func(t *testing.T) {
		c, v, r, fn, old := setup(t, nil)
		other := mustView(t, v, fn, iconArgs{Fill: "red", Size: 2})
		if err := c.Clear(false); err != nil {
			t.Fatal(err)
		}
		if got := r.releasedViews(); len(got) != 0 {
			t.Fatalf("released %s before Release", viewIDs(got))
		}
		if n := r.Release(v); n != 2 {
			t.Fatalf("Release() = %d after Clear of two, want 2", n)
		}
		r.wantReleased(t, 0, old, other)
		tv := mustView(t, v, fn, args)
		img, _ := c.Get(mustKey(t, fn, args))
		if tv == old || tv.img != img {
			t.Fatal("the view after Clear is not made from the rebuilt image")
		}
		wantViewStats(t, v, 3, 2, 1)
	})

	t.Run("Put", func(t *testing.T) {
		c, v, r, fn, old := setup(t, nil)
		key := mustKey(t, fn, args)
		img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
		if err := c.Put(key, img); err != nil {
			t.Fatal(err)
		}
		releasedOnce(t, r, v, old)
		tv := mustView(t, v, fn, args) // a hit on the image put
		if tv == old || tv.img != image.Image(img) {
			t.Fatal("ProvideView after Put does not show the image put")
		}
		if got, ok := v.View(key); !ok || got != tv {
			t.Fatal("View after Put does not show the same view")
		}
	})

	t.Run("Update", func(t *testing.T) {
		c, v, r, fn, old := setup(t, nil)
		key := mustKey(t, fn, args)
		img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
		if err := c.Update(map[string]image.Image{key: img, "another-key": image.NewNRGBA(image.Rect(0, 0, 1, 1))}); err != nil {
			t.Fatal(err)
		}
		releasedOnce(t, r, v, old)
		tv, ok := v.View(key)
		if !ok || tv == old || tv.img != image.Image(img) {
			t.Fatal("View after Update does not show the image updated")
		}
		if got := mustView(t, v, fn, args); got != tv {
			t.Fatal("ProvideView after Update does not show View's view")
		}
	})

	t.Run("RefreshReplacesPlaceholder", func(t *testing.T) {
		var cacheDir string
		c, v, r, _, _ := setup(t, func(cfg *Config) {
			cfg.ErrorDir = t.TempDir()
			cacheDir = cfg.CacheDir
		})
		const key = "refreshed-icon"
		path := filepath.Join(cacheDir, key+".png")
		if err := os.WriteFile(path, []byte("not a png"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Refresh(false); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Refresh of a damaged file: %v, want ErrCorrupt", err)
		}
		placeholder, ok := c.Get(key)
		if !ok {
			t.Fatal("no placeholder stored")
		}
		old, ok := v.View(key)
		if !ok || old.img != placeholder {
			t.Fatal("View of the placeholder is not made from it")
		}
		r.Release(v) // the view setup made stays
		src := image.NewNRGBA(image.Rect(0, 0, 3, 5))
		for i := range src.Pix {
			src.Pix[i] = 0xff
		}
		src.SetNRGBA(1, 2, color.NRGBA{R: 10, G: 20, B: 30, A: 255})
		if err := os.WriteFile(path, encodePNG(t, src), 0o644); err != nil {
			t.Fatal(err)
		}
		if n, err := c.Refresh(false); n != 1 || err != nil {
			t.Fatalf("Refresh = %d, %v; want 1 import", n, err)
		}
		releasedOnce(t, r, v, old)
		tv, ok := v.View(key)
		if !ok || tv == old || tv.img == placeholder {
			t.Fatal("View after Refresh still shows the placeholder")
		}
		if img, _ := c.Get(key); tv.img != img {
			t.Fatal("View after Refresh is not made from the imported image")
		}
		if b := tv.img.Bounds(); b != src.Rect {
			t.Fatalf("view made from a %v image, want %v", b, src.Rect)
		}
		if got := color.NRGBAModel.Convert(tv.img.At(1, 2)); got != (color.NRGBA{R: 10, G: 20, B: 30, A: 255}) {
			t.Fatalf("view's image has %v at (1, 2), want the imported pixel", got)
		}
	})

	t.Run("RebuildOfAnotherType", func(t *testing.T) {
		c, v, r, _, _ := setup(t, nil)
		nrgba := func(a iconArgs) (*image.NRGBA, error) { return image.NewNRGBA(image.Rect(0, 0, a.Size, a.Size)), nil }
		rgba := func(a iconArgs) (*image.RGBA, error) { return image.NewRGBA(image.Rect(0, 0, a.Size, a.Size)), nil }
		other := iconArgs{Fill: "typed", Size: 2}
		if mustKey(t, nrgba, other, Name("typed")) != mustKey(t, rgba, other, Name("typed")) {
			t.Fatal("the two constructors do not share a key")
		}
		old := mustView(t, v, nrgba, other, Name("typed"))
		r.Release(v)
		from := len(r.releasedViews())
		tv := mustView(t, v, rgba, other, Name("typed"))
		if _, isRGBA := tv.img.(*image.RGBA); !isRGBA || tv == old {
			t.Fatalf("the rebuild's view is made from a %T", tv.img)
		}
		if n := r.Release(v); n != 1 {
			t.Fatalf("Release() = %d after a rebuild of another type, want 1", n)
		}
		r.wantReleased(t, from, old)
		if img, _ := c.Get(mustKey(t, rgba, other, Name("typed"))); tv.img != img {
			t.Fatal("the rebuild's view is not made from the cached image")
		}
	})
}

type churnArgs struct{ K int }

func TestViewsConcurrentChurn(t *testing.T) {
	const (
		workers = 4
		keys    = 50
		rounds  = 1500
	)
	c := newTestCache(t, func(cfg *Config) { cfg.CacheMax = 5 })
	v, r := newTestViews(t, c)
	fn := func(a churnArgs) (*image.NRGBA, error) {
		img := image.NewNRGBA(image.Rect(0, 0, 2, 2))
		for i := range img.Pix {
			img.Pix[i] = byte(a.K)
		}
		return img, nil
	}
	// checkView fails unless tv is a view of key k's image that had not
	// been released before the call that returned it began.
	checkView := func(tv *testView, k int, before int64) {
		if tv == nil {
			t.Errorf("key %d: nil view", k)
			return
		}
		if img, ok := tv.img.(*image.NRGBA); !ok || img.Pix[0] != byte(k) {
			t.Errorf("key %d: view %d made from another image", k, tv.id)
		}
		if s := tv.releasedSeq.Load(); s != 0 && s <= before {
			t.Errorf("key %d: view %d was released (release %d) before the call that returned it began (after %d)", k, tv.id, s, before)
		}
	}

	stop := make(chan struct{})
	var releaser sync.WaitGroup
	releaser.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			r.Release(v)
			runtime.Gosched()
		}
	})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				// Half the calls go to a few hot keys, so that views are
				// shared, hit and evicted while in use; the rest roam.
				k := (i*7 + w*13 + i/keys) % keys
				if i%2 == 0 {
					k = (i/2 + w) % 3
				}
				before := r.relSeq.Load()
				if i%4 == 3 {
					key, err := Key(fn, churnArgs{k})
					if err != nil {
						t.Error(err)
						return
					}
					if tv, ok := v.View(key); ok {
						checkView(tv, k, before)
					}
					continue
				}
				tv, err := ProvideView(v, fn, churnArgs{k})
				if err != nil {
					t.Errorf("key %d: %v", k, err)
					return
				}
				checkView(tv, k, before)
			}
		})
	}
	wg.Wait()
	close(stop)
	releaser.Wait()
	if t.Failed() {
		return
	}

	s := v.Stats()
	if s.Made != s.Released+uint64(s.Held) {
		t.Fatalf("stats %+v: Made != Released + Held", s)
	}
	r.Release(v)
	s = v.Stats()
	if s.Made != s.Released+uint64(s.Held) || s.Held != c.Len() {
		t.Fatalf("stats %+v after a last Release with %d images cached: want Held == entries and Made == Released + Held", s, c.Len())
	}
	if s.Made != uint64(r.converts.Load()) || s.Released != uint64(len(r.releasedViews())) {
		t.Fatalf("stats %+v, but %d converts and %d releases", s, r.converts.Load(), len(r.releasedViews()))
	}
	if s.Released == 0 {
		t.Fatal("nothing released in a cache of 5 driven over 50 keys")
	}
	r.Close(v)
	s = v.Stats()
	if s.Made != s.Released || s.Held != 0 || v.Len() != 0 {
		t.Fatalf("stats %+v after Close, want every view released", s)
	}
	if s.Released != uint64(len(r.releasedViews())) {
		t.Fatalf("stats say %d released, release was called %d times", s.Released, len(r.releasedViews()))
	}
	t.Logf("%+v; cache %+v", s, c.Stats())
}

var errConvert = errors.New("convert failed")

func TestViewsConvertError(t *testing.T) {
	c := newTestCache(t, nil)
	v, r := newTestViews(t, c)
	defer r.Close(v)
	var fail atomic.Int64
	fail.Store(1)
	var panics atomic.Int64
	r.hook = func(image.Image) error {
		if panics.Load() > 0 {
			panics.Add(-1)
			panic("convert exploded")
		}
		if fail.Load() > 0 {
			fail.Add(-1)
			return errConvert
		}
		return nil
	}
	var calls atomic.Int64
	fn := counted(&calls)
	args := iconArgs{Fill: "err", Size: 3}

	_, err := ProvideView(v, fn, args)
	if !errors.Is(err, errConvert) {
		t.Fatalf("err = %v, want one matching the convert error", err)
	}
	if !strings.Contains(err.Error(), errConvert.Error()) || err == errConvert {
		t.Fatalf("err = %q, want the convert error wrapped", err)
	}
	wantViewStats(t, v, 0, 0, 0)
	if c.Len() != 1 {
		t.Fatalf("cache holds %d images, want the built one", c.Len())
	}
	tv := mustView(t, v, fn, args)
	if r.converts.Load() != 2 || calls.Load() != 1 {
		t.Fatalf("retry: %d converts, %d builds; want 2 and 1", r.converts.Load(), calls.Load())
	}
	if again := mustView(t, v, fn, args); again != tv {
		t.Fatal("the view made on retry was not kept")
	}
	wantViewStats(t, v, 1, 0, 1)

	// A failing View reports false and keeps nothing either.
	fail.Store(1)
	key := mustKey(t, fn, iconArgs{Fill: "err2", Size: 3})
	if _, err := Provide(c, fn, iconArgs{Fill: "err2", Size: 3}); err != nil {
		t.Fatal(err)
	}
	if _, ok := v.View(key); ok {
		t.Fatal("View reported a view whose convert failed")
	}
	wantViewStats(t, v, 1, 0, 1)
	if _, ok := v.View(key); !ok {
		t.Fatal("View after a failed convert did not try again")
	}
	wantViewStats(t, v, 2, 0, 2)

	panics.Store(1)
	pargs := iconArgs{Fill: "panic", Size: 3}
	_, err = ProvideView(v, fn, pargs)
	if !errors.Is(err, ErrPanic) {
		t.Fatalf("a panicking convert: err = %v, want ErrPanic", err)
	}
	if !strings.Contains(err.Error(), "convert exploded") {
		t.Errorf("err = %q, does not carry the panic's value", err)
	}
	wantViewStats(t, v, 2, 0, 2)
	before := r.converts.Load()
	mustView(t, v, fn, pargs)
	if r.converts.Load() != before+1 {
		t.Fatal("retry after a panic did not convert again")
	}
	wantViewStats(t, v, 3, 0, 3)
	if n := r.Release(v); n != 0 {
		t.Fatalf("Release() = %d, want 0: failed converts leave nothing to release", n)
	}
}

func TestViewsTwoOnOneCache(t *testing.T) {
	c := newTestCache(t, func(cfg *Config) { cfg.CacheMax = 2 })
	v1, r1 := newTestViews(t, c)
	v2, r2 := newTestViews(t, c)
	defer r2.Close(v2)
	var calls atomic.Int64
	fn := counted(&calls)
	argsOf := func(fill string) iconArgs { return iconArgs{Fill: fill, Size: 2} }

	a1 := mustView(t, v1, fn, argsOf("a"))
	a2 := mustView(t, v2, fn, argsOf("a"))
	if a1 == a2 || a1.img != a2.img {
		t.Fatal("the two views of one image should be distinct views of the same image")
	}
	for range 3 {
		if mustView(t, v1, fn, argsOf("a")) != a1 || mustView(t, v2, fn, argsOf("a")) != a2 {
			t.Fatal("a hit gave another view")
		}
	}
	if r1.converts.Load() != 1 || r2.converts.Load() != 1 || calls.Load() != 1 {
		t.Fatalf("converts %d and %d, builds %d; want 1 each", r1.converts.Load(), r2.converts.Load(), calls.Load())
	}
	b1 := mustView(t, v1, fn, argsOf("b"))
	c2 := mustView(t, v2, fn, argsOf("c")) // evicts a
	if n := r1.Release(v1); n != 1 {
		t.Fatalf("v1.Release() = %d, want 1", n)
	}
	r1.wantReleased(t, 0, a1)
	if got := r2.releasedViews(); len(got) != 0 {
		t.Fatalf("v1's Release released v2's views %s", viewIDs(got))
	}
	wantViewStats(t, v2, 2, 0, 2)
	if n := r2.Release(v2); n != 1 {
		t.Fatalf("v2.Release() = %d, want 1", n)
	}
	r2.wantReleased(t, 0, a2)

	r1.Close(v1)
	r1.wantReleased(t, 1, b1)
	wantViewStats(t, v1, 2, 2, 0)
	if got := r2.releasedViews(); len(got) != 1 {
		t.Fatalf("closing v1 released v2's views %s", viewIDs(got))
	}
	if _, err := ProvideView(v1, fn, argsOf("c")); !errors.Is(err, ErrClosed) {
		t.Fatalf("ProvideView on closed v1: %v, want ErrClosed", err)
	}
	// v2 goes on: its view of c is kept, and released on eviction.
	if mustView(t, v2, fn, argsOf("c")) != c2 || r2.converts.Load() != 2 {
		t.Fatal("v2 lost its view of c when v1 closed")
	}
	mustView(t, v2, fn, argsOf("d"))
	mustView(t, v2, fn, argsOf("e")) // evicts c
	if n := r2.Release(v2); n != 1 {
		t.Fatalf("v2.Release() = %d, want 1", n)
	}
	r2.wantReleased(t, 1, c2)
	if n := r1.Release(v1); n != 0 {
		t.Fatalf("closed v1 released %d views", n)
	}
	wantViewStats(t, v1, 2, 2, 0)
}

func TestViewsMadeWhileImageLeaves(t *testing.T) {
	count := func(cfg *Config) { cfg.CacheMax = 1 }
	byBytes := func(cfg *Config) { cfg.MaxBytes = 500 } // the 4x4 image is 64 bytes
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		leave func(c *SlugCache, key string) error
	}{
		{"Remove", count, func(c *SlugCache, key string) error {
			if !c.Remove(key) {
				return errors.New("Remove found nothing")
			}
			return nil
		}},
		{"EvictedByCount", count, func(c *SlugCache, key string) error {
			return c.Put("newer-image", image.NewNRGBA(image.Rect(0, 0, 1, 1)))
		}},
		{"EvictedByBytes", byBytes, func(c *SlugCache, key string) error {
			return c.Put("bigger-image", image.NewNRGBA(image.Rect(0, 0, 11, 11))) // 484 bytes
		}},
		{"Clear", count, func(c *SlugCache, key string) error { return c.Clear(false) }},
		{"ReplacedByPut", byBytes, func(c *SlugCache, key string) error {
			return c.Put(key, image.NewNRGBA(image.Rect(0, 0, 7, 7)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCache(t, tc.edit)
			v, r := newTestViews(t, c)
			defer r.Close(v)
			started := make(chan struct{})
			proceed := make(chan struct{})
			var once sync.Once
			r.hook = func(image.Image) error {
				once.Do(func() {
					close(started)
					<-proceed
				})
				return nil
			}
			var calls atomic.Int64
			fn := counted(&calls)
			args := iconArgs{Fill: "slow", Size: 4}
			key := mustKey(t, fn, args)
			type result struct {
				tv  *testView
				err error
			}
			done := make(chan result, 1)
			go func() {
				tv, err := ProvideView(v, fn, args)
				done <- result{tv, err}
			}()
			<-started
			left := make(chan error, 1)
			go func() { left <- tc.leave(c, key) }()
			if err := <-left; err != nil {
				t.Fatal(err)
			}
			close(proceed)
			res := <-done
			if res.err != nil || res.tv == nil {
				t.Fatalf("ProvideView = %v, %v; want the view", res.tv, res.err)
			}
			if b := res.tv.img.Bounds(); b.Dx() != 4 {
				t.Fatalf("view made from a %v image, want the 4x4 one built", b)
			}
			if got := r.releasedViews(); len(got) != 0 {
				t.Fatalf("released %s before Release", viewIDs(got))
			}
			wantViewStats(t, v, 1, 0, 1)
			if n := r.Release(v); n != 1 {
				t.Fatalf("Release() = %d, want 1: the orphaned view", n)
			}
			r.wantReleased(t, 0, res.tv)
			if n := r.Release(v); n != 0 {
				t.Fatalf("second Release() = %d, want 0", n)
			}
			wantViewStats(t, v, 1, 1, 0)
			if tv, ok := v.View(key); ok && tv == res.tv {
				t.Fatal("View returned the released view")
			}
			tv := mustView(t, v, fn, args)
			if tv == res.tv || tv.released.Load() != 0 {
				t.Fatal("ProvideView afterwards returned the released view")
			}
			if img, _ := c.Get(key); tv.img != img {
				t.Fatal("ProvideView afterwards is not made from the cached image")
			}
		})
	}
}

func TestViewsClose(t *testing.T) {
	var calls atomic.Int64
	fn := counted(&calls)
	argsOf := func(fill string) iconArgs { return iconArgs{Fill: fill, Size: 2} }

	t.Run("Views", func(t *testing.T) {
		c := newTestCache(t, func(cfg *Config) { cfg.CacheMax = 2 })
		v, r := newTestViews(t, c)
		a := mustView(t, v, fn, argsOf("a"))
		b := mustView(t, v, fn, argsOf("b"))
		queued := a
		mustView(t, v, fn, argsOf("c")) // evicts a, queued
		cv := mustView(t, v, fn, argsOf("c"))
		r.Close(v) // releases through the recorder: on this goroutine
		r.wantReleased(t, 0, queued, b, cv)
		wantViewStats(t, v, 3, 3, 0)
		converts := r.converts.Load()
		if _, err := ProvideView(v, fn, argsOf("b")); !errors.Is(err, ErrClosed) {
			t.Fatalf("ProvideView after Close: %v, want ErrClosed", err)
		}
		if _, err := ProvideView(v, fn, argsOf("new")); !errors.Is(err, ErrClosed) {
			t.Fatalf("ProvideView of a new key after Close: %v, want ErrClosed", err)
		}
		if _, ok := v.View(mustKey(t, fn, argsOf("b"))); ok {
			t.Fatal("View reported true after Close")
		}
		if r.converts.Load() != converts {
			t.Fatal("convert called after Close")
		}
		c.Remove(mustKey(t, fn, argsOf("b")))
		if n := r.Release(v); n != 0 {
			t.Fatalf("Release() = %d after Close, want 0", n)
		}
		r.Close(v) // a second Close releases nothing again
		wantViewStats(t, v, 3, 3, 0)
		if got := r.releasedViews(); len(got) != 3 {
			t.Fatalf("%d releases, want 3", len(got))
		}
		if _, err := Provide(c, fn, argsOf("b")); err != nil {
			t.Fatalf("the cache stopped working when its views closed: %v", err)
		}
	})

	t.Run("WhileConverting", func(t *testing.T) {
		c := newTestCache(t, nil)
		v, r := newTestViews(t, c)
		held := mustView(t, v, fn, argsOf("held"))
		started := make(chan struct{})
		proceed := make(chan struct{})
		var once sync.Once
		r.hook = func(image.Image) error {
			once.Do(func() {
				close(started)
				<-proceed
			})
			return nil
		}
		type result struct {
			tv  *testView
			err error
		}
		done := make(chan result, 1)
		go func() {
			tv, err := ProvideView(v, fn, argsOf("slow"))
			done <- result{tv, err}
		}()
		<-started
		r.Close(v)
		r.wantReleased(t, 0, held)
		close(proceed)
		res := <-done
		s := v.Stats()
		if s.Made != s.Released+uint64(s.Held) {
			t.Fatalf("stats %+v: Made != Released + Held", s)
		}
		n := r.Release(v)
		wantViewStats(t, v, s.Made, s.Made, 0)
		if res.err == nil {
			if n != 1 {
				t.Fatalf("Release() = %d, want 1: the view made while closing", n)
			}
			r.wantReleased(t, 1, res.tv)
		} else if !errors.Is(res.err, ErrClosed) {
			t.Fatalf("ProvideView during Close: %v, want a view or ErrClosed", res.err)
		}
	})

	t.Run("Cache", func(t *testing.T) {
		c := newTestCache(t, nil)
		v, r := newTestViews(t, c)
		defer r.Close(v)
		a := mustView(t, v, fn, argsOf("a"))
		b := mustView(t, v, fn, argsOf("b"))
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if got := r.releasedViews(); len(got) != 0 {
			t.Fatalf("released %s before Release", viewIDs(got))
		}
		wantViewStats(t, v, 2, 0, 2)
		if n := r.Release(v); n != 2 {
			t.Fatalf("Release() = %d after the cache closed, want 2", n)
		}
		r.wantReleased(t, 0, a, b)
		wantViewStats(t, v, 2, 2, 0)
		if _, err := ProvideView(v, fn, argsOf("a")); !errors.Is(err, ErrClosed) {
			t.Fatalf("ProvideView on a closed cache: %v, want ErrClosed", err)
		}
		if _, ok := v.View(mustKey(t, fn, argsOf("a"))); ok {
			t.Fatal("View on a closed cache reported true")
		}
	})
}

func TestViewsNilReleaseNoCacheAndUnkept(t *testing.T) {
	argsOf := func(fill string, size int) iconArgs { return iconArgs{Fill: fill, Size: size} }

	t.Run("NilRelease", func(t *testing.T) {
		c := newTestCache(t, func(cfg *Config) { cfg.CacheMax = 1 })
		var converts atomic.Int64
		v := NewViews(c, func(img image.Image) (*image.Rectangle, error) {
			converts.Add(1)
			r := img.Bounds()
			return &r, nil
		}, nil)
		var calls atomic.Int64
		fn := counted(&calls)
		first, err := ProvideView(v, fn, argsOf("a", 3))
		if err != nil || first.Dx() != 3 {
			t.Fatalf("ProvideView = %v, %v", first, err)
		}
		if _, err := ProvideView(v, fn, argsOf("b", 2)); err != nil { // evicts a
			t.Fatal(err)
		}
		if n := v.Release(); n != 1 {
			t.Fatalf("Release() = %d, want 1", n)
		}
		if s := v.Stats(); s != (ViewStats{Made: 2, Released: 1, Held: 1}) {
			t.Fatalf("stats %+v", s)
		}
		if _, err := ProvideView(v, fn, argsOf("a", 3), NoCache()); err != nil {
			t.Fatal(err)
		}
		v.Close()
		if s := v.Stats(); s != (ViewStats{Made: 3, Released: 3, Held: 0}) || converts.Load() != 3 {
			t.Fatalf("stats %+v after Close, %d converts", s, converts.Load())
		}
	})

	t.Run("NoCache", func(t *testing.T) {
		c := newTestCache(t, nil)
		v, r := newTestViews(t, c)
		defer r.Close(v)
		var calls atomic.Int64
		fn := counted(&calls)
		tv := mustView(t, v, fn, argsOf("nocache", 3), NoCache())
		if b := tv.img.Bounds(); b.Dx() != 3 || calls.Load() != 1 {
			t.Fatalf("view made from a %v image after %d builds", b, calls.Load())
		}
		if c.Len() != 0 {
			t.Fatalf("NoCache stored %d images", c.Len())
		}
		wantViewStats(t, v, 1, 0, 1)
		if got := r.releasedViews(); len(got) != 0 {
			t.Fatalf("released %s before Release", viewIDs(got))
		}
		if n := r.Release(v); n != 1 {
			t.Fatalf("Release() = %d, want 1: the NoCache view", n)
		}
		r.wantReleased(t, 0, tv)
		wantViewStats(t, v, 1, 1, 0)
		again := mustView(t, v, fn, argsOf("nocache", 3), NoCache())
		if again == tv || calls.Load() != 2 || r.converts.Load() != 2 {
			t.Fatalf("a second NoCache call: same view %v, %d builds, %d converts", again == tv, calls.Load(), r.converts.Load())
		}
		if n := r.Release(v); n != 1 {
			t.Fatalf("Release() = %d, want 1", n)
		}
		r.wantReleased(t, 1, again)
	})

	t.Run("TooLarge", func(t *testing.T) {
		c := newTestCache(t, func(cfg *Config) { cfg.MaxBytes = 100 })
		v, r := newTestViews(t, c)
		defer r.Close(v)
		var calls atomic.Int64
		fn := counted(&calls)
		tv := mustView(t, v, fn, argsOf("big", 8)) // 256 pixel bytes
		if b := tv.img.Bounds(); b.Dx() != 8 || c.Len() != 0 {
			t.Fatalf("view of a %v image; cache holds %d", b, c.Len())
		}
		wantViewStats(t, v, 1, 0, 1)
		if n := r.Release(v); n != 1 {
			t.Fatalf("Release() = %d, want 1: the view of the image not kept", n)
		}
		r.wantReleased(t, 0, tv)
		again := mustView(t, v, fn, argsOf("big", 8))
		if again == tv || calls.Load() != 2 {
			t.Fatal("an image too large to keep was kept, or its view was")
		}
		if n := r.Release(v); n != 1 {
			t.Fatalf("Release() = %d, want 1", n)
		}
		wantViewStats(t, v, 2, 2, 0)
	})

	t.Run("ViewOfKey", func(t *testing.T) {
		c := newTestCache(t, nil)
		v, r := newTestViews(t, c)
		defer r.Close(v)
		img := image.NewGray(image.Rect(0, 0, 3, 3))
		if err := c.Put("put-key", img); err != nil {
			t.Fatal(err)
		}
		tv, ok := v.View("put-key")
		if !ok || tv.img != image.Image(img) {
			t.Fatalf("View(put-key) = %v, %v; want a view of the image put", tv, ok)
		}
		if g := r.convertG.Load(); g != goroutineID() {
			t.Errorf("convert ran on goroutine %d, not the caller's %d", g, goroutineID())
		}
		if again, ok := v.View("put-key"); !ok || again != tv || r.converts.Load() != 1 {
			t.Fatalf("a second View made another view (%d converts)", r.converts.Load())
		}
		for _, key := range []string{"missing-key", "Not A Key", ""} {
			if tv, ok := v.View(key); ok || tv != nil {
				t.Fatalf("View(%q) = %v, %v; want nil, false", key, tv, ok)
			}
		}
		if r.converts.Load() != 1 {
			t.Fatalf("%d converts, want 1", r.converts.Load())
		}
		wantViewStats(t, v, 1, 0, 1)
	})
}

// TestViewsStaleEntryConvertsOnce stages an interleaving of concurrent
// ProvideView calls of one key: the first call converts the image while
// a second, which found the same stored image (by its lookup, or as a
// waiter of the same build), reaches the views only after the image has
// left the cache. The image was stored once, so it must be converted
// once, and both calls share the view. The test drives viewOf directly
// for the second call, as that order cannot be forced from outside.
func TestViewsStaleEntryConvertsOnce(t *testing.T) {
	c := newTestCache(t, nil)
	v, r := newTestViews(t, c)
	defer r.Close(v)
	started := make(chan struct{})
	proceed := make(chan struct{})
	var once sync.Once
	r.hook = func(image.Image) error {
		once.Do(func() {
			close(started)
			<-proceed
		})
		return nil
	}
	var calls atomic.Int64
	fn := counted(&calls)
	args := iconArgs{Fill: "stale", Size: 4}
	key := mustKey(t, fn, args)
	type result struct {
		tv  *testView
		err error
	}
	first := make(chan result, 1)
	go func() {
		tv, err := ProvideView(v, fn, args)
		first <- result{tv, err}
	}()
	<-started
	h := keyIndex(key)
	e, ok := c.lookup(h) // what the second call's lookup found
	if !ok {
		t.Fatal("the image is not cached")
	}
	if !c.Remove(key) {
		t.Fatal("Remove found nothing")
	}
	second := make(chan result, 1)
	go func() {
		tv, err := v.viewOf(h, e)
		second <- result{tv, err}
	}()
	close(proceed)
	a, b := <-first, <-second
	if a.err != nil || b.err != nil {
		t.Fatalf("errors %v and %v", a.err, b.err)
	}
	if n := r.converts.Load(); n != 1 || a.tv != b.tv {
		t.Errorf("one stored image converted %d times; views %d and %d, want one shared view", n, a.tv.id, b.tv.id)
	}
	if n := r.Release(v); n != 1 {
		t.Errorf("Release() = %d, want 1: the one view of the image that left", n)
	}
}
