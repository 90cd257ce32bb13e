package main

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcache-go/arcache/imagecache"
	"github.com/arcache-go/arcache/internal/redistest"
)

// TestRun runs the program three times on one directory, as the doc
// comment's commands do, and checks where each pass found its images.
func TestRun(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	n := len(originImages)
	runs := []struct {
		args []string
		want []string // lines the output must contain
	}{
		{[]string{"-out", out}, []string{
			fmt.Sprintf("pass 1: network=%d file-cache=0 memory=0", n),
			fmt.Sprintf("pass 2: network=0 file-cache=0 memory=%d", n),
			fmt.Sprintf("origin requests: %d", n),
		}},
		{nil, []string{
			fmt.Sprintf("pass 1: network=0 file-cache=0 memory=%d", n),
			fmt.Sprintf("pass 2: network=0 file-cache=0 memory=%d", n),
			"origin requests: 0",
		}},
		{[]string{"-forget-thumbnails"}, []string{
			fmt.Sprintf("pass 1: network=0 file-cache=%d memory=0", n),
			fmt.Sprintf("pass 2: network=0 file-cache=0 memory=%d", n),
			"origin requests: 0",
		}},
	}
	for i, r := range runs {
		var stdout bytes.Buffer
		if err := run(append([]string{"-dir", dir}, r.args...), &stdout); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, &stdout)
		}
		lines := strings.Split(stdout.String(), "\n")
		for _, want := range r.want {
			if !contains(lines, want) {
				t.Errorf("run %d %q: no line %q in:\n%s", i+1, r.args, want, &stdout)
			}
		}
	}

	for _, o := range originImages {
		f, err := os.Open(filepath.Join(out, o.id+".png"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s.png: %v", o.id, err)
		}
		if cfg.Width != thumbSize || cfg.Height != thumbSize {
			t.Errorf("%s.png is %d×%d, want %d×%[4]d", o.id, cfg.Width, cfg.Height, thumbSize)
		}
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

// TestChecksumMismatch checks that a body that does not match its header
// fails the fetch and is not cached, though it decodes fine.
func TestChecksumMismatch(t *testing.T) {
	org, err := newOrigin()
	if err != nil {
		t.Fatal(err)
	}
	defer org.Close()
	// A proxy that passes the origin's body on under a wrong checksum.
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(org.URL + r.URL.Path)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		w.Header().Set(checksumHeader, strings.Repeat("0", 64))
		io.Copy(w, resp.Body)
	}))
	defer liar.Close()

	files, err := imagecache.New(imagecache.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	f := &fetcher{origin: liar.URL, client: liar.Client(), files: files}
	if _, err := f.source(t.Context(), "dawn"); !errors.Is(err, imagecache.ErrChecksum) {
		t.Errorf("fetch with a wrong checksum: %v, want ErrChecksum", err)
	}
	if files.IsCached("dawn") {
		t.Error("the image that failed its checksum is cached")
	}
}

// TestSharedTier runs two copies on two directories against one Redis:
// the first builds every thumbnail, the second none.
func TestSharedTier(t *testing.T) {
	srv := redistest.Start(t)
	n := len(originImages)
	for i, want := range []string{
		fmt.Sprintf("shared tier: built %d thumbnails, 0 from the tier, 0 tier errors", n),
		fmt.Sprintf("shared tier: built 0 thumbnails, %d from the tier, 0 tier errors", n),
	} {
		var stdout bytes.Buffer
		if err := run([]string{"-dir", t.TempDir(), "-redis", srv.Addr()}, &stdout); err != nil {
			t.Fatalf("copy %d: %v\n%s", i+1, err, &stdout)
		}
		if !contains(strings.Split(stdout.String(), "\n"), want) {
			t.Errorf("copy %d: no line %q in:\n%s", i+1, want, &stdout)
		}
	}
}
