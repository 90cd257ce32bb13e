package imagefile

import (
	"path/filepath"
	"strings"
)

// exts are the extensions, in lower case, of the formats the root package
// registers decoders for.
var exts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true,
	".bmp": true, ".tif": true, ".tiff": true, ".webp": true,
}

// IsImage reports whether name's extension, in any case, is that of an
// image file arcache reads.
func IsImage(name string) bool { return exts[strings.ToLower(filepath.Ext(name))] }
