package imagecache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// xattrMeta keeps each record in user.* extended attributes of its file in
// data/; the size is the file's. A record goes with its file.
type xattrMeta struct{ dir string }

const (
	attrHits     = "user.imagecache.hits"
	attrAccessed = "user.imagecache.accessed" // Unix nanoseconds
	attrModified = "user.imagecache.modified"
	attrChecksum = "user.imagecache.checksum" // "algo:hex"
)

// probeXattr reports whether dir's file system keeps user attributes. It
// leaves no file behind.
func probeXattr(dir string) error {
	f, err := os.CreateTemp(dir, "xattr probe *") // not an id: never adopted
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	return unix.Fsetxattr(int(f.Fd()), "user.imagecache.probe", []byte("1"), 0)
}

func (m *xattrMeta) put(r Record) error {
	f, err := os.Open(filepath.Join(m.dir, r.ID))
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	for _, a := range [][2]string{
		{attrHits, strconv.FormatInt(r.Hits, 10)},
		{attrAccessed, strconv.FormatInt(r.LastAccessed.UnixNano(), 10)},
		{attrModified, strconv.FormatInt(r.LastModified.UnixNano(), 10)},
		{attrChecksum, r.Checksum.Algo + ":" + r.Checksum.Hex},
	} {
		if err := unix.Fsetxattr(fd, a[0], []byte(a[1]), 0); err != nil {
			return fmt.Errorf("set %s on %s: %w", a[0], r.ID, err)
		}
	}
	return nil
}

func getAttr(fd int, name string) (string, error) {
	var buf [256]byte
	n, err := unix.Fgetxattr(fd, name, buf[:])
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// read returns f's record; ok is false when f has no attributes yet.
func readRecord(f *os.File, id string) (r Record, ok bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return r, false, err
	}
	fd := int(f.Fd())
	hits, err := getAttr(fd, attrHits)
	if errors.Is(err, unix.ENODATA) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	accessed, err1 := getAttr(fd, attrAccessed)
	modified, err2 := getAttr(fd, attrModified)
	sum, err3 := getAttr(fd, attrChecksum)
	if err := errors.Join(err1, err2, err3); err != nil {
		return r, false, err
	}
	r = Record{ID: id, Size: fi.Size()}
	n, err1 := strconv.ParseInt(hits, 10, 64)
	a, err2 := strconv.ParseInt(accessed, 10, 64)
	mod, err3 := strconv.ParseInt(modified, 10, 64)
	r.Hits = n
	if err := errors.Join(err1, err2, err3); err != nil {
		return r, false, fmt.Errorf("attributes of %s: %w", id, err)
	}
	r.LastAccessed, r.LastModified = time.Unix(0, a), time.Unix(0, mod)
	r.Checksum.Algo, r.Checksum.Hex, _ = strings.Cut(sum, ":")
	return r, true, nil
}

func (m *xattrMeta) get(id string) (Record, bool, error) {
	f, err := os.Open(filepath.Join(m.dir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, err
	}
	defer f.Close()
	return readRecord(f, id)
}

func (m *xattrMeta) all() ([]Record, error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, err
	}
	var rs []Record
	for _, e := range entries {
		if !e.Type().IsRegular() || !ValidID(e.Name()) {
			continue
		}
		r, ok, err := m.get(e.Name())
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if ok {
			rs = append(rs, r)
		}
	}
	return rs, nil
}

// hit increments the count under a lock on the file, so that hits from
// several goroutines or processes are not lost.
func (m *xattrMeta) hit(id string, at time.Time) error {
	f, err := os.Open(filepath.Join(m.dir, id))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		return err
	}
	defer unix.Flock(fd, unix.LOCK_UN)
	hits, err := getAttr(fd, attrHits)
	if err != nil {
		return fmt.Errorf("%w: %s has no record: %w", ErrNotFound, id, err)
	}
	n, err := strconv.ParseInt(hits, 10, 64)
	if err != nil {
		return err
	}
	if err := unix.Fsetxattr(fd, attrHits, []byte(strconv.FormatInt(n+1, 10)), 0); err != nil {
		return err
	}
	return unix.Fsetxattr(fd, attrAccessed, []byte(strconv.FormatInt(at.UnixNano(), 10)), 0)
}

// remove has nothing to do: the attributes go with the file.
func (m *xattrMeta) remove(...string) error { return nil }

func (m *xattrMeta) close() error { return nil }
