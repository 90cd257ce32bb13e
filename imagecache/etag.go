package imagecache

import (
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tagEntries bounds the handler's memo of ETags and content types: a few
// hundred bytes an entry.
const tagEntries = 4096

// fileKey tells one file in data/ from another that replaced it under the
// same name.
type fileKey struct {
	ino         uint64 // 0 where the system has none
	size, mtime int64  // mtime in Unix nanoseconds
}

func keyOf(fi fs.FileInfo) fileKey {
	return fileKey{ino: inode(fi), size: fi.Size(), mtime: fi.ModTime().UnixNano()}
}

// fileTag is what the handler keeps of a cached file so that a hit needs
// no metadata query and no sniffing.
type fileTag struct {
	key   fileKey
	etag  string
	ctype string
}

// tag returns the ETag and content type of f, the open file of the cached
// image id, from the memo when it knows this very file.
func (h *handler) tag(id string, f *os.File, fi fs.FileInfo) fileTag {
	key := keyOf(fi)
	if t, ok := h.tags.Get(id); ok && t.key == key {
		return t
	}
	t := fileTag{key: key, ctype: sniffType(id, f)}
	r, ok, err := h.c.meta.get(id)
	if err != nil {
		h.c.log.Warn("imagecache: cannot read a record; serving without its checksum", "id", id, "err", err)
	}
	// A record is this file's only if it was written after the file
	// (a commit renames, then records); a record of a file that this one
	// replaced would give the old checksum.
	if ok && r.Size == fi.Size() && !r.LastModified.Before(fi.ModTime()) {
		if etag, good := checksumETag(r.Checksum); good {
			t.etag = etag
		}
	}
	if t.etag == "" {
		t.etag = fileETag(key)
	}
	if ok {
		// Without a record the file is being committed; the next hit
		// asks again, and finds its checksum.
		h.tags.Add(id, t)
	}
	return t
}

// checksumETag returns the strong ETag of an image with checksum s, as in
// "sha256-<hex>", or false when s is zero or not a digest.
func checksumETag(s Checksum) (string, bool) {
	algo := strings.ToLower(s.Algo)
	switch algo {
	case "md5", "sha256", "sha512":
	default:
		return "", false
	}
	if s.Hex == "" {
		return "", false
	}
	for i := 0; i < len(s.Hex); i++ {
		if b := s.Hex[i]; !('0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F') {
			return "", false
		}
	}
	return `"` + algo + "-" + strings.ToLower(s.Hex) + `"`, true
}

// fileETag returns a strong ETag for a file without a checksum, from its
// identity: a file written again gets another.
func fileETag(k fileKey) string {
	b := make([]byte, 0, 52)
	b = append(b, '"')
	b = strconv.AppendUint(b, k.ino, 16)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(k.size), 16)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(k.mtime), 16)
	b = append(b, '"')
	return string(b)
}

// sniffType returns the content type of the image id in f as
// http.ServeContent would find it: by the id's extension, else from the
// first 512 bytes.
func sniffType(id string, f *os.File) string {
	if t := mime.TypeByExtension(filepath.Ext(id)); t != "" {
		return t
	}
	var buf [512]byte
	n, _ := f.ReadAt(buf[:], 0)
	return http.DetectContentType(buf[:n])
}

// contentType returns the content type of the image id that begins with
// first: by the id's extension, else sniffed.
func contentType(id string, first []byte) string {
	if t := mime.TypeByExtension(filepath.Ext(id)); t != "" {
		return t
	}
	return http.DetectContentType(first)
}
