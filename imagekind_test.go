package arcache

import (
	"image"
	"image/color"
	"reflect"
	"testing"
)

// TestImageKindNumbers pins the kind numbers: bin files store them.
func TestImageKindNumbers(t *testing.T) {
	want := map[uint8]image.Image{
		1: &image.RGBA{}, 2: &image.NRGBA{}, 3: &image.RGBA64{}, 4: &image.NRGBA64{},
		5: &image.Gray{}, 6: &image.Gray16{}, 7: &image.Alpha{}, 8: &image.Alpha16{},
		9: &image.CMYK{}, 10: &image.Paletted{}, 11: &image.YCbCr{}, 12: &image.NYCbCrA{},
	}
	if kindCount != 13 {
		t.Fatalf("kindCount = %d, want 13", kindCount)
	}
	for k, img := range want {
		if got, _ := kindOf(img); got != k {
			t.Errorf("kindOf(%T) = %d, want %d", img, got, k)
		}
	}
	if k, _ := kindOf(image.NewUniform(color.Black)); k != kindNone {
		t.Errorf("kindOf(*image.Uniform) = %d, want kindNone", k)
	}
}

// kindSamples holds an image of every kind, on a rectangle away from the
// origin, and a sub-image of each.
func kindSamples() []image.Image {
	r := image.Rect(3, 2, 10, 7)
	pal := color.Palette{color.Black, color.White, color.RGBA{1, 2, 3, 4}}
	imgs := []image.Image{
		image.NewRGBA(r), image.NewNRGBA(r), image.NewRGBA64(r), image.NewNRGBA64(r),
		image.NewGray(r), image.NewGray16(r), image.NewAlpha(r), image.NewAlpha16(r),
		image.NewCMYK(r), image.NewPaletted(r, pal),
		image.NewYCbCr(r, image.YCbCrSubsampleRatio420), image.NewNYCbCrA(r, image.YCbCrSubsampleRatio422),
	}
	for _, img := range imgs[:len(imgs):len(imgs)] {
		imgs = append(imgs, img.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(image.Rect(4, 3, 8, 6)))
	}
	return imgs
}

// TestImageKindsRoundTrip takes the planes of an image of every kind and
// builds it again from them.
func TestImageKindsRoundTrip(t *testing.T) {
	for _, img := range kindSamples() {
		k, p := kindOf(img)
		if k == kindNone {
			t.Errorf("%T: no kind", img)
			continue
		}
		ik := &imageKinds[k]
		if err := p.fit(ik); err != nil {
			t.Errorf("%T %v: its own planes do not fit: %v", img, img.Bounds(), err)
			continue
		}
		if again := ik.build(p); !reflect.DeepEqual(again, img) {
			t.Errorf("%T %v: rebuilt as %#v", img, img.Bounds(), again)
		}
	}
}

// TestImageKindsComplete checks that every kind has both conversions, and
// that what build makes is of that kind.
func TestImageKindsComplete(t *testing.T) {
	for k := kindNone + 1; k < kindCount; k++ {
		ik := &imageKinds[k]
		if ik.planes == nil || ik.build == nil || ik.bpp == 0 {
			t.Fatalf("kind %d is incomplete", k)
		}
		if got, _ := kindOf(ik.build(pixels{})); got != k {
			t.Errorf("kind %d builds an image of kind %d", k, got)
		}
	}
}

func TestPixelsFit(t *testing.T) {
	r := image.Rect(0, 0, 4, 2)
	cases := []struct {
		name string
		kind uint8
		p    pixels
		ok   bool
	}{
		{"rgba", kindRGBA, pixels{rect: r, stride: 16, pix: make([]byte, 32)}, true},
		{"rgba short", kindRGBA, pixels{rect: r, stride: 16, pix: make([]byte, 31)}, false},
		{"rgba narrow stride", kindRGBA, pixels{rect: r, stride: 15, pix: make([]byte, 32)}, false},
		{"empty", kindGray16, pixels{rect: image.Rect(0, 0, 0, 3)}, true},
		{"paletted", kindPaletted, pixels{rect: r, stride: 4, pix: []byte{0, 1, 0, 1, 1, 0, 1, 0}, palette: color.Palette{color.Black, color.White}}, true},
		{"paletted index", kindPaletted, pixels{rect: r, stride: 4, pix: []byte{0, 1, 0, 1, 1, 0, 1, 2}, palette: color.Palette{color.Black, color.White}}, false},
		{"ycbcr", kindYCbCr, pixels{rect: r, stride: 4, pix: make([]byte, 8), cstride: 2, ratio: image.YCbCrSubsampleRatio420, cb: make([]byte, 2), cr: make([]byte, 2)}, true},
		{"ycbcr short chroma", kindYCbCr, pixels{rect: r, stride: 4, pix: make([]byte, 8), cstride: 2, ratio: image.YCbCrSubsampleRatio420, cb: make([]byte, 1), cr: make([]byte, 2)}, false},
		{"ycbcr bad ratio", kindYCbCr, pixels{rect: r, stride: 4, pix: make([]byte, 8), ratio: 99}, false},
		{"nycbcra short alpha", kindNYCbCrA, pixels{rect: r, stride: 4, pix: make([]byte, 8), cstride: 4, cb: make([]byte, 8), cr: make([]byte, 8), astride: 4, a: make([]byte, 7)}, false},
	}
	for _, tc := range cases {
		if err := tc.p.fit(&imageKinds[tc.kind]); (err == nil) != tc.ok {
			t.Errorf("%s: fit = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
