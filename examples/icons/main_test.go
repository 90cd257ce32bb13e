package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/arcache-go/arcache"
)

const masksDir = "../../testdata/masks"

func TestRun(t *testing.T) {
	masks, err := filepath.Glob(filepath.Join(masksDir, "*.png"))
	if err != nil || len(masks) == 0 {
		t.Fatalf("no masks in %s: %v", masksDir, err)
	}
	out := filepath.Join(t.TempDir(), "composite.png")
	var stdout bytes.Buffer
	if err := run([]string{"-masks", masksDir, "-out", out}, &stdout); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, &stdout)
	}
	t.Logf("output:\n%s", &stdout)

	icons := len(masks) * len(fills) * len(sizes)
	second := fmt.Sprintf(`(?m)^render 2: \S+  hits=%d misses=0 builds=0$`, icons)
	if !regexp.MustCompile(second).Match(stdout.Bytes()) {
		t.Errorf("output does not report render 2 as %d hits and nothing else", icons)
	}

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if got, want := img.Bounds(), compositeSize(len(masks)); got != want {
		t.Fatalf("composite is %v, want %v", got, want)
	}
	for _, fill := range fills {
		if !hasColor(img, fill) {
			t.Errorf("no pixel of the composite has the fill %v", fill)
		}
	}
}

// TestTintedIcon catches a mask that scaled to all-opaque, which would
// still leave the fill colours in the composite.
func TestTintedIcon(t *testing.T) {
	c, err := arcache.New(arcache.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := &renderer{cache: c}
	fill := fills[0]
	icon, err := r.tintedIcon(iconArgs{Mask: filepath.Join(masksDir, "circle.png"), Fill: fill, Size: 32})
	if err != nil {
		t.Fatal(err)
	}
	if got := color.NRGBAModel.Convert(icon.At(16, 16)); got != fill {
		t.Errorf("centre is %v, want the fill %v", got, fill)
	}
	if _, _, _, a := icon.At(0, 0).RGBA(); a != 0 {
		t.Errorf("corner has alpha %#x, want transparent", a)
	}
}

func hasColor(img image.Image, want color.NRGBA) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.NRGBAModel.Convert(img.At(x, y)) == want {
				return true
			}
		}
	}
	return false
}
