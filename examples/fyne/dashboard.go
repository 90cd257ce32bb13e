package main

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"github.com/arcache-go/arcache"
	"github.com/arcache-go/arcache/examples/internal/mask"
)

// The dashboard's geometry, in Fyne units; at scale 1 a unit is a pixel.
const (
	cols, rows = 12, 10
	cells      = cols * rows
	pitch      = 56 // from one cell to the next: the largest tile and a gap
	margin     = 4  // around the cells
	headerH    = 40 // the title line above them
	tilePad    = 4  // between a glyph and its tile's edge
	tileRadius = 8  // of the tiles' corners
)

// sizes are the glyph edges that the S key goes through; the first is
// where every run starts. An icon is its glyph on a tile 2*tilePad
// wider.
var sizes = []int{44, 36, 28}

// palettes are the tints that P and Space go through: one colour a row.
// The left six columns show it as it is, the right six lightened.
var palettes = [][rows]color.NRGBA{
	{ // bright
		{0xe5, 0x48, 0x4d, 0xff}, {0xf7, 0x6b, 0x15, 0xff}, {0xff, 0xc5, 0x3d, 0xff}, {0x46, 0xa7, 0x58, 0xff}, {0x12, 0xa5, 0x94, 0xff},
		{0x00, 0xa2, 0xc7, 0xff}, {0x00, 0x90, 0xff, 0xff}, {0x3e, 0x63, 0xdd, 0xff}, {0x8e, 0x4e, 0xc6, 0xff}, {0xd6, 0x40, 0x9f, 0xff},
	},
	{ // pastel
		{0xff, 0x8a, 0x80, 0xff}, {0xff, 0xd1, 0x80, 0xff}, {0xff, 0xff, 0x8d, 0xff}, {0xcc, 0xff, 0x90, 0xff}, {0xa7, 0xff, 0xeb, 0xff},
		{0x80, 0xd8, 0xff, 0xff}, {0x82, 0xb1, 0xff, 0xff}, {0xb3, 0x88, 0xff, 0xff}, {0xf8, 0xbb, 0xd0, 0xff}, {0xcf, 0xd8, 0xdc, 0xff},
	},
	{ // greens
		{0x2e, 0x7d, 0x32, 0xff}, {0x38, 0x8e, 0x3c, 0xff}, {0x43, 0xa0, 0x47, 0xff}, {0x4c, 0xaf, 0x50, 0xff}, {0x66, 0xbb, 0x6a, 0xff},
		{0x81, 0xc7, 0x84, 0xff}, {0xa5, 0xd6, 0xa7, 0xff}, {0x26, 0xa6, 0x9a, 0xff}, {0x00, 0x89, 0x7b, 0xff}, {0x00, 0x69, 0x5c, 0xff},
	},
}

var (
	backgroundColor = color.NRGBA{R: 0x1b, G: 0x20, B: 0x2a, A: 0xff}
	tileColor       = color.NRGBA{R: 0x2a, G: 0x31, B: 0x3f, A: 0xff}
	textColor       = color.NRGBA{R: 0xe6, G: 0xe9, B: 0xef, A: 0xff}
)

// canvasSize is the size of the whole dashboard.
func canvasSize() fyne.Size {
	return fyne.NewSize(2*margin+cols*pitch, headerH+rows*pitch+margin)
}

// cellCentre is the centre of cell i.
func cellCentre(i int) fyne.Position {
	col, row := i%cols, i/cols
	return fyne.NewPos(float32(margin+col*pitch+pitch/2), float32(headerH+row*pitch+pitch/2))
}

// lighten mixes c with white, 45 parts in 100.
func lighten(c color.NRGBA) color.NRGBA {
	mix := func(v uint8) uint8 { return v + uint8((255-int(v))*45/100) }
	return color.NRGBA{R: mix(c.R), G: mix(c.G), B: mix(c.B), A: c.A}
}

type maskArgs struct{ Path string }

// loadMask is the masks' constructor, for Provide to memoize.
func loadMask(a maskArgs) (*image.Gray, error) { return mask.Load(a.Path) }

type iconArgs struct {
	Mask string // path of the mask PNG
	Fill color.NRGBA
	Size int
}

// tinter's method tintedIcon is the icons' constructor. Its receiver
// only carries the cache that the masks come from, so keying the icons
// by method and arguments alone is right.
type tinter struct{ cache *arcache.SlugCache }

