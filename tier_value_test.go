package arcache

import (
	"bytes"
	"errors"
	"image"
	"reflect"
	"testing"
)

// A tier value brings back the exact image, of every kind.
func TestTierValueRoundTrip(t *testing.T) {
	for _, img := range kindSamples() {
		v, err := encodeTierValue("k", img)
		if err != nil {
			t.Fatalf("%T: %v", img, err)
		}
		got, err := decodeTierValue(v, "k", 1<<20)
		if err != nil {
			t.Fatalf("%T %v: %v", img, img.Bounds(), err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(img) || !samePixels(got, img) || got.Bounds() != img.Bounds() {
			t.Errorf("%T %v came back as %T %v", img, img.Bounds(), got, got.Bounds())
		}
	}
}

// A damaged, truncated, foreign, empty or oversized value is an error
// matching errTierValue, never an image.
func TestTierValueRefused(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	good, err := encodeTierValue("icon-1", img)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	cases := map[string]struct {
		v   []byte
		key string
		max int64
	}{
		"empty":         {nil, "icon-1", 1 << 20},
		"text":          {[]byte("hello, world"), "icon-1", 1 << 20},
		"header only":   {[]byte(tierMagic), "icon-1", 1 << 20},
		"cut":           {good[:len(good)/2], "icon-1", 1 << 20},
		"cut at end":    {good[:len(good)-1], "icon-1", 1 << 20},
		"flipped":       {flipped, "icon-1", 1 << 20},
		"another key":   {good, "icon-2", 1 << 20},
		"over max":      {good, "icon-1", 64*64 - 1},
		"a bin file":    {validBin(t, 1), "icon-1", 1 << 20},
		"magic garbage": {append([]byte(tierMagic), 0xff, 0xff, 0xff, 0xff), "icon-1", 1 << 20},
	}
	for name, tc := range cases {
		got, err := decodeTierValue(tc.v, tc.key, tc.max)
		if !errors.Is(err, errTierValue) || got != nil {
			t.Errorf("%s: %T, %v; want an error matching errTierValue", name, got, err)
		}
	}
	if _, err := decodeTierValue(good, "icon-1", 64*64); err != nil {
		t.Errorf("the good value at exactly max_image_pixels: %v", err)
	}
}

// FuzzTierValue: whatever a tier holds, decoding it never panics, and an
// image it accepts is of its key, within the bound, and readable.
func FuzzTierValue(f *testing.F) {
	for _, img := range kindSamples()[:4] {
		v, err := encodeTierValue("k", img)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(v)
	}
	f.Add([]byte(tierMagic))
	f.Fuzz(func(t *testing.T, v []byte) {
		img, err := decodeTierValue(v, "k", 1<<16)
		if err != nil {
			return
		}
		b := img.Bounds()
		if int64(b.Dx())*int64(b.Dy()) > 1<<16 {
			t.Fatalf("accepted %v, over the bound", b)
		}
		if !b.Empty() {
			_ = img.At(b.Min.X, b.Min.Y)
			_ = img.At(b.Max.X-1, b.Max.Y-1)
		}
		again, err := encodeTierValue("k", img)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := decodeTierValue(again, "k", 1<<16); err != nil || !samePixels(back, img) {
			t.Fatalf("an accepted image does not round-trip: %v", err)
		}
	})
}
