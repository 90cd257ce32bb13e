// Package shot compares the GUI examples' screenshots with their
// references.
package shot

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
)

// Read decodes the PNG at path.
func Read(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return img, nil
}

// Diff counts the pixels of a that have a channel (8 bits, not
// premultiplied) more than tol away from b's, and returns the largest
// difference seen. Images of different sizes differ everywhere.
func Diff(a, b image.Image, tol int) (off, worst int) {
	ab, bb := a.Bounds(), b.Bounds()
	if ab.Size() != bb.Size() {
		return ab.Dx() * ab.Dy(), 255
	}
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			ca := color.NRGBAModel.Convert(a.At(ab.Min.X+x, ab.Min.Y+y)).(color.NRGBA)
			cb := color.NRGBAModel.Convert(b.At(bb.Min.X+x, bb.Min.Y+y)).(color.NRGBA)
			d := max(absDiff(ca.R, cb.R), absDiff(ca.G, cb.G), absDiff(ca.B, cb.B), absDiff(ca.A, cb.A))
			worst = max(worst, d)
			if d > tol {
				off++
			}
		}
	}
	return off, worst
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}
