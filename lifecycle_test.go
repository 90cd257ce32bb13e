package arcache

import (
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// lifecycleConfig is a Config built in code for a cache in dir whose bin
// file is left to follow CacheDir: dir/cache.bin.
func lifecycleConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.CacheDir = filepath.Join(dir, "cache")
	cfg.ErrorDir = filepath.Join(dir, "errors")
	return cfg
}

// lifecycleINI writes the config file that says what lifecycleConfig(dir)
// with preload and purge says, bin_file left out.
func lifecycleINI(t *testing.T, dir string, preload, purge bool) string {
	t.Helper()
	py := map[bool]string{true: "True", false: "False"}
	return writeConfig(t, fmt.Sprintf("[cache]\ncache_dir = %s\nerror_dir = %s\npreload = %s\npurge_cache_on_startup = %s\n",
		filepath.Join(dir, "cache"), filepath.Join(dir, "errors"), py[preload], py[purge]))
}

// seedLifecycle leaves in dir what an earlier run of a program would: a
// bin file holding "saved", the debug PNG of "saved" in cache_dir, and
// beside it an image to import (sample-gif.gif) and a file that is not an
// image (notes.txt). It returns the image saved.
func seedLifecycle(t *testing.T, dir string) image.Image {
	t.Helper()
	cfg := lifecycleConfig(dir)
	cfg.Preload = false
	cfg.DebugImages = true
	c, err := New(cfg, WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	saved := fill(image.NewNRGBA(image.Rect(0, 0, 6, 5)), 7)
	mustPut(t, c, "saved", saved)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"cache.bin", "cache/saved.png"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatalf("the earlier run left no %s: %v", p, err)
		}
	}
	copyRefreshFixture(t, cfg.CacheDir, "sample-gif.gif", "")
	if err := os.WriteFile(filepath.Join(cfg.CacheDir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	return saved
}

// exists reports whether path exists.
func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestNewHonoursPreloadAndPurge(t *testing.T) {
	const gifSample = 2 // sample-gif in refreshSamples
	if refreshSamples[gifSample].key != "sample-gif" {
		t.Fatalf("refreshSamples[%d] is %s", gifSample, refreshSamples[gifSample].key)
	}
	tests := []struct {
		preload, purge bool
		keys           []string // least recent first
		binLeft        bool     // the bin file and debug PNG are still there
	}{
		{preload: false, purge: false, keys: nil, binLeft: true},
		// The bin file first, then Refresh: saved.png is held by then,
		// so only the GIF is imported.
		{preload: true, purge: false, keys: []string{"saved", "sample-gif"}, binLeft: true},
		{preload: false, purge: true, keys: nil, binLeft: false},
		{preload: true, purge: true, keys: []string{"sample-gif"}, binLeft: false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("preload=%v,purge=%v", tt.preload, tt.purge), func(t *testing.T) {
			type outcome struct {
				keys  []string
				files []string // in cache_dir
				cfg   Config   // with dir taken out of the paths
			}
			open := map[string]func(t *testing.T, dir string) (*SlugCache, error){
				"New": func(t *testing.T, dir string) (*SlugCache, error) {
					cfg := lifecycleConfig(dir)
					cfg.Preload, cfg.PurgeCacheOnStartup = tt.preload, tt.purge
					return New(cfg, WithLogger(nil))
				},
				"Open": func(t *testing.T, dir string) (*SlugCache, error) {
					return Open(lifecycleINI(t, dir, tt.preload, tt.purge), WithLogger(nil))
				},
			}
			outcomes := map[string]outcome{}
			for _, how := range []string{"New", "Open"} {
				dir := t.TempDir()
				saved := seedLifecycle(t, dir)
				c, err := open[how](t, dir)
				if err != nil {
					t.Fatalf("%s: %v", how, err)
				}
				keys := c.Keys()
				if !slices.Equal(keys, tt.keys) {
					t.Errorf("%s: keys %q, want %q", how, keys, tt.keys)
				}
				if s := c.Stats(); s.Imported != uint64(len(tt.keys)) || s.Quarantined != 0 {
					t.Errorf("%s: stats %+v, want %d imported, none quarantined", how, s, len(tt.keys))
				}
				if slices.Contains(tt.keys, "saved") {
					got, _ := c.Get("saved")
					if reflect.TypeOf(got) != reflect.TypeOf(saved) || !samePixels(got, saved) {
						t.Errorf("%s: the saved image came back as a %T with other pixels", how, got)
					}
				}
				if slices.Contains(tt.keys, "sample-gif") {
					got, _ := c.Get("sample-gif")
					checkRefreshSample(t, got, gifSample)
				}
				bin, png := filepath.Join(dir, "cache.bin"), filepath.Join(dir, "cache", "saved.png")
				if got := exists(t, bin); got != tt.binLeft {
					t.Errorf("%s: bin file there: %v, want %v", how, got, tt.binLeft)
				}
				if got := exists(t, png); got != tt.binLeft {
					t.Errorf("%s: debug PNG there: %v, want %v", how, got, tt.binLeft)
				}
				// Purge takes the debug PNGs only, and Refresh removes
				// nothing until a save holds it.
				for _, f := range []string{"notes.txt", "sample-gif.gif"} {
					if !exists(t, filepath.Join(dir, "cache", f)) {
						t.Errorf("%s: %s is gone", how, f)
					}
				}
				cfg := c.Config()
				if cfg.BinFile != bin {
					t.Errorf("%s: Config().BinFile = %q, want %q", how, cfg.BinFile, bin)
				}
				for _, p := range []*string{&cfg.CacheDir, &cfg.ErrorDir, &cfg.BinFile} {
					*p = strings.TrimPrefix(*p, dir)
				}
				outcomes[how] = outcome{keys, dirNames(t, filepath.Join(dir, "cache")), cfg}
				if err := c.Close(); err != nil {
					t.Fatalf("%s: Close: %v", how, err)
				}
			}
			if n, o := outcomes["New"], outcomes["Open"]; !reflect.DeepEqual(n, o) {
				t.Errorf("New and Open differ:\n New %+v\nOpen %+v", n, o)
			}
		})
	}
}

func TestNewPreloadOverADamagedOrUnreadableBinFile(t *testing.T) {
	t.Run("damaged", func(t *testing.T) {
		dir := t.TempDir()
		cfg := lifecycleConfig(dir)
		bin := filepath.Join(dir, "cache.bin")
		if err := os.WriteFile(bin, validBin(t, 4)[:200], 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := New(cfg, WithLogger(nil))
		if err != nil {
			t.Fatalf("New over a damaged bin file: %v", err)
		}
		defer c.Close()
		if s := c.Stats(); s.Quarantined != 1 {
			t.Errorf("stats %+v, want the damaged file quarantined", s)
		}
		for i, k := range c.Keys() { // the records before the damage
			if k != fmt.Sprint("k", i) {
				t.Errorf("key %d is %q", i, k)
			}
		}
		if exists(t, bin) {
			t.Error("the damaged bin file was left in place")
		}
		if moved, _ := filepath.Glob(filepath.Join(cfg.ErrorDir, "cache.bin.*")); len(moved) != 1 {
			t.Errorf("error_dir holds %q, want the bin file", moved)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir()
		bin := filepath.Join(dir, "cache.bin")
		if err := os.Mkdir(bin, 0o755); err != nil { // root reads any file: a directory cannot be read
			t.Fatal(err)
		}
		c, err := New(lifecycleConfig(dir), WithLogger(nil))
		if err == nil {
			c.Close()
			t.Fatal("New succeeded over a bin file it cannot read, which Close would overwrite")
		}
		if errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), bin) {
			t.Errorf("New: %v; want an I/O error naming %s, not ErrCorrupt", err, bin)
		}
		// Without Preload nothing reads it.
		cfg := lifecycleConfig(dir)
		cfg.Preload = false
		c, err = New(cfg, WithLogger(nil))
		if err != nil {
			t.Fatalf("New without Preload: %v", err)
		}
		c.Close()
	})
}

func TestNewRefusesAnEmptyCacheDir(t *testing.T) {
	cfg := DefaultConfig()
	cfg.CacheDir = ""
	c, err := New(cfg)
	if err == nil {
		c.Close()
		t.Fatal("New with an empty CacheDir succeeded")
	}
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "cache_dir") {
		t.Errorf("New with an empty CacheDir: %v; want ErrConfig naming cache_dir", err)
	}
}

