package arcache

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// writeAtomic writes path through write so that readers, and a crash at
// any moment, see either the old file or the whole new one: it writes a
// temporary file in the same directory, syncs it, renames it over path and
// syncs the directory.
func writeAtomic(path string, write func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// Not os.CreateTemp: it makes the file private, which the file it
	// replaces was not, and a Chmod is one more system call per save.
	var f *os.File
	for range 10 {
		name := filepath.Join(dir, fmt.Sprintf("%s%s%016x", base, tmpSuffix, rand.Uint64()))
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err = write(w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// tmpSuffix marks temporary files; a crash can leave them behind, and the
// next writer, holding the lock, removes them.
const tmpSuffix = ".tmp-"

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err // some file systems cannot sync a directory: not an error
	}
	return nil
}

// removeStaleTemps deletes temporary files that a crashed writer of path
// left behind. Call it only while holding path's lock.
func removeStaleTemps(path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), base+tmpSuffix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// fileLock is an advisory lock (flock) on a file beside the one it guards,
// held across processes. The lock file stays: removing it would let two
// processes lock two different files of one name.
type fileLock struct{ f *os.File }

func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return &fileLock{f}, nil
}

func (l *fileLock) unlock() {
	unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
}

// quarantine moves path into dir under a name that does not overwrite an
// earlier quarantined file, and returns the new path.
func quarantine(path, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := filepath.Base(path) + "." + time.Now().UTC().Format("20060102T150405.000000000Z")
	dst := filepath.Join(dir, name)
	err := os.Rename(path, dst)
	if errors.Is(err, syscall.EXDEV) {
		err = copyThenRemove(path, dst)
	}
	if err != nil {
		return "", err
	}
	return dst, nil
}

// copyThenRemove moves a file across file systems.
func copyThenRemove(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	err = writeAtomic(dst, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
	if err != nil {
		return err
	}
	return os.Remove(src)
}
