package main

import (
	"fmt"
	"image"
	"image/color"
	"time"

	"github.com/arcache-go/arcache"
	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
)

// The screen: a fixed 960x720, whatever the window's size, so that the
// screenshot and the frame times do not depend on the display.
const (
	screenW, screenH = 960, 720
	cols, rows       = 12, 10
	cells            = cols * rows
	cellW, cellH     = 76, 64                     // the grid's pitch
	gridX            = (screenW - cols*cellW) / 2 // 24
	gridY            = 64                         // below the header
	cardInset        = 4                          // card edge inside its cell
	headerH          = 52
)

// sizes are the icon edges that S steps through; the first is the start.
var sizes = []int{40, 48, 32}

var (
	background = color.NRGBA{R: 0x13, G: 0x16, B: 0x1d, A: 0xff}
	headerBar  = color.NRGBA{R: 0x1b, G: 0x20, B: 0x2a, A: 0xff}
	cardColor  = color.NRGBA{R: 0x23, G: 0x29, B: 0x35, A: 0xff}
)

// mean adds up the icon-drawing time of frames drawn in one mode.
type mean struct {
	total  time.Duration
	frames int
}

func (m *mean) add(d time.Duration) { m.total += d; m.frames++ }

func (m mean) value() time.Duration {
	if m.frames == 0 {
		return 0
	}
	return m.total / time.Duration(m.frames)
}

// game is the ebiten.Game. Update and Draw run on Ebitengine's game
// goroutine, one after the other, so game needs no locks; every view is
// made (in Draw) and released (in Update) there.
type game struct {
	cache  *arcache.SlugCache
	views  *arcache.Views[*ebiten.Image]
	build  builder
	masks  []string
	frames int  // frames to draw; 0: until the window closes
	shot   bool // read the last frame back for a screenshot

	palette, size int // indexes into palettes and sizes
	autoSwitched  bool

	drawn     int  // frames drawn
	closing   bool // the window is closing: the next frame is the last
	lastDrawn bool // the last frame is drawn: the next Update ends the run
	finished  bool // views closed: draw nothing more
	err       error

	card *ebiten.Image
	op   ebiten.DrawImageOptions
	tmp  []*ebiten.Image // the per-frame images of a frame drawn without views

	withViews, withoutViews mean
	skipped                 int           // frames that built icons or views, left out of the means
	convert                 time.Duration // time spent in NewImageFromImage for views
	final                   arcache.ViewStats
	pixels                  []byte // the last frame, premultiplied RGBA
}

func newGame(c *arcache.SlugCache, masks []string, frames int, shot bool) *game {
	g := &game{cache: c, build: builder{cache: c}, masks: masks, frames: frames, shot: shot}
	g.views = arcache.NewViews(c, g.makeView, (*ebiten.Image).Deallocate)
	g.card = ebiten.NewImageFromImage(card(cellW-2*cardInset, cellH-2*cardInset, 9, cardColor))
	return g
}

// makeView turns a cached icon into a GPU image. Views calls it once per
// stored icon, on the goroutine calling ProvideView: here, in Draw.
func (g *game) makeView(img image.Image) (*ebiten.Image, error) {
	start := time.Now()
	v := ebiten.NewImageFromImage(img)
	g.convert += time.Since(start)
	return v, nil
}

// Update runs once a tick (once a frame: TPS is SyncWithFPS). It releases
// the views of icons the cache let go, which is what Views asks of the
// game goroutine, and handles the keys.
func (g *game) Update() error {
	g.views.Release()
	if g.err != nil {
		g.finish()
		return g.err
	}
	if g.lastDrawn {
		g.finish()
		return ebiten.Termination
	}
	if ebiten.IsWindowBeingClosed() || inpututil.IsKeyJustPressed(ebiten.KeyEscape) {
		g.closing = true
	}
	if inpututil.IsKeyJustPressed(ebiten.KeyP) || inpututil.IsKeyJustPressed(ebiten.KeySpace) {
		g.palette = (g.palette + 1) % len(palettes)
	}
	if inpututil.IsKeyJustPressed(ebiten.KeyS) {
		g.size = (g.size + 1) % len(sizes)
	}
	// An automatic run changes the palette once, half way, so that the
	// new icons evict the old ones and their views are released.
	if g.frames > 0 && !g.autoSwitched && g.drawn >= g.frames/2 {
		g.autoSwitched = true
		g.palette = (g.palette + 1) % len(palettes)
	}
	if g.drawn%60 == 30 {
		ebiten.SetWindowTitle(fmt.Sprintf("arcache views: frame %v with views, %v without",
			g.withViews.value().Round(time.Microsecond), g.withoutViews.value().Round(time.Microsecond)))
	}
	return nil
}

