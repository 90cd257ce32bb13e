package servicetest

import (
	"errors"
	"os/exec"
	"testing"
	"time"
)

var errNotYet = errors.New("not yet")

// AwaitReady tells a process that came up from one that exited and from
// one that never answered.
func TestAwaitReady(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program")
	}
	p, err := Launch(exec.Command(sleep, "10"), Start)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p.Cmd.Process.Kill(); <-p.Done }()
	asks := 0
	if exited, err := p.AwaitReady(5*time.Second, func() error {
		if asks++; asks < 3 {
			return errNotYet
		}
		return nil
	}); exited || err != nil || asks != 3 {
		t.Errorf("a process that comes up on the third ask: exited %v, %v after %d asks", exited, err, asks)
	}
	if exited, err := p.AwaitReady(20*time.Millisecond, func() error { return errNotYet }); exited || !errors.Is(err, errNotYet) {
		t.Errorf("a process that never answers: exited %v, %v; want the last error", exited, err)
	}

	gone, err := Launch(exec.Command(sleep, "0"), Start)
	if err != nil {
		t.Fatal(err)
	}
	if exited, err := gone.AwaitReady(5*time.Second, func() error { return errNotYet }); !exited || err == nil {
		t.Errorf("a process that exits: exited %v, %v", exited, err)
	}
}
