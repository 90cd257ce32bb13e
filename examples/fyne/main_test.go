package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"github.com/arcache-go/arcache/examples/internal/shot"
)

var update = flag.Bool("update", false, "rewrite testdata/reference.png from this run's screenshot")

const reference = "testdata/reference.png"

// The screenshot is compared with the reference channel by channel:
// each channel within channelTolerance, and at most pixelTolerance of
// the pixels outside that. The program's constructor is integer
// arithmetic except CatmullRom's scaling, and the software renderer is
// pure Go, so one machine and one build of Fyne reproduce the reference
// exactly (TestScreenshotDeterministic checks that); the tolerance is
// room for another architecture's float rounding (arm64 fuses
// multiply-adds) in the scaler and in the text rasterizer, and for the
// antialiasing of a patch release. What the check is for needs far
// less: one tile is 52x52 pixels, 0.66% of the 680x604 frame, so a
// missing, misplaced, mis-sized or mis-tinted icon fails it, and a
// wrong palette fails it a hundred times over.
const (
	channelTolerance = 8
	pixelTolerance   = 0.005
)

var (
	viewsLine = regexp.MustCompile(`^views: made (\d+) released (\d+)$`)
	frameLine = regexp.MustCompile(`^frame: (\S+) with views, (\S+) without$`)
)

// checkOutput checks the last two lines of a run's output and returns
// the views made and released.
func checkOutput(t *testing.T, out string) (made, released int) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("output has %d lines, want at least 2:\n%s", len(lines), out)
	}
	v := viewsLine.FindStringSubmatch(lines[len(lines)-2])
	f := frameLine.FindStringSubmatch(lines[len(lines)-1])
	if v == nil || f == nil {
		t.Fatalf("the last two lines are not `views: made N released M` and `frame: <time> with views, <time> without`:\n%s", out)
	}
	made, _ = strconv.Atoi(v[1])
	released, _ = strconv.Atoi(v[2])
	if made == 0 || released == 0 {
		t.Errorf("views made %d, released %d: want both above 0", made, released)
	}
	for _, s := range f[1:] {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Errorf("frame time %q is not a positive duration (%v)", s, err)
		}
		if d != d.Round(time.Microsecond) {
			t.Errorf("frame time %q is not rounded to microseconds", s)
		}
	}
	return made, released
}

// TestRun runs the program's frame loop headless, as `-frames 120
// -screenshot`, and compares its last frame with the reference.
func TestRun(t *testing.T) {
	shot := filepath.Join(t.TempDir(), "shot.png")
	var stdout bytes.Buffer
	if err := run([]string{"-frames", "120", "-screenshot", shot}, &stdout); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, &stdout)
	}
	t.Logf("output:\n%s", &stdout)
	made, released := checkOutput(t, stdout.String())
	// 120 icons, then 120 in the new palette; the cache holds 20 more
	// than a frame's 120 icons and 6 masks, so 106 old icons leave it.
	if want := 2 * cells; made != want {
		t.Errorf("views made %d, want %d", made, want)
	}
	if want := 2*cells - (cacheMax - 6); released != want {
		t.Errorf("views released %d, want %d", released, want)
	}

	got := readPNG(t, shot)
	if *update {
		if err := os.MkdirAll(filepath.Dir(reference), 0o755); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(reference, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", reference)
		return
	}
	want := readPNG(t, reference)
	if msg := compare(got, want, channelTolerance, pixelTolerance); msg != "" {
		keep := filepath.Join(os.TempDir(), "arcache-fyne-screenshot.png")
		if data, err := os.ReadFile(shot); err == nil && os.WriteFile(keep, data, 0o644) == nil {
			msg += "; the screenshot is kept as " + keep
		}
		t.Errorf("screenshot differs from %s: %s (go test -run TestRun -update rewrites it)", reference, msg)
	}
}

