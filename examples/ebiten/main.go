// Command ebiten draws a dashboard of 120 icons with Ebitengine, each icon
// tinted and resized by a constructor that arcache memoizes, and drawn
// from an *ebiten.Image that arcache.Views memoizes beside it: the upload
// to the GPU (ebiten.NewImageFromImage) happens once per cached icon, not
// once per frame.
//
// P or Space changes the palette and S the icon size. Either makes 120 new
// icons; the cache holds little more than one screenful (cache_max is the
// icon count plus a few), so the old icons are evicted, and the views of
// the evicted icons are released ((*ebiten.Image).Deallocate) by
// Views.Release, which the game calls from Update: on Ebitengine's game
// goroutine, once a tick, and nowhere else.
//
// Even frames draw the icons from their views; odd frames draw the same
// picture as a program without views does, converting every icon with
// ebiten.NewImageFromImage and deallocating it afterwards. The program
// times the icon drawing of both and, when it ends, prints the mean per
// frame (frames that built icons or views are left out of both):
//
//	views: made 240 released 112
//	frame: 290µs with views, 2.3ms without
//
// The cache keeps nothing on disk: no bin file, no preload, and its
// directory is a temporary one.
//
// Run it from this folder (it is a module of its own, since Ebitengine
// needs cgo and the arcache library does not):
//
//	cd examples/ebiten && go run .
//
// or without a display, under Xvfb, drawing 300 frames and writing the
// last one as a PNG:
//
//	xvfb-run -a go run . -frames 300 -screenshot shot.png
//
// With -frames the palette changes once, at the half-way frame, so that a
// run without keys also evicts and releases views. Flags: -frames N (0:
// until the window closes), -screenshot FILE, -masks DIR (the mask PNGs,
// by default the repository's testdata/masks), -vsync.
package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/arcache-go/arcache"
	"github.com/arcache-go/arcache/examples/internal/pngfile"
	"github.com/hajimehoshi/ebiten/v2"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ebiten:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("ebiten", flag.ContinueOnError)
	frames := fs.Int("frames", 0, "draw this many frames, then exit (0: run until the window closes)")
	shot := fs.String("screenshot", "", "write the last frame drawn to this PNG file")
	masksDir := fs.String("masks", filepath.Join("..", "..", "testdata", "masks"), "directory of grayscale mask PNGs")
	vsync := fs.Bool("vsync", false, "sync frames to the display (off by default, so that frame times are not capped)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *frames < 0 {
		return fmt.Errorf("-frames %d: want 0 or more", *frames)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	masks, err := filepath.Glob(filepath.Join(*masksDir, "*.png"))
	if err != nil {
		return err
	}
	if len(masks) == 0 {
		return fmt.Errorf("no mask PNGs in %s (set -masks)", *masksDir)
	}

	// A cache in memory only, bounded a little above one screenful of
	// icons and the scaled masks they are drawn from, so that a new
	// palette or size evicts the icons of the old one.
	dir, err := os.MkdirTemp("", "arcache-ebiten-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := arcache.DefaultConfig()
	cfg.CacheDir = filepath.Join(dir, "cache")
	cfg.ErrorDir = filepath.Join(dir, "errors")
	cfg.BinFile = arcache.NoBinFile
	cfg.Preload = false
	cfg.CacheMax = cells + len(masks) + 8
	c, err := arcache.New(cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()

	ebiten.SetWindowSize(screenW, screenH)
	ebiten.SetWindowTitle("arcache views")
	ebiten.SetVsyncEnabled(*vsync)
	ebiten.SetTPS(ebiten.SyncWithFPS) // one Update per frame, uncapped without vsync
	ebiten.SetWindowClosingHandled(true)

	g := newGame(c, masks, *frames, *shot != "")
	if err := ebiten.RunGame(g); err != nil {
		return err
	}

	if *shot != "" {
		if g.pixels == nil {
			return fmt.Errorf("screenshot %s: no frame was drawn", *shot)
		}
		// The screen is opaque, so its premultiplied pixels are plain RGBA.
		img := &image.RGBA{Pix: g.pixels, Stride: 4 * screenW, Rect: image.Rect(0, 0, screenW, screenH)}
		if _, err := pngfile.Write(*shot, img); err != nil {
			return err
		}
	}

	s := c.Stats()
	fmt.Fprintf(stdout, "drew %d frames of %dx%d, %d icons each; palette %s, size %d at the end\n",
		g.drawn, screenW, screenH, cells, palettes[g.palette].Name, sizes[g.size])
	fmt.Fprintf(stdout, "cache: %d builds, %d evictions, %d entries held (cache_max %d)\n",
		s.Builds, s.Evictions, s.Entries, cfg.CacheMax)
	var perView time.Duration
	if g.final.Made > 0 {
		perView = g.convert / time.Duration(g.final.Made)
	}
	fmt.Fprintf(stdout, "measured: %d frames with views, %d without, %d that built icons or views left out; a view took %v to make\n",
		g.withViews.frames, g.withoutViews.frames, g.skipped, perView.Round(time.Microsecond))
	if *shot != "" {
		fmt.Fprintf(stdout, "screenshot: %s\n", *shot)
	}
	fmt.Fprintf(stdout, "views: made %d released %d\n", g.final.Made, g.final.Released)
	fmt.Fprintf(stdout, "frame: %v with views, %v without\n",
		g.withViews.value().Round(time.Microsecond), g.withoutViews.value().Round(time.Microsecond))
	return nil
}
