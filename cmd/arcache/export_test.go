package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pngNames returns the names of the files in dir.
func pngNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestExport(t *testing.T) {
	keys, imgs := sample()
	dir := filepath.Join(t.TempDir(), "new", "icons") // made by export
	res := arcacheRun(t, "export", sampleBin(t), dir)
	if res.code != 0 || res.stdout != "exported 11 images to "+dir+"\n" || res.stderr != "" {
		t.Fatalf("export: %+v", res)
	}
	var want []string
	for _, k := range keys {
		want = append(want, k+".png")
	}
	if got := pngNames(t, dir); !slices.Equal(got, want) {
		t.Fatalf("export wrote %q, want %q and no temporary files", got, want)
	}
	for _, k := range keys {
		got := decodePNG(t, filepath.Join(dir, k+".png"))
		if diff := samePixels(imgs[k], got); diff != "" {
			t.Errorf("%s.png: %s", k, diff)
		}
	}
}

func TestExportReplacesFiles(t *testing.T) {
	_, imgs := sample()
	dir := t.TempDir()
	stale := filepath.Join(dir, "gray.png")
	if err := os.WriteFile(stale, []byte("an old file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := arcacheRun(t, "export", sampleBin(t), dir); res.code != 0 {
		t.Fatalf("export: %+v", res)
	}
	if diff := samePixels(imgs["gray"], decodePNG(t, stale)); diff != "" {
		t.Errorf("gray.png: %s", diff)
	}
}

func TestExportDamaged(t *testing.T) {
	keys, imgs := sample()
	// gray16 is the fourth record: the three before it are exported.
	bad := damage(t, sampleBin(t), pixelsOf(imgs["gray16"]), false)
	dir := t.TempDir()
	res := arcacheRun(t, "export", bad, dir)
	if res.code != 1 || res.stdout != "exported 3 images to "+dir+"\n" ||
		res.stderr != "arcache: export "+bad+": corrupt data after 3 records: record 3: gray16: checksum mismatch\n" {
		t.Fatalf("export of a damaged file: %+v", res)
	}
	if got, want := pngNames(t, dir), []string{"alpha.png", "cmyk.png", "gray.png"}; !slices.Equal(got, want) {
		t.Fatalf("export wrote %q, want %q", got, want)
	}
	for _, k := range keys[:3] {
		if diff := samePixels(imgs[k], decodePNG(t, filepath.Join(dir, k+".png"))); diff != "" {
			t.Errorf("%s.png: %s", k, diff)
		}
	}
}

func TestExportProgress(t *testing.T) {
	path := sampleBin(t)
	// Standard error here is no terminal: auto draws no bar.
	if res := arcacheRun(t, "export", path, t.TempDir()); res.stderr != "" {
		t.Errorf("a bar was drawn on a buffer: %q", res.stderr)
	}
	res := arcacheRun(t, "export", "--progress=always", path, t.TempDir())
	if res.code != 0 || !strings.Contains(res.stderr, "exporting") || !strings.HasPrefix(res.stdout, "exported 11 images") {
		t.Errorf("export --progress=always: %+v", res)
	}
	res = arcacheRun(t, "export", "--progress=sometimes", path, t.TempDir())
	if res.code != 1 || !strings.Contains(res.stderr, `"sometimes" is not auto, always or never`) {
		t.Errorf("a bad --progress: %+v", res)
	}
}
