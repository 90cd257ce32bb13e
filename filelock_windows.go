//go:build windows

package arcache

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// fileLock is a lock (LockFileEx) on a file beside the one it guards,
// held across processes. The lock file stays: removing it would let two
// processes lock two different files of one name.
type fileLock struct{ f *os.File }

func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	var ol windows.Overlapped
	if err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ol); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &fileLock{f}, nil
}

func (l *fileLock) unlock() {
	var ol windows.Overlapped
	windows.UnlockFileEx(windows.Handle(l.f.Fd()), 0, 1, 0, &ol)
	l.f.Close()
}

// syncDir does nothing: Windows cannot open a directory to sync it, and
// its renames are durable once the file's data is.
func syncDir(string) error { return nil }
