package pgtest

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

// start starts cmd as the user as (nil: as this process's user), so that
// the kernel kills it when the test binary ends. The parent-death signal
// follows the OS thread that forked the child, not the process, and the Go
// runtime ends a thread whenever a goroutine locked to it returns; so
// every child is forked from one goroutine that holds its thread for the
// life of the binary.
//
// Setting the credentials in the child, rather than going through
// runuser or su, makes the server itself the child: it gets the signals
// sent to cmd.Process, and Wait sees it end.
func start(cmd *exec.Cmd, as *account) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan func())
		go func() {
			runtime.LockOSThread()
			for f := range spawnCh {
				f()
			}
		}()
	})
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if as != nil {
		attr.Credential = &syscall.Credential{Uid: as.uid, Gid: as.gid} // and no supplementary groups
	}
	cmd.SysProcAttr = attr
	errc := make(chan error, 1)
	spawnCh <- func() { errc <- cmd.Start() }
	return <-errc
}