// cwdNames lists the working directory: TestMain's scratch directory.
func cwdNames(t *testing.T) []string {
	t.Helper()
	return dirNames(t, ".")
}

// checkCwdUnchanged fails if the working directory holds other names than
// before, or a default bin file.
func checkCwdUnchanged(t *testing.T, before []string) {
	t.Helper()
	after := cwdNames(t)
	if !slices.Equal(after, before) {
		t.Errorf("the working directory changed:\n got %q\nwant %q", after, before)
	}
	for _, name := range []string{".imgcache.bin", ".imgcache", "arcache_errors", NoBinFile} {
		if exists(t, name) {
			t.Errorf("%s was written to the working directory", name)
		}
	}
}

// checkOnlyBinFile fails unless dir holds the bin file name and what the
// save put beside it (its lock file) and nothing else.
func checkOnlyBinFile(t *testing.T, dir, name string) {
	t.Helper()
	names := dirNames(t, dir)
	if !slices.Contains(names, name) {
		t.Fatalf("%s holds %q, no %s", dir, names, name)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, name) {
			t.Errorf("%s holds %s beside the bin file", dir, n)
		}
	}
}

func TestBinFileFollowsCacheDirSetInCode(t *testing.T) {
	for _, tc := range []struct{ name, cacheDir string }{
		{"plain", "icons"},
		{"trailing slash", "icons/"},
		{"unclean", "sub/../icons"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := cwdNames(t)
			dir := t.TempDir()
			cfg := DefaultConfig()
			cfg.CacheDir = dir + "/" + tc.cacheDir
			want := filepath.Join(dir, "icons.bin")

			c, err := New(cfg, WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Config().BinFile; got != want {
				t.Errorf("Config().BinFile = %q, want %q", got, want)
			}
			img := fill(image.NewGray(image.Rect(0, 0, 3, 3)), 1)
			mustPut(t, c, "kept", img)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			checkOnlyBinFile(t, dir, "icons.bin")

			// The same Config finds it again, and preloads it.
			d, err := New(cfg, WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := d.Get("kept"); !ok || !samePixels(got, img) {
				t.Errorf("a cache made with the same Config did not load the image saved: %v", ok)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			checkCwdUnchanged(t, before)
		})
	}
}

func TestNoBinFileWritesNoBinFile(t *testing.T) {
	before := cwdNames(t)
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.CacheDir = filepath.Join(dir, "icons")
	cfg.BinFile = NoBinFile
	c, err := New(cfg, WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Config().BinFile; got != NoBinFile {
		t.Errorf("Config().BinFile = %q, want NoBinFile", got)
	}
	mustPut(t, c, "kept", nrgba(2))
	if err := c.Save(); err != nil {
		t.Fatalf("Save with persistence off: %v", err)
	}
	if err := c.Load(); err != nil {
		t.Fatalf("Load with persistence off: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("persistence off, yet %s holds %q", dir, got)
	}
	checkCwdUnchanged(t, before)
}

func TestBinFileInAConfigFile(t *testing.T) {
	t.Run("empty turns persistence off", func(t *testing.T) {
		before := cwdNames(t)
		dir := t.TempDir()
		path := writeConfig(t, fmt.Sprintf("[cache]\ncache_dir = %s\nbin_file =\n", filepath.Join(dir, "icons")))
		cfg, err := LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.BinFile != NoBinFile {
			t.Errorf("LoadConfig: BinFile = %q, want NoBinFile", cfg.BinFile)
		}
		c, err := Open(path, WithLogger(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Config().BinFile; got != NoBinFile {
			t.Errorf("Config().BinFile = %q, want NoBinFile", got)
		}
		mustPut(t, c, "kept", nrgba(2))
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if got := dirNames(t, dir); len(got) != 0 {
			t.Errorf("persistence off, yet %s holds %q", dir, got)
		}
		checkCwdUnchanged(t, before)
	})
	t.Run("absent follows cache_dir", func(t *testing.T) {
		before := cwdNames(t)
		dir := t.TempDir()
		path := writeConfig(t, fmt.Sprintf("[cache]\ncache_dir = %s\n", filepath.Join(dir, "icons")))
		cfg, err := LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(dir, "icons.bin")
		if cfg.BinFile != "" || cfg.binFile() != want {
			t.Errorf("LoadConfig: BinFile = %q (resolved %q), want \"\" resolving to %q", cfg.BinFile, cfg.binFile(), want)
		}
		c, err := Open(path, WithLogger(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Config().BinFile; got != want {
			t.Errorf("Config().BinFile = %q, want %q", got, want)
		}
		mustPut(t, c, "kept", nrgba(2))
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		checkOnlyBinFile(t, dir, "icons.bin")
		checkCwdUnchanged(t, before)
	})
}
