//go:build windows

package fsutil

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// Lock is a lock (LockFileEx) on a file beside the one it guards,
// held across processes. The lock file stays: removing it would let two
// processes lock two different files of one name.
type Lock struct{ f *os.File }

// LockFile locks path, creating it if need be, and waits for the lock.
func LockFile(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	var ol windows.Overlapped
	if err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &ol); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &Lock{f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	var ol windows.Overlapped
	windows.UnlockFileEx(windows.Handle(l.f.Fd()), 0, 1, 0, &ol)
	l.f.Close()
}

// TryLock takes an exclusive lock on the open file f without waiting, and
// reports whether it got it. The lock lasts until it is unlocked or f is
// closed, and is what tells a live writer's file from an abandoned one.
func TryLock(f *os.File) (bool, error) {
	var ol windows.Overlapped
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if err == windows.ERROR_LOCK_VIOLATION {
		return false, nil
	}
	return err == nil, err
}

// SyncDir does nothing: Windows cannot open a directory to sync it, and
// its renames are durable once the file's data is.
func SyncDir(string) error { return nil }
