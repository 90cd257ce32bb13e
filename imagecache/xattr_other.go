//go:build !linux

package imagecache

import (
	"errors"
	"fmt"
)

// openXattr reports the xattr driver unavailable: it is built on Linux
// only, and New falls back to sqlite.
func openXattr(string) (metadata, error) {
	return nil, fmt.Errorf("the xattr driver is built on Linux only: %w", errors.ErrUnsupported)
}
