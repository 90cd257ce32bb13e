package arcache

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// persistentCache returns a cache whose bin file, cache_dir and error_dir
// are in dir. It loads nothing when made, unless edit sets Preload, so
// that tests call Load and Refresh themselves.
func persistentCache(t testing.TB, dir string, edit func(*Config), opts ...Option) *SlugCache {
	t.Helper()
	cfg := DefaultConfig()
	cfg.CacheDir = filepath.Join(dir, "cache")
	cfg.BinFile = filepath.Join(dir, "cache.bin")
	cfg.ErrorDir = filepath.Join(dir, "errors")
	cfg.Preload = false
	if edit != nil {
		edit(&cfg)
	}
	c, err := New(cfg, append([]Option{WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// quiet discards log lines that tests provoke on purpose.
var quiet = slog.New(slog.DiscardHandler)

// fill gives every pixel byte of img a value from seed, so that two
// images made with different seeds differ everywhere.
func fill(img image.Image, seed int) image.Image {
	var planes [][]byte
	switch m := img.(type) {
	case *image.RGBA:
		planes = [][]byte{m.Pix}
	case *image.NRGBA:
		planes = [][]byte{m.Pix}
	case *image.RGBA64:
		planes = [][]byte{m.Pix}
	case *image.NRGBA64:
		planes = [][]byte{m.Pix}
	case *image.Gray:
		planes = [][]byte{m.Pix}
	case *image.Gray16:
		planes = [][]byte{m.Pix}
	case *image.Alpha:
		planes = [][]byte{m.Pix}
	case *image.Alpha16:
		planes = [][]byte{m.Pix}
	case *image.CMYK:
		planes = [][]byte{m.Pix}
	case *image.Paletted:
		for i := range m.Pix {
			m.Pix[i] = byte(i+seed) % byte(len(m.Palette))
		}
	case *image.YCbCr:
		planes = [][]byte{m.Y, m.Cb, m.Cr}
	case *image.NYCbCrA:
		planes = [][]byte{m.Y, m.Cb, m.Cr, m.A}
	}
	for p, b := range planes {
		for i := range b {
			b[i] = byte(i*7 + p*13 + seed)
		}
	}
	return img
}

// roundTripImages has every image type of package image, with non-zero
// origins, each YCbCr subsample ratio, and a sub-image.
func roundTripImages() map[string]image.Image {
	r := image.Rect(-3, 5, 14, 16) // odd sizes and a negative origin
	pal := color.Palette{color.RGBA{1, 2, 3, 255}, color.NRGBA{4, 5, 6, 7}, color.Gray{8}, color.Alpha{9}, color.CMYK{10, 11, 12, 13},
		color.RGBA64{1, 2, 3, 4}, color.NRGBA64{5, 6, 7, 8}, color.Gray16{9}, color.Alpha16{10}}
	imgs := map[string]image.Image{
		"rgba":     image.NewRGBA(r),
		"nrgba":    image.NewNRGBA(r),
		"rgba64":   image.NewRGBA64(r),
		"nrgba64":  image.NewNRGBA64(r),
		"gray":     image.NewGray(r),
		"gray16":   image.NewGray16(r),
		"alpha":    image.NewAlpha(r),
		"alpha16":  image.NewAlpha16(r),
		"cmyk":     image.NewCMYK(r),
		"paletted": image.NewPaletted(r, pal),
		"empty":    image.NewRGBA(image.Rectangle{}),
	}
	for _, ratio := range []image.YCbCrSubsampleRatio{
		image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420,
		image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410,
	} {
		imgs[fmt.Sprintf("ycbcr-%d", ratio)] = image.NewYCbCr(r, ratio)
		imgs[fmt.Sprintf("nycbcra-%d", ratio)] = image.NewNYCbCrA(r.Add(image.Pt(7, -9)), ratio)
	}
	for i, k := range slices.Sorted(mapsKeys(imgs)) {
		fill(imgs[k], i)
	}
	imgs["sub-nrgba"] = fill(image.NewNRGBA(image.Rect(0, 0, 20, 20)), 99).(*image.NRGBA).SubImage(image.Rect(3, 4, 9, 17))
	imgs["sub-ycbcr"] = fill(image.NewYCbCr(image.Rect(0, 0, 20, 20), image.YCbCrSubsampleRatio420), 98).(*image.YCbCr).SubImage(image.Rect(3, 5, 10, 18))
	return imgs
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// samePixels reports whether a and b have the same bounds and colours.
func samePixels(a, b image.Image) bool {
	r := a.Bounds()
	if r != b.Bounds() || r.Empty() {
		return r == b.Bounds()
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	c := persistentCache(t, dir, nil)
	imgs := roundTripImages()
	keys := slices.Sorted(mapsKeys(imgs))
	for _, k := range keys {
		mustPut(t, c, k, imgs[k])
	}
	// Make the order of use differ from the order of insertion.
	c.Get(keys[3])
	c.Get(keys[0])
	wantOrder := c.Keys()
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}

	d := persistentCache(t, dir, nil)
	if err := d.Load(); err != nil {
		t.Fatal(err)
	}
	if got := d.Keys(); !slices.Equal(got, wantOrder) {
		t.Fatalf("recency after Load:\n got %v\nwant %v", got, wantOrder)
	}
	for _, k := range keys {
		got, ok := d.Get(k)
		if !ok {
			t.Fatalf("%s missing after Load", k)
		}
		want := imgs[k]
		if reflect.TypeOf(got) != reflect.TypeOf(want) {
			t.Errorf("%s: type %T, want %T", k, got, want)
			continue
		}
		if !samePixels(got, want) {
			t.Errorf("%s: pixels differ after Load", k)
		}
		if p, ok := want.(*image.Paletted); ok {
			if gp := got.(*image.Paletted).Palette; !reflect.DeepEqual(gp, p.Palette) {
				t.Errorf("palette colour types changed: %#v", gp)
			}
		}
		if y, ok := want.(*image.YCbCr); ok && got.(*image.YCbCr).SubsampleRatio != y.SubsampleRatio {
			t.Errorf("%s: subsample ratio changed", k)
		}
	}
	if s := d.Stats(); s.Imported != uint64(len(keys)) || s.Entries != len(keys) {
		t.Errorf("stats after Load: %+v", s)
	}
}

// gopher is an image type outside package image.
type gopher struct {
	image.Image
	model color.Model
}

func (g gopher) ColorModel() color.Model { return g.model }

func TestSaveConvertsOtherTypes(t *testing.T) {
	dir := t.TempDir()
	c := persistentCache(t, dir, nil)
	src8 := fill(image.NewNRGBA(image.Rect(1, 1, 9, 5)), 3)
	src16 := fill(image.NewNRGBA64(image.Rect(0, 0, 4, 4)), 4)
	mustPut(t, c, "eight", gopher{src8, color.NRGBAModel})
	mustPut(t, c, "sixteen", gopher{src16, color.RGBA64Model})
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	d := persistentCache(t, dir, nil)
	if err := d.Load(); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]image.Image{"eight": src8, "sixteen": src16} {
		got, _ := d.Get(key)
		if reflect.TypeOf(got) != reflect.TypeOf(want) || !samePixels(got, want) {
			t.Errorf("%s came back as %T, want the pixels of a %T", key, got, want)
		}
	}
}

func TestLoadKeepsBounds(t *testing.T) {
	dir := t.TempDir()
	c := persistentCache(t, dir, nil)
	for i := range 10 {
		mustPut(t, c, fmt.Sprint("k", i), nrgba(4))
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	d := persistentCache(t, dir, func(cfg *Config) { cfg.CacheMax = 4 })
	if err := d.Load(); err != nil {
		t.Fatal(err)
	}
	if got := d.Keys(); !slices.Equal(got, []string{"k6", "k7", "k8", "k9"}) {
		t.Errorf("cache_max after Load: %v", got)
	}
	e := persistentCache(t, dir, func(cfg *Config) { cfg.MaxBytes = 3 * 64 })
	if err := e.Load(); err != nil {
		t.Fatal(err)
	}
	if got := e.Keys(); !slices.Equal(got, []string{"k7", "k8", "k9"}) || e.Stats().Bytes > 3*64 {
		t.Errorf("max_bytes after Load: %v, %+v", got, e.Stats())
	}
}

func TestCloseSavesOnlyWhenChanged(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "cache.bin")
	c := persistentCache(t, dir, nil)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Close of an unchanged cache wrote %s", bin)
	}
	c = persistentCache(t, dir, nil)
	mustPut(t, c, "a", nrgba(2))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatalf("Close of a changed cache did not save: %v", err)
	}
	// Loading and closing again leaves the file alone.
	c = persistentCache(t, dir, nil)
	if err := c.Load(); err != nil || c.Len() != 1 {
		t.Fatalf("Load: %v, len %d", err, c.Len())
	}
	c.Get("a") // recency alone is not a change
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if fi2, _ := os.Stat(bin); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Error("Close rewrote a file that had not changed")
	}
}

func TestOpenPreloadsAndPurges(t *testing.T) {
	dir := t.TempDir()
	ini := func(extra string) string {
		return writeConfig(t, fmt.Sprintf("[cache]\ncache_dir = %s\nerror_dir = %s\nbin_file = %s\n%s",
			filepath.Join(dir, "cache"), filepath.Join(dir, "errors"), filepath.Join(dir, "cache.bin"), extra))
	}
	c, err := Open(ini("debug_images = True\n"))
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, "kept", nrgba(2))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(dir, "cache", "kept.png")
	if _, err := os.Stat(png); err != nil {
		t.Fatalf("debug PNG: %v", err)
	}

	c, err = Open(ini(""))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("kept"); !ok || c.Len() != 1 {
		t.Fatalf("Open did not preload: %v", c.Keys())
	}
	c.Close()

	c, err = Open(ini("preload = False\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 {
		t.Fatalf("preload = False loaded %v", c.Keys())
	}
	c.Close()

	c, err = Open(ini("purge_cache_on_startup = True\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 {
		t.Fatalf("purge_cache_on_startup kept %v", c.Keys())
	}
	for _, p := range []string{png, filepath.Join(dir, "cache.bin")} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("purge_cache_on_startup left %s", p)
		}
	}
	c.Close()
}

