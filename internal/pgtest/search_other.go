//go:build !unix

package pgtest

import "io/fs"

// canSearch reports true: there are no Unix permissions to check.
func (a *account) canSearch(fs.FileInfo) bool { return true }
