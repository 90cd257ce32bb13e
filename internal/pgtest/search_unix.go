//go:build unix

package pgtest

import (
	"io/fs"
	"syscall"
)

// canSearch reports whether a's user may pass through the directory fi.
func (a *account) canSearch(fi fs.FileInfo) bool {
	perm := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return perm&0o001 != 0
	}
	switch {
	case st.Uid == a.uid:
		return perm&0o100 != 0
	case st.Gid == a.gid:
		return perm&0o010 != 0
	}
	return perm&0o001 != 0
}