func TestClearPersistent(t *testing.T) {
	dir := t.TempDir()
	c := persistentCache(t, dir, func(cfg *Config) { cfg.DebugImages = true })
	mustPut(t, c, "a", nrgba(2))
	if err := os.MkdirAll(filepath.Join(dir, "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cache", "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if err := c.Clear(false); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"cache.bin", "cache/a.png"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatalf("Clear(false) removed %s", p)
		}
	}
	if err := c.Clear(true); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"cache.bin", "cache/a.png"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Clear(true) left %s", p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "cache", "notes.txt")); err != nil {
		t.Error("Clear(true) removed a file that is not a debug PNG")
	}
}

func TestDebugImagesWritesEveryImage(t *testing.T) {
	dir := t.TempDir()
	c := persistentCache(t, dir, func(cfg *Config) { cfg.DebugImages = true; cfg.BinFile = NoBinFile })
	for i := range 50 {
		_, err := Provide(c, func(n int) (*image.Gray, error) {
			return fill(image.NewGray(image.Rect(0, 0, 5, 5)), n).(*image.Gray), nil
		}, i)
		if err != nil {
			t.Fatal(err)
		}
	}
	keys := c.Keys()
	if err := c.Save(); err != nil { // waits for the writer
		t.Fatal(err)
	}
	for _, k := range keys {
		got, _, err := decodeFile(filepath.Join(dir, "cache", k+".png"), 1<<20)
		if err != nil {
			t.Fatalf("debug PNG of %s: %v", k, err)
		}
		want, _ := c.Get(k)
		if !samePixels(got, want) {
			t.Fatalf("debug PNG of %s differs from the image", k)
		}
	}
}

