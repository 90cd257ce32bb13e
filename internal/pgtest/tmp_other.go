//go:build !linux

package pgtest

import "os"

// tempRoot returns the directory to make servers' directories in.
func tempRoot() string { return os.TempDir() }
