package arcache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fixtures in testdata/refresh were made once, by a throwaway program
// (image/png, image/jpeg, image/gif, x/image/bmp, x/image/tiff, and
// `cwebp -lossless -exact` for WebP). Every sample is refreshPattern(w, h):
// 3×2 blocks of refreshColours, each sample of its own size so that a key
// given another file's image shows. Only the JPEG is lossy (quality 95; its
// 16×16 blocks line up with its MCUs).
//
//	truncated.png   sample-png.png cut in half (53 of 106 bytes)
//	huge.png        PNG signature and IHDR only (33 bytes), 200000×200000 RGBA
//	Not A Key.png   a valid 6×4 PNG whose name is not a key
//	notes.txt       text
var refreshSamples = []struct {
	file, key string
	w, h      int
	tol       uint8 // per channel; 0: every pixel exact
}{
	{"sample-png.png", "sample-png", 24, 16, 0},
	{"sample-jpeg.jpg", "sample-jpeg", 48, 32, 4},
	{"sample-gif.gif", "sample-gif", 30, 20, 0},
	{"sample-bmp.bmp", "sample-bmp", 27, 18, 0},
	{"sample-tiff.tiff", "sample-tiff", 21, 14, 0},
	{"sample-webp.webp", "sample-webp", 36, 24, 0},
}

var refreshColours = [6]color.NRGBA{
	{0xff, 0x00, 0x00, 0xff}, {0x00, 0xff, 0x00, 0xff}, {0x00, 0x00, 0xff, 0xff}, // red, green, blue
	{0xff, 0xff, 0x00, 0xff}, {0xff, 0xff, 0xff, 0xff}, {0x00, 0x00, 0x00, 0xff}, // yellow, white, black
}

// refreshPattern is the colour of the samples' pixel (x, y).
func refreshPattern(x, y, w, h int) color.NRGBA {
	return refreshColours[(y*2/h)*3+x*3/w]
}

func refreshSampleFiles() []string {
	var files []string
	for _, s := range refreshSamples {
		files = append(files, s.file)
	}
	return files
}

// checkRefreshSample fails unless img is sample s.
func checkRefreshSample(t *testing.T, img image.Image, s int) {
	t.Helper()
	sm := refreshSamples[s]
	if want := image.Rect(0, 0, sm.w, sm.h); img.Bounds() != want {
		t.Fatalf("%s: bounds %v, want %v", sm.key, img.Bounds(), want)
	}
	near := func(a, b uint8) bool { return max(a, b)-min(a, b) <= sm.tol }
	check := func(x, y int) {
		got := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
		want := refreshPattern(x, y, sm.w, sm.h)
		if !near(got.R, want.R) || !near(got.G, want.G) || !near(got.B, want.B) || got.A != 0xff {
			t.Errorf("%s: pixel (%d,%d) = %v, want %v (±%d)", sm.key, x, y, got, want, sm.tol)
		}
	}
	if sm.tol == 0 {
		for y := range sm.h {
			for x := range sm.w {
				check(x, y)
			}
		}
		return
	}
	for j := range 2 { // the centre of each block
		for i := range 3 {
			check((2*i+1)*sm.w/6, (2*j+1)*sm.h/4)
		}
	}
}

// copyRefreshFixture copies testdata/refresh/name into dir as as, or under
// its own name when as is "", and returns the copy's path.
func copyRefreshFixture(t *testing.T, dir, name, as string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "refresh", name))
	if err != nil {
		t.Fatal(err)
	}
	if as == "" {
		as = name
	}
	path := filepath.Join(dir, as)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func copyRefreshFixtures(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		copyRefreshFixture(t, dir, n, "")
	}
}

// dirNames lists dir, with "/" after subdirectories; a missing dir is
// empty.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		n := de.Name()
		if de.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	return names
}

// refreshCache returns a test cache whose error_dir, and bin file unless
// bin is false, are in a temp dir. edit, if not nil, runs last. It logs
// nothing unless opts give it a logger.
func refreshCache(t *testing.T, bin bool, edit func(*Config), opts ...Option) *SlugCache {
	t.Helper()
	dir := t.TempDir()
	opts = append([]Option{WithLogger(nil)}, opts...)
	return newTestCache(t, func(cfg *Config) {
		cfg.ErrorDir = filepath.Join(dir, "errors")
		if bin {
			cfg.BinFile = filepath.Join(dir, "cache.bin")
		}
		if edit != nil {
			edit(cfg)
		}
	}, opts...)
}

// reloaded returns a new cache that has loaded bin.
func reloaded(t *testing.T, bin string) *SlugCache {
	t.Helper()
	d := newTestCache(t, func(cfg *Config) {
		cfg.BinFile = bin
		cfg.ErrorDir = filepath.Join(t.TempDir(), "errors")
		cfg.Preload = false // the Load below is the one checked
	})
	if err := d.Load(); err != nil {
		t.Fatalf("Load %s: %v", bin, err)
	}
	return d
}