// finish closes the views, releasing every one still held, here on the
// game goroutine, and notes the counts of the run before that.
func (g *game) finish() {
	if g.finished {
		return
	}
	g.finished = true
	g.final = g.views.Stats()
	g.views.Close()
}

// Layout fixes the screen's size.
func (g *game) Layout(int, int) (int, int) { return screenW, screenH }

// Draw draws the dashboard. Even frames draw the icons through their
// views, odd ones convert every icon anew, as a program without views
// does, and the time each takes is kept apart.
func (g *game) Draw(screen *ebiten.Image) {
	if g.finished {
		return
	}
	last := g.closing || (g.frames > 0 && g.drawn == g.frames-1)
	pal, size := palettes[g.palette], sizes[g.size]

	screen.Fill(background)
	header := screen.SubImage(image.Rect(0, 0, screenW, headerH)).(*ebiten.Image)
	header.Fill(headerBar)
	ebitenutil.DebugPrintAt(screen, fmt.Sprintf("arcache views: %d icons tinted and resized by arcache.Provide, drawn from *ebiten.Image views", cells), gridX, 10)
	ebitenutil.DebugPrintAt(screen, fmt.Sprintf("palette %-9s [P/Space]    size %d px [S]    quit [Esc]", pal.Name, size), gridX, 28)
	for i := range cells {
		g.op.GeoM.Reset()
		g.op.GeoM.Translate(float64(gridX+i%cols*cellW+cardInset), float64(gridY+i/cols*cellH+cardInset))
		screen.DrawImage(g.card, &g.op)
	}

	withViews := g.drawn%2 == 0
	builds, made := g.cache.Stats().Builds, g.views.Stats().Made
	start := time.Now()
	if !g.drawIcons(screen, withViews, pal, size) {
		return
	}
	took := time.Since(start)

	switch {
	case g.cache.Stats().Builds != builds || g.views.Stats().Made != made:
		g.skipped++ // the constructors' and first conversions' time is no frame's
	case withViews:
		g.withViews.add(took)
	default:
		g.withoutViews.add(took)
	}

	if last {
		if g.shot {
			g.pixels = make([]byte, 4*screenW*screenH)
			screen.ReadPixels(g.pixels)
		}
		g.lastDrawn = true
	}
	g.drawn++
}

// drawIcons draws the grid of icons: from their views, or, withViews
// false, from images made anew and deallocated once drawn. It reports
// false, having set g.err, when an icon could not be had.
func (g *game) drawIcons(screen *ebiten.Image, withViews bool, pal palette, size int) bool {
	defer func() {
		for i, t := range g.tmp {
			t.Deallocate()
			g.tmp[i] = nil
		}
		g.tmp = g.tmp[:0]
	}()
	for i := range cells {
		row, col := i/cols, i%cols
		args := iconArgs{Mask: g.masks[col%len(g.masks)], Size: size, Fill: pal.fill(row, col, rows, cols)}
		var icon *ebiten.Image
		if withViews {
			v, err := arcache.ProvideView(g.views, g.build.tinted, args)
			if err != nil {
				g.err = err
				return false
			}
			icon = v
		} else {
			img, err := arcache.Provide(g.cache, g.build.tinted, args)
			if err != nil {
				g.err = err
				return false
			}
			icon = ebiten.NewImageFromImage(img)
			g.tmp = append(g.tmp, icon)
		}
		g.op.GeoM.Reset()
		g.op.GeoM.Translate(float64(gridX+col*cellW+(cellW-size)/2), float64(gridY+row*cellH+(cellH-size)/2))
		screen.DrawImage(icon, &g.op)
	}
	return true
}
