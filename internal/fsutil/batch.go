package fsutil

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// Batch writes many files of one directory atomically, as WriteAtomic
// does, with one sync for them all: on Linux a single syncfs makes every
// temporary file durable before any is renamed into place, where one
// fsync per file would cost a journal commit each. Elsewhere each file is
// synced as it is written.
//
// A Batch is for one goroutine.
type Batch struct {
	dir          string
	buf          *bufio.Writer // reused: small files would make it most of the garbage
	temps, paths []string
}

// NewBatch starts a batch of files in dir, written through a buffer of
// bufSize bytes.
func NewBatch(dir string, bufSize int) *Batch {
	return &Batch{dir: dir, buf: bufio.NewWriterSize(nil, bufSize)}
}

// Len reports how many files wait for Commit.
func (b *Batch) Len() int { return len(b.temps) }

// Add writes the new contents of the file name in the batch's directory
// to a temporary file; Commit puts it in place. A failed Add leaves
// nothing behind and does not spoil the batch.
func (b *Batch) Add(name string, write func(w io.Writer) error) error {
	tmp, err := writeTemp(b.dir, name, b.buf, write, !canSyncFS)
	if err != nil {
		return err
	}
	b.temps = append(b.temps, tmp)
	b.paths = append(b.paths, filepath.Join(b.dir, name))
	return nil
}

// Commit makes the files added so far durable, renames them into place
// and syncs the directory. If the sync fails no file is replaced. The
// batch is empty afterwards.
func (b *Batch) Commit() error {
	temps, paths := b.temps, b.paths
	b.temps, b.paths = b.temps[:0], b.paths[:0]
	if len(temps) == 0 {
		return nil
	}
	if canSyncFS {
		if err := syncFS(b.dir); err != nil {
			for _, t := range temps {
				os.Remove(t)
			}
			return err
		}
	}
	var errs []error
	for i, t := range temps {
		if err := os.Rename(t, paths[i]); err != nil {
			os.Remove(t)
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, SyncDir(b.dir))...)
}
