//go:build !ci

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWindow runs the program in a real window of Fyne's GL driver for
// 30 frames of each mode, palette change, evictions and releases
// included, and checks its output, and that Fyne's thread checks, which
// the GL driver makes on every canvas refresh, logged nothing: every
// Release ran on the UI goroutine. It needs a display (ci.sh runs it
// under Xvfb); without one it skips, unless ARCACHE_REQUIRE_SERVICES=1,
// when it fails.
//
// The program is built and run as a process of its own: the GL driver
// must own the main goroutine, which a test does not have.
func TestWindow(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		if os.Getenv("ARCACHE_REQUIRE_SERVICES") == "1" {
			t.Fatal("DISPLAY is not set, and ARCACHE_REQUIRE_SERVICES=1 wants the window test run (try xvfb-run)")
		}
		t.Skip("no DISPLAY: the window test needs an X server (xvfb-run -a go test)")
	}
	bin := filepath.Join(t.TempDir(), "dashboard")
	// go test puts its own Go first in PATH.
	build := exec.Command("go", "build", "-buildvcs=false", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-frames", "30")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("output:\n%s", &stdout)
	if err != nil {
		t.Fatalf("%s -frames 30: %v\nstderr:\n%s", bin, err, &stderr)
	}
	checkOutput(t, stdout.String())
	if strings.Contains(stderr.String(), "Error in Fyne call thread") {
		t.Errorf("Fyne logged a call on the wrong goroutine:\n%s", &stderr)
	}
}
