package arcache

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func nrgba(n int) *image.NRGBA { return image.NewNRGBA(image.Rect(0, 0, n, n)) }

func mustPut(t *testing.T, c *SlugCache, key string, img image.Image) {
	t.Helper()
	if err := c.Put(key, img); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func TestCacheCountBoundAndRecency(t *testing.T) {
	c := newTestCache(t, func(cfg *Config) { cfg.CacheMax = 3 })
	for _, k := range []string{"a", "b", "c"} {
		mustPut(t, c, k, nrgba(1))
	}
	if _, ok := c.Get("a"); !ok { // a becomes the most recent
		t.Fatal("a missing")
	}
	mustPut(t, c, "d", nrgba(1))
	if got, want := c.Keys(), []string{"c", "a", "d"}; !slices.Equal(got, want) {
		t.Fatalf("Keys() = %v, want %v (least recent first)", got, want)
	}
	if _, ok := c.Get("b"); ok {
		t.Fatal("b should have been evicted")
	}
	if s := c.Stats(); s.Evictions != 1 || s.Entries != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCacheByteBound(t *testing.T) {
	const img = 4 * 4 * 4 // bytes of a 4×4 NRGBA
	c := newTestCache(t, func(cfg *Config) { cfg.MaxBytes = 3 * img })
	for _, k := range []string{"a", "b", "c"} {
		mustPut(t, c, k, nrgba(4))
	}
	c.Get("a")
	mustPut(t, c, "d", nrgba(4))
	if got, want := c.Keys(), []string{"c", "a", "d"}; !slices.Equal(got, want) {
		t.Fatalf("Keys() = %v, want %v", got, want)
	}
	// One image worth two evicts two.
	mustPut(t, c, "e", image.NewNRGBA(image.Rect(0, 0, 4, 8)))
	if got, want := c.Keys(), []string{"d", "e"}; !slices.Equal(got, want) {
		t.Fatalf("Keys() = %v, want %v", got, want)
	}
	if s := c.Stats(); s.Bytes != 3*img || s.Evictions != 3 {
		t.Fatalf("stats %+v", s)
	}
	// Replacing an entry accounts for the old one.
	mustPut(t, c, "d", nrgba(2))
	if s := c.Stats(); s.Bytes != 2*img+2*2*4 {
		t.Fatalf("after replacing d: bytes %d", s.Bytes)
	}
}

func TestCacheTooLargeIsReturnedNotKept(t *testing.T) {
	c := newTestCache(t, func(cfg *Config) { cfg.MaxBytes = 100 })
	mustPut(t, c, "small", nrgba(2))
	big, err := Provide(c, func(n int) (*image.NRGBA, error) { return nrgba(n), nil }, 10)
	if err != nil || big == nil || big.Rect.Dx() != 10 {
		t.Fatalf("Provide of a large image: %v, %v", big, err)
	}
	if got := c.Keys(); !slices.Equal(got, []string{"small"}) {
		t.Fatalf("Keys() = %v: the large image was kept or evicted others", got)
	}
	if s := c.Stats(); s.Evictions != 0 || s.Bytes != 16 {
		t.Fatalf("stats %+v", s)
	}
	// Put of a large image under a held key drops the stale one.
	mustPut(t, c, "small", nrgba(10))
	if _, ok := c.Get("small"); ok {
		t.Fatal("a stale image outlived its replacement")
	}
}

func TestCachePutRejectsBadKeys(t *testing.T) {
	c := newTestCache(t, nil)
	for _, k := range []string{"../x", "a/b", "a b", "", strings.Repeat("a", 201), "Upper", "x.png", "é"} {
		if err := c.Put(k, nrgba(1)); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if err := c.Put("ok", nil); !errors.Is(err, ErrNilImage) {
		t.Errorf("Put(nil) = %v", err)
	}
	var typedNil *image.RGBA
	if err := c.Put("ok", typedNil); !errors.Is(err, ErrNilImage) {
		t.Errorf("Put(typed nil) = %v", err)
	}
	if c.Len() != 0 {
		t.Fatalf("bad puts stored %v", c.Keys())
	}
	if err := c.Update(map[string]image.Image{"good": nrgba(1), "bad key": nrgba(1)}); !errors.Is(err, ErrInvalidKey) || c.Len() != 0 {
		t.Fatalf("Update with a bad key: %v, len %d", err, c.Len())
	}
}

func TestCacheUpdateRemoveClear(t *testing.T) {
	c := newTestCache(t, nil)
	imgs := map[string]image.Image{"a": nrgba(1), "b": nrgba(2), "c": nrgba(3)}
	if err := c.Update(imgs); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d", c.Len())
	}
	for k, want := range imgs {
		if got, ok := c.Get(k); !ok || got != want {
			t.Fatalf("Get(%q) = %v, %v", k, got, ok)
		}
	}
	if !c.Remove("b") || c.Remove("b") || c.Remove("nope") || c.Len() != 2 {
		t.Fatalf("Remove: len %d", c.Len())
	}
	if err := c.Clear(false); err != nil || c.Len() != 0 || c.Stats().Bytes != 0 {
		t.Fatalf("Clear: %v, len %d, %+v", err, c.Len(), c.Stats())
	}
	if _, ok := c.Get("a"); ok {
		t.Fatal("Get after Clear")
	}
}

func TestCacheKeysShareAnIndexByHash(t *testing.T) {
	c := newTestCache(t, nil)
	mustPut(t, c, "a-00000000000000ff", nrgba(1))
	if _, ok := c.Get("b-00000000000000ff"); ok {
		t.Fatal("Get matched another key with the same hash")
	}
	if c.Remove("b-00000000000000ff") {
		t.Fatal("Remove matched another key with the same hash")
	}
	mustPut(t, c, "b-00000000000000ff", nrgba(2))
	if got := c.Keys(); !slices.Equal(got, []string{"b-00000000000000ff"}) {
		t.Fatalf("Keys() = %v", got)
	}
}

func TestCacheClosed(t *testing.T) {
	c := newTestCache(t, nil)
	mustPut(t, c, "a", nrgba(1))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("a"); ok {
		t.Error("Get after Close")
	}
	if err := c.Put("b", nrgba(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Put: %v", err)
	}
	if err := c.Update(map[string]image.Image{"b": nrgba(1)}); !errors.Is(err, ErrClosed) {
		t.Errorf("Update: %v", err)
	}
	if _, err := Provide(c, icon, iconArgs{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Provide: %v", err)
	}
	if err := c.Clear(false); !errors.Is(err, ErrClosed) {
		t.Errorf("Clear: %v", err)
	}
	if err := c.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
	if c.Keys() != nil || c.Len() != 0 || c.Remove("a") {
		t.Error("Keys, Len or Remove after Close")
	}
}

func TestPixelBytes(t *testing.T) {
	r := image.Rect(0, 0, 4, 2)
	cases := []struct {
		img  image.Image
		want int64
	}{
		{image.NewRGBA(r), 32}, {image.NewNRGBA(r), 32}, {image.NewRGBA64(r), 64}, {image.NewNRGBA64(r), 64},
		{image.NewGray(r), 8}, {image.NewGray16(r), 16}, {image.NewAlpha(r), 8}, {image.NewAlpha16(r), 16},
		{image.NewCMYK(r), 32}, {image.NewPaletted(r, color.Palette{color.Black, color.White}), 8 + 8},
		{image.NewYCbCr(r, image.YCbCrSubsampleRatio420), 8 + 2 + 2},
		{image.NewNYCbCrA(r, image.YCbCrSubsampleRatio444), 8 * 4},
		{image.NewUniform(color.Black), 1 << 53}, // unbounded: too large to keep
	}
	for _, tc := range cases {
		if got := pixelBytes(tc.img); got != tc.want {
			t.Errorf("pixelBytes(%T) = %d, want %d", tc.img, got, tc.want)
		}
	}
}

// TestCacheHammer runs every call from 8 goroutines at once; run it with
// -race. Afterwards the bounds hold and every image matches its key.
func TestCacheHammer(t *testing.T) {
	const maxBytes = 40 * 8 * 8 * 4
	c := newTestCache(t, func(cfg *Config) { cfg.CacheMax = 50; cfg.MaxBytes = maxBytes })
	build := func(n int) (*image.NRGBA, error) {
		img := nrgba(8)
		img.Pix[0] = byte(n)
		return img, nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 2000 {
				n := r.IntN(100)
				key := fmt.Sprintf("put-%d", n)
				switch i % 6 {
				case 0, 1:
					img, err := Provide(c, build, n)
					if err != nil || img.Pix[0] != byte(n) {
						errs <- fmt.Errorf("Provide(%d): %v", n, err)
						return
					}
				case 2:
					if img, ok := c.Get(key); ok && img.(*image.NRGBA).Pix[0] != byte(n) {
						errs <- fmt.Errorf("Get(%s) returned another image", key)
						return
					}
				case 3:
					img, _ := build(n)
					if err := c.Put(key, img); err != nil {
						errs <- err
						return
					}
				case 4:
					c.Remove(key)
				case 5:
					if len(c.Keys()) > 50 {
						errs <- errors.New("more keys than cache_max")
						return
					}
					if s := c.Stats(); s.Bytes > maxBytes || s.Entries > 50 {
						errs <- fmt.Errorf("bounds broken: %+v", s)
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
	s := c.Stats()
	if s.Entries != c.Len() || s.Bytes != int64(s.Entries)*8*8*4 || s.Bytes > maxBytes {
		t.Fatalf("stats disagree with contents: %+v, len %d", s, c.Len())
	}
}