// logBuffer is a bytes.Buffer safe for the cache's log handler.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func bufferLogger() (*slog.Logger, *logBuffer) {
	var b logBuffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

// checkPlaceholder fails unless img looks like ErrorImage of its size.
func checkPlaceholder(t *testing.T, img image.Image) {
	t.Helper()
	m, ok := img.(*image.NRGBA)
	if !ok {
		t.Fatalf("placeholder is a %T, want *image.NRGBA", img)
	}
	b := m.Bounds()
	if b.Empty() {
		t.Fatalf("placeholder is empty: %v", b)
	}
	want := ErrorImage(b.Dx(), b.Dy())
	if m.Rect != want.Rect || !bytes.Equal(m.Pix, want.Pix) {
		t.Fatalf("the %v image is not ErrorImage(%d, %d)", b, b.Dx(), b.Dy())
	}
	if c := m.NRGBAAt(b.Dx()/2, b.Dy()/2); c != want.NRGBAAt(b.Dx()/2, b.Dy()/2) {
		t.Fatalf("centre pixel %v is not ErrorImage's", c)
	}
}

// checkRefused fails unless err is Refresh's error for the files it
// refused in dir: it names dir and every file, once with the package
// name, and matches ErrCorrupt and ErrTooLarge as want says.
func checkRefused(t *testing.T, err error, dir string, corrupt, tooLarge bool, files ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Refresh returned no error for the refused %q", files)
	}
	if errors.Is(err, ErrCorrupt) != corrupt || errors.Is(err, ErrTooLarge) != tooLarge {
		t.Errorf("Refresh: %v; matches ErrCorrupt %v (want %v), ErrTooLarge %v (want %v)",
			err, errors.Is(err, ErrCorrupt), corrupt, errors.Is(err, ErrTooLarge), tooLarge)
	}
	msg := err.Error()
	if prefix := "arcache: refresh " + dir + ": "; !strings.HasPrefix(msg, prefix) || strings.Count(msg, "arcache:") != 1 {
		t.Errorf("Refresh: %q; want it to start with %q and name the package once", msg, prefix)
	}
	for _, f := range files {
		if !strings.Contains(msg, f) {
			t.Errorf("Refresh: %q does not name %s", msg, f)
		}
	}
}

// quarantineLayout is how quarantine names the time a file was moved.
const quarantineLayout = "20060102T150405.000000000Z"

// checkQuarantined fails unless name was moved out of cacheDir to the only
// file in errorDir, <name>.<UTC timestamp no earlier than since>, with the
// fixture's content.
func checkQuarantined(t *testing.T, cacheDir, errorDir, name, fixture string, since time.Time) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(cacheDir, name)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is still in cache_dir (stat err %v)", name, err)
	}
	moved := dirNames(t, errorDir)
	if len(moved) != 1 {
		t.Fatalf("error_dir holds %q, want one file", moved)
	}
	stamp, ok := strings.CutPrefix(moved[0], name+".")
	if !ok {
		t.Fatalf("quarantined as %q, want %q + timestamp", moved[0], name+".")
	}
	ts, err := time.Parse(quarantineLayout, stamp)
	if err != nil {
		t.Errorf("quarantine suffix %q is not a UTC timestamp: %v", stamp, err)
	} else if ts.Before(since.Add(-time.Second)) || ts.After(time.Now().Add(time.Second)) {
		t.Errorf("quarantine timestamp %v is not the time of Refresh (%v)", ts, since.UTC())
	}
	got, err := os.ReadFile(filepath.Join(errorDir, moved[0]))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "refresh", fixture))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("quarantined file's content changed")
	}
}

func TestRefreshImportsEveryFormat(t *testing.T) {
	c := refreshCache(t, false, nil)
	dir := c.Config().CacheDir
	copyRefreshFixtures(t, dir, refreshSampleFiles()...)

	n, err := c.Refresh(false)
	if err != nil || n != len(refreshSamples) {
		t.Fatalf("Refresh = %d, %v; want %d, nil", n, err, len(refreshSamples))
	}
	s := c.Stats()
	if s.Imported != uint64(n) || s.Quarantined != 0 || s.Entries != n {
		t.Errorf("stats = %+v", s)
	}
	for i, sm := range refreshSamples {
		t.Run(sm.key, func(t *testing.T) {
			img, ok := c.Get(sm.key)
			if !ok {
				t.Fatalf("Get(%q) found nothing", sm.key)
			}
			checkRefreshSample(t, img, i)
		})
	}
	// Without a bin file nothing is saved, so every file stays; nothing
	// was quarantined.
	if got, want := dirNames(t, dir), slices.Sorted(slices.Values(refreshSampleFiles())); !slices.Equal(got, want) {
		t.Errorf("cache_dir holds %q, want %q", got, want)
	}
	if got := dirNames(t, c.Config().ErrorDir); len(got) != 0 {
		t.Errorf("error_dir holds %q", got)
	}
	// The keys are in memory now: a second Refresh imports nothing.
	if n, err := c.Refresh(false); n != 0 || err != nil {
		t.Errorf("second Refresh = %d, %v; want 0, nil", n, err)
	}
	if s := c.Stats(); s.Imported != uint64(len(refreshSamples)) {
		t.Errorf("Imported = %d after a second Refresh", s.Imported)
	}
}

