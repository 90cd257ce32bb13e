//go:build !unix

package redistest

import "os"

// Without Unix signals a server cannot be stopped gently, nor paused.
var (
	sigTerm os.Signal = os.Kill
	sigStop os.Signal
	sigCont os.Signal
)
