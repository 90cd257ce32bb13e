package imagecache

import (
	"io/fs"
	"syscall"
	"testing"
)

// TestNoRecord: only a missing file or a missing hit count means that an
// image has no record; an I/O error must not pass for one.
func TestNoRecord(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{syscall.ENOENT, true},
		{&fs.PathError{Op: "open", Path: "data/x", Err: syscall.ENOENT}, true},
		{syscall.ENODATA, true},
		{syscall.EIO, false},
		{&fs.PathError{Op: "open", Path: "data/x", Err: syscall.EIO}, false},
		{syscall.EACCES, false},
		{syscall.ERANGE, false},
	} {
		if got := noRecord(tc.err); got != tc.want {
			t.Errorf("noRecord(%v) = %v; want %v", tc.err, got, tc.want)
		}
	}
}
