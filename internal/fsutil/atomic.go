package fsutil

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
)

// WriteAtomic writes path through write so that readers, and a crash at
// any moment, see either the old file or the whole new one: it writes a
// temporary file in the same directory, syncs it, renames it over path and
// syncs the directory.
//
// bufSize sizes the write buffer: large for the bin file, small for the
// many small debug PNGs, whose buffers would otherwise be most of the
// garbage the debug writer makes.
func WriteAtomic(path string, bufSize int, write func(w io.Writer) error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := writeTemp(dir, base, bufio.NewWriterSize(nil, bufSize), write, true)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// writeTemp writes a temporary file beside dir/base through write,
// buffered by w, syncs it if sync is set, and returns its path. On failure
// it leaves nothing.
func writeTemp(dir, base string, w *bufio.Writer, write func(w io.Writer) error, sync bool) (name string, err error) {
	// Not os.CreateTemp: it makes the file private, which the file it
	// replaces was not, and a Chmod is one more system call per save.
	var f *os.File
	for range 10 {
		name = filepath.Join(dir, fmt.Sprintf("%s%s%016x", base, TmpSuffix, rand.Uint64()))
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w.Reset(f)
	if err = write(w); err != nil {
		return "", err
	}
	if err = w.Flush(); err != nil {
		return "", err
	}
	if sync {
		if err = f.Sync(); err != nil {
			return "", err
		}
	}
	return name, f.Close()
}

// TmpSuffix marks temporary files. A crash can leave them behind; they are
// swept only where a writer calls RemoveStaleTemps (the bin file's, under
// its lock). The debug PNGs' and the queue's are not: a crash leaves at
// most one batch's or one id's worth of them.
const TmpSuffix = ".tmp-"

// RemoveStaleTemps deletes temporary files that a crashed writer of path
// left behind. Call it only while holding path's lock.
func RemoveStaleTemps(path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), base+TmpSuffix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Quarantine moves path into dir under a name that does not overwrite an
// earlier quarantined file, and returns the new path.
func Quarantine(path, dir string) (string, error) {
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
	err = WriteAtomic(dst, 1<<20, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
	if err != nil {
		return err
	}
	return os.Remove(src)
}
