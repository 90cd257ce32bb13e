package arcache

import (
	"image"
	"io"
	"os"
	"reflect"
	"testing"
)

func scanBinOnly(r io.Reader, fn func(string, image.Image) error) (int, error) {
	n, damage, err := scanBin(r, fn)
	if damage != nil {
		return n, damage
	}
	return n, err
}

// A bin file of version 1, which carried each record as a gob struct,
// reads as the same images as the version 2 file written from them.
func TestReadBinVersion1(t *testing.T) {
	read := func(path string) map[string]image.Image {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		imgs := map[string]image.Image{}
		if _, err := scanBinOnly(f, func(key string, img image.Image) error { imgs[key] = img; return nil }); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return imgs
	}
	v1, v2 := read("testdata/binv1/toolbar.bin"), read("testdata/prebuilt/toolbar.bin")
	if len(v1) == 0 || len(v1) != len(v2) {
		t.Fatalf("version 1 holds %d images, version 2 %d", len(v1), len(v2))
	}
	for key, img := range v1 {
		if other, ok := v2[key]; !ok || reflect.TypeOf(img) != reflect.TypeOf(other) || !samePixels(img, other) {
			t.Errorf("%s differs between the versions", key)
		}
	}
}