func TestRefreshExtensionVariants(t *testing.T) {
	c := refreshCache(t, false, nil)
	dir := c.Config().CacheDir
	want := map[string]int{ // key: sample
		"upper-png":  0,
		"long-jpeg":  1,
		"upper-jpeg": 1,
		"short-tiff": 4,
		"upper-webp": 5,
	}
	copyRefreshFixture(t, dir, "sample-png.png", "upper-png.PNG")
	copyRefreshFixture(t, dir, "sample-jpeg.jpg", "long-jpeg.jpeg")
	copyRefreshFixture(t, dir, "sample-jpeg.jpg", "upper-jpeg.JPG")
	copyRefreshFixture(t, dir, "sample-tiff.tiff", "short-tiff.tif")
	copyRefreshFixture(t, dir, "sample-webp.webp", "upper-webp.WebP")
	n, err := c.Refresh(false)
	if err != nil || n != len(want) {
		t.Fatalf("Refresh = %d, %v; want %d, nil", n, err, len(want))
	}
	for key, s := range want {
		img, ok := c.Get(key)
		if !ok {
			t.Errorf("Get(%q) found nothing", key)
			continue
		}
		checkRefreshSample(t, img, s)
	}
}

func TestRefreshQuarantinesUnreadableFiles(t *testing.T) {
	tests := []struct {
		name, fixture string
		maxPixels     int64  // 0: the default
		wantLog       string // in the logged error
		notLog        string
		corrupt       bool // Refresh's error matches ErrCorrupt; else ErrTooLarge
	}{
		{name: "truncated", fixture: "truncated.png", wantLog: ErrCorrupt.Error(), notLog: ErrTooLarge.Error(), corrupt: true},
		{name: "huge", fixture: "huge.png", wantLog: ErrTooLarge.Error(), notLog: ErrCorrupt.Error()},
		// 24×16 is 384 pixels: one over the limit is refused.
		{name: "over max_image_pixels", fixture: "sample-png.png", maxPixels: 383, wantLog: ErrTooLarge.Error(), notLog: ErrCorrupt.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, buf := bufferLogger()
			c := refreshCache(t, false, func(cfg *Config) {
				if tt.maxPixels > 0 {
					cfg.MaxImagePixels = tt.maxPixels
				}
			}, WithLogger(log))
			dir, errDir := c.Config().CacheDir, c.Config().ErrorDir
			copyRefreshFixture(t, dir, tt.fixture, "")
			key := strings.TrimSuffix(tt.fixture, filepath.Ext(tt.fixture))

			start := time.Now()
			n, err := c.Refresh(false)
			if n != 0 {
				t.Fatalf("Refresh = %d, %v; want 0", n, err)
			}
			checkRefused(t, err, dir, tt.corrupt, !tt.corrupt, tt.fixture)
			checkQuarantined(t, dir, errDir, tt.fixture, tt.fixture, start)
			if s := c.Stats(); s.Quarantined != 1 || s.Imported != 0 || s.Entries != 1 {
				t.Errorf("stats = %+v, want 1 quarantined, 0 imported, 1 entry", s)
			}
			img, ok := c.Get(key)
			if !ok {
				t.Fatalf("Get(%q) found no placeholder", key)
			}
			checkPlaceholder(t, img)

			out := buf.String()
			if !strings.Contains(out, "quarantined") || !strings.Contains(out, tt.fixture) || !strings.Contains(out, tt.wantLog) {
				t.Errorf("log does not report %q quarantined with %q:\n%s", tt.fixture, tt.wantLog, out)
			}
			if strings.Contains(out, tt.notLog) {
				t.Errorf("log mentions %q:\n%s", tt.notLog, out)
			}

			// The file is gone and the key held: nothing more happens.
			if n, err := c.Refresh(false); n != 0 || err != nil || c.Stats().Quarantined != 1 {
				t.Errorf("second Refresh = %d, %v, stats %+v", n, err, c.Stats())
			}
		})
	}
}

// headerOnlyPNG is a PNG signature and IHDR chunk claiming a w×h 8-bit
// RGBA image, with no pixel data.
func headerOnlyPNG(w, h uint32) []byte {
	ihdr := make([]byte, 4+4+13)
	binary.BigEndian.PutUint32(ihdr[0:], 13)
	copy(ihdr[4:], "IHDR")
	binary.BigEndian.PutUint32(ihdr[8:], w)
	binary.BigEndian.PutUint32(ihdr[12:], h)
	ihdr[16], ihdr[17] = 8, 6 // bit depth, colour type RGBA
	b := append([]byte("\x89PNG\r\n\x1a\n"), ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr[4:]))
}

