//go:build !linux

package imagecache

import (
	"errors"
	"time"
)

// xattrMeta is only built on Linux; elsewhere New falls back to sqlite.
type xattrMeta struct{ dir string }

func probeXattr(string) error {
	return errors.New("the xattr driver is built on Linux only")
}

func (m *xattrMeta) put(Record) error                 { return errors.ErrUnsupported }
func (m *xattrMeta) get(string) (Record, bool, error) { return Record{}, false, errors.ErrUnsupported }
func (m *xattrMeta) all() ([]Record, error)           { return nil, errors.ErrUnsupported }
func (m *xattrMeta) hit(string, time.Time) error      { return errors.ErrUnsupported }
func (m *xattrMeta) remove(...string) error           { return nil }
func (m *xattrMeta) close() error                     { return nil }
