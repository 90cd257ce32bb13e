// Package mask reads the icon masks that the example programs tint:
// grayscale PNGs whose levels are the icon's coverage.
package mask

import (
	"fmt"
	"image"
	"image/png"
	"os"

	"golang.org/x/image/draw"
)

// Load decodes the mask PNG at path as grayscale, whatever colour model
// the file was saved in.
func Load(path string) (*image.Gray, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("mask %s: %w", path, err)
	}
	if g, ok := src.(*image.Gray); ok {
		return g, nil
	}
	g := image.NewGray(src.Bounds())
	draw.Draw(g, g.Bounds(), src, src.Bounds().Min, draw.Src)
	return g, nil
}

// Scale scales m to size×size with Catmull-Rom and returns its levels as
// alpha. It scales into a Gray, not straight into an Alpha: the scalers
// read a Gray source as opaque pixels and would give an all-opaque Alpha.
func Scale(m *image.Gray, size int) *image.Alpha {
	r := image.Rect(0, 0, size, size)
	scaled := image.NewGray(r)
	draw.CatmullRom.Scale(scaled, r, m, m.Bounds(), draw.Src, nil)
	return &image.Alpha{Pix: scaled.Pix, Stride: scaled.Stride, Rect: r}
}