func TestRefreshRefusesHugeImagesWithoutDecoding(t *testing.T) {
	huge := filepath.Join("testdata", "refresh", "huge.png")
	data, err := os.ReadFile(huge)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture is exactly what headerOnlyPNG makes: a valid header and
	// no pixel data, so that decoding it could only fail as corrupt.
	if !bytes.Equal(data, headerOnlyPNG(200000, 200000)) {
		t.Fatalf("huge.png is not a bare 200000×200000 PNG header: % x", data)
	}
	maxPixels := DefaultConfig().MaxImagePixels

	img, cfg, err := decodeFile(huge, maxPixels)
	if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCorrupt) || img != nil {
		t.Fatalf("decodeFile(huge.png) = %v, %v; want only ErrTooLarge", img, err)
	}
	if cfg.Width != 200000 || cfg.Height != 200000 {
		t.Errorf("config = %dx%d, want the header's 200000x200000", cfg.Width, cfg.Height)
	}

	// The same header claiming a small size passes the check and fails
	// in the decoder, as corrupt: a decode of huge.png would have too.
	small := filepath.Join(t.TempDir(), "small.png")
	if err := os.WriteFile(small, headerOnlyPNG(24, 16), 0o644); err != nil {
		t.Fatal(err)
	}
	if img, _, err := decodeFile(small, maxPixels); !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTooLarge) || img != nil {
		t.Fatalf("decodeFile(header-only 24x16) = %v, %v; want ErrCorrupt", img, err)
	}

	// The limit is inclusive: sample-png.png has 24×16 = 384 pixels.
	sample := filepath.Join("testdata", "refresh", "sample-png.png")
	if img, cfg, err := decodeFile(sample, 384); err != nil || img == nil || cfg.Width != 24 || cfg.Height != 16 {
		t.Fatalf("decodeFile(sample, 384) = %v, %+v, %v", img, cfg, err)
	}
	if img, _, err := decodeFile(sample, 383); !errors.Is(err, ErrTooLarge) || img != nil {
		t.Fatalf("decodeFile(sample, 383) = %v, %v; want ErrTooLarge", img, err)
	}
	// Every other fixture decodes under the default limit.
	for _, sm := range refreshSamples {
		if _, _, err := decodeFile(filepath.Join("testdata", "refresh", sm.file), maxPixels); err != nil {
			t.Errorf("decodeFile(%s): %v", sm.file, err)
		}
	}
	if _, _, err := decodeFile(filepath.Join("testdata", "refresh", "truncated.png"), maxPixels); !errors.Is(err, ErrCorrupt) {
		t.Errorf("decodeFile(truncated.png) = %v, want ErrCorrupt", err)
	}
	if _, _, err := decodeFile(filepath.Join(t.TempDir(), "missing.png"), maxPixels); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("decodeFile(missing) = %v, want ErrNotExist", err)
	}
}

// refreshArgs and refreshIcon are a constructor for the placeholder tests:
// a Size×Size image of one colour.
type refreshArgs struct {
	Name string
	Size int
}

var refreshIconColour = color.NRGBA{0x12, 0x34, 0x56, 0xff}

