package arcache

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// checkSameImage fails unless got is want exactly: the same type, bounds
// and pixels (At returns each type's own colour type, so the colours are
// compared exactly), and the same palette or subsample ratio.
func checkSameImage(t *testing.T, key string, got, want image.Image) {
	t.Helper()
	if reflect.TypeOf(got) != reflect.TypeOf(want) {
		t.Errorf("%s: a %T came back as a %T", key, want, got)
		return
	}
	if got.Bounds() != want.Bounds() {
		t.Errorf("%s: bounds %v, want %v", key, got.Bounds(), want.Bounds())
		return
	}
	if !samePixels(got, want) {
		t.Errorf("%s: pixels differ", key)
	}
	switch w := want.(type) {
	case *image.Paletted:
		if g := got.(*image.Paletted).Palette; !reflect.DeepEqual(g, w.Palette) {
			t.Errorf("%s: palette %#v, want %#v", key, g, w.Palette)
		}
	case *image.YCbCr:
		if g := got.(*image.YCbCr).SubsampleRatio; g != w.SubsampleRatio {
			t.Errorf("%s: subsample ratio %v, want %v", key, g, w.SubsampleRatio)
		}
	case *image.NYCbCrA:
		if g := got.(*image.NYCbCrA).SubsampleRatio; g != w.SubsampleRatio {
			t.Errorf("%s: subsample ratio %v, want %v", key, g, w.SubsampleRatio)
		}
	}
}

// streamCache returns a cache holding roundTripImages, and their keys in
// the cache's order, least recent first.
func streamCache(t *testing.T, edit func(*Config)) (*SlugCache, map[string]image.Image, []string) {
	t.Helper()
	c := newTestCache(t, edit)
	imgs := roundTripImages()
	keys := slices.Sorted(mapsKeys(imgs))
	for _, k := range keys {
		mustPut(t, c, k, imgs[k])
	}
	// Recency that differs from the order of insertion.
	c.Get(keys[4])
	c.Get(keys[1])
	return c, imgs, c.Keys()
}

func TestSaveToLoadFromRoundTrip(t *testing.T) {
	c, imgs, order := streamCache(t, nil)
	// Every type of package image, each YCbCr and NYCbCrA ratio, and
	// sub-images.
	for _, k := range []string{"rgba", "nrgba", "rgba64", "nrgba64", "gray", "gray16", "alpha", "alpha16", "cmyk", "paletted",
		"ycbcr-0", "ycbcr-1", "ycbcr-2", "ycbcr-3", "ycbcr-4", "ycbcr-5",
		"nycbcra-0", "nycbcra-1", "nycbcra-2", "nycbcra-3", "nycbcra-4", "nycbcra-5", "sub-nrgba", "sub-ycbcr"} {
		if _, ok := imgs[k]; !ok {
			t.Fatalf("roundTripImages has no %s", k)
		}
	}
	var buf bytes.Buffer
	if err := c.SaveTo(&buf); err != nil {
		t.Fatal(err)
	}
	d := newTestCache(t, nil)
	n, err := d.LoadFrom(bytes.NewReader(buf.Bytes()))
	if err != nil || n != len(imgs) {
		t.Fatalf("LoadFrom = %d, %v; want %d, nil", n, err, len(imgs))
	}
	if got := d.Keys(); !slices.Equal(got, order) {
		t.Fatalf("recency after LoadFrom:\n got %q\nwant %q", got, order)
	}
	for _, k := range order {
		got, ok := d.Get(k)
		if !ok {
			t.Errorf("%s missing after LoadFrom", k)
			continue
		}
		checkSameImage(t, k, got, imgs[k])
	}
	if s := d.Stats(); s.Imported != uint64(n) || s.Entries != n {
		t.Errorf("stats after LoadFrom: %+v", s)
	}

	// Read in the smallest pieces a reader may give.
	e := newTestCache(t, nil)
	if n, err := e.LoadFrom(iotest.OneByteReader(bytes.NewReader(buf.Bytes()))); err != nil || n != len(imgs) {
		t.Fatalf("LoadFrom one byte at a time = %d, %v", n, err)
	}
	if got := e.Keys(); !slices.Equal(got, order) {
		t.Errorf("recency after LoadFrom one byte at a time: %q", got)
	}
}

