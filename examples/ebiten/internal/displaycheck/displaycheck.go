// Package displaycheck lets the example's test skip without a display.
//
// Every binary that links Ebitengine, the example's test binary too,
// initialises GLFW in a package init function, and panics there when
// there is no X display: before TestMain or any test could skip. The test
// imports this package, whose init runs first (it imports nothing but os,
// and sorts before github.com/hajimehoshi/ebiten/v2/internal/ui, so the
// Go 1.21 init order puts it ahead), and ends the binary cleanly instead:
// exit status 0 with a skip message, or 1 when ARCACHE_REQUIRE_SERVICES=1
// says that a missing display is a failure.
package displaycheck

import "os"

// Missing is the message printed when DISPLAY is unset.
const Missing = "DISPLAY is not set: run the test under xvfb-run -a (Debian packages xvfb and xauth)"

func init() {
	if os.Getenv("DISPLAY") != "" {
		return
	}
	if os.Getenv("ARCACHE_REQUIRE_SERVICES") == "1" {
		os.Stderr.WriteString("FAIL: " + Missing + ", and ARCACHE_REQUIRE_SERVICES=1 asks for one\n")
		os.Exit(1)
	}
	os.Stdout.WriteString("SKIP: " + Missing + "\n")
	os.Exit(0)
}