func TestRefreshPlaceholderIsRebuiltByProvide(t *testing.T) {
	for _, fixture := range []string{"truncated.png", "huge.png"} {
		t.Run(fixture, func(t *testing.T) {
			calls := 0
			fn := func(a refreshArgs) (*image.NRGBA, error) {
				calls++
				img := image.NewNRGBA(image.Rect(0, 0, a.Size, a.Size))
				for y := range a.Size {
					for x := range a.Size {
						img.SetNRGBA(x, y, refreshIconColour)
					}
				}
				return img, nil
			}
			args := refreshArgs{Name: "broken", Size: 5}
			key, err := Key(fn, args, Name("refresh-icon"))
			if err != nil {
				t.Fatal(err)
			}
			c := refreshCache(t, true, nil)
			copyRefreshFixture(t, c.Config().CacheDir, fixture, key+".png")
			n, err := c.Refresh(false)
			if n != 0 {
				t.Fatalf("Refresh = %d, %v; want 0", n, err)
			}
			corrupt := fixture == "truncated.png"
			checkRefused(t, err, c.Config().CacheDir, corrupt, !corrupt, key+".png")
			if c.Stats().Quarantined != 1 {
				t.Fatalf("stats = %+v, want 1 quarantined", c.Stats())
			}
			ph, ok := c.Get(key)
			if !ok {
				t.Fatalf("Get(%q) found no placeholder", key)
			}
			checkPlaceholder(t, ph)

			// The placeholder is of the type fn returns, and still a miss.
			img, err := Provide(c, fn, args, Name("refresh-icon"))
			if err != nil {
				t.Fatal(err)
			}
			if calls != 1 {
				t.Fatalf("constructor called %d times, want 1", calls)
			}
			if img.Bounds() != image.Rect(0, 0, 5, 5) || img.NRGBAAt(2, 2) != refreshIconColour {
				t.Fatalf("Provide returned %v with centre %v, not the constructor's image", img.Bounds(), img.NRGBAAt(2, 2))
			}
			if got, ok := c.Get(key); !ok || got != image.Image(img) {
				t.Fatalf("Get(%q) after Provide = %v, %v; want the built image", key, got, ok)
			}
			if again, err := Provide(c, fn, args, Name("refresh-icon")); err != nil || again != img || calls != 1 {
				t.Fatalf("second Provide: err %v, same image %v, calls %d", err, again == img, calls)
			}

			// The built image is an ordinary entry: Save keeps it.
			if err := c.Save(); err != nil {
				t.Fatal(err)
			}
			d := reloaded(t, c.Config().BinFile)
			got, ok := d.Get(key)
			if !ok {
				t.Fatalf("%s not saved after Provide replaced the placeholder", key)
			}
			if got.Bounds() != img.Bounds() || color.NRGBAModel.Convert(got.At(2, 2)) != refreshIconColour {
				t.Fatalf("saved image is %v with centre %v", got.Bounds(), got.At(2, 2))
			}
		})
	}
}

func TestRefreshSkipsWhatIsNotAnImageKey(t *testing.T) {
	c := refreshCache(t, false, nil)
	dir := c.Config().CacheDir
	// A directory named like an image with a key, holding an image.
	sub := filepath.Join(dir, "sub.png")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	copyRefreshFixture(t, sub, "sample-png.png", "")
	copyRefreshFixtures(t, dir, "notes.txt", "Not A Key.png")
	copyRefreshFixture(t, dir, "sample-png.png", "sample-png.png.txt")
	copyRefreshFixture(t, dir, "sample-png.png", "Upper.png")
	copyRefreshFixture(t, dir, "sample-png.png", "dot.ted.png")
	copyRefreshFixture(t, dir, "sample-png.png", ".png")
	copyRefreshFixture(t, dir, "sample-png.png", "noext")
	// One importable file, to show that the rest does not stop Refresh.
	copyRefreshFixture(t, dir, "sample-gif.gif", "")
	before := dirNames(t, dir)

	n, err := c.Refresh(false)
	if n != 1 || err != nil {
		t.Fatalf("Refresh = %d, %v; want 1, nil", n, err)
	}
	if got := c.Keys(); !slices.Equal(got, []string{"sample-gif"}) {
		t.Errorf("keys = %q, want only sample-gif", got)
	}
	if s := c.Stats(); s.Imported != 1 || s.Quarantined != 0 {
		t.Errorf("stats = %+v", s)
	}
	for _, key := range []string{"sub", "notes", "sample-png", "upper", "dot"} {
		if _, ok := c.Get(key); ok {
			t.Errorf("Get(%q) found an entry", key)
		}
	}
	if after := dirNames(t, dir); !slices.Equal(after, before) {
		t.Errorf("cache_dir changed:\n got %q\nwant %q", after, before)
	}
	if got := dirNames(t, sub); !slices.Equal(got, []string{"sample-png.png"}) {
		t.Errorf("sub.png/ holds %q", got)
	}
	if got := dirNames(t, c.Config().ErrorDir); len(got) != 0 {
		t.Errorf("error_dir holds %q", got)
	}
}

func TestRefreshSkipsKeysInMemory(t *testing.T) {
	c := refreshCache(t, true, nil)
	dir := c.Config().CacheDir
	mine := image.NewGray(image.Rect(0, 0, 2, 2))
	if err := c.Put("sample-png", mine); err != nil {
		t.Fatal(err)
	}
	copyRefreshFixtures(t, dir, "sample-png.png", "sample-gif.gif")

	n, err := c.Refresh(false)
	if n != 1 || err != nil {
		t.Fatalf("Refresh = %d, %v; want 1 (sample-gif), nil", n, err)
	}
	if got, ok := c.Get("sample-png"); !ok || got != image.Image(mine) {
		t.Fatalf("Get(sample-png) = %T %v, want the image Put", got, ok)
	}
	if s := c.Stats(); s.Imported != 1 {
		t.Errorf("Imported = %d, want 1", s.Imported)
	}
	// A file that was not imported is not Save's to remove.
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"sample-png.png"}) {
		t.Errorf("after Save cache_dir holds %q, want only the skipped sample-png.png", got)
	}
	d := reloaded(t, c.Config().BinFile)
	if got, ok := d.Get("sample-png"); !ok || got.Bounds() != mine.Bounds() {
		t.Errorf("saved sample-png is %v, %v; want the image Put", got, ok)
	}
}

