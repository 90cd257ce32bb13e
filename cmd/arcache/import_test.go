package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/arcache-go/arcache"
)

// writeImage encodes img into dir/name by the name's extension.
func writeImage(t *testing.T, dir, name string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch filepath.Ext(name) {
	case ".png":
		err = png.Encode(&buf, img)
	case ".jpg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	case ".gif":
		err = gif.Encode(&buf, img, nil)
	default:
		t.Fatalf("no encoder for %s", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeText(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// snapshot describes every file under dir: name, mode, size, time and
// contents.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %v", path, fi.Mode(), fi.Size(), fi.ModTime())
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %x", data)
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// binImages reads a bin file whole.
func binImages(t *testing.T, path string) (keys []string, imgs map[string]image.Image) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imgs = map[string]image.Image{}
	if _, err := arcache.ReadBin(f, func(key string, img image.Image) error {
		keys = append(keys, key)
		imgs[key] = img
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys, imgs
}

func decodeFile(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// importDirFixture is a folder of what Refresh meets: images it reads,
// and files it skips or refuses.
func importDirFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeImage(t, dir, "good.png", fill(image.NewNRGBA(image.Rect(0, 0, 7, 5)), 1))
	writeImage(t, dir, "photo.jpg", fill(image.NewRGBA(image.Rect(0, 0, 16, 8)), 2))
	writeImage(t, dir, "dup.jpg", fill(image.NewRGBA(image.Rect(0, 0, 8, 8)), 3))
	writeImage(t, dir, "dup.png", fill(image.NewGray(image.Rect(0, 0, 8, 8)), 4))
	writeImage(t, dir, "Not A Key.png", fill(image.NewGray(image.Rect(0, 0, 2, 2)), 5))
	writeText(t, filepath.Join(dir, "broken.png"), "not a PNG at all")
	writeText(t, filepath.Join(dir, "notes.txt"), "skipped: not an image extension")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeImage(t, filepath.Join(dir, "sub"), "inner.png", fill(image.NewGray(image.Rect(0, 0, 2, 2)), 6))
	return dir
}

func TestImport(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // for the working folder, which must go
	dir := importDirFixture(t)
	before := snapshot(t, dir)
	file := filepath.Join(t.TempDir(), "new", "icons.bin")

	res := arcacheRun(t, "import", dir, file)
	wantOut := `skipped Not A Key.png: "Not A Key" is not a key
skipped dup.png: dup.jpg holds dup already
imported 3, refused 1, skipped 3; ` + file + " holds 3 entries\n"
	wantErr := "arcache: refused " + filepath.Join(dir, "broken.png") + ": corrupt data: image: unknown format\n" +
		"arcache: import " + dir + ": 1 file refused\n"
	if res.code != 1 || res.stdout != wantOut || res.stderr != wantErr {
		t.Errorf("import: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", res.code, res.stdout, wantOut, res.stderr, wantErr)
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("import changed DIR:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if left := pngNames(t, tmp); len(left) != 0 {
		t.Errorf("import left %q in the temporary folder", left)
	}

	keys, imgs := binImages(t, file)
	if want := []string{"dup", "good", "photo"}; !slices.Equal(keys, want) {
		t.Fatalf("the bin file holds %q, want %q, in DIR's order", keys, want)
	}
	for key, name := range map[string]string{"dup": "dup.jpg", "good": "good.png", "photo": "photo.jpg"} {
		if diff := samePixels(decodeFile(t, filepath.Join(dir, name)), imgs[key]); diff != "" {
			t.Errorf("%s: %s", key, diff)
		}
	}
	if _, ok := imgs["photo"].(*image.YCbCr); !ok {
		t.Errorf("photo is a %T, want the JPEG decoder's *image.YCbCr", imgs["photo"])
	}
}

func TestImportVerbose(t *testing.T) {
	dir := importDirFixture(t)
	res := arcacheRun(t, "import", "-v", dir, filepath.Join(t.TempDir(), "icons.bin"))
	for _, line := range []string{
		"imported good.png as good\n",
		"imported photo.jpg as photo\n",
		"skipped notes.txt: not an image file Refresh reads\n",
		"skipped sub: not a regular file\n",
	} {
		if !strings.Contains(res.stdout, line) {
			t.Errorf("import -v does not say %q:\n%s", line, res.stdout)
		}
	}
}

func TestImportKeepsTheFilesEntries(t *testing.T) {
	file := filepath.Join(t.TempDir(), "icons.bin")
	old := fill(image.NewGray(image.Rect(0, 0, 3, 3)), 10)
	makeBin(t, file, []string{"good", "old", "broken"}, map[string]image.Image{
		"good": old, "old": old, "broken": old,
	})
	dir := t.TempDir()
	good := fill(image.NewNRGBA(image.Rect(0, 0, 7, 5)), 1)
	writeImage(t, dir, "good.png", good)
	writeImage(t, dir, "new.png", good)
	writeText(t, filepath.Join(dir, "broken.png"), "not a PNG")

	// broken.png is skipped, not refused: the bin file holds its key, so
	// Refresh does not read it.
	res := arcacheRun(t, "import", dir, file)
	wantOut := "skipped broken.png: the bin file holds broken already (see --replace)\n" +
		"skipped good.png: the bin file holds good already (see --replace)\n" +
		"imported 1, refused 0, skipped 2; " + file + " holds 4 entries\n"
	if res.code != 0 || res.stdout != wantOut || res.stderr != "" {
		t.Errorf("import: %+v, want stdout %q", res, wantOut)
	}
	keys, imgs := binImages(t, file)
	if want := []string{"good", "old", "broken", "new"}; !slices.Equal(keys, want) {
		t.Fatalf("the bin file holds %q, want %q", keys, want)
	}
	if diff := samePixels(old, imgs["good"]); diff != "" {
		t.Errorf("good was replaced without --replace: %s", diff)
	}

	res = arcacheRun(t, "import", "--replace", dir, file)
	wantErr := "arcache: refused " + filepath.Join(dir, "broken.png") + ": corrupt data: image: unknown format (the bin file's broken is kept)\n"
	if res.code != 1 || !strings.HasPrefix(res.stderr, wantErr) ||
		!strings.HasSuffix(res.stdout, "imported 2, refused 1, skipped 0; "+file+" holds 4 entries\n") {
		t.Errorf("import --replace: %+v", res)
	}
	keys, imgs = binImages(t, file)
	if len(keys) != 4 {
		t.Fatalf("the bin file holds %q, want 4 entries", keys)
	}
	if diff := samePixels(good, imgs["good"]); diff != "" {
		t.Errorf("good was not replaced with --replace: %s", diff)
	}
	if diff := samePixels(old, imgs["broken"]); diff != "" {
		t.Errorf("broken lost the bin file's image to a refused file: %s", diff)
	}
}

func TestImportIntoDamagedFile(t *testing.T) {
	_, imgs := sample()
	bad := damage(t, sampleBin(t), pixelsOf(imgs["gray16"]), false)
	before := readFile(t, bad)
	dir := importDirFixture(t)
	res := arcacheRun(t, "import", dir, bad)
	want := "arcache: import: " + bad + ": corrupt data after 3 entries: record 3: gray16: checksum mismatch; nothing written\n"
	if res.code != 1 || res.stderr != want || res.stdout != "" {
		t.Errorf("import into a damaged file: %+v, want stderr %q", res, want)
	}
	if readFile(t, bad) != before {
		t.Error("import rewrote the damaged file")
	}
}

func TestImportMaxImagePixels(t *testing.T) {
	dir := t.TempDir()
	writeImage(t, dir, "small.png", fill(image.NewGray(image.Rect(0, 0, 3, 3)), 1))
	writeImage(t, dir, "large.png", fill(image.NewGray(image.Rect(0, 0, 4, 3)), 2))
	file := filepath.Join(t.TempDir(), "icons.bin")
	res := arcacheRun(t, "import", "--max-image-pixels", "9", dir, file)
	if res.code != 1 || !strings.Contains(res.stderr, "refused "+filepath.Join(dir, "large.png")+": image too large: 4x3 png has more than 9 pixels\n") {
		t.Errorf("import --max-image-pixels 9: %+v", res)
	}
	if keys, _ := binImages(t, file); !slices.Equal(keys, []string{"small"}) {
		t.Errorf("the bin file holds %q, want small alone", keys)
	}
	if res := arcacheRun(t, "import", "--max-image-pixels", "0", dir, file); res.code != 1 || !strings.Contains(res.stderr, "must be at least 1") {
		t.Errorf("import --max-image-pixels 0: %+v", res)
	}
}

// Keys that end in the same hash name one entry of a cache: the first
// image of an entry is kept, as for one key, and --replace lets DIR's
// take the place of the bin file's.
func TestImportSameHash(t *testing.T) {
	const oldKey, newKey, dupKey = "old-0123456789abcdef", "new-0123456789abcdef", "dup-0123456789abcdef"
	file := filepath.Join(t.TempDir(), "icons.bin")
	old := fill(image.NewGray(image.Rect(0, 0, 2, 2)), 1)
	makeBin(t, file, []string{oldKey}, map[string]image.Image{oldKey: old})
	dir := t.TempDir()
	img := fill(image.NewGray(image.Rect(0, 0, 3, 3)), 2)
	writeImage(t, dir, newKey+".png", img)
	writeImage(t, dir, dupKey+".png", img) // after new-, in DIR's order

	res := arcacheRun(t, "import", dir, file)
	want := "skipped " + dupKey + ".png: the bin file holds " + oldKey + ", which ends in the same hash and so is the same entry (see --replace)\n" +
		"skipped " + newKey + ".png: the bin file holds " + oldKey + ", which ends in the same hash and so is the same entry (see --replace)\n" +
		"imported 0, refused 0, skipped 2; " + file + " holds 1 entry\n"
	if res.code != 0 || res.stdout != want {
		t.Errorf("import: %+v, want stdout %q", res, want)
	}

	res = arcacheRun(t, "import", "--replace", dir, file)
	want = "skipped " + newKey + ".png: " + dupKey + ".png holds " + dupKey + ", which ends in the same hash and so is the same entry\n" +
		"imported 1, refused 0, skipped 1; " + file + " holds 1 entry\n"
	if res.code != 0 || res.stdout != want {
		t.Errorf("import --replace: %+v, want stdout %q", res, want)
	}
	if keys, _ := binImages(t, file); !slices.Equal(keys, []string{dupKey}) {
		t.Errorf("the bin file holds %q, want %s", keys, dupKey)
	}

	// A refused file does not cost the bin file the entry.
	bad := t.TempDir()
	writeText(t, filepath.Join(bad, oldKey+".png"), "not a PNG")
	res = arcacheRun(t, "import", "--replace", bad, file)
	if res.code != 1 || !strings.Contains(res.stderr, "(the bin file's "+dupKey+" is kept)") || !strings.HasSuffix(res.stdout, "holds 1 entry\n") {
		t.Errorf("import --replace of a bad file: %+v", res)
	}
	if keys, _ := binImages(t, file); !slices.Equal(keys, []string{dupKey}) {
		t.Errorf("the bin file holds %q, want %s", keys, dupKey)
	}
}

func TestImportExportRoundTrip(t *testing.T) {
	src := t.TempDir()
	r := image.Rect(0, 0, 9, 7)
	originals := map[string]image.Image{
		"nrgba.png":    fill(image.NewNRGBA(r), 1),
		"gray.png":     fill(image.NewGray(r), 2),
		"gray16.png":   fill(image.NewGray16(r), 3),
		"rgba64.png":   fill(image.NewRGBA64(r), 4),
		"paletted.png": fill(image.NewPaletted(r, color.Palette{color.Black, color.White, color.NRGBA{0, 0, 255, 255}}), 5),
		"photo.jpg":    fill(image.NewRGBA(image.Rect(0, 0, 32, 16)), 6),
		"anim.gif":     fill(image.NewPaletted(r, color.Palette{color.Black, color.White}), 7),
	}
	for name, img := range originals {
		writeImage(t, src, name, img)
	}
	file := filepath.Join(t.TempDir(), "round.bin")
	if res := arcacheRun(t, "import", src, file); res.code != 0 || res.stderr != "" {
		t.Fatalf("import: %+v", res)
	}
	out := t.TempDir()
	if res := arcacheRun(t, "export", file, out); res.code != 0 || res.stdout != fmt.Sprintf("exported %d images to %s\n", len(originals), out) {
		t.Fatalf("export: %+v", res)
	}
	for name := range originals {
		key := strings.TrimSuffix(name, filepath.Ext(name))
		want := decodeFile(t, filepath.Join(src, name))
		if diff := samePixels(want, decodePNG(t, filepath.Join(out, key+".png"))); diff != "" {
			t.Errorf("%s: %s", name, diff)
		}
	}
	// And back: the exported PNGs make the same bin file's images.
	again := filepath.Join(t.TempDir(), "again.bin")
	if res := arcacheRun(t, "import", out, again); res.code != 0 {
		t.Fatalf("import of the export: %+v", res)
	}
	keys1, imgs1 := binImages(t, file)
	keys2, imgs2 := binImages(t, again)
	slices.Sort(keys1)
	if !slices.Equal(keys1, keys2) {
		t.Fatalf("keys %q, then %q", keys1, keys2)
	}
	for _, k := range keys1 {
		if diff := samePixels(imgs1[k], imgs2[k]); diff != "" {
			t.Errorf("%s: %s", k, diff)
		}
	}
}
