package arcache

import (
	"errors"
	"fmt"
	"image"
	_ "image/gif" // Refresh reads these formats
	_ "image/jpeg"
	_ "image/png"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/arcache-go/arcache/internal/fsutil"
	"github.com/arcache-go/arcache/internal/imagefile"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// importedFile is the file an entry was imported from, as it was then.
type importedFile struct {
	path    string
	size    int64
	modTime time.Time
}

// remove deletes the file once a save holds its image, unless it has
// changed since it was read: then it is someone's new file.
func (f *importedFile) remove(log *slog.Logger) {
	fi, err := os.Stat(f.path)
	if err != nil || fi.Size() != f.size || !fi.ModTime().Equal(f.modTime) {
		return
	}
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		log.Warn("arcache: remove imported file", "path", f.path, "err", err)
	}
}

// Refresh imports the images in CacheDir whose key, the file name without
// its extension, is not in the cache: PNG, JPEG, GIF, BMP, TIFF and WebP.
// It reads each file's header first and refuses images of more than
// MaxImagePixels without decoding them.
//
// A file that cannot be read, or is refused, is moved to ErrorDir and
// logged, and its key maps to [ErrorImage]: Get returns the placeholder,
// while Provide rebuilds the image. Refresh goes on past such files and
// returns their errors joined, matching ErrCorrupt or ErrTooLarge.
// Subdirectories, other files and names that are not keys are skipped.
//
// Without DebugImages, an imported file is removed from CacheDir once a
// Save holds its image; resave saves at once. Refresh returns how many
// images it imported.
func (c *SlugCache) Refresh(resave bool) (int, error) {
	if c.closed.Load() {
		return 0, fmt.Errorf("arcache: refresh: %w", ErrClosed)
	}
	n, refused, err := c.refresh(resave)
	if err == nil && refused != nil {
		err = fmt.Errorf("arcache: refresh %s: %w", c.cfg.CacheDir, refused)
	}
	return n, err
}

// refresh is Refresh. It returns the errors of the files it refused apart
// from those that stopped it, so that New can start despite the former.
func (c *SlugCache) refresh(resave bool) (n int, refused, err error) {
	c.flushDebug()
	// One Refresh at a time, so that two never import, or quarantine, one
	// file twice.
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	dir := c.cfg.CacheDir
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, nil, fmt.Errorf("arcache: refresh %s: %w", dir, err)
	}
	var errs []error
	for _, de := range entries {
		name := de.Name()
		ext := filepath.Ext(name)
		key := strings.TrimSuffix(name, ext)
		switch {
		case de.IsDir():
			c.log.Debug("arcache: refresh skips a directory", "dir", dir, "name", name)
			continue
		case !imagefile.IsImage(name) || !de.Type().IsRegular():
			continue
		case !ValidKey(key):
			c.log.Info("arcache: refresh skips a file whose name is not a key", "dir", dir, "name", name)
			continue
		case c.holds(key):
			continue
		}
		imported, err := c.importFile(key, filepath.Join(dir, name))
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return n, errors.Join(errs...), fmt.Errorf("arcache: refresh %s: %w", dir, err)
			}
			errs = append(errs, err)
		}
		if imported {
			n++
		}
	}
	if resave {
		if err := c.Save(); err != nil {
			return n, errors.Join(errs...), err
		}
	}
	return n, errors.Join(errs...), nil
}

// importFile stores the image at path under key, or quarantines the file
// and stores a placeholder. It reports whether the image was imported,
// and why the file was refused.
func (c *SlugCache) importFile(key, path string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // gone since the directory was read: nothing to do
	}
	var img image.Image
	var cfg image.Config
	if err == nil {
		img, cfg, err = decodeFile(path, c.cfg.MaxImagePixels)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
	}
	if err == nil {
		src := &importedFile{path: path, size: fi.Size(), modTime: fi.ModTime()}
		kept, err := c.storeEntry(keyIndex(key), &entry{key: key, img: img, src: src})
		if err != nil {
			return false, err
		}
		if !kept {
			c.log.Info("arcache: refresh did not keep an image larger than max_bytes", "path", path)
			return false, nil
		}
		c.imported.Add(1)
		return true, nil
	}
	moved, qerr := fsutil.Quarantine(path, c.cfg.ErrorDir)
	if qerr != nil {
		c.log.Warn("arcache: unreadable image could not be quarantined", "path", path, "err", err, "quarantine_err", qerr)
	} else {
		c.quarantined.Add(1)
		c.log.Warn("arcache: unreadable image quarantined", "path", path, "moved_to", moved, "err", err)
	}
	w, h := 64, 64
	if cfg.Width > 0 && cfg.Height > 0 {
		w, h = min(cfg.Width, 256), min(cfg.Height, 256)
	}
	c.storePlaceholder(key, ErrorImage(w, h))
	return false, err
}

// decodeFile decodes the image at path after checking, from its header
// alone, that it has at most maxPixels pixels.
func decodeFile(path string, maxPixels int64) (img image.Image, cfg image.Config, err error) {
	defer func() {
		// Decoders are meant never to panic; a file must not take the
		// program down if one does.
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%s: %w: decoder panicked: %v", path, ErrCorrupt, r)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return nil, cfg, err
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return nil, cfg, fmt.Errorf("%s: %w: %w", path, ErrCorrupt, err)
	}
	if cfg.Width < 0 || cfg.Height < 0 || int64(cfg.Width)*int64(cfg.Height) > maxPixels ||
		cfg.Height > 0 && int64(cfg.Width) > maxPixels/int64(cfg.Height) {
		return nil, cfg, fmt.Errorf("%s: %w: %dx%d %s has more than %d pixels", path, ErrTooLarge, cfg.Width, cfg.Height, format, maxPixels)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, cfg, err
	}
	img, _, err = image.Decode(f)
	if err != nil {
		return nil, cfg, fmt.Errorf("%s: %w: %w", path, ErrCorrupt, err)
	}
	return img, cfg, nil
}
