package servicetest

import (
	"os/exec"
	"time"
)

// A Process is a server's process, started by Launch.
type Process struct {
	Cmd  *exec.Cmd
	Done chan struct{} // closed once the process has exited and been reaped
}

// Launch starts cmd with start (Start, or StartAs bound to its user) and
// reaps it when it exits.
func Launch(cmd *exec.Cmd, start func(*exec.Cmd) error) (*Process, error) {
	if err := start(cmd); err != nil {
		return nil, err
	}
	p := &Process{Cmd: cmd, Done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.Done)
	}()
	return p, nil
}

// AwaitReady asks ready every few milliseconds until it answers nil, the
// process exits, or timeout passes; it reports whether the process
// exited, and ready's last error when it never answered nil.
func (p *Process) AwaitReady(timeout time.Duration, ready func() error) (exited bool, err error) {
	deadline := time.Now().Add(timeout)
	for {
		if err = ready(); err == nil {
			return false, nil
		}
		select {
		case <-p.Done:
			return true, err
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return false, err
		}
	}
}