func TestDebugWriterOverflowIsMadeUpAtFlush(t *testing.T) {
	dir := t.TempDir()
	c := persistentCache(t, dir, func(cfg *Config) { cfg.DebugImages = true; cfg.BinFile = NoBinFile })
	c.debug.mu.Lock()
	c.debug.limit = 4
	c.debug.mu.Unlock()
	// Far more images than the writer may hold pending at once.
	const n = 100
	for i := range n {
		mustPut(t, c, fmt.Sprint("k", i), image.NewGray(image.Rect(0, 0, 2, 2)))
	}
	if _, err := c.Refresh(false); err != nil { // flushes the writer
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	pngs := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".png") {
			pngs++
		}
	}
	if pngs != n {
		t.Fatalf("%d debug PNGs, want %d", pngs, n)
	}
}

// binWith encodes a bin file by hand, for damage tests.
func binWith(t testing.TB, h binHeader, entries ...binEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := gob.NewEncoder(&b)
	if err := enc.Encode(h); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// validBin returns a good bin file of n entries "k0".."k<n-1>".
func validBin(t testing.TB, n int) []byte {
	t.Helper()
	var entries []binEntry
	for i := range n {
		entries = append(entries, binEntry{Record: newRecord(fmt.Sprint("k", i), fill(image.NewNRGBA(image.Rect(0, 0, 8, 8)), i))})
	}
	entries = append(entries, binEntry{Trailer: &binTrailer{Count: n}})
	return binWith(t, binHeader{binMagic, binVersion}, entries...)
}

func TestLoadDamagedFiles(t *testing.T) {
	good := validBin(t, 10)
	// The offset of record 5 or later, for damage after some records.
	late := len(good) * 6 / 10
	flipped := bytes.Clone(good)
	flipped[late] ^= 0x40
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i/13)
	}
	record := func(r *binRecord) binEntry { return binEntry{Record: r} }
	badCRC := newRecord("k1", nrgba(2))
	badCRC.CRC++
	cases := map[string]struct {
		data     []byte
		minKept  int // records before the damage that must survive
		maxKept  int
		contains string
	}{
		"truncated":       {good[:late], 1, 9, ""},
		"truncated early": {good[:20], 0, 0, ""},
		"flipped byte":    {flipped, 0, 9, ""},
		"empty":           {nil, 0, 0, "header"},
		"random":          {random, 0, 0, ""},
		"text":            {[]byte("[cache]\ncache_dir = '.imgcache'\n"), 0, 0, ""},
		"newer version":   {binWith(t, binHeader{binMagic, binVersion + 1}), 0, 0, "version"},
		"other magic":     {binWith(t, binHeader{"something else", 1}), 0, 0, "not an arcache"},
		"no trailer":      {good[:len(good)-12], 9, 10, ""},
		"wrong count":     {binWith(t, binHeader{binMagic, binVersion}, record(newRecord("a", nrgba(1))), binEntry{Trailer: &binTrailer{Count: 5}}), 1, 1, "trailer"},
		"bad checksum":    {binWith(t, binHeader{binMagic, binVersion}, record(newRecord("k0", nrgba(1))), record(badCRC)), 1, 1, "checksum"},
		"bad key":         {binWith(t, binHeader{binMagic, binVersion}, record(newRecord("../x", nrgba(1)))), 0, 0, "key"},
		"after trailer":   {append(bytes.Clone(good), good...), 10, 10, "after the trailer"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "cache.bin")
			if err := os.WriteFile(bin, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			c := persistentCache(t, dir, nil)
			err := c.Load()
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), bin) || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("Load: %v, want ErrCorrupt naming %s and %q", err, bin, tc.contains)
			}
			if n := c.Len(); n < tc.minKept || n > tc.maxKept {
				t.Errorf("kept %d records, want %d to %d", n, tc.minKept, tc.maxKept)
			}
			for i, k := range c.Keys() {
				img, _ := c.Get(k)
				if want := fmt.Sprint("k", i); k != want && !strings.HasPrefix(name, "wrong") {
					t.Errorf("record %d is %s, want %s", i, k, want)
				} else if k == want && !samePixels(img, fill(image.NewNRGBA(image.Rect(0, 0, 8, 8)), i)) && len(good) > 0 && name != "bad checksum" {
					t.Errorf("record %s has other pixels", k)
				}
			}
			if _, err := os.Stat(bin); !errors.Is(err, fs.ErrNotExist) {
				t.Error("the damaged file was left in place")
			}
			moved, _ := filepath.Glob(filepath.Join(dir, "errors", "cache.bin.*"))
			if len(moved) != 1 {
				t.Fatalf("error_dir holds %v", moved)
			}
			if data, _ := os.ReadFile(moved[0]); !bytes.Equal(data, tc.data) {
				t.Error("the quarantined file is not the damaged file")
			}
			if s := c.Stats(); s.Quarantined != 1 {
				t.Errorf("Quarantined = %d", s.Quarantined)
			}
			// The cache counts as changed, so Close writes a good file.
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			d := persistentCache(t, dir, nil)
			if err := d.Load(); err != nil {
				t.Fatalf("the file written after the damage: %v", err)
			}
			if d.Len() != len(c.Keys()) && d.Len() < tc.minKept {
				t.Errorf("the new file holds %d entries", d.Len())
			}
		})
	}
}

