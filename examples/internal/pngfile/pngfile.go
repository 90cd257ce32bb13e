// Package pngfile writes the example programs' images as PNG files.
package pngfile

import (
	"fmt"
	"image"
	"image/png"
	"os"
)

// Write encodes img to path as a PNG and returns the file's size. A file
// that is not written whole is removed.
func Write(path string, img image.Image) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	err = png.Encode(f, img)
	var size int64
	if err == nil {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil {
			size = fi.Size()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return size, nil
}
