package arcache

import (
	"image"
	"image/color"
)

// ErrorImage returns a w×h placeholder for an image that could not be
// read or built: white, with a red border and a red cross, so that a GUI
// can draw it where the real image should be. Sizes below 1 are taken
// as 1.
func ErrorImage(w, h int) *image.NRGBA {
	w, h = max(w, 1), max(h, 1)
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	red := color.NRGBA{R: 0xd0, G: 0x10, B: 0x10, A: 0xff}
	white := color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
	line := max(1, min(w, h)/16) // stroke width
	for y := range h {
		for x := range w {
			c := white
			border := x < line || y < line || x >= w-line || y >= h-line
			// Distance from the two diagonals, in pixels scaled to w.
			dx1 := abs(x*h - y*w)
			dx2 := abs(x*h - (h-1-y)*w)
			if border || dx1 < line*max(w, h) || dx2 < line*max(w, h) {
				c = red
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
