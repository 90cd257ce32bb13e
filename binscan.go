package arcache

import (
	"bufio"
	"fmt"
	"image"
	"io"
)

// ReadBin reads a bin file from r, as Save writes it, and calls fn with
// each record's key and image in file order, least recently used first,
// without a cache: a tool can list, check or convert a bin file of any
// size holding only a few records at a time. fn may keep the images; a
// nil fn only checks the file. ReadBin returns how many records fn accepted.
//
// Records are checked one by one as they arrive, so fn sees the records
// before any damage: a damaged file (truncated, altered, or of a newer
// format) returns, after them, an error matching ErrCorrupt that names
// the first bad record's index and, where it can be read, its key. An
// error reading r is returned wrapped; an error from fn stops ReadBin and
// is returned as it is.
func ReadBin(r io.Reader, fn func(key string, img image.Image) error) (int, error) {
	if fn == nil {
		fn = func(string, image.Image) error { return nil }
	}
	re := &readErrs{r: r}
	n, damage, err := scanBin(bufio.NewReader(re), fn)
	switch {
	case err != nil:
		return n, err
	case re.err != nil:
		return n, fmt.Errorf("arcache: read bin after %d records: %w", n, re.err)
	case damage != nil:
		return n, fmt.Errorf("arcache: read bin: %w after %d records: %w", ErrCorrupt, n, damage)
	}
	return n, nil
}

// PixelBytes returns the bytes of img that max_bytes counts: the length of
// its pixel slices, with 4 bytes for each palette colour, or 4 bytes a
// pixel for an image type outside package image.
func PixelBytes(img image.Image) int64 { return pixelBytes(img) }