// TestViewsDrawTheSame checks that a frame drawn from views and one whose
// canvas images are all new look the same, title line aside.
func TestViewsDrawTheSame(t *testing.T) {
	o, err := parse([]string{"-frames", "6", "-headless"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runHeadless(o)
	if err != nil {
		t.Fatal(err)
	}
	without, with := rep.last[0], rep.last[1]
	if without == nil || with == nil {
		t.Fatal("a mode drew no frame")
	}
	below := image.Rect(0, headerH, without.Bounds().Dx(), without.Bounds().Dy())
	if msg := compare(crop(with, below), crop(without, below), 0, 0); msg != "" {
		t.Errorf("the dashboard drawn from views differs from the one drawn without: %s", msg)
	}
}

// TestScreenshotDeterministic checks that two runs draw the very same
// pixels, which the reference needs.
func TestScreenshotDeterministic(t *testing.T) {
	var shots [2]image.Image
	for i := range shots {
		o, err := parse([]string{"-frames", "4", "-headless"})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := runHeadless(o)
		if err != nil {
			t.Fatal(err)
		}
		shots[i] = rep.last[1]
	}
	if msg := compare(shots[0], shots[1], 0, 0); msg != "" {
		t.Errorf("two runs drew different frames: %s", msg)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-screenshot", "x.png"},  // headless needs -frames
		{"-headless"},             // likewise
		{"-frames", "-1"},         // negative
		{"-frames", "2", "extra"}, // stray argument
		{"-masks", t.TempDir(), "-frames", "2", "-headless"}, // no masks
	} {
		if _, err := parse(args); err == nil {
			t.Errorf("parse(%q) succeeded, want an error", args)
		}
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

// crop is the part r of img, moved to the origin.
func crop(img image.Image, r image.Rectangle) image.Image {
	out := image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := 0; y < r.Dy(); y++ {
		for x := 0; x < r.Dx(); x++ {
			out.Set(x, y, img.At(r.Min.X+x, r.Min.Y+y))
		}
	}
	return out
}

// compare returns "" when got and want have the same size and at most a
// fraction maxOff of their pixels has a channel (8 bits, not
// premultiplied) more than tol apart; otherwise what differs.
func compare(got, want image.Image, tol int, maxOff float64) string {
	gb, wb := got.Bounds(), want.Bounds()
	if gb.Size() != wb.Size() {
		return fmt.Sprintf("size %v, want %v", gb.Size(), wb.Size())
	}
	off, worst := shot.Diff(got, want, tol)
	n := gb.Dx() * gb.Dy()
	if float64(off) > maxOff*float64(n) {
		return fmt.Sprintf("%d of %d pixels (%.2f%%) have a channel more than %d apart (the worst by %d)",
			off, n, 100*float64(off)/float64(n), tol, worst)
	}
	return ""
}

// TestKeys checks that P and Space change the palette, S the size, and V
// the mode only when the run is interactive.
func TestKeys(t *testing.T) {
	o, err := parse([]string{"-frames", "1", "-headless"})
	if err != nil {
		t.Fatal(err)
	}
	quit := 0
	for _, interactive := range []bool{false, true} {
		r := &runner{b: newBoard(o.masks), cur: &source{useViews: true}}
		press := r.keys(interactive, func() { quit++ })
		for _, k := range []fyne.KeyName{fyne.KeyP, fyne.KeySpace, fyne.KeyS, fyne.KeyV, fyne.KeyQ} {
			press(&fyne.KeyEvent{Name: k})
		}
		if r.b.palette != 2%len(palettes) || r.b.size != 1 {
			t.Errorf("after P, Space and S: palette %d, size %d; want 2 and 1", r.b.palette, r.b.size)
		}
		if r.cur.useViews == interactive {
			t.Errorf("interactive %v: V left useViews %v", interactive, r.cur.useViews)
		}
	}
	if quit != 2 {
		t.Errorf("Q quit %d times in 2 runs", quit)
	}
}
