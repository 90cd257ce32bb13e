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
	if err := run([]string{"-masks", masksDir, "-out", out, "-config", tempConfig(t)}, &stdout); err != nil {
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

// tempConfig writes a config whose files all live in a temporary
// directory.
func tempConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "icons.ini")
	body := fmt.Sprintf("[cache]\ncache_dir = %s\nerror_dir = %s\nbin_file = %s\n",
		filepath.Join(dir, "cache"), filepath.Join(dir, "errors"), filepath.Join(dir, "icons.bin"))
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRunWarmStart runs the program twice on one bin file: the second run
// loads every image and calls no constructor.
func TestRunWarmStart(t *testing.T) {
	config := tempConfig(t)
	var outs [2]bytes.Buffer
	for i := range outs {
		out := filepath.Join(t.TempDir(), "composite.png")
		if err := run([]string{"-masks", masksDir, "-out", out, "-config", config}, &outs[i]); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, &outs[i])
		}
	}
	if !regexp.MustCompile(`(?m)^render 1: \S+  hits=\d+ misses=\d+ builds=[1-9]`).Match(outs[0].Bytes()) {
		t.Errorf("the first run did not build:\n%s", &outs[0])
	}
	second := outs[1].String()
	if !regexp.MustCompile(`(?m)^render 1: \S+  hits=\d+ misses=0 builds=0$`).MatchString(second) ||
		!regexp.MustCompile(`(?m)^constructor calls: 0 \(\d+ images loaded`).MatchString(second) {
		t.Errorf("the second run did not start warm:\n%s", second)
	}
	t.Logf("second run:\n%s", second)
}

// TestTintedIcon catches a mask that scaled to all-opaque, which would
// still leave the fill colours in the composite.
func TestTintedIcon(t *testing.T) {
	cfg := arcache.DefaultConfig()
	cfg.CacheDir = t.TempDir()
	cfg.BinFile = arcache.NoBinFile // keep nothing on disk
	c, err := arcache.New(cfg)
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
