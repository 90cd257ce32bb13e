package main

import (
	"image"
	"image/color"
	"math"

	"github.com/arcache-go/arcache"
	"github.com/arcache-go/arcache/examples/internal/mask"
)

// A palette colours the grid: hue runs from HueFrom to HueTo across the
// cells, left to right and then down, and lightness from LightTop in the
// first row to LightBottom in the last.
type palette struct {
	Name                  string
	HueFrom, HueTo        float64 // degrees
	Saturation            float64 // 0..1
	LightTop, LightBottom float64 // 0..1
}

var palettes = []palette{
	{Name: "aurora", HueFrom: 140, HueTo: 300, Saturation: 0.62, LightTop: 0.66, LightBottom: 0.52},
	{Name: "ember", HueFrom: 350, HueTo: 420, Saturation: 0.78, LightTop: 0.64, LightBottom: 0.50},
	{Name: "ocean", HueFrom: 170, HueTo: 240, Saturation: 0.66, LightTop: 0.68, LightBottom: 0.48},
	{Name: "spectrum", HueFrom: 0, HueTo: 330, Saturation: 0.68, LightTop: 0.64, LightBottom: 0.56},
}

// fill is the colour of the cell at row, col of a rows x cols grid.
func (p palette) fill(row, col, rows, cols int) color.NRGBA {
	t := float64(row*cols+col) / float64(rows*cols-1)
	hue := p.HueFrom + t*(p.HueTo-p.HueFrom)
	light := p.LightTop + float64(row)/float64(rows-1)*(p.LightBottom-p.LightTop)
	return hsl(hue, p.Saturation, light)
}

// hsl converts hue (degrees), saturation and lightness to an opaque colour.
func hsl(h, s, l float64) color.NRGBA {
	h = math.Mod(h, 360)
	if h < 0 {
		h += 360
	}
	c := (1 - math.Abs(2*l-1)) * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	m := l - c/2
	var r, g, b float64
	switch {
	case h < 60:
		r, g, b = c, x, 0
	case h < 120:
		r, g, b = x, c, 0
	case h < 180:
		r, g, b = 0, c, x
	case h < 240:
		r, g, b = 0, x, c
	case h < 300:
		r, g, b = x, 0, c
	default:
		r, g, b = c, 0, x
	}
	return color.NRGBA{R: channel(r + m), G: channel(g + m), B: channel(b + m), A: 0xff}
}

func channel(v float64) uint8 { return uint8(math.Round(min(max(v, 0), 1) * 255)) }

// lighten moves c towards white by f (0..1).
func lighten(c color.NRGBA, f float64) color.NRGBA {
	mix := func(v uint8) uint8 { return uint8(math.Round(float64(v) + (255-float64(v))*f)) }
	return color.NRGBA{R: mix(c.R), G: mix(c.G), B: mix(c.B), A: c.A}
}

// maskArgs names a mask file and the edge it is scaled to.
type maskArgs struct {
	Path string
	Size int
}

// scaledMask reads a mask PNG (any colour model; its gray level is the
// coverage) and scales it to a.Size x a.Size. The result
// is cached by the icons that use it, so each file is read and scaled once
// per size however many tints it is drawn in.
func scaledMask(a maskArgs) (*image.Alpha, error) {
	m, err := mask.Load(a.Path)
	if err != nil {
		return nil, err
	}
	return mask.Scale(m, a.Size), nil
}

// iconArgs is everything an icon's pixels depend on: they are its key.
type iconArgs struct {
	Mask string
	Size int
	Fill color.NRGBA
}

// builder builds the dashboard's icons; its methods are the constructors
// that Provide and ProvideView memoize. The cache it carries does not
// change what an icon looks like, so keying by method and arguments is
// right.
type builder struct{ cache *arcache.SlugCache }

// tinted is the mask a.Mask at a.Size, filled with a soft vertical
// gradient: a.Fill lightened at the top, a.Fill itself at the bottom.
func (b builder) tinted(a iconArgs) (*image.RGBA, error) {
	mask, err := arcache.Provide(b.cache, scaledMask, maskArgs{Path: a.Mask, Size: a.Size})
	if err != nil {
		return nil, err
	}
	top, bottom := lighten(a.Fill, 0.35), a.Fill
	img := image.NewRGBA(mask.Rect)
	for y := range a.Size {
		t := float64(y) / float64(max(a.Size-1, 1))
		row := color.NRGBA{
			R: uint8(math.Round(float64(top.R) + t*(float64(bottom.R)-float64(top.R)))),
			G: uint8(math.Round(float64(top.G) + t*(float64(bottom.G)-float64(top.G)))),
			B: uint8(math.Round(float64(top.B) + t*(float64(bottom.B)-float64(top.B)))),
		}
		for x := range a.Size {
			cov := uint32(mask.Pix[y*mask.Stride+x])
			o := img.PixOffset(x, y)
			// *image.RGBA is alpha-premultiplied, as ebiten's images are.
			img.Pix[o+0] = uint8((uint32(row.R)*cov + 127) / 255)
			img.Pix[o+1] = uint8((uint32(row.G)*cov + 127) / 255)
			img.Pix[o+2] = uint8((uint32(row.B)*cov + 127) / 255)
			img.Pix[o+3] = uint8(cov)
		}
	}
	return img, nil
}

// card draws the rounded panel behind each icon: w x h, corners of radius
// r, antialiased by 4x4 supersampling, in c.
func card(w, h int, r float64, c color.NRGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	const n = 4 // samples per axis
	for y := range h {
		for x := range w {
			inside := 0
			for sy := range n {
				for sx := range n {
					px := float64(x) + (float64(sx)+0.5)/n
					py := float64(y) + (float64(sy)+0.5)/n
					// Distance past the corner circle's centre, if in a corner.
					dx := max(r-px, px-(float64(w)-r), 0)
					dy := max(r-py, py-(float64(h)-r), 0)
					if dx*dx+dy*dy <= r*r {
						inside++
					}
				}
			}
			a := uint32(inside * 255 / (n * n))
			o := img.PixOffset(x, y)
			img.Pix[o+0] = uint8(uint32(c.R) * a / 255)
			img.Pix[o+1] = uint8(uint32(c.G) * a / 255)
			img.Pix[o+2] = uint8(uint32(c.B) * a / 255)
			img.Pix[o+3] = uint8(a)
		}
	}
	return img
}