func TestOpenSurvivesADamagedBinFile(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "cache.bin")
	if err := os.WriteFile(bin, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf("[cache]\ncache_dir = %s\nerror_dir = %s\nbin_file = %s\n",
		filepath.Join(dir, "cache"), filepath.Join(dir, "errors"), bin))
	c, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open with a damaged bin file: %v", err)
	}
	defer c.Close()
	if s := c.Stats(); s.Quarantined != 1 {
		t.Errorf("Quarantined = %d", s.Quarantined)
	}
	mustPut(t, c, "a", nrgba(1))
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	d := persistentCache(t, dir, nil)
	if err := d.Load(); err != nil || d.Len() != 1 {
		t.Fatalf("after a good Save: %v, %d entries", err, d.Len())
	}
}

func TestLoadUnreadableIsNotCorrupt(t *testing.T) {
	// A directory stands for a file that cannot be read: root reads
	// files whatever their mode.
	dir := t.TempDir()
	bin := filepath.Join(dir, "cache.bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	c := persistentCache(t, dir, nil)
	err := c.Load()
	if err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("Load of a directory: %v, want an I/O error that is not ErrCorrupt", err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("a bin file that could not be read was moved")
	}
	cfg := writeConfig(t, fmt.Sprintf("[cache]\ncache_dir = %s\nbin_file = %s\n", filepath.Join(dir, "cache"), bin))
	if _, err := Open(cfg); err == nil {
		t.Fatal("Open succeeded over a bin file it cannot read, which Close would overwrite")
	}
}

func TestSaveAndLoadAfterClose(t *testing.T) {
	c := persistentCache(t, t.TempDir(), nil)
	c.Close()
	if err := c.Save(); !errors.Is(err, ErrClosed) {
		t.Errorf("Save: %v", err)
	}
	if err := c.Load(); !errors.Is(err, ErrClosed) {
		t.Errorf("Load: %v", err)
	}
	if _, err := c.Refresh(false); !errors.Is(err, ErrClosed) {
		t.Errorf("Refresh: %v", err)
	}
}

func TestRecordRejectsBadShapes(t *testing.T) {
	base := func() *binRecord { return newRecord("k", fill(image.NewNRGBA(image.Rect(0, 0, 4, 4)), 1)) }
	cases := map[string]func(r *binRecord){
		"short pix":     func(r *binRecord) { r.Pix = r.Pix[:10] },
		"small stride":  func(r *binRecord) { r.Stride = 3 },
		"huge rect":     func(r *binRecord) { r.Rect = image.Rect(0, 0, 1<<40, 1<<40) },
		"overflow rect": func(r *binRecord) { r.Rect = image.Rect(-1<<62, 0, 1<<62, 1) },
		"inverted rect": func(r *binRecord) { r.Rect = image.Rect(4, 4, 0, 0); r.Rect.Min, r.Rect.Max = r.Rect.Max, r.Rect.Min },
		"unknown kind":  func(r *binRecord) { r.Kind = 200 },
		"palette index": func(r *binRecord) {
			r.Kind = kindPaletted
			r.Stride = 4
			r.Pix = r.Pix[:16]
			r.Palette = appendPalette(nil, color.Palette{color.Black})
		},
		"bad ratio": func(r *binRecord) {
			r.Kind = kindYCbCr
			r.Stride = 4
			r.CStride = 4
			r.Cb = r.Pix
			r.Cr = r.Pix
			r.Ratio = 99
		},
		"short chroma": func(r *binRecord) { r.Kind = kindYCbCr; r.Stride = 4; r.CStride = 4; r.Cb = r.Pix[:3]; r.Cr = r.Pix },
		"short alpha": func(r *binRecord) {
			r.Kind = kindNYCbCrA
			r.Stride = 4
			r.CStride = 4
			r.Cb = r.Pix
			r.Cr = r.Pix
			r.A = r.Pix[:2]
		},
		"palette length": func(r *binRecord) { r.Kind = kindPaletted; r.Stride = 4; r.Palette = []byte{1, 2} },
	}
	for name, mutate := range cases {
		r := base()
		mutate(r)
		r.CRC = r.checksum()
		img, err := r.image()
		if err == nil {
			t.Errorf("%s: accepted as %T %v", name, img, img.Bounds())
		}
	}
	if _, err := base().image(); err != nil {
		t.Fatalf("the unmutated record: %v", err)
	}
}
