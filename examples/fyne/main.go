// Command fyne is a dashboard of 120 icons (12 columns, 10 rows) drawn by
// Fyne from arcache views. Each icon is a grayscale mask, resized and
// tinted by a constructor that arcache.ProvideView memoizes together
// with its Fyne form, a *canvas.Image: the image and its canvas object
// are made once per stored icon, and every later frame gets the same
// object, whose GL texture Fyne's driver keeps.
//
// P or Space changes the palette and S the size of the icons. The cache
// holds a little more than one frame's icons, so either key evicts the
// old icons; their views are released by Views.Release, which the
// program calls once a frame on Fyne's UI goroutine, where Fyne wants
// every change to a canvas object made. V switches between drawing from
// views and making every canvas.Image anew each frame from the cached
// image.Image, as a program that caches images but not views does; Q or
// Escape quits.
//
// A frame is one update of the dashboard, run on the UI goroutine
// through fyne.DoAndWait: every cell's icon fetched (ProvideView, or
// Provide and canvas.NewImageFromImage), the changed ones put into the
// container, canvas.Refresh of the container and Views.Release, followed
// by its render. Headless, the render is Fyne's software renderer
// painting the whole window (the test canvas's Capture) and is part of
// the frame's time; that renderer keeps no textures and paints every
// image from its pixels each time, views or not, so it dominates both
// modes' times alike, and the program also reports the updates' time
// alone. In a window, the GL driver paints on its own 60 Hz tick after
// the update, so a frame's time is the update's alone, and what views
// save there, the upload of a new texture for each of the 120 new
// canvas images of a frame (and the memory of the old ones, which the
// driver frees only after a minute unused), is the driver's work, not
// in the number.
//
// The cache keeps nothing on disk: no bin file, no preload, its
// directories in a temporary one.
//
// Usage, from examples/fyne:
//
//	go run .                                    # a window, until it is closed
//	go run . -frames 600                        # 600 frames without views, the same 600 with, in a window
//	go run . -frames 120 -screenshot shot.png   # the same headless; the last frame as a PNG
//
// With -frames N the program draws N frames without views and then the
// same N frames with them, each run on a new cache, changing the palette
// at frame N/2 of each, so that icons are evicted and views released,
// and exits. -screenshot FILE (or -headless) runs on Fyne's test app
// (fyne.io/fyne/v2/test) instead of a window, with the software renderer
// and no display, and writes the last frame, one drawn from views.
// The last two lines of the output are
//
//	views: made N released M
//	frame: <mean time> with views, <mean time> without
//
// counting the views released because their icons left the cache, before
// the program's final Views.Close.
//
// The window needs Fyne's GL driver and so cgo and the GL and X11
// headers (on Debian: gcc libc6-dev pkg-config libgl1-mesa-dev
// libx11-dev libxcursor-dev libxi-dev libxinerama-dev libxrandr-dev
// libxxf86vm-dev; ci.sh installs them). The first build compiles
// go-gl's cgo bindings, which takes minutes; later builds are cached.
// Built with -tags ci, Fyne's own tag for its test driver, the program
// leaves the GL driver out, builds with CGO_ENABLED=0, and runs headless
// only.
package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"github.com/arcache-go/arcache"
	"github.com/arcache-go/arcache/examples/internal/pngfile"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fyne:", err)
		os.Exit(1)
	}
}

// options are the program's flags, parsed.
type options struct {
	frames     int
	screenshot string
	headless   bool
	masks      []string
}

func parse(args []string) (options, error) {
	fs := flag.NewFlagSet("fyne", flag.ContinueOnError)
	frames := fs.Int("frames", 0, "draw `N` frames without views and N with them, then exit; 0: run until the window is closed")
	screenshot := fs.String("screenshot", "", "write the last frame as a PNG to `FILE` (headless: Fyne's software renderer)")
	headless := fs.Bool("headless", false, "draw with Fyne's test app and software renderer, without a window (needs -frames)")
	masksDir := fs.String("masks", filepath.Join("..", "..", "testdata", "masks"), "directory of grayscale mask PNGs")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	o := options{frames: *frames, screenshot: *screenshot, headless: *headless || *screenshot != ""}
	if o.frames < 0 {
		return options{}, fmt.Errorf("-frames %d: want 0 or more", o.frames)
	}
	if o.headless && o.frames == 0 {
		return options{}, errors.New("-screenshot and -headless need -frames N: without a window nothing would stop the run")
	}
	masks, err := filepath.Glob(filepath.Join(*masksDir, "*.png"))
	if err != nil {
		return options{}, err
	}
	if len(masks) == 0 {
		return options{}, fmt.Errorf("no mask PNGs in %s (run from examples/fyne, or pass -masks)", *masksDir)
	}
	o.masks = masks
	return o, nil
}

func run(args []string, stdout io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	var rep *report
	if o.headless {
		rep, err = runHeadless(o)
	} else {
		rep, err = runWindow(o)
	}
	if rep != nil {
		rep.write(stdout)
	}
	if err != nil {
		return err
	}
	if o.screenshot != "" {
		if rep.last[1] == nil {
			return errors.New("no frame with views was drawn")
		}
		if _, err := pngfile.Write(o.screenshot, rep.last[1]); err != nil {
			return err
		}
	}
	return nil
}