func TestSaveToIsWhatSaveWrites(t *testing.T) {
	dir := t.TempDir()
	c := persistentCache(t, dir, nil)
	imgs := roundTripImages()
	for _, k := range slices.Sorted(mapsKeys(imgs)) {
		mustPut(t, c, k, imgs[k])
	}
	order := c.Keys()
	var buf bytes.Buffer
	if err := c.SaveTo(&buf); err != nil {
		t.Fatal(err)
	}
	// SaveTo leaves Save's record of changes alone: Close still saves.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(c.Config().BinFile)
	if err != nil {
		t.Fatalf("Close after SaveTo did not save: %v", err)
	}
	if !bytes.Equal(saved, buf.Bytes()) {
		t.Errorf("SaveTo wrote %d bytes, Save %d, and they differ", buf.Len(), len(saved))
	}

	// SaveTo's output, put where the bin file goes, loads with Load.
	other := t.TempDir()
	d := persistentCache(t, other, nil)
	if err := os.WriteFile(d.Config().BinFile, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Load(); err != nil {
		t.Fatalf("Load of SaveTo's output: %v", err)
	}
	if got := d.Keys(); !slices.Equal(got, order) {
		t.Fatalf("Load of SaveTo's output: keys %q, want %q", got, order)
	}
	for _, k := range order {
		got, _ := d.Get(k)
		checkSameImage(t, k, got, imgs[k])
	}
}

// streamOf returns the SaveTo stream of n small images "k0".."k<n-1>",
// and the images.
func streamOf(t *testing.T, n int) ([]byte, []image.Image) {
	t.Helper()
	c := newTestCache(t, nil)
	imgs := make([]image.Image, n)
	for i := range imgs {
		imgs[i] = fill(image.NewNRGBA(image.Rect(0, 0, 3, 2)), i)
		mustPut(t, c, fmt.Sprint("k", i), imgs[i])
	}
	var buf bytes.Buffer
	if err := c.SaveTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), imgs
}

// checkPrefixLoaded fails unless c holds exactly images "k0".."k<n-1>" of
// imgs, in order.
func checkPrefixLoaded(t *testing.T, c *SlugCache, n int, imgs []image.Image, what string) {
	t.Helper()
	keys := c.Keys()
	if len(keys) != n {
		t.Fatalf("%s: LoadFrom reported %d entries, the cache holds %d", what, n, len(keys))
	}
	for i, k := range keys {
		if want := fmt.Sprint("k", i); k != want {
			t.Fatalf("%s: entry %d is %s, want %s", what, i, k, want)
		}
		got, _ := c.Get(k)
		if !samePixels(got, imgs[i]) {
			t.Fatalf("%s: %s has other pixels", what, k)
		}
	}
}

// checkMessage fails unless err's message names the package once, at the
// front.
func checkMessage(t *testing.T, what string, err error) {
	t.Helper()
	if msg := err.Error(); !strings.HasPrefix(msg, "arcache: ") || strings.Count(msg, "arcache:") != 1 {
		t.Errorf("%s: %q should name the package once, at the front", what, msg)
	}
}

func TestLoadFromCutStream(t *testing.T) {
	const total = 8
	full, imgs := streamOf(t, total)
	c := newTestCache(t, nil)
	kept := make([]int, len(full)) // entries kept, by length of the cut stream
	for cut := range full {
		if err := c.Clear(false); err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("cut at %d of %d bytes", cut, len(full))
		n, err := c.LoadFrom(bytes.NewReader(full[:cut]))
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: LoadFrom = %d, %v; want ErrCorrupt", what, n, err)
		}
		checkMessage(t, what, err)
		checkPrefixLoaded(t, c, n, imgs, what)
		if cut > 0 && n < kept[cut-1] {
			t.Fatalf("%s: %d entries kept, %d with a byte less", what, n, kept[cut-1])
		}
		kept[cut] = n
	}
	// Every record boundary was crossed: each count from none to all
	// turned up, and a stream short of its trailer alone keeps every
	// record.
	for want := 0; want <= total; want++ {
		if !slices.Contains(kept, want) {
			t.Errorf("no cut kept %d entries: %v", want, kept)
		}
	}
	if kept[0] != 0 || kept[len(full)-1] != total {
		t.Errorf("an empty stream kept %d, one short of its last byte %d; want 0 and %d", kept[0], kept[len(full)-1], total)
	}

	// The whole stream loads.
	if err := c.Clear(false); err != nil {
		t.Fatal(err)
	}
	if n, err := c.LoadFrom(bytes.NewReader(full)); err != nil || n != total {
		t.Fatalf("LoadFrom of the whole stream = %d, %v", n, err)
	}
	checkPrefixLoaded(t, c, total, imgs, "whole stream")

	// Damage other than a cut is corrupt too, and so is a stream that
	// is not a bin file.
	flipped := bytes.Clone(full)
	flipped[len(flipped)/2] ^= 0x55
	for name, data := range map[string][]byte{"flipped": flipped, "text": []byte("[cache]\ncache_dir = x\n"), "doubled": append(bytes.Clone(full), full...)} {
		if err := c.Clear(false); err != nil {
			t.Fatal(err)
		}
		n, err := c.LoadFrom(bytes.NewReader(data))
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: LoadFrom = %d, %v; want ErrCorrupt", name, n, err)
			continue
		}
		checkMessage(t, name, err)
		checkPrefixLoaded(t, c, n, imgs, name)
	}
}

