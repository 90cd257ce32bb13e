//go:build !linux

package servicetest

import (
	"errors"
	"os/exec"
)

// Start starts cmd. Outside Linux a server outlives a test binary that is
// killed before its cleanups run.
func Start(cmd *exec.Cmd) error { return cmd.Start() }

// StartAs is supported on Linux only.
func StartAs(cmd *exec.Cmd, uid, gid uint32) error {
	return errors.New("starting a server as another user is supported on Linux only; run the tests as an ordinary user")
}
