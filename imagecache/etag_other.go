//go:build !unix

package imagecache

import "io/fs"

// inode returns 0: the system gives no inode numbers through fs.FileInfo,
// and size and modification time tell files apart.
func inode(fs.FileInfo) uint64 { return 0 }
