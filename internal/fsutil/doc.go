// Package fsutil holds the file-system steps both of arcache's packages
// need: atomic replacement of a file, advisory locks across processes, and
// moving files aside.
package fsutil