// unwritableBin returns a bin file path that Save cannot create: its
// parent is a regular file.
func unwritableBin(t *testing.T) string {
	t.Helper()
	parent := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(parent, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(parent, "cache.bin")
}

func TestRefreshRemovesFilesOnlyAfterASave(t *testing.T) {
	tests := []struct {
		name        string
		edit        func(t *testing.T, cfg *Config)
		wantSaveErr bool
		wantGone    bool // the files leave cache_dir on Save
	}{
		{name: "bin file", wantGone: true},
		{name: "no bin file", edit: func(t *testing.T, cfg *Config) { cfg.BinFile = NoBinFile }},
		{name: "debug images", edit: func(t *testing.T, cfg *Config) { cfg.DebugImages = true }},
		{name: "failed save", edit: func(t *testing.T, cfg *Config) { cfg.BinFile = unwritableBin(t) }, wantSaveErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := refreshCache(t, true, func(cfg *Config) {
				if tt.edit != nil {
					tt.edit(t, cfg)
				}
			})
			dir := c.Config().CacheDir
			copyRefreshFixtures(t, dir, refreshSampleFiles()...)
			files := dirNames(t, dir)

			if n, err := c.Refresh(false); n != len(refreshSamples) || err != nil {
				t.Fatalf("Refresh = %d, %v", n, err)
			}
			if got := dirNames(t, dir); !slices.Equal(got, files) {
				t.Fatalf("Refresh alone changed cache_dir: %q", got)
			}
			err := c.Save()
			if (err != nil) != tt.wantSaveErr {
				t.Fatalf("Save: %v (want error: %v)", err, tt.wantSaveErr)
			}
			got := dirNames(t, dir)
			if tt.wantGone {
				// debug_images is off, so nothing else is in cache_dir.
				if len(got) != 0 {
					t.Errorf("after Save cache_dir holds %q, want nothing", got)
				}
			} else if !slices.Equal(got, files) {
				t.Errorf("after Save cache_dir holds %q, want %q", got, files)
			}
			bin := c.Config().BinFile
			if (bin == NoBinFile) != (tt.name == "no bin file") {
				t.Fatalf("Config().BinFile = %q", bin)
			}
			if bin != NoBinFile && !tt.wantSaveErr {
				d := reloaded(t, bin)
				for i, sm := range refreshSamples {
					img, ok := d.Get(sm.key)
					if !ok {
						t.Errorf("%s not in the bin file", sm.key)
						continue
					}
					checkRefreshSample(t, img, i)
				}
			}
		})
	}
}

