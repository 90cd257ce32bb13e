package arcache

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// newTestCache returns a cache that keeps nothing on disk.
func newTestCache(t testing.TB, edit func(*Config), opts ...Option) *SlugCache {
	t.Helper()
	cfg := DefaultConfig()
	cfg.CacheDir = t.TempDir()
	cfg.BinFile = NoBinFile
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// counted returns a constructor that counts its calls and paints the
// image with its size, so results can be checked.
func counted(calls *atomic.Int64) func(iconArgs) (*image.NRGBA, error) {
	return func(a iconArgs) (*image.NRGBA, error) {
		calls.Add(1)
		img := image.NewNRGBA(image.Rect(0, 0, a.Size, a.Size))
		for i := range img.Pix {
			img.Pix[i] = byte(a.Size)
		}
		return img, nil
	}
}

func TestProvideHitDoesNotCall(t *testing.T) {
	c := newTestCache(t, nil)
	var calls atomic.Int64
	fn := counted(&calls)
	first, err := Provide(c, fn, iconArgs{Fill: "green", Size: 4})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		img, err := Provide(c, fn, iconArgs{Fill: "green", Size: 4})
		if err != nil {
			t.Fatal(err)
		}
		if img != first {
			t.Fatal("a hit returned another image")
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("constructor called %d times, want 1", n)
	}
	if _, err := Provide(c, fn, iconArgs{Fill: "red", Size: 4}); err != nil || calls.Load() != 2 {
		t.Fatalf("other arguments: err %v, calls %d", err, calls.Load())
	}
	s := c.Stats()
	if s.Hits != 10 || s.Misses != 2 || s.Builds != 2 || s.Entries != 2 || s.Bytes != 2*4*4*4 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestProvideConcurrentMissesShareOneCall(t *testing.T) {
	c := newTestCache(t, nil)
	var calls atomic.Int64
	release := make(chan struct{})
	fn := func(a iconArgs) (*image.NRGBA, error) {
		calls.Add(1)
		<-release
		return image.NewNRGBA(image.Rect(0, 0, a.Size, a.Size)), nil
	}
	const n = 64
	var started, done sync.WaitGroup
	imgs := make([]*image.NRGBA, n)
	errs := make([]error, n)
	for i := range n {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			imgs[i], errs[i] = Provide(c, fn, iconArgs{Size: 3})
		}()
	}
	started.Wait()
	// Goroutines that reach Provide after the call ends hit instead;
	// either way there is one call.
	for calls.Load() == 0 {
		runtime.Gosched()
	}
	close(release)
	done.Wait()
	if got := calls.Load(); got != 1 {
		t.Fatalf("constructor called %d times, want 1", got)
	}
	for i := range n {
		if errs[i] != nil || imgs[i] != imgs[0] || imgs[i] == nil {
			t.Fatalf("goroutine %d: img %p (want %p), err %v", i, imgs[i], imgs[0], errs[i])
		}
	}
}

var errBoom = errors.New("boom")

func TestProvideFailuresReachEveryWaiterAndAreNotCached(t *testing.T) {
	var nilPtr *image.NRGBA
	cases := map[string]struct {
		fn   func(iconArgs) (*image.NRGBA, error)
		want error
	}{
		"error":         {func(iconArgs) (*image.NRGBA, error) { return nil, errBoom }, errBoom},
		"panic":         {func(iconArgs) (*image.NRGBA, error) { panic("kaboom") }, ErrPanic},
		"panic error":   {func(iconArgs) (*image.NRGBA, error) { panic(errBoom) }, errBoom},
		"typed nil":     {func(iconArgs) (*image.NRGBA, error) { return nilPtr, nil }, ErrNilImage},
		"error and img": {func(iconArgs) (*image.NRGBA, error) { return image.NewNRGBA(image.Rect(0, 0, 1, 1)), errBoom }, errBoom},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newTestCache(t, nil)
			var calls atomic.Int64
			fn := func(a iconArgs) (*image.NRGBA, error) { calls.Add(1); return tc.fn(a) }
			args := iconArgs{Fill: "x", Size: 2}
			key := mustKey(t, fn, args)
			var wg sync.WaitGroup
			errs := make([]error, 16)
			for i := range errs {
				wg.Go(func() {
					img, err := Provide(c, fn, args)
					if img != nil {
						err = errors.New("got an image with the error")
					}
					errs[i] = err
				})
			}
			wg.Wait()
			for i, err := range errs {
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), key) {
					t.Fatalf("waiter %d: err = %v, want %v naming %s", i, err, tc.want, key)
				}
			}
			if c.Len() != 0 {
				t.Fatalf("a failure was cached: %v", c.Keys())
			}
			before := calls.Load()
			if _, err := Provide(c, fn, args); err == nil || calls.Load() != before+1 {
				t.Fatalf("the next call did not retry: err %v, calls %d -> %d", err, before, calls.Load())
			}
			if s := c.Stats(); s.BuildErrors != uint64(calls.Load()) {
				t.Fatalf("BuildErrors = %d, calls = %d", s.BuildErrors, calls.Load())
			}
		})
	}
}

