package arcache

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestMain runs the tests in a scratch directory, so that caches opened
// with the default, relative paths (as the examples do) write nothing into
// the source tree. testdata is linked in.
func TestMain(m *testing.M) {
	os.Exit(runInScratchDir(m))
}

func runInScratchDir(m *testing.M) int {
	src, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "arcache-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Symlink(filepath.Join(src, "testdata"), filepath.Join(dir, "testdata")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := os.Chdir(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
