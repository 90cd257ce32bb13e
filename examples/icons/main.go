// Command icons shows arcache.Provide memoizing an image pipeline. It tints
// grayscale icon masks in several colours and sizes, lays them out as a
// toolbar panel, and renders that panel twice: the first render builds
// every icon, the second must find all of them in the cache and build
// nothing, which the program checks.
//
// The constructors nest: tintedIcon gets its mask through Provide too, so
// each mask file is decoded once however many tints and sizes use it.
//
// The cache persists: with the defaults, or a -config whose bin_file is
// set, Close saves it, and the next run starts warm and calls no
// constructor at all.
//
// Usage, from the module root:
//
//	go run ./examples/icons [-masks testdata/masks] [-out composite.png] [-config file.ini]
package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/arcache-go/arcache"
	"github.com/arcache-go/arcache/examples/internal/mask"
	"github.com/arcache-go/arcache/examples/internal/pngfile"
	"golang.org/x/image/draw"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage is printed already
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "icons:", err)
		os.Exit(1)
	}
}

// fills are the tints every mask is drawn in.
var fills = []color.NRGBA{
	{R: 0x1e, G: 0x6f, B: 0xd9, A: 0xff}, // blue
	{R: 0x2e, G: 0x9d, B: 0x4f, A: 0xff}, // green
	{R: 0xd9, G: 0x48, B: 0x1e, A: 0xff}, // orange
}

// sizes are the icon edge lengths, one toolbar row each.
var sizes = []int{32, 48}

const (
	gap  = 8  // space between cells and around the panel
	cell = 48 // cell edge: the largest size, so columns line up
)

var panelColor = color.NRGBA{R: 0xf2, G: 0xf3, B: 0xf5, A: 0xff}

func run(args []string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("icons", flag.ContinueOnError)
	masksDir := fs.String("masks", "testdata/masks", "directory of grayscale mask PNGs")
	out := fs.String("out", "composite.png", "composite PNG to write")
	config := fs.String("config", "", "arcache config file (default: the built-in defaults)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	masks, err := filepath.Glob(filepath.Join(*masksDir, "*.png"))
	if err != nil {
		return err
	}
	if len(masks) == 0 {
		return fmt.Errorf("no mask PNGs in %s", *masksDir)
	}

	c, err := arcache.Open(*config)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()

	r := &renderer{cache: c}
	start := c.Stats()
	var img *image.RGBA
	for i := 1; i <= 2; i++ {
		before, start := c.Stats(), time.Now()
		if img, err = r.render(masks); err != nil {
			return err
		}
		took, after := time.Since(start), c.Stats()
		hits, misses, builds := after.Hits-before.Hits, after.Misses-before.Misses, after.Builds-before.Builds
		fmt.Fprintf(stdout, "render %d: %v  hits=%d misses=%d builds=%d\n",
			i, took.Round(time.Microsecond), hits, misses, builds)
		if i == 2 && (misses != 0 || builds != 0) {
			return fmt.Errorf("render 2 was not served from the cache: %d misses, %d builds", misses, builds)
		}
	}

	n, err := pngfile.Write(*out, img)
	if err != nil {
		return err
	}
	b := img.Bounds()
	fmt.Fprintf(stdout, "wrote %s: %dx%d, %d bytes\n", *out, b.Dx(), b.Dy(), n)
	s := c.Stats()
	fmt.Fprintf(stdout, "constructor calls: %d (%d images loaded from %s)\n",
		s.Builds-start.Builds, s.Imported, binFileName(c.Config()))
	return nil
}

// binFileName names where the cache persists, for the report.
func binFileName(cfg arcache.Config) string {
	if cfg.BinFile == arcache.NoBinFile {
		return "nowhere: bin_file is off"
	}
	return cfg.BinFile
}

type maskArgs struct{ Path string }

// loadMask is the masks' constructor, for Provide to memoize.
func loadMask(a maskArgs) (*image.Gray, error) { return mask.Load(a.Path) }

type iconArgs struct {
	Mask string // path of the mask PNG
	Fill color.NRGBA
	Size int
}

// renderer's constructors are method values. Provide keys them by method
// and arguments alone, which is right here: the receiver only carries the
// cache, and nothing it holds changes what an icon looks like.
type renderer struct{ cache *arcache.SlugCache }

// tintedIcon draws a.Fill through the mask scaled to a.Size, on
// transparency.
func (r *renderer) tintedIcon(a iconArgs) (*image.RGBA, error) {
	m, err := arcache.Provide(r.cache, loadMask, maskArgs{a.Mask})
	if err != nil {
		return nil, err
	}
	alpha := mask.Scale(m, a.Size)
	rect := alpha.Rect

	icon := image.NewRGBA(rect)
	draw.DrawMask(icon, rect, image.NewUniform(a.Fill), image.Point{}, alpha, image.Point{}, draw.Over)
	return icon, nil
}

// compositeSize is the panel's size for n masks: one row per size, one
// column per mask and fill.
func compositeSize(n int) image.Rectangle {
	cols, rows := n*len(fills), len(sizes)
	return image.Rect(0, 0, gap+cols*(cell+gap), gap+rows*(cell+gap))
}

// render lays out every mask in every fill and size on a light panel.
func (r *renderer) render(masks []string) (*image.RGBA, error) {
	dst := image.NewRGBA(compositeSize(len(masks)))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(panelColor), image.Point{}, draw.Src)
	for row, size := range sizes {
		col := 0
		for _, m := range masks {
			for _, fill := range fills {
				icon, err := arcache.Provide(r.cache, r.tintedIcon, iconArgs{Mask: m, Fill: fill, Size: size})
				if err != nil {
					return nil, err
				}
				// Centre the icon in its cell.
				off := (cell - size) / 2
				at := image.Pt(gap+col*(cell+gap)+off, gap+row*(cell+gap)+off)
				draw.Draw(dst, icon.Bounds().Add(at), icon, image.Point{}, draw.Over)
				col++
			}
		}
	}
	return dst, nil
}