// A Provide whose I is an interface returning a nil interface value.
func TestProvideNilInterface(t *testing.T) {
	c := newTestCache(t, nil)
	_, err := Provide(c, func(int) (image.Image, error) { return nil, nil }, 1)
	if !errors.Is(err, ErrNilImage) {
		t.Fatalf("err = %v, want ErrNilImage", err)
	}
}

func TestProvideRebuildsOtherTypes(t *testing.T) {
	c := newTestCache(t, nil)
	var calls atomic.Int64
	fn := counted(&calls)
	args := iconArgs{Size: 2}
	key := mustKey(t, fn, args)
	if err := c.Put(key, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	img, err := Provide(c, fn, args)
	if err != nil || img == nil || calls.Load() != 1 {
		t.Fatalf("img %v, err %v, calls %d", img, err, calls.Load())
	}
	got, ok := c.Get(key)
	if _, isNRGBA := got.(*image.NRGBA); !ok || !isNRGBA || c.Len() != 1 {
		t.Fatalf("the Gray entry was not replaced: %T, len %d", got, c.Len())
	}
	// A constructor with an interface result takes any cached image.
	asImage := func(a iconArgs) (image.Image, error) { calls.Add(1); return nil, errBoom }
	if _, err := Provide(c, asImage, args, Name("other")); !errors.Is(err, errBoom) {
		t.Fatalf("err = %v", err)
	}
}

func TestProvideNoCache(t *testing.T) {
	c := newTestCache(t, nil)
	var calls atomic.Int64
	fn := counted(&calls)
	for range 3 {
		if _, err := Provide(c, fn, iconArgs{Size: 2}, NoCache()); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 3 || c.Len() != 0 || c.Stats() != (Stats{}) {
		t.Fatalf("calls %d, len %d, stats %+v", calls.Load(), c.Len(), c.Stats())
	}
	if _, err := Provide(c, func(iconArgs) (*image.NRGBA, error) { panic("x") }, iconArgs{}, NoCache()); !errors.Is(err, ErrPanic) {
		t.Fatalf("NoCache panic: %v", err)
	}
}

func TestProvideExcludedArgumentsReachTheConstructor(t *testing.T) {
	c := newTestCache(t, nil)
	var got []image.Point
	fn := func(p placed) (*image.NRGBA, error) {
		got = append(got, p.Placement)
		return image.NewNRGBA(image.Rect(0, 0, 1, 1)), nil
	}
	if _, err := Provide(c, fn, placed{Fill: "red", Placement: image.Pt(7, 8)}, Exclude("Placement")); err != nil {
		t.Fatal(err)
	}
	if _, err := Provide(c, fn, placed{Fill: "red", Placement: image.Pt(9, 9)}, Exclude("Placement")); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != image.Pt(7, 8) {
		t.Fatalf("constructor saw %v, want one call with (7,8)", got)
	}
}

func TestProvideDebugLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestCache(t, nil, WithLogger(log))
	args := iconArgs{Fill: "green", Size: 2}
	key := mustKey(t, icon, args)
	for range 2 {
		if _, err := Provide(c, icon, args, Debug()); err != nil {
			t.Fatal(err)
		}
	}
	out := buf.String()
	if !strings.Contains(out, "miss") || !strings.Contains(out, "hit") || strings.Count(out, key) != 2 {
		t.Fatalf("debug log lacks the key, miss and hit:\n%s", out)
	}
	buf.Reset()
	if _, err := Provide(c, icon, args); err != nil || buf.Len() != 0 {
		t.Fatalf("logged without Debug: %q (err %v)", buf.String(), err)
	}
}

func TestProvideBadCalls(t *testing.T) {
	c := newTestCache(t, nil)
	if _, err := Provide[iconArgs, *image.NRGBA](c, nil, iconArgs{}); err == nil {
		t.Error("nil constructor: no error")
	}
	if _, err := Provide(nil, icon, iconArgs{}); err == nil {
		t.Error("nil cache: no error")
	}
	type bad struct{ C chan int }
	_, err := Provide(c, func(bad) (*image.Gray, error) { return nil, nil }, bad{})
	if !errors.Is(err, ErrUnkeyable) || !strings.Contains(err.Error(), "field C") {
		t.Errorf("unkeyable: %v", err)
	}
}

func TestProvideColorArgs(t *testing.T) {
	c := newTestCache(t, nil)
	type tint struct{ Fill color.Color }
	var calls atomic.Int64
	fn := func(a tint) (*image.NRGBA, error) {
		calls.Add(1)
		img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
		img.Set(0, 0, a.Fill)
		return img, nil
	}
	for _, f := range []color.Color{color.RGBA{1, 2, 3, 255}, color.NRGBA{1, 2, 3, 255}, color.RGBA{3, 2, 1, 255}} {
		if _, err := Provide(c, fn, tint{f}); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("calls = %d, want 2 (equal colours share an entry)", calls.Load())
	}
}
