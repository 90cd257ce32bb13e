package arcache

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// refusedFolder fills dir with the good samples and the named refused
// files: "huge.png" (a bare 200000×200000 header), "over.png" (a bare
// header one row over refusedPixels), "at.png" (a bare header of exactly
// refusedPixels: it passes the size check and fails to decode) and
// "truncated.png".
func refusedFolder(t *testing.T, dir string, refused ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyRefreshFixtures(t, dir, refreshSampleFiles()...)
	for _, name := range refused {
		var data []byte
		switch name {
		case "huge.png", "truncated.png":
			copyRefreshFixture(t, dir, name, "")
			continue
		case "over.png":
			data = headerOnlyPNG(refusedSide, refusedSide+1)
		case "at.png":
			data = headerOnlyPNG(refusedSide, refusedSide)
		default:
			t.Fatalf("no refused file %s", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The limit of these tests: refusedSide² pixels.
const (
	refusedSide   = 300
	refusedPixels = refusedSide * refusedSide
)

func TestRefreshReportsRefusedFiles(t *testing.T) {
	tests := []struct {
		name              string
		refused           []string
		corrupt, tooLarge bool
	}{
		{"oversized header", []string{"huge.png"}, false, true},
		{"one row over the limit", []string{"over.png"}, false, true},
		{"at the limit, undecodable", []string{"at.png"}, true, false},
		{"oversized and undecodable", []string{"huge.png", "truncated.png"}, true, true},
		{"all", []string{"at.png", "huge.png", "over.png", "truncated.png"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := refreshCache(t, true, func(cfg *Config) { cfg.MaxImagePixels = refusedPixels })
			dir := c.Config().CacheDir
			refusedFolder(t, dir, tt.refused...)

			n, err := c.Refresh(false)
			if n != len(refreshSamples) {
				t.Errorf("Refresh imported %d, want the %d good files (err %v)", n, len(refreshSamples), err)
			}
			checkRefused(t, err, dir, tt.corrupt, tt.tooLarge, tt.refused...)
			if got := strings.Count(err.Error(), "\n") + 1; got != len(tt.refused) {
				t.Errorf("Refresh joined %d errors, want one a refused file: %q", got, err)
			}
			for i, sm := range refreshSamples {
				img, ok := c.Get(sm.key)
				if !ok {
					t.Errorf("good file %s not imported", sm.file)
					continue
				}
				checkRefreshSample(t, img, i)
			}
			for _, f := range tt.refused {
				key := strings.TrimSuffix(f, ".png")
				img, ok := c.Get(key)
				if !ok {
					t.Errorf("no placeholder for %s", f)
					continue
				}
				checkPlaceholder(t, img)
				if exists(t, filepath.Join(dir, f)) {
					t.Errorf("%s was left in cache_dir", f)
				}
			}
			if s := c.Stats(); s.Quarantined != uint64(len(tt.refused)) || s.Imported != uint64(len(refreshSamples)) {
				t.Errorf("stats %+v, want %d quarantined, %d imported", s, len(tt.refused), len(refreshSamples))
			}
			if got := dirNames(t, c.Config().ErrorDir); len(got) != len(tt.refused) {
				t.Errorf("error_dir holds %q, want the %d refused files", got, len(tt.refused))
			}

			// The refused files are gone: the next Refresh is clean.
			if n, err := c.Refresh(false); n != 0 || err != nil {
				t.Errorf("second Refresh = %d, %v; want 0, nil", n, err)
			}
		})
	}
}

func TestNewPreloadsPastRefusedFiles(t *testing.T) {
	refused := []string{"at.png", "huge.png", "over.png", "truncated.png"}
	check := func(t *testing.T, how string, c *SlugCache, dir string) {
		t.Helper()
		s := c.Stats()
		if s.Imported != uint64(len(refreshSamples)) || s.Quarantined != uint64(len(refused)) {
			t.Errorf("%s: stats %+v, want %d imported and %d quarantined", how, s, len(refreshSamples), len(refused))
		}
		for i, sm := range refreshSamples {
			img, ok := c.Get(sm.key)
			if !ok {
				t.Errorf("%s: %s not imported", how, sm.file)
				continue
			}
			checkRefreshSample(t, img, i)
		}
		for _, f := range refused {
			img, ok := c.Get(strings.TrimSuffix(f, ".png"))
			if !ok {
				t.Errorf("%s: no placeholder for %s", how, f)
				continue
			}
			checkPlaceholder(t, img)
		}
		moved := dirNames(t, filepath.Join(dir, "errors"))
		slices.Sort(moved)
		if len(moved) != len(refused) {
			t.Fatalf("%s: error_dir holds %q, want the refused files", how, moved)
		}
		for i, f := range refused {
			if !strings.HasPrefix(moved[i], f+".") {
				t.Errorf("%s: error_dir holds %s, want %s quarantined", how, moved[i], f)
			}
		}
	}

	dir := t.TempDir()
	refusedFolder(t, filepath.Join(dir, "cache"), refused...)
	cfg := lifecycleConfig(dir)
	cfg.MaxImagePixels = refusedPixels
	c, err := New(cfg, WithLogger(nil))
	if err != nil {
		t.Fatalf("New with Preload over refused files: %v", err)
	}
	check(t, "New", c, dir)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	dir = t.TempDir()
	refusedFolder(t, filepath.Join(dir, "cache"), refused...)
	ini := writeConfig(t, fmt.Sprintf("[cache]\ncache_dir = %s\nerror_dir = %s\nmax_image_pixels = %d\n",
		filepath.Join(dir, "cache"), filepath.Join(dir, "errors"), refusedPixels))
	c, err = Open(ini, WithLogger(nil))
	if err != nil {
		t.Fatalf("Open with preload over refused files: %v", err)
	}
	check(t, "Open", c, dir)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