// tintedIcon resizes a mask to a.Size and paints a.Fill through it onto
// a rounded tile: an NRGBA, opaque but for the tile's corners. Its
// arithmetic is integer, so that every machine makes the same pixels.
func (t *tinter) tintedIcon(a iconArgs) (*image.NRGBA, error) {
	m, err := arcache.Provide(t.cache, loadMask, maskArgs{a.Mask})
	if err != nil {
		return nil, err
	}
	levels := mask.Scale(m, a.Size)

	edge := a.Size + 2*tilePad
	icon := image.NewNRGBA(image.Rect(0, 0, edge, edge))
	mix := func(bg, fg, level uint8) uint8 {
		return uint8((int(bg)*(0xff-int(level)) + int(fg)*int(level) + 0x7f) / 0xff)
	}
	for y := range edge {
		for x := range edge {
			level := uint8(0)
			if gx, gy := x-tilePad, y-tilePad; gx >= 0 && gx < a.Size && gy >= 0 && gy < a.Size {
				level = levels.Pix[gy*levels.Stride+gx]
			}
			level = uint8(int(level) * int(a.Fill.A) / 0xff)
			o := icon.PixOffset(x, y)
			p := icon.Pix[o : o+4 : o+4]
			p[0] = mix(tileColor.R, a.Fill.R, level)
			p[1] = mix(tileColor.G, a.Fill.G, level)
			p[2] = mix(tileColor.B, a.Fill.B, level)
			p[3] = uint8(cornerCoverage(x, y, edge) * 0xff / 16)
		}
	}
	return icon, nil
}

// cornerCoverage is how much of the pixel at (x, y) of a square tile
// of the given edge lies inside the tile once its corners are rounded,
// in 16ths: the pixel is sampled 4x4.
func cornerCoverage(x, y, edge int) int {
	// Distance from the corner circle's centre, in 16ths of a pixel.
	d := func(v int) int {
		switch {
		case v < tileRadius:
			return 16 * (tileRadius - v)
		case v >= edge-tileRadius:
			return 16 * (v + 1 - (edge - tileRadius))
		}
		return 0
	}
	cx, cy := d(x), d(y)
	if cx == 0 || cy == 0 {
		return 16
	}
	in := 0
	for sy := range 4 {
		for sx := range 4 {
			// The sample's distance: the pixel's far edge is cx away, and
			// samples sit at 2, 6, 10 and 14 sixteenths into it.
			dx, dy := cx-4*sx-2, cy-4*sy-2
			if dx*dx+dy*dy <= 16*16*tileRadius*tileRadius {
				in++
			}
		}
	}
	return in
}

// newIconImage is an icon's Fyne form: a canvas.Image of the icon at its
// own size. FillMode Contain with a fixed minimum size of the image's
// pixels: at scale 1 nothing is scaled, on a HiDPI screen the GPU scales.
func newIconImage(img image.Image) *canvas.Image {
	ci := canvas.NewImageFromImage(img)
	ci.FillMode = canvas.ImageFillContain
	b := img.Bounds()
	s := fyne.NewSize(float32(b.Dx()), float32(b.Dy()))
	ci.SetMinSize(s)
	ci.Resize(s)
	return ci
}

// releaseIconImage frees a view once its icon has left the cache. Fyne
// has no Destroy for a canvas object: what a canvas.Image holds is its
// pixels, referenced by the object, and, in the GL driver, a texture in
// a cache keyed by the object, which the driver frees when the object
// is refreshed (canvas.Refresh queues it, and the next paint deletes the
// texture before drawing) or when it has not been drawn for a minute.
// The view is already out of the container (update put its successor
// there), so: hide it, queue its texture's deletion with canvas.Refresh
// rather than wait a minute, and drop the pixels so that the garbage
// collector can have them once the driver's caches let go of the
// object. Release calls this on the UI goroutine, where Fyne wants every
// canvas change made.
func releaseIconImage(ci *canvas.Image) {
	ci.Hide()
	canvas.Refresh(ci)
	ci.Image = nil
}

// board is the dashboard's objects. Their positions are fixed, so the
// root container has no layout: the title and an icon a cell, on the
// theme's background.
type board struct {
	root    *fyne.Container
	header  *canvas.Text
	first   int // index in root.Objects of cell 0's icon
	masks   []string
	palette int // index in palettes
	size    int // index in sizes
}

func newBoard(masks []string) *board {
	header := canvas.NewText("", textColor)
	header.TextSize = 16
	header.TextStyle.Bold = true
	header.Move(fyne.NewPos(2*margin, 10))
	header.Resize(fyne.NewSize(canvasSize().Width-4*margin, 22))
	objs := []fyne.CanvasObject{header}
	first := len(objs)
	for range cells {
		blank := canvas.NewRectangle(color.Transparent) // until the first frame
		blank.Hide()
		objs = append(objs, blank)
	}
	return &board{root: container.NewWithoutLayout(objs...), header: header, first: first, masks: masks}
}