func TestRefreshKeepsFilesChangedAfterImport(t *testing.T) {
	c := refreshCache(t, true, nil)
	dir := c.Config().CacheDir
	copyRefreshFixtures(t, dir, "sample-png.png", "sample-gif.gif", "sample-bmp.bmp")
	if n, err := c.Refresh(false); n != 3 || err != nil {
		t.Fatalf("Refresh = %d, %v", n, err)
	}

	// Rewritten with other content and size, and its old modification
	// time put back: only the size tells.
	png := filepath.Join(dir, "sample-png.png")
	fi, err := os.Stat(png)
	if err != nil {
		t.Fatal(err)
	}
	copyRefreshFixture(t, dir, "sample-gif.gif", "sample-png.png")
	if err := os.Chtimes(png, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	// Same size, other content and modification time: only the time
	// tells.
	bmp := filepath.Join(dir, "sample-bmp.bmp")
	data, err := os.ReadFile(bmp)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 0xff
	if err := os.WriteFile(bmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(bmp, later, later); err != nil {
		t.Fatal(err)
	}

	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if got, want := dirNames(t, dir), []string{"sample-bmp.bmp", "sample-png.png"}; !slices.Equal(got, want) {
		t.Errorf("after Save cache_dir holds %q, want the rewritten %q", got, want)
	}
	// What was saved is what was imported.
	d := reloaded(t, c.Config().BinFile)
	for i, sm := range refreshSamples[:4] {
		if sm.key == "sample-jpeg" {
			continue
		}
		img, ok := d.Get(sm.key)
		if !ok {
			t.Errorf("%s not saved", sm.key)
			continue
		}
		checkRefreshSample(t, img, i)
	}
}

func TestRefreshResave(t *testing.T) {
	t.Run("bin file", func(t *testing.T) {
		c := refreshCache(t, true, nil)
		dir, bin := c.Config().CacheDir, c.Config().BinFile
		copyRefreshFixtures(t, dir, refreshSampleFiles()...)
		if n, err := c.Refresh(true); n != len(refreshSamples) || err != nil {
			t.Fatalf("Refresh(true) = %d, %v", n, err)
		}
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("no bin file after Refresh(true): %v", err)
		}
		if got := dirNames(t, dir); len(got) != 0 {
			t.Errorf("cache_dir holds %q after Refresh(true), want nothing", got)
		}
		d := reloaded(t, bin)
		if s := d.Stats(); s.Entries != len(refreshSamples) {
			t.Errorf("bin file holds %d entries, want %d", s.Entries, len(refreshSamples))
		}
		for i, sm := range refreshSamples {
			img, ok := d.Get(sm.key)
			if !ok {
				t.Errorf("%s not in the bin file", sm.key)
				continue
			}
			checkRefreshSample(t, img, i)
		}
	})
	t.Run("no bin file", func(t *testing.T) {
		c := refreshCache(t, false, nil)
		copyRefreshFixtures(t, c.Config().CacheDir, "sample-png.png")
		if n, err := c.Refresh(true); n != 1 || err != nil {
			t.Fatalf("Refresh(true) = %d, %v; want 1, nil", n, err)
		}
		if got := dirNames(t, c.Config().CacheDir); !slices.Equal(got, []string{"sample-png.png"}) {
			t.Errorf("cache_dir holds %q", got)
		}
	})
	t.Run("failed save", func(t *testing.T) {
		c := refreshCache(t, true, func(cfg *Config) { cfg.BinFile = unwritableBin(t) })
		copyRefreshFixtures(t, c.Config().CacheDir, "sample-png.png")
		n, err := c.Refresh(true)
		if n != 1 || err == nil {
			t.Fatalf("Refresh(true) = %d, %v; want 1 and Save's error", n, err)
		}
		if _, ok := c.Get("sample-png"); !ok {
			t.Error("the import was lost with the failed save")
		}
		if got := dirNames(t, c.Config().CacheDir); !slices.Equal(got, []string{"sample-png.png"}) {
			t.Errorf("cache_dir holds %q after a failed save", got)
		}
	})
}

func TestRefreshDoesNotSavePlaceholders(t *testing.T) {
	c := refreshCache(t, true, nil)
	copyRefreshFixtures(t, c.Config().CacheDir, "truncated.png", "huge.png", "sample-png.png")
	n, err := c.Refresh(false)
	if n != 1 {
		t.Fatalf("Refresh = %d, %v; want 1", n, err)
	}
	checkRefused(t, err, c.Config().CacheDir, true, true, "truncated.png", "huge.png")
	if s := c.Stats(); s.Entries != 3 || s.Quarantined != 2 {
		t.Fatalf("stats = %+v, want 3 entries, 2 quarantined", s)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	d := reloaded(t, c.Config().BinFile)
	if got := d.Keys(); !slices.Equal(got, []string{"sample-png"}) {
		t.Fatalf("bin file holds %q, want only sample-png", got)
	}
	for _, key := range []string{"truncated", "huge"} {
		if _, ok := d.Get(key); ok {
			t.Errorf("placeholder %s was saved", key)
		}
	}
	// Close saves too, and skips them as well.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := reloaded(t, c.Config().BinFile).Keys(); !slices.Equal(got, []string{"sample-png"}) {
		t.Fatalf("bin file after Close holds %q", got)
	}
}

func TestRefreshMissingOrBadCacheDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	c := refreshCache(t, true, func(cfg *Config) { cfg.CacheDir = missing })
	for _, resave := range []bool{false, true} {
		if n, err := c.Refresh(resave); n != 0 || err != nil {
			t.Errorf("Refresh(%v) of a missing cache_dir = %d, %v; want 0, nil", resave, n, err)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Refresh created cache_dir (stat err %v)", err)
	}

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c = refreshCache(t, false, func(cfg *Config) { cfg.CacheDir = file; cfg.Preload = false })
	if n, err := c.Refresh(false); n != 0 || err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("Refresh of a cache_dir that is a file = %d, %v; want an error naming it", n, err)
	} else if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTooLarge) || strings.Count(err.Error(), "arcache:") != 1 {
		t.Errorf("Refresh of a cache_dir that is a file: %q is a refused file's error, or names the package twice", err)
	}
	// A directory error, unlike a refused file, stops New with Preload.
	cfg := c.Config()
	cfg.Preload = true
	if d, err := New(cfg, WithLogger(nil)); err == nil || !strings.Contains(err.Error(), file) {
		if d != nil {
			d.Close()
		}
		t.Errorf("New with Preload over a cache_dir that is a file: %v; want an error naming it", err)
	}
}

func TestRefreshAfterClose(t *testing.T) {
	c := refreshCache(t, true, nil)
	dir := c.Config().CacheDir
	copyRefreshFixtures(t, dir, "sample-png.png", "truncated.png")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, resave := range []bool{false, true} {
		if n, err := c.Refresh(resave); n != 0 || !errors.Is(err, ErrClosed) {
			t.Errorf("Refresh(%v) after Close = %d, %v; want 0, ErrClosed", resave, n, err)
		}
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"sample-png.png", "truncated.png"}) {
		t.Errorf("cache_dir holds %q after a refused Refresh", got)
	}
	if got := dirNames(t, c.Config().ErrorDir); len(got) != 0 {
		t.Errorf("error_dir holds %q after a refused Refresh", got)
	}
}

