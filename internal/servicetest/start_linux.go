package servicetest

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

// Start starts cmd so that the kernel kills it when the test binary ends,
// cleanups run or not. The parent-death signal follows the OS thread that
// forked the child, not the process, and the Go runtime ends a thread
// whenever a goroutine locked to it returns; so every child is forked
// from one goroutine that holds its thread for the life of the binary.
func Start(cmd *exec.Cmd) error { return start(cmd, nil) }

// StartAs is Start with the child running as the user uid and group gid,
// without supplementary groups. Setting them in the child, rather than
// going through runuser or su, makes the server itself the child: it gets
// the signals sent to cmd.Process, and Wait sees it end.
func StartAs(cmd *exec.Cmd, uid, gid uint32) error {
	return start(cmd, &syscall.Credential{Uid: uid, Gid: gid})
}

func start(cmd *exec.Cmd, cred *syscall.Credential) error {
	spawnOnce.Do(func() {
		spawnCh = make(chan func())
		go func() {
			runtime.LockOSThread()
			for f := range spawnCh {
				f()
			}
		}()
	})
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	errc := make(chan error, 1)
	spawnCh <- func() { errc <- cmd.Start() }
	return <-errc
}
