package arcache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "arcache.ini")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultConfig(t *testing.T) {
	want := Config{
		CacheDir:       ".imgcache",
		ErrorDir:       "arcache_errors",
		Preload:        true,
		CacheMax:       5000,
		BinFile:        "", // follows CacheDir: .imgcache.bin
		MaxBytes:       256 << 20,
		MaxImagePixels: 64 << 20,
	}
	if got := DefaultConfig(); got != want {
		t.Fatalf("DefaultConfig() = %+v\nwant %+v", got, want)
	}
	if got := DefaultConfig().binFile(); got != ".imgcache.bin" {
		t.Errorf("the default bin file is %q, want .imgcache.bin", got)
	}
}

func TestLoadConfigArcacheDocs(t *testing.T) {
	cfg, err := LoadConfig("testdata/config/arcache-docs.ini")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.DebugImages = true
	if cfg != want {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

func TestLoadConfigValues(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory:", err)
	}
	cfg, err := LoadConfig(writeConfig(t, `
# a comment line
[cache]
cache_dir = "~/icons#1"   # a quoted value holding '#'
cache_max = 10
max_bytes = 0             ; no byte bound
preload = False
purge_cache_on_startup = yes
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CacheDir != filepath.Join(home, "icons#1") {
		t.Errorf("cache_dir = %q", cfg.CacheDir)
	}
	if cfg.BinFile != "" {
		t.Errorf("bin_file = %q: absent, it should be left to follow cache_dir", cfg.BinFile)
	}
	if got := cfg.binFile(); got != filepath.Join(home, "icons#1.bin") {
		t.Errorf("bin file %q: should follow cache_dir", got)
	}
	if cfg.CacheMax != 10 || cfg.MaxBytes != 0 || cfg.Preload || !cfg.PurgeCacheOnStartup {
		t.Errorf("cfg = %+v", cfg)
	}
	if cfg.ErrorDir != "arcache_errors" || cfg.MaxImagePixels != 64<<20 {
		t.Errorf("missing keys lost their defaults: %+v", cfg)
	}

	cfg, err = LoadConfig(writeConfig(t, "[cache]\nbin_file = ''\n"))
	if err != nil || cfg.BinFile != NoBinFile || cfg.binFile() != "" {
		t.Fatalf("empty bin_file: %q (resolved %q), %v; want NoBinFile", cfg.BinFile, cfg.binFile(), err)
	}
	cfg, err = LoadConfig(writeConfig(t, "[cache]\nbin_file = /var/cache/x.bin\ncache_dir = other\n"))
	if err != nil || cfg.BinFile != "/var/cache/x.bin" || cfg.CacheDir != "other" {
		t.Fatalf("explicit bin_file: %+v, %v", cfg, err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	cases := map[string]struct {
		body string
		want []string // in the message
	}{
		"unknown key":     {"[cache]\ncache_dir = x\ncache_size = 3\n", []string{"cache_size", ":3:"}},
		"bad int":         {"[cache]\n\ncache_max = lots\n", []string{"cache_max", ":3:", "lots"}},
		"bad bool":        {"[cache]\npreload = maybe\n", []string{"preload", ":2:"}},
		"zero cache_max":  {"[cache]\ncache_max = 0\n", []string{"cache_max", ":2:"}},
		"negative bytes":  {"[cache]\nmax_bytes = -1\n", []string{"max_bytes", ":2:"}},
		"zero pixels":     {"[cache]\nmax_image_pixels = 0\n", []string{"max_image_pixels"}},
		"unknown section": {"[cache]\ncache_max = 3\n[other]\nx = 1\n", []string{"[other]", ":3:"}},
		"key outside":     {"cache_max = 3\n[cache]\n", []string{"cache_max", ":1:", "outside"}},
		"huge int":        {"[cache]\nmax_bytes = 99999999999999999999\n", []string{"max_bytes"}},
	}
	for name, tc := range cases {
		path := writeConfig(t, tc.body)
		_, err := LoadConfig(path)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
			continue
		}
		for _, w := range append(tc.want, path) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not mention %q", name, err, w)
			}
		}
	}
	missing := filepath.Join(t.TempDir(), "nope.ini")
	_, err := LoadConfig(missing)
	if !errors.Is(err, ErrConfig) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
}

func TestOpen(t *testing.T) {
	c, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.BinFile = ".imgcache.bin" // Config reports the resolved path
	if c.Config() != want {
		t.Errorf("Open(\"\") config = %+v\nwant %+v", c.Config(), want)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, err = Open(writeConfig(t, "[cache]\ncache_max = 2\nbin_file =\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Config().CacheMax != 2 || c.Config().BinFile != NoBinFile {
		t.Errorf("cache_max = %d, bin_file = %q; want 2, NoBinFile", c.Config().CacheMax, c.Config().BinFile)
	}
	if _, err := Open(writeConfig(t, "[cache]\nnope = 1\n")); !errors.Is(err, ErrConfig) {
		t.Errorf("Open with a bad config: %v", err)
	}
	if _, err := New(Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("New(Config{}): %v", err)
	}
}
