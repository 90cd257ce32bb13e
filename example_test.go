package arcache_test

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"log"

	"github.com/arcache-go/arcache"
)

// badgeArgs are a badge constructor's arguments; their values make the key.
type badgeArgs struct {
	Fill color.NRGBA
	Size int
}

func badge(a badgeArgs) (*image.RGBA, error) {
	img := image.NewRGBA(image.Rect(0, 0, a.Size, a.Size))
	draw.Draw(img, img.Rect, image.NewUniform(a.Fill), image.Point{}, draw.Src)
	return img, nil
}

func ExampleProvide() {
	cache, err := arcache.Open("") // the defaults; a config file's path otherwise
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()

	green := badgeArgs{Fill: color.NRGBA{G: 0xa0, A: 0xff}, Size: 16}
	for range 3 {
		img, err := arcache.Provide(cache, badge, green) // img is an *image.RGBA
		if err != nil {
			log.Fatal(err)
		}
		_ = img
	}
	s := cache.Stats()
	fmt.Printf("builds=%d hits=%d misses=%d\n", s.Builds, s.Hits, s.Misses)
	// Output: builds=1 hits=2 misses=1
}

func ExampleKey() {
	key, err := arcache.Key(badge, badgeArgs{Fill: color.NRGBA{R: 0xff, A: 0xff}, Size: 16})
	if err != nil {
		log.Fatal(err)
	}
	// The readable part; the key ends in "-" and a 16-digit hash of the
	// exact values.
	fmt.Println(key[:len(key)-17])
	// Output: badge-fill-ff0000ff-size-16
}

func ExampleSlugify() {
	fmt.Println(arcache.Slugify("Crème Brûlée, 2 × 100%", false))
	fmt.Println(arcache.Slugify("Crème Brûlée, 2 × 100%", true))
	// Output:
	// creme-brulee-2-100
	// crème-brûlée-2-100
}

func ExampleOpen() {
	cache, err := arcache.Open("testdata/config/arcache-docs.ini")
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	cfg := cache.Config()
	fmt.Println(cfg.CacheDir, cfg.CacheMax, cfg.DebugImages)
	// Output: .imgcache 5000 true
}

func ExampleSlugCache_Get() {
	cache, err := arcache.New(arcache.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	if err := cache.Put("logo", image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		log.Fatal(err)
	}
	img, ok := cache.Get("logo")
	fmt.Println(img.Bounds(), ok)
	_, ok = cache.Get("missing")
	fmt.Println(ok)
	// Output:
	// (0,0)-(8,8) true
	// false
}

func ExampleErrorImage() {
	img := arcache.ErrorImage(32, 32)
	fmt.Println(img.Bounds())
	// Output: (0,0)-(32,32)
}