var errNetwork = errors.New("network went away")

func TestLoadFromReaderError(t *testing.T) {
	const total = 8
	full, imgs := streamOf(t, total)
	// How many entries a cut at each length keeps, as TestLoadFromCutStream
	// checks.
	c := newTestCache(t, nil)
	for _, at := range []int{0, 1, len(full) / 3, len(full) / 2, len(full) - 1, len(full)} {
		if err := c.Clear(false); err != nil {
			t.Fatal(err)
		}
		n, cutErr := c.LoadFrom(bytes.NewReader(full[:at]))
		if at == len(full) {
			n = total
		} else if !errors.Is(cutErr, ErrCorrupt) {
			t.Fatalf("cut at %d: %v", at, cutErr)
		}

		if err := c.Clear(false); err != nil {
			t.Fatal(err)
		}
		what := fmt.Sprintf("reader failing after %d of %d bytes", at, len(full))
		r := io.MultiReader(bytes.NewReader(full[:at]), iotest.ErrReader(errNetwork))
		got, err := c.LoadFrom(r)
		if at == len(full) {
			// The whole stream arrived before the error: gob stops at
			// the trailer, or reports the error after it.
			if got != total {
				t.Errorf("%s: LoadFrom = %d, %v; want %d", what, got, err, total)
			}
			if err != nil && !errors.Is(err, errNetwork) {
				t.Errorf("%s: %v", what, err)
			}
			continue
		}
		if !errors.Is(err, errNetwork) {
			t.Fatalf("%s: LoadFrom = %d, %v; want the reader's error", what, got, err)
		}
		if errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v matches ErrCorrupt: the stream was not damaged, its reader failed", what, err)
		}
		checkMessage(t, what, err)
		if got != n {
			t.Errorf("%s: LoadFrom kept %d entries, a stream cut there keeps %d", what, got, n)
		}
		checkPrefixLoaded(t, c, got, imgs, what)
	}
}

// failingWriter takes n bytes, then fails.
type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestSaveToWriterError(t *testing.T) {
	c, _, _ := streamCache(t, nil)
	for _, n := range []int{0, 10, 1000} {
		err := c.SaveTo(&failingWriter{n: n})
		if !errors.Is(err, errDiskFull) {
			t.Fatalf("SaveTo a writer failing after %d bytes: %v", n, err)
		}
		checkMessage(t, "SaveTo", err)
	}
	// The cache is untouched, and SaveTo still works.
	if err := c.SaveTo(io.Discard); err != nil {
		t.Fatal(err)
	}
}

func TestSaveToLoadFromClosed(t *testing.T) {
	full, _ := streamOf(t, 3)
	c := newTestCache(t, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.SaveTo(&buf); !errors.Is(err, ErrClosed) || buf.Len() != 0 {
		t.Errorf("SaveTo after Close: %v, %d bytes written; want ErrClosed and nothing", err, buf.Len())
	}
	r := bytes.NewReader(full)
	if n, err := c.LoadFrom(r); !errors.Is(err, ErrClosed) || n != 0 {
		t.Errorf("LoadFrom after Close = %d, %v; want 0, ErrClosed", n, err)
	}
	if r.Len() != len(full) {
		t.Errorf("LoadFrom after Close read %d bytes", len(full)-r.Len())
	}
}
