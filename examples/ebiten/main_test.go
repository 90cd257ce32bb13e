package main_test

import (
	"bytes"
	"context"
	"flag"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arcache-go/arcache/examples/ebiten/internal/displaycheck"
	"github.com/arcache-go/arcache/examples/internal/shot"
)

var update = flag.Bool("update", false, "rewrite testdata/reference.png with this run's screenshot")

const reference = "testdata/reference.png"

// What the program draws, as game.go sets it out. The test cannot use
// game.go's names: a test binary that links Ebitengine panics at start
// without a display, before a test could skip.
const (
	screenW, screenH = 960, 720
	icons            = 120 // a 12x10 grid
)

var background = color.NRGBA{R: 0x13, G: 0x16, B: 0x1d, A: 0xff}

// The screenshot is compared with the reference within a tolerance: Xvfb
// renders with Mesa's software rasterizer, llvmpipe, whose blending and
// rounding differ slightly between Mesa versions (and the CPU features
// its LLVM code uses). Only blending is left to the GPU here: every image
// is drawn at whole pixels, unscaled, from textures made on the CPU, so
// what differs is the rounding of the partly transparent edge pixels of
// the icons and cards, by a level or two. A channel within maxChannelDiff
// of the reference counts as equal, and at most maxOffFraction of the
// pixels (138 of 960x720) may be further off: a missing icon changes
// 400 or more, a wrong tint or size thousands. The picture has no time in
// it: the same frame count draws the same frame.
const (
	maxChannelDiff = 8
	maxOffFraction = 0.0002
)

// TestRun builds the program, runs it for 120 frames on the current
// display and checks its report and its last frame.
func TestRun(t *testing.T) {
	// Without a display the binary does not get here: Ebitengine's init
	// would panic, and displaycheck's, which runs first, skips or fails.
	// This is the same rule, should Ebitengine ever stop panicking.
	if os.Getenv("DISPLAY") == "" {
		if os.Getenv("ARCACHE_REQUIRE_SERVICES") == "1" {
			t.Fatal(displaycheck.Missing)
		}
		t.Skip(displaycheck.Missing)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "ebiten")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	shotFile := filepath.Join(dir, "out.png")
	cmd := exec.CommandContext(ctx, bin, "-frames", "120", "-screenshot", shotFile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", cmd, err, &stdout, &stderr)
	}
	t.Logf("output:\n%s", &stdout)
	if stderr.Len() > 0 {
		t.Logf("stderr:\n%s", &stderr)
	}

	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("want at least two lines of output, got %d", len(lines))
	}
	m := regexp.MustCompile(`^views: made (\d+) released (\d+)$`).FindStringSubmatch(lines[len(lines)-2])
	if m == nil {
		t.Fatalf("next to last line %q is not `views: made N released M`", lines[len(lines)-2])
	}
	made, _ := strconv.Atoi(m[1])
	released, _ := strconv.Atoi(m[2])
	// Two palettes, one view per icon of each; the second palette's icons
	// evict the first's, so their views are released.
	if made != 2*icons {
		t.Errorf("made %d views, want %d: one for each icon of two palettes", made, 2*icons)
	}
	if released <= 0 || released > icons {
		t.Errorf("released %d views, want between 1 and %d: the palette change evicts the old icons", released, icons)
	}
	f := regexp.MustCompile(`^frame: (\S+) with views, (\S+) without$`).FindStringSubmatch(lines[len(lines)-1])
	if f == nil {
		t.Fatalf("last line %q is not `frame: <time> with views, <time> without`", lines[len(lines)-1])
	}
	for _, s := range f[1:] {
		if d, err := time.ParseDuration(s); err != nil || d <= 0 {
			t.Errorf("frame time %q is not a positive duration (%v)", s, err)
		}
	}

	got := readPNG(t, shotFile)
	if b := got.Bounds(); b != image.Rect(0, 0, screenW, screenH) {
		t.Fatalf("screenshot is %v, want %dx%d", b, screenW, screenH)
	}
	if n := differentFrom(got, background); n < screenW*screenH/10 {
		t.Fatalf("screenshot is nearly blank: %d pixels differ from the background", n)
	}
	if *update {
		data, err := os.ReadFile(shotFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(reference, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", reference)
		return
	}
	want := readPNG(t, reference)
	off, worst := shot.Diff(got, want, maxChannelDiff)
	if limit := int(maxOffFraction * float64(got.Bounds().Dx()*got.Bounds().Dy())); off > limit {
		kept := "not kept"
		if dir, err := os.MkdirTemp("", "arcache-ebiten-screenshot-"); err == nil {
			if data, err := os.ReadFile(shotFile); err == nil && os.WriteFile(filepath.Join(dir, "out.png"), data, 0o644) == nil {
				kept = "kept as " + filepath.Join(dir, "out.png")
			}
		}
		t.Errorf("screenshot differs from %s: %d pixels have a channel off by more than %d (at most %d may), the worst by %d; %s; go test -update rewrites the reference",
			reference, off, maxChannelDiff, limit, worst, kept)
	} else {
		t.Logf("screenshot matches %s: %d pixels off by more than %d, the worst channel by %d", reference, off, maxChannelDiff, worst)
	}
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	img, err := shot.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func differentFrom(img image.Image, c color.NRGBA) int {
	n := 0
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if color.NRGBAModel.Convert(img.At(x, y)) != c {
				n++
			}
		}
	}
	return n
}
