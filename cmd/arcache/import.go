package main

import (
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/arcache-go/arcache"
	"github.com/arcache-go/arcache/internal/fsutil"
	"github.com/arcache-go/arcache/internal/imagefile"
	"github.com/spf13/cobra"
)

func newImportCmd() *cobra.Command {
	var opts importOptions
	cmd := &cobra.Command{
		Use:   "import DIR FILE",
		Short: "Add the images in DIR to a bin file, as Refresh reads them",
		Long: `import adds the images in the folder DIR to the bin file FILE by the rules
a cache's Refresh follows for its cache_dir: PNG, JPEG, GIF, BMP, TIFF and
WebP files whose name without its extension is a key (lower-case letters,
digits, '-' and '_') are read, each under that key; subdirectories, other
files and other names are skipped; an image of more than
--max-image-pixels pixels is refused without being decoded, and so is a
file that cannot be decoded.

DIR is left untouched: Refresh, which removes the files it has saved and
moves refused ones to error_dir, runs over links to DIR's files (or
copies, where links cannot be made) in a temporary folder.

If FILE exists its entries are kept, and an image whose key FILE holds is
skipped, as Refresh skips keys its cache holds, unless --replace is given.
A damaged or unreadable FILE is an error, and nothing is written. FILE is
replaced whole or not at all (a temporary file, synced, then renamed),
under the lock a cache takes to save it (FILE.lock).

Files skipped for their names or keys are named on standard output, then
a summary. Each refused file is reported on standard error; FILE is still
written with the images that were read, and import then exits with
status 1.`,
		Example: `  arcache import ~/icons icons.bin
  arcache import --replace --max-image-pixels 1000000 new-icons ~/.imgcache.bin`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return importDir(cmd, args[0], args[1], opts)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&opts.maxPixels, "max-image-pixels", arcache.DefaultConfig().MaxImagePixels, "refuse images of more pixels than this, as max_image_pixels does")
	f.BoolVar(&opts.replace, "replace", false, "let images in DIR replace FILE's entries of the same keys")
	f.BoolVarP(&opts.verbose, "verbose", "v", false, "also name each file imported, and each file skipped for its extension")
	return cmd
}

type importOptions struct {
	maxPixels int64
	replace   bool
	verbose   bool
}

// importer brings DIR's files one by one into a temporary folder that is
// a cache's CacheDir, and runs Refresh over each: the cache reads them by
// its own rules, and each file's fate is known exactly.
type importer struct {
	cmd   *cobra.Command
	dir   string
	work  string // CacheDir
	cache *arcache.SlugCache
	opts  importOptions

	// held are the images the cache holds, by entry (see entryOf); the
	// ErrorImages it holds for refused files are not saved, and not here.
	held                       map[string]heldKey
	imported, skipped, refused int
}

// heldKey is the key an entry is held under, and where it came from: ""
// for FILE, else the name of a file in DIR.
type heldKey struct{ key, from string }

// entryOf names the cache entry key is stored in. Keys that end in the
// same "-" and 16-digit hash, as Provide's do, share one (see
// arcache.SlugCache.Put); any other key has its own.
func entryOf(key string) string {
	const hashLen = 16
	n := len(key)
	if n <= hashLen || key[n-hashLen-1] != '-' {
		return key
	}
	for _, c := range key[n-hashLen:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return key
		}
	}
	return "#" + key[n-hashLen:] // no key holds a '#'
}

