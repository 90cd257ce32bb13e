//go:build !ci

package main

import (
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
)

// runWindow draws the frames in a window of Fyne's GL driver. The
// driver owns the main goroutine (ShowAndRun returns when the app
// quits), so the frames are paced by a goroutine of their own, at 60 a
// second, each handed to the UI goroutine with fyne.DoAndWait.
//
// Closing the window, or Q, only asks the run to stop: the close
// intercept lets the frame goroutine finish on the UI goroutine (the
// last Views.Release and Close included) before it closes the window
// itself.
func runWindow(o options) (*report, error) {
	a := app.NewWithID("io.github.arcache-go.arcache.examples.fyne")
	a.Settings().SetTheme(newTheme())
	w := a.NewWindow("arcache views: Fyne dashboard")
	r := &runner{b: newBoard(o.masks)}
	w.SetPadded(false)
	w.SetContent(r.b.root)
	w.Resize(canvasSize())
	w.SetFixedSize(true)

	stop := make(chan struct{})
	var once sync.Once
	quit := func() { once.Do(func() { close(stop) }) }
	w.SetCloseIntercept(quit)
	w.Canvas().SetOnTypedKey(r.keys(o.frames == 0, quit))

	r.do = fyne.DoAndWait
	tick := time.NewTicker(time.Second / 60)
	defer tick.Stop()
	r.pace = func() bool {
		select {
		case <-stop:
			return false
		case <-tick.C:
			return true
		}
	}
	r.render = func(bool) {} // the driver paints, on its own tick

	done := make(chan error, 1)
	go func() {
		err := r.frames(o.frames)
		fyne.DoAndWait(w.Close) // the last window: the app quits
		done <- err
	}()
	w.ShowAndRun()
	return &r.rep, <-done
}
