//go:build ci

package main

import "errors"

// runWindow, built with -tags ci (Fyne's tag for its test driver, which
// leaves the GL driver and cgo out), has no window to draw in.
func runWindow(options) (*report, error) {
	return nil, errors.New("built with -tags ci, without Fyne's GL driver: no window; use -headless or -screenshot")
}