// args is what cell i shows now: a mask a column, a tint a row, plain on
// the left and lightened on the right, so that every cell differs.
func (b *board) args(i int) iconArgs {
	col, row := i%cols, i/cols
	fill := palettes[b.palette][row]
	if col >= cols/2 {
		fill = lighten(fill)
	}
	return iconArgs{Mask: b.masks[col%len(b.masks)], Fill: fill, Size: sizes[b.size]}
}

func (b *board) nextPalette() { b.palette = (b.palette + 1) % len(palettes) }
func (b *board) nextSize()    { b.size = (b.size + 1) % len(sizes) }

// update puts every cell's icon in place, from s, and then releases the
// views whose icons the cache let go meanwhile. It runs on the UI
// goroutine.
func (b *board) update(s *source) error {
	changed := false
	for i := range cells {
		ci, err := s.icon(b.args(i))
		if err != nil {
			return err
		}
		k := b.first + i
		if b.root.Objects[k] == ci {
			continue // a view: the same object, texture and all, as the last frame
		}
		sz := ci.MinSize()
		ci.Move(cellCentre(i).SubtractXY(sz.Width/2, sz.Height/2))
		b.root.Objects[k] = ci
		changed = true
	}
	mode := "with views"
	if !s.useViews {
		mode = "without views"
	}
	title := fmt.Sprintf("arcache + Fyne: %d icons, palette %d, %d px, %s", cells, b.palette+1, sizes[b.size], mode)
	if b.header.Text != title {
		b.header.Text = title
		b.header.Refresh()
	}
	if changed {
		// canvas.Refresh(root), not root.Refresh(): a container's Refresh
		// refreshes each child too, and a refreshed canvas.Image has its
		// texture freed and uploaded again, the very work views save.
		canvas.Refresh(b.root)
	}
	s.release()
	return nil
}

// source is where a run's icons come from: a cache of its own and, with
// views, the canvas images kept beside it.
type source struct {
	dir      string
	cache    *arcache.SlugCache
	tint     *tinter
	views    *arcache.Views[*canvas.Image]
	useViews bool
}

// cacheMax is a little above what one frame needs (the icons and the
// masks), so that a change of palette or size evicts the icons of the
// last one, and their views are released while the program runs.
const cacheMax = cells + 20

// newSource makes an empty cache that keeps nothing on disk: no bin
// file, no preload, its directories in a temporary one.
func newSource(useViews bool) (*source, error) {
	dir, err := os.MkdirTemp("", "arcache-fyne-")
	if err != nil {
		return nil, err
	}
	cfg := arcache.DefaultConfig()
	cfg.CacheDir = filepath.Join(dir, "cache")
	cfg.ErrorDir = filepath.Join(dir, "errors")
	cfg.BinFile = arcache.NoBinFile
	cfg.Preload = false
	cfg.CacheMax = cacheMax
	c, err := arcache.New(cfg)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &source{dir: dir, cache: c, tint: &tinter{cache: c}, useViews: useViews}
	s.views = arcache.NewViews(c, func(img image.Image) (*canvas.Image, error) {
		return newIconImage(img), nil
	}, releaseIconImage)
	return s, nil
}

// icon is the canvas image of the icon a describes. With views it is
// the one made when the icon was stored, the same object every frame;
// without, it is made anew from the cached image.Image, as a program
// that caches images but not their Fyne form does.
func (s *source) icon(a iconArgs) (*canvas.Image, error) {
	if s.useViews {
		return arcache.ProvideView(s.views, s.tint.tintedIcon, a)
	}
	img, err := arcache.Provide(s.cache, s.tint.tintedIcon, a)
	if err != nil {
		return nil, err
	}
	return newIconImage(img), nil
}

// release releases the views of the icons that have left the cache. It
// must run on the UI goroutine.
func (s *source) release() { s.views.Release() }

// close releases every view (on the UI goroutine too), closes the cache
// and removes its directory.
func (s *source) close() error {
	s.views.Close()
	err := s.cache.Close()
	return errors.Join(err, os.RemoveAll(s.dir))
}

// timing adds up frames and their time, by mode: index 1 with views,
// 0 without.
type timing struct {
	frames [2]int
	total  [2]time.Duration
}

func (t *timing) add(useViews bool, d time.Duration) {
	i := 0
	if useViews {
		i = 1
	}
	t.frames[i]++
	t.total[i] += d
}

// mean is the mean time of a frame in one mode, 0 when none was drawn.
func (t *timing) mean(useViews bool) time.Duration {
	i := 0
	if useViews {
		i = 1
	}
	if t.frames[i] == 0 {
		return 0
	}
	return (t.total[i] / time.Duration(t.frames[i])).Round(time.Microsecond)
}
