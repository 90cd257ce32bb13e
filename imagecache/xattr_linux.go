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

// openXattr returns the xattr driver for the files in dir, or an error
// if dir's file system keeps no user attributes.
func openXattr(dir string) (metadata, error) {
	if err := probeXattr(dir); err != nil {
		return nil, err
	}
	return &xattrMeta{dir: dir}, nil
}

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
	// The hit count goes last: its presence marks a record.
	for _, a := range [][2]string{
		{attrAccessed, strconv.FormatInt(r.LastAccessed.UnixNano(), 10)},
		{attrModified, strconv.FormatInt(r.LastModified.UnixNano(), 10)},
		{attrChecksum, r.Checksum.Algo + ":" + r.Checksum.Hex},
		{attrHits, strconv.FormatInt(r.Hits, 10)},
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

// noRecord reports whether err, met opening a file in data/ or reading
// its hit count (the attribute that marks a record), means that there is
// no record: the file is gone (ENOENT), or has no hit count (ENODATA).
// Any other error, such as EIO, is a failure, not a missing image.
func noRecord(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENODATA)
}

// readRecord returns f's record; ok is false when f has no hit count
// yet. An attribute that is missing or damaged (a crash between two
// writes, a hand-made edit) reads as it would for a new record, from the
// file's own times, rather than make the whole cache unusable.
func readRecord(f *os.File, id string) (r Record, ok bool, err error) {
	fi, err := f.Stat()
	if err != nil {
		return r, false, err
	}
	fd := int(f.Fd())
	hits, err := getAttr(fd, attrHits)
	if noRecord(err) {
		return r, false, nil
	}
	if err != nil && !errors.Is(err, unix.ERANGE) {
		return r, false, err
	}
	r = Record{ID: id, Size: fi.Size(), LastAccessed: fi.ModTime(), LastModified: fi.ModTime()}
	if n, err := strconv.ParseInt(hits, 10, 64); err == nil && n >= 0 {
		r.Hits = n
	}
	for _, a := range []struct {
		name string
		to   *time.Time
	}{{attrAccessed, &r.LastAccessed}, {attrModified, &r.LastModified}} {
		v, err := getAttr(fd, a.name)
		if err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.ERANGE) {
			return r, false, err
		}
		if ns, err := strconv.ParseInt(v, 10, 64); err == nil {
			*a.to = time.Unix(0, ns)
		}
	}
	sum, err := getAttr(fd, attrChecksum)
	if err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.ERANGE) {
		return r, false, err
	}
	if algo, hex, found := strings.Cut(sum, ":"); found {
		r.Checksum = Checksum{Algo: algo, Hex: hex}
	}
	return r, true, nil
}

func (m *xattrMeta) get(id string) (Record, bool, error) {
	f, err := os.Open(filepath.Join(m.dir, id))
	if noRecord(err) {
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
		if err != nil {
			return nil, err
		}
		if ok {
			rs = append(rs, r)
		}
	}
	return rs, nil
}

// addHits adds each id's hits under a lock on its file, so that hits
// from other processes are not lost.
func (m *xattrMeta) addHits(batch map[string]pendingHit) error {
	var errs []error
	for id, p := range batch {
		if err := m.addHit(id, p); err != nil {
			errs = append(errs, fmt.Errorf("hits of %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func (m *xattrMeta) addHit(id string, p pendingHit) error {
	f, err := os.Open(filepath.Join(m.dir, id))
	if noRecord(err) {
		return nil // removed meanwhile
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
	switch {
	case noRecord(err):
		return nil
	case err != nil && !errors.Is(err, unix.ERANGE): // ERANGE: damaged, counted afresh below
		return err
	}
	n, err := strconv.ParseInt(hits, 10, 64)
	if err != nil || n < 0 {
		n = 0 // damaged: count afresh
	}
	if err := unix.Fsetxattr(fd, attrHits, []byte(strconv.FormatInt(n+p.n, 10)), 0); err != nil {
		return err
	}
	at := p.at.UnixNano()
	if v, err := getAttr(fd, attrAccessed); err == nil {
		if prev, err := strconv.ParseInt(v, 10, 64); err == nil {
			at = max(at, prev)
		}
	}
	return unix.Fsetxattr(fd, attrAccessed, []byte(strconv.FormatInt(at, 10)), 0)
}

// size sums the sizes of the files that hold a record: no attribute but
// the hit count needs reading.
func (m *xattrMeta) size() (int64, error) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return 0, err
	}
	var total int64
	var buf [32]byte
	for _, e := range entries {
		if !e.Type().IsRegular() || !ValidID(e.Name()) {
			continue
		}
		path := filepath.Join(m.dir, e.Name())
		if _, err := unix.Getxattr(path, attrHits, buf[:]); err != nil && !errors.Is(err, unix.ERANGE) {
			if noRecord(err) {
				continue
			}
			return 0, err
		}
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			if noRecord(err) {
				continue
			}
			return 0, err
		}
		total += st.Size
	}
	return total, nil
}

// remove has nothing to do: the attributes go with the file.
func (m *xattrMeta) remove(...string) error { return nil }

func (m *xattrMeta) close() error { return nil }