func importDir(cmd *cobra.Command, dir, file string, opts importOptions) error {
	if opts.maxPixels < 1 {
		return fmt.Errorf("import: --max-image-pixels %d: must be at least 1", opts.maxPixels)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	tmp, err := os.MkdirTemp("", "arcache-import-")
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer os.RemoveAll(tmp)
	work := filepath.Join(tmp, "in")
	if err := os.Mkdir(work, 0o700); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	cache, err := arcache.New(arcache.Config{
		CacheDir:       work,
		ErrorDir:       filepath.Join(tmp, "refused"),
		BinFile:        arcache.NoBinFile, // FILE is written by SaveTo, under its lock
		CacheMax:       math.MaxInt,       // never evict: every image goes to FILE
		MaxBytes:       0,
		MaxImagePixels: opts.maxPixels,
	}, arcache.WithLogger(nil))
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer cache.Close()

	if dir := filepath.Dir(file); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	lock, err := fsutil.LockFile(file + ".lock")
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer lock.Unlock()

	im := &importer{cmd: cmd, dir: dir, work: work, cache: cache, opts: opts, held: map[string]heldKey{}}
	existed, err := im.loadFile(file)
	if err != nil {
		return err
	}
	for _, de := range entries {
		if err := im.importEntry(de); err != nil {
			return err
		}
	}
	if !existed || im.imported > 0 {
		fsutil.RemoveStaleTemps(file) // a crashed writer's, as Save sweeps them
		if err := fsutil.WriteAtomic(file, 1<<20, cache.SaveTo); err != nil {
			return fmt.Errorf("import: write %s: %w", file, cause(err, "save"))
		}
	}
	n := len(im.held)
	im.say("imported %d, refused %d, skipped %d; %s holds %d %s",
		im.imported, im.refused, im.skipped, file, n, plural(n, "entry", "entries"))
	if im.refused > 0 {
		return fmt.Errorf("import %s: %d %s refused", dir, im.refused, plural(im.refused, "file", "files"))
	}
	return nil
}

// loadFile loads FILE's entries, if it exists, and reports whether it
// does.
func (im *importer) loadFile(file string) (bool, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	if _, err := im.cache.LoadFrom(f); err != nil {
		return true, fmt.Errorf("import: %s: %w; nothing written", file, cause(err, "load"))
	}
	for _, k := range im.cache.Keys() {
		im.held[entryOf(k)] = heldKey{key: k}
	}
	return true, nil
}

// importEntry runs Refresh over the file de of DIR alone. Only errors
// that stop the import are returned; a refused file is reported.
func (im *importer) importEntry(de fs.DirEntry) error {
	name := de.Name()
	if !de.Type().IsRegular() {
		im.note("skipped %s: not a regular file", name)
		return nil
	}
	ext := filepath.Ext(name)
	key := strings.TrimSuffix(name, ext)
	if !imagefile.IsImage(name) {
		im.skipped++
		im.note("skipped %s: not an image file Refresh reads", name)
		return nil
	}
	if !arcache.ValidKey(key) {
		im.skipped++
		im.say("skipped %s: %q is not a key", name, key)
		return nil
	}
	// The first image of an entry is kept, as Refresh keeps the image
	// its cache holds; with --replace, FILE's image makes way, and comes
	// back unless the file is imported in its place.
	entry := entryOf(key)
	old, held := im.held[entry]
	var kept image.Image
	switch {
	case held && old.from != "":
		im.skipped++
		im.say("skipped %s: %s", name, old.describe(key))
		return nil
	case held && !im.opts.replace:
		im.skipped++
		im.say("skipped %s: %s (see --replace)", name, old.describe(key))
		return nil
	case held:
		kept, _ = im.cache.Get(old.key)
		im.cache.Remove(old.key)
	}

	src, dst := filepath.Join(im.dir, name), filepath.Join(im.work, name)
	n, reason, err := im.refresh(src, dst)
	if err != nil {
		return err
	}
	if n == 0 && kept != nil {
		// Put replaces the ErrorImage a refused file leaves.
		if err := im.cache.Put(old.key, kept); err != nil {
			return fmt.Errorf("import: %w", err)
		}
	}
	switch {
	case n == 1:
		im.imported++
		im.held[entry] = heldKey{key: key, from: name}
		if kept != nil {
			im.note("imported %s as %s, in place of the bin file's %s", name, key, old.key)
		} else {
			im.note("imported %s as %s", name, key)
		}
	case reason != "":
		im.refused++
		if kept != nil {
			reason += fmt.Sprintf(" (the bin file's %s is kept)", old.key)
		}
		fmt.Fprintf(im.cmd.ErrOrStderr(), "arcache: refused %s: %s\n", src, reason)
	default: // gone from DIR meanwhile
		im.skipped++
		im.note("skipped %s: Refresh did not read it", name)
	}
	return nil
}

// describe says why an image of key is not imported into the entry h.
func (h heldKey) describe(key string) string {
	who := "the bin file"
	if h.from != "" {
		who = h.from
	}
	if h.key == key {
		return fmt.Sprintf("%s holds %s already", who, key)
	}
	return fmt.Sprintf("%s holds %s, which ends in the same hash and so is the same entry", who, h.key)
}

// refresh puts a link to, or a copy of, the file src at dst in CacheDir,
// runs Refresh, and removes dst again. It returns how many images Refresh
// imported (0 or 1), why the file was refused, or an error that stops the
// import.
func (im *importer) refresh(src, dst string) (int, string, error) {
	if err := linkOrCopy(src, dst); err != nil {
		return 0, err.Error(), nil
	}
	// dst is in memory now, or moved to ErrorDir, or not an image.
	defer os.Remove(dst)
	n, err := im.cache.Refresh(false)
	if err == nil {
		return n, "", nil
	}
	if _, serr := os.Lstat(dst); serr == nil && !errors.Is(err, arcache.ErrCorrupt) && !errors.Is(err, arcache.ErrTooLarge) {
		// Not the file's fault: Refresh could not run.
		return 0, "", fmt.Errorf("import %s: %w", src, err)
	}
	reason := err.Error()
	if i := strings.Index(reason, dst+": "); i >= 0 {
		reason = reason[i+len(dst)+2:]
	}
	return 0, reason, nil
}

// say prints a line of the report.
func (im *importer) say(format string, args ...any) {
	fmt.Fprintf(im.cmd.OutOrStdout(), format+"\n", args...)
}

// note prints a line of the report with --verbose.
func (im *importer) note(format string, args ...any) {
	if im.opts.verbose {
		im.say(format, args...)
	}
}

// linkOrCopy makes dst a hard link to src, or a copy where a link cannot
// be made (another file system, or a file the user may read but not
// link).
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}
