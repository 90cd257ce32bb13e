package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/arcache-go/arcache"
)

// result is what a command line did.
type result struct {
	stdout, stderr string
	code           int
}

// arcacheRun runs the command line args in this process.
func arcacheRun(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return result{out.String(), errb.String(), code}
}

// sample are images of every type package image has, under their keys,
// in the order they are put in a cache.
func sample() (keys []string, imgs map[string]image.Image) {
	r := image.Rect(0, 0, 7, 5)
	imgs = map[string]image.Image{
		"nrgba":    fill(image.NewNRGBA(r), 1),
		"rgba":     fill(image.NewRGBA(r), 2),
		"rgba64":   fill(image.NewRGBA64(r), 3),
		"nrgba64":  fill(image.NewNRGBA64(r), 4),
		"gray":     fill(image.NewGray(r), 5),
		"gray16":   fill(image.NewGray16(r), 6),
		"alpha":    fill(image.NewAlpha(r), 7),
		"cmyk":     fill(image.NewCMYK(r), 8),
		"paletted": fill(image.NewPaletted(r, color.Palette{color.Black, color.White, color.NRGBA{200, 10, 30, 128}}), 9),
		"ycbcr":    ycbcr(image.Rect(0, 0, 9, 6), 10),
		// Bounds away from the origin: PNG keeps the pixels, not the
		// origin.
		"offset": fill(image.NewNRGBA(image.Rect(0, 0, 20, 20)), 11).SubImage(image.Rect(5, 6, 12, 10)),
	}
	for k := range imgs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, imgs
}

// fill sets every pixel of img to a colour made from seed and its place.
func fill[M interface {
	image.Image
	Set(x, y int, c color.Color)
}](img M, seed int) M {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := uint32(seed*7919 + x*104729 + y*1299709)
			v ^= v >> 13
			v *= 0x5bd1e995
			img.Set(x, y, color.NRGBA64{uint16(v), uint16(v >> 7), uint16(v >> 16), uint16(v>>3) | 0x1000})
		}
	}
	return img
}

func ycbcr(r image.Rectangle, seed int) *image.YCbCr {
	img := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	for _, p := range [][]byte{img.Y, img.Cb, img.Cr} {
		for i := range p {
			p[i] = byte(seed*31 + i*17)
		}
	}
	return img
}

// makeBin saves the images into a bin file at path, as a cache does.
func makeBin(t *testing.T, path string, keys []string, imgs map[string]image.Image) {
	t.Helper()
	cfg := arcache.DefaultConfig()
	cfg.CacheDir = t.TempDir()
	cfg.ErrorDir = t.TempDir()
	cfg.BinFile = path
	cfg.Preload = false
	c, err := arcache.New(cfg, arcache.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := c.Put(k, imgs[k]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// sampleBin writes the sample into a bin file and returns its path.
func sampleBin(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sample.bin")
	keys, imgs := sample()
	makeBin(t, path, keys, imgs)
	return path
}

// damage writes a damaged copy of the bin file at path and returns its
// path: with one byte of mark, which must be found in it, flipped, or
// cut before mark when cut is set.
func damage(t *testing.T, path string, mark []byte, cut bool) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, mark)
	if i < 0 {
		t.Fatalf("%q is not in %s", mark, path)
	}
	if cut {
		data = data[:i]
	} else {
		data[i+len(mark)-1] ^= 0x10
	}
	out := filepath.Join(t.TempDir(), "damaged.bin")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// pixelsOf returns the pixel bytes of one of the sample's images, to find
// its record in a bin file.
func pixelsOf(img image.Image) []byte {
	switch m := img.(type) {
	case *image.Gray16:
		return m.Pix[:16]
	case *image.CMYK:
		return m.Pix[:16]
	}
	panic(fmt.Sprintf("no pixels for %T", img))
}

// samePixels reports the first pixel where got, decoded from a PNG,
// differs from want, compared at want's depth, or "" when none does.
func samePixels(want, got image.Image) string {
	wb, gb := want.Bounds(), got.Bounds()
	if wb.Size() != gb.Size() {
		return fmt.Sprintf("size %v, want %v", gb.Size(), wb.Size())
	}
	model := color.NRGBAModel
	switch want.ColorModel() {
	case color.RGBA64Model, color.NRGBA64Model, color.Gray16Model, color.Alpha16Model:
		model = color.NRGBA64Model
	}
	for y := 0; y < wb.Dy(); y++ {
		for x := 0; x < wb.Dx(); x++ {
			w := model.Convert(want.At(wb.Min.X+x, wb.Min.Y+y))
			g := model.Convert(got.At(gb.Min.X+x, gb.Min.Y+y))
			if w != g {
				return fmt.Sprintf("pixel (%d,%d) is %v, want %v", x, y, g, w)
			}
		}
	}
	return ""
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func TestNoArgumentsIsAUsageError(t *testing.T) {
	res := arcacheRun(t, "verify")
	if res.code != 1 || !strings.HasPrefix(res.stderr, "arcache: accepts 1 arg(s)") || !strings.Contains(res.stderr, "Usage:") || res.stdout != "" {
		t.Errorf("verify without FILE: %+v", res)
	}
	res = arcacheRun(t, "frobnicate")
	if res.code != 1 || !strings.HasPrefix(res.stderr, `arcache: unknown command "frobnicate"`) {
		t.Errorf("an unknown command: %+v", res)
	}
}

func TestMissingFile(t *testing.T) {
	for _, c := range []string{"inspect", "verify", "export"} {
		args := []string{c, filepath.Join(t.TempDir(), "none.bin")}
		if c == "export" {
			args = append(args, t.TempDir())
		}
		res := arcacheRun(t, args...)
		if res.code != 1 || !strings.HasPrefix(res.stderr, "arcache: "+c+": open ") || strings.Contains(res.stderr, "Usage:") {
			t.Errorf("%s of a missing file: %+v", c, res)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// writeFile writes data to a new file and returns its path.
func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file.bin")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
