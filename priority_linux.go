package arcache

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// lowerPriority gives the calling goroutine a thread of its own at the
// lowest scheduling priority, so that background work takes only the CPU
// time nothing else wants. The thread ends with the goroutine.
func lowerPriority() {
	runtime.LockOSThread()
	// Best effort: an unprivileged thread may always lower its priority.
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
}