func TestRefreshConcurrentWithProvide(t *testing.T) {
	c := refreshCache(t, true, nil)
	dir := c.Config().CacheDir
	copyRefreshFixtures(t, dir, refreshSampleFiles()...)
	copyRefreshFixtures(t, dir, "truncated.png")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		total   int
		refused int // Refresh calls that reported truncated.png
	)
	// Refresh(true) is left out: a Save that removes a file between a
	// concurrent Refresh's listing and its read of that file makes that
	// Refresh store a placeholder over the good import.
	for g := range 4 {
		wg.Go(func() {
			n, err := c.Refresh(false)
			if err != nil && (!errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "truncated.png")) {
				t.Errorf("Refresh: %v; want nil or truncated.png's ErrCorrupt", err)
			}
			mu.Lock()
			total += n
			if err != nil {
				refused++
			}
			mu.Unlock()
		})
		wg.Go(func() {
			if _, err := Provide(c, func(a refreshArgs) (*image.NRGBA, error) {
				return image.NewNRGBA(image.Rect(0, 0, a.Size, a.Size)), nil
			}, refreshArgs{Name: fmt.Sprint(g), Size: 3}); err != nil {
				t.Errorf("Provide: %v", err)
			}
			c.Get("sample-png")
		})
	}
	wg.Wait()
	// Refreshes take turns, and the first quarantines the file.
	if refused != 1 {
		t.Errorf("%d Refresh calls reported truncated.png, want 1", refused)
	}
	s := c.Stats()
	if uint64(total) != s.Imported || total < len(refreshSamples) {
		t.Errorf("Refresh calls returned %d in all; stats %+v", total, s)
	}
	for i, sm := range refreshSamples {
		img, ok := c.Get(sm.key)
		if !ok {
			t.Errorf("%s missing", sm.key)
			continue
		}
		checkRefreshSample(t, img, i)
	}
	if img, ok := c.Get("truncated"); !ok {
		t.Error("no placeholder for truncated")
	} else {
		checkPlaceholder(t, img)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("after Save cache_dir holds %q", got)
	}
	if d := reloaded(t, c.Config().BinFile); d.Len() != len(refreshSamples)+4 {
		t.Errorf("bin file holds %q, want the samples and 4 built images", d.Keys())
	}
}

func TestRefreshReplacesAPlaceholderWithAFixedFile(t *testing.T) {
	c := refreshCache(t, false, nil)
	dir := c.Config().CacheDir
	copyRefreshFixture(t, dir, "truncated.png", "broken.png")
	n, err := c.Refresh(false)
	if n != 0 {
		t.Fatalf("Refresh of a broken file = %d, %v", n, err)
	}
	checkRefused(t, err, dir, true, false, "broken.png")
	img, _ := c.Get("broken")
	checkPlaceholder(t, img)
	copyRefreshFixture(t, dir, "sample-png.png", "broken.png")
	if n, err := c.Refresh(false); n != 1 || err != nil {
		t.Fatalf("Refresh of the fixed file = %d, %v; want 1", n, err)
	}
	img, _ = c.Get("broken")
	checkRefreshSample(t, img, 0)
}

func TestRefreshDoesNotCountImagesItDoesNotKeep(t *testing.T) {
	c := refreshCache(t, true, func(cfg *Config) { cfg.MaxBytes = 100 })
	dir := c.Config().CacheDir
	copyRefreshFixtures(t, dir, "sample-png.png")
	for range 2 {
		if n, err := c.Refresh(false); n != 0 || err != nil {
			t.Fatalf("Refresh of an image over max_bytes = %d, %v; want 0", n, err)
		}
	}
	if s := c.Stats(); s.Imported != 0 || s.Entries != 0 {
		t.Fatalf("stats %+v", s)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, dir); !slices.Equal(got, []string{"sample-png.png"}) {
		t.Fatalf("an image that was not kept lost its file: %q", got)
	}
}

func TestRefreshConcurrentRefreshesImportOnce(t *testing.T) {
	c := refreshCache(t, true, nil)
	copyRefreshFixtures(t, c.Config().CacheDir, refreshSampleFiles()...)
	var wg sync.WaitGroup
	counts := make([]int, 4)
	for i := range counts {
		wg.Go(func() {
			n, err := c.Refresh(i%2 == 0)
			if err != nil {
				t.Error(err)
			}
			counts[i] = n
		})
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	if files := len(refreshSampleFiles()); total != files || c.Stats().Imported != uint64(files) {
		t.Fatalf("Refreshes imported %v (Imported %d), want %d in all", counts, c.Stats().Imported, files)
	}
}
