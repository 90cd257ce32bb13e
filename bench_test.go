package arcache

import (
	"image"
	"image/color"
	"strconv"
	"testing"

	lru "github.com/hashicorp/golang-lru/v2"
)

type benchArgs struct {
	File string
	Fill string
	Size int
}

func benchIcon(a benchArgs) (*image.NRGBA, error) {
	img := image.NewNRGBA(image.Rect(0, 0, a.Size, a.Size))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	return img, nil
}

func benchMapIcon(a map[string]any) (*image.NRGBA, error) {
	return image.NewNRGBA(image.Rect(0, 0, 8, 8)), nil
}

func benchCache(b *testing.B) *SlugCache {
	b.Helper()
	cfg := DefaultConfig()
	cfg.BinFile = ""
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

var sinkImg image.Image

// BenchmarkBaselineLRUGet is the floor a hit is measured against: a bare
// golang-lru Get with a key that is ready.
func BenchmarkBaselineLRUGet(b *testing.B) {
	l, _ := lru.New[string, image.Image](5000)
	key := "bench-icon-file-mask-png-fill-green-size-16-0123456789abcdef"
	l.Add(key, image.NewNRGBA(image.Rect(0, 0, 16, 16)))
	b.ReportAllocs()
	for b.Loop() {
		img, ok := l.Get(key)
		if !ok {
			b.Fatal("miss")
		}
		sinkImg = img
	}
}

func BenchmarkProvideHit(b *testing.B) {
	c := benchCache(b)
	args := benchArgs{File: "mask.png", Fill: "green", Size: 16}
	if _, err := Provide(c, benchIcon, args); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		img, err := Provide(c, benchIcon, args)
		if err != nil {
			b.Fatal(err)
		}
		sinkImg = img
	}
	if s := c.Stats(); s.Builds != 1 {
		b.Fatalf("builds = %d, want 1", s.Builds)
	}
}

func BenchmarkProvideHitMap(b *testing.B) {
	c := benchCache(b)
	args := map[string]any{"file": "mask.png", "fill": "green", "size": 16}
	if _, err := Provide(c, benchMapIcon, args); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		img, err := Provide(c, benchMapIcon, args)
		if err != nil {
			b.Fatal(err)
		}
		sinkImg = img
	}
}

func BenchmarkProvideHitParallel(b *testing.B) {
	c := benchCache(b)
	args := benchArgs{File: "mask.png", Fill: "green", Size: 16}
	if _, err := Provide(c, benchIcon, args); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Provide(c, benchIcon, args); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkKey(b *testing.B) {
	args := benchArgs{File: "mask.png", Fill: "green", Size: 16}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Key(benchIcon, args); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProvideMiss(b *testing.B) {
	c := benchCache(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		args := benchArgs{File: "mask-" + strconv.Itoa(i) + ".png", Fill: "green", Size: 16}
		if _, err := Provide(c, benchIcon, args); err != nil {
			b.Fatal(err)
		}
	}
}

var _ = color.White
