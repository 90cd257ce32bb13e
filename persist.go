package arcache

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// removeFiles deletes the cache's files on disk.
func (c *SlugCache) removeFiles() error {
	if c.cfg.BinFile == "" {
		return nil
	}
	if err := os.Remove(c.cfg.BinFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("arcache: remove bin file: %w", err)
	}
	return nil
}
