//go:build !linux

package pgtest

import (
	"errors"
	"os/exec"
)

// start starts cmd. Outside Linux a server outlives a test binary that is
// killed before its cleanups run, and a test cannot run one as root.
func start(cmd *exec.Cmd, as *account) error {
	if as != nil {
		return errors.New("running PostgreSQL as another user is supported on Linux only; run the tests as an ordinary user")
	}
	return cmd.Start()
}
