package arcache

import (
	"bufio"
	"context"
	"encoding/gob"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
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
	cfg.BinFile = NoBinFile
	c, err := New(cfg, WithLogger(quiet))
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

// benchView is what BenchmarkProvideViewHit's views are: a small struct,
// as a toolkit's handle on an uploaded texture would be.
type benchView struct{ w, h int }

var sinkView *benchView

// BenchmarkProvideViewHit is BenchmarkProvideHit through ProvideView: the
// image and its view are both made once, and a hit returns the view.
func BenchmarkProvideViewHit(b *testing.B) {
	c := benchCache(b)
	v := NewViews(c, func(img image.Image) (*benchView, error) {
		r := img.Bounds()
		return &benchView{r.Dx(), r.Dy()}, nil
	}, nil)
	b.Cleanup(v.Close)
	args := benchArgs{File: "mask.png", Fill: "green", Size: 16}
	first, err := ProvideView(v, benchIcon, args)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		bv, err := ProvideView(v, benchIcon, args)
		if err != nil {
			b.Fatal(err)
		}
		sinkView = bv
	}
	if sinkView != first {
		b.Fatal("a hit returned another view")
	}
	if s := c.Stats(); s.Builds != 1 {
		b.Fatalf("builds = %d, want 1", s.Builds)
	}
	if s := v.Stats(); s.Made != 1 {
		b.Fatalf("views made = %d, want 1", s.Made)
	}
}

func benchIconContext(_ context.Context, a benchArgs) (*image.NRGBA, error) { return benchIcon(a) }

// BenchmarkProvideContextHit is BenchmarkProvideHit through ProvideContext,
// with a context that can end, made once: a hit never looks at it.
func BenchmarkProvideContextHit(b *testing.B) {
	c := benchCache(b)
	args := benchArgs{File: "mask.png", Fill: "green", Size: 16}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := ProvideContext(ctx, c, benchIconContext, args); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		img, err := ProvideContext(ctx, c, benchIconContext, args)
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

// saveSet is 1000 distinct 64×64 NRGBA images: 16 MiB of pixels.
func saveSet() []*image.NRGBA {
	imgs := make([]*image.NRGBA, 1000)
	for i := range imgs {
		imgs[i] = fill(image.NewNRGBA(image.Rect(0, 0, 64, 64)), i).(*image.NRGBA)
	}
	return imgs
}

const saveSetBytes = 1000 * 64 * 64 * 4

func BenchmarkSave(b *testing.B) {
	dir := b.TempDir()
	c := persistentCache(b, dir, nil)
	for i, img := range saveSet() {
		if err := c.Put(fmt.Sprint("img-", i), img); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(saveSetBytes)
	b.ResetTimer()
	for b.Loop() {
		if err := c.Save(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	c := persistentCache(b, dir, nil)
	for i, img := range saveSet() {
		if err := c.Put(fmt.Sprint("img-", i), img); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Save(); err != nil {
		b.Fatal(err)
	}
	d := persistentCache(b, dir, func(cfg *Config) { cfg.BinFile = c.cfg.BinFile })
	b.SetBytes(saveSetBytes)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		d.Clear(false) // Load into an empty cache each time
		b.StartTimer()
		if err := d.Load(); err != nil || d.Len() != 1000 {
			b.Fatalf("Load: %v, %d entries", err, d.Len())
		}
	}
}

// gobImage is what the baseline encodes: the same pixels, with no
// checksum, key index or type dispatch.
type gobImage struct {
	Rect   image.Rectangle
	Stride int
	Pix    []byte
}

// BenchmarkBaselineGobFile is the floor for Save (encode) and Load
// (decode): the same pixels gob-encoded into a file that is synced, and
// decoded back.
func BenchmarkBaselineGobFile(b *testing.B) {
	imgs := saveSet()
	path := filepath.Join(b.TempDir(), "baseline.gob")
	write := func() error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		enc := gob.NewEncoder(w)
		for _, img := range imgs {
			if err := enc.Encode(gobImage{img.Rect, img.Stride, img.Pix}); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		return f.Close()
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(saveSetBytes)
		for b.Loop() {
			if err := write(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		if err := write(); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(saveSetBytes)
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			dec := gob.NewDecoder(bufio.NewReaderSize(f, 1<<20))
			out := make([]image.Image, 0, len(imgs))
			for range imgs {
				var g gobImage
				if err := dec.Decode(&g); err != nil {
					b.Fatal(err)
				}
				out = append(out, &image.NRGBA{Pix: g.Pix, Stride: g.Stride, Rect: g.Rect})
			}
			f.Close()
			sinkImg = out[len(out)-1]
		}
	})
}

// BenchmarkBaselinePNGEncode is what a debug PNG costs, per 64×64 image:
// the reason the debug writer keeps PNG encoding off the miss path.
func BenchmarkBaselinePNGEncode(b *testing.B) {
	img := saveSet()[0]
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	b.SetBytes(64 * 64 * 4)
	for b.Loop() {
		if err := enc.Encode(io.Discard, img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProvideMissDebugImages is BenchmarkProvideMiss with
// debug_images on: the PNGs are written in the background.
//
// It writes them in /dev/shm where there is one. On a disk the figure
// follows the file system's state more than the cache's work: after the
// thousands of PNGs an earlier run left and deleted, file creation slows
// for minutes, and so do the runs that follow.
func BenchmarkProvideMissDebugImages(b *testing.B) {
	c := persistentCache(b, memDir(b), func(cfg *Config) { cfg.DebugImages = true; cfg.BinFile = NoBinFile })
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

// memDir returns a new directory in /dev/shm, or b.TempDir() where there
// is no /dev/shm.
func memDir(b *testing.B) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "arcache-bench-"); err == nil {
			b.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return b.TempDir()
}
