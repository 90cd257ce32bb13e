package redistest

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

var (
	spawnOnce sync.Once
	spawnCh   chan func()
)

// start starts cmd so that the kernel kills it when the test binary ends.
// The parent-death signal follows the OS thread that forked the child, not
// the process, and the Go runtime ends a thread whenever a goroutine locked
// to it returns; so every child is forked from one goroutine that holds its
// thread for the life of the binary.
func start(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan func())
		go func() {
			runtime.LockOSThread()
			for f := range spawnCh {
				f()
			}
		}()
	})
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errc := make(chan error, 1)
	spawnCh <- func() { errc <- cmd.Start() }
	return <-errc
}
