//go:build !linux

package redistest

import "os/exec"

// start starts cmd. Outside Linux a server outlives a test binary that is
// killed before its cleanups run.
func start(cmd *exec.Cmd) error { return cmd.Start() }