// report is what a run measured.
type report struct {
	t     timing // frames
	u     timing // their updates alone
	split bool   // the render is in the frame's time: report the update apart
	runs  []runReport
	views arcache.ViewStats
	last  [2]image.Image // each mode's last frame, headless
}

func (r *report) write(w io.Writer) {
	for _, run := range r.runs {
		s := run.cache
		fmt.Fprintf(w, "%s: %d frames, cache: %d builds, %d hits, %d evictions\n",
			run.name, run.frames, s.Builds, s.Hits, s.Evictions)
	}
	if r.split {
		fmt.Fprintf(w, "update alone (the rest of a frame is the software render): %v with views, %v without\n",
			r.u.mean(true), r.u.mean(false))
	}
	fmt.Fprintf(w, "views: made %d released %d\n", r.views.Made, r.views.Released)
	fmt.Fprintf(w, "frame: %v with views, %v without\n", r.t.mean(true), r.t.mean(false))
}

// runReport is what one run, on one cache, did.
type runReport struct {
	name   string
	frames int
	cache  arcache.Stats // at its end
}

// runner draws a run's frames, the same way in a window and headless.
type runner struct {
	b *board
	// do runs f on Fyne's UI goroutine and waits for it: fyne.DoAndWait.
	do func(f func())
	// pace waits for the time of the next frame, and reports false when
	// the run must stop (the window is closing).
	pace func() bool
	// render, called on the UI goroutine after a frame's update, paints
	// the frame where the painting is the program's to do (headless).
	render func(useViews bool)
	// cur is the source the frames draw from; the key handler reads it,
	// on the UI goroutine.
	cur *source
	rep report
}

// frames draws n frames (n 0: until pace says stop): with -frames, n
// without views and then n with them, each on a cache of its own and
// changing the palette at frame n/2; interactively, from views, with V
// to switch.
func (r *runner) frames(n int) error {
	modes := []bool{false, true}
	if n == 0 {
		modes = []bool{true}
	}
	stopped := false
	for _, useViews := range modes {
		s, err := newSource(useViews)
		if err != nil {
			return err
		}
		run := runReport{name: "without views"}
		switch {
		case n == 0:
			run.name = "interactive"
		case useViews:
			run.name = "with views"
		}
		r.do(func() {
			r.cur = s
			r.b.palette, r.b.size = 0, 0
		})
		for i := 0; n == 0 || i < n; i++ {
			if !r.pace() {
				stopped = true
				break
			}
			r.do(func() {
				if n >= 2 && i == n/2 {
					r.b.nextPalette()
				}
				start := time.Now()
				err = r.b.update(s)
				updated := time.Now()
				if err == nil {
					r.render(s.useViews)
				}
				r.rep.t.add(s.useViews, time.Since(start))
				r.rep.u.add(s.useViews, updated.Sub(start))
				run.frames++
			})
			if err != nil {
				break
			}
		}
		r.do(func() {
			run.cache = s.cache.Stats()
			r.rep.runs = append(r.rep.runs, run)
			if useViews {
				r.rep.views = s.views.Stats() // before close releases the rest
			}
			r.cur = nil
			err = errors.Join(err, s.close())
		})
		if err != nil || stopped {
			return err
		}
	}
	return nil
}

// keys handles the dashboard's keys; it runs on the UI goroutine.
// interactive enables V, which would spoil the comparison of a -frames
// run; quit asks the run to stop.
func (r *runner) keys(interactive bool, quit func()) func(*fyne.KeyEvent) {
	return func(ev *fyne.KeyEvent) {
		switch ev.Name {
		case fyne.KeyP, fyne.KeySpace:
			r.b.nextPalette()
		case fyne.KeyS:
			r.b.nextSize()
		case fyne.KeyV:
			if interactive && r.cur != nil {
				r.cur.useViews = !r.cur.useViews
			}
		case fyne.KeyQ, fyne.KeyEscape:
			quit()
		}
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// runHeadless draws the frames on Fyne's test app, whose windows are
// canvases in memory painted by the software renderer, with no display.
// It runs them on a goroutine of its own: the GL driver's package, when
// it is linked in, marks the main goroutine as Fyne's, and on it the
// test driver's fyne.DoAndWait would hand the function to another
// goroutine rather than run it and wait. On any other goroutine the test
// driver runs it at once, so that goroutine is the test app's UI
// goroutine, and every Fyne call below is made there.
func runHeadless(o options) (*report, error) {
	done := make(chan error, 1)
	r := &runner{rep: report{split: true}}
	go func() {
		var w fyne.Window
		test.NewApp()
		fyne.DoAndWait(func() {
			fyne.CurrentApp().Settings().SetTheme(newTheme())
			r.b = newBoard(o.masks)
			w = fyne.CurrentApp().NewWindow("arcache views")
			w.SetPadded(false)
			w.SetContent(r.b.root)
			w.Resize(canvasSize())
			w.Canvas().SetOnTypedKey(r.keys(false, func() {}))
			w.Canvas().Capture() // warm up the fonts and caches outside any frame
		})
		r.do = fyne.DoAndWait
		r.pace = func() bool { return true }
		r.render = func(useViews bool) { r.rep.last[boolIndex(useViews)] = w.Canvas().Capture() }
		err := r.frames(o.frames)
		fyne.DoAndWait(w.Close)
		done <- err
	}()
	err := <-done
	return &r.rep, err
}
