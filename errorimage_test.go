package arcache

import (
	"image/color"
	"testing"
)

func TestErrorImage(t *testing.T) {
	for _, size := range [][2]int{{64, 64}, {100, 30}, {3, 3}, {1, 1}, {0, -5}} {
		img := ErrorImage(size[0], size[1])
		w, h := max(size[0], 1), max(size[1], 1)
		if img.Rect.Dx() != w || img.Rect.Dy() != h {
			t.Fatalf("ErrorImage(%d, %d) is %v", size[0], size[1], img.Rect)
		}
		var red, white int
		for y := range h {
			for x := range w {
				switch c := img.NRGBAAt(x, y); {
				case c.A != 0xff:
					t.Fatalf("pixel (%d,%d) is not opaque: %v", x, y, c)
				case c.R > 0x80 && c.G < 0x40:
					red++
				case c == color.NRGBA{0xff, 0xff, 0xff, 0xff}:
					white++
				}
			}
		}
		if red == 0 {
			t.Errorf("%dx%d: no red mark", w, h)
		}
		if w >= 16 && h >= 16 {
			// Border, centre and diagonals are red; the rest is mostly white.
			for _, p := range [][2]int{{0, 0}, {w - 1, h - 1}, {w / 2, h / 2}, {w / 4, h / 4}} {
				if c := img.NRGBAAt(p[0], p[1]); c.G != 0x10 {
					t.Errorf("%dx%d: (%d,%d) = %v, want red", w, h, p[0], p[1], c)
				}
			}
			if white < w*h/2 {
				t.Errorf("%dx%d: only %d white pixels", w, h, white)
			}
		}
	}
}
