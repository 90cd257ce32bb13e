package arcache

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"gopkg.in/ini.v1"
)

// Config holds a cache's settings. The field comments give the key each
// field is read from in the [cache] section of a config file.
type Config struct {
	CacheDir            string // cache_dir: debug PNGs, and images for Refresh to import
	ErrorDir            string // error_dir: where unreadable files and damaged bin files go
	Preload             bool   // preload: load the bin file and Refresh in New
	CacheMax            int    // cache_max: most entries in memory
	DebugImages         bool   // debug_images: write each image as a PNG in CacheDir
	PurgeCacheOnStartup bool   // purge_cache_on_startup: delete the bin file and debug PNGs first in New
	BinFile             string // bin_file: the persistence file; "": CacheDir + ".bin"; NoBinFile: none
	MaxBytes            int64  // max_bytes: most pixel bytes in memory; 0 means no byte bound
	MaxImagePixels      int64  // max_image_pixels: largest image Refresh will decode
}

// NoBinFile, as Config.BinFile, turns persistence off: the cache neither
// loads nor saves a bin file. In a config file, an empty bin_file does the
// same.
const NoBinFile = "none"

// binFile is the bin file's path, or "" when persistence is off.
func (c Config) binFile() string {
	switch c.BinFile {
	case "":
		return filepath.Clean(c.CacheDir) + ".bin"
	case NoBinFile:
		return ""
	}
	return c.BinFile
}

//go:embed default.ini
var defaultINI []byte

const configSection = "cache"

// iniOptions reads values as config files written for Python's arcache
// have them: quoted, with "# comment" after the value. Only a '#' or ';'
// after a space starts a comment, so values may contain either character.
var iniOptions = ini.LoadOptions{
	SpaceBeforeInlineComment: true,
	Insensitive:              false,
}

var defaults = sync.OnceValue(func() Config {
	cfg, err := parseConfig("default.ini", nil)
	if err != nil {
		panic("arcache: embedded default.ini: " + err.Error())
	}
	return cfg
})

// DefaultConfig returns the defaults, as written in the embedded
// default.ini.
func DefaultConfig() Config { return defaults() }

// LoadConfig reads the config file at path. Keys it does not set keep
// their defaults. A missing or unreadable file, an unknown section or key,
// or a value of the wrong type is an error matching ErrConfig that names
// the file, the key and its line.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("arcache: load config: %w: %w", ErrConfig, err)
	}
	return parseConfig(path, data)
}

// field ties a config key to the Config field it sets.
type field struct {
	key string
	set func(c *Config, k *ini.Key) error
}

var fields = []field{
	{"cache_dir", func(c *Config, k *ini.Key) error { c.CacheDir = expandHome(k.String()); return nil }},
	{"error_dir", func(c *Config, k *ini.Key) error { c.ErrorDir = expandHome(k.String()); return nil }},
	{"preload", func(c *Config, k *ini.Key) (err error) { c.Preload, err = k.Bool(); return }},
	{"cache_max", func(c *Config, k *ini.Key) (err error) { c.CacheMax, err = k.Int(); return }},
	{"debug_images", func(c *Config, k *ini.Key) (err error) { c.DebugImages, err = k.Bool(); return }},
	{"purge_cache_on_startup", func(c *Config, k *ini.Key) (err error) { c.PurgeCacheOnStartup, err = k.Bool(); return }},
	{"bin_file", func(c *Config, k *ini.Key) error {
		if c.BinFile = expandHome(k.String()); c.BinFile == "" {
			c.BinFile = NoBinFile
		}
		return nil
	}},
	{"max_bytes", func(c *Config, k *ini.Key) (err error) { c.MaxBytes, err = k.Int64(); return }},
	{"max_image_pixels", func(c *Config, k *ini.Key) (err error) { c.MaxImagePixels, err = k.Int64(); return }},
}

// parseConfig reads data (nil: the defaults alone) over the embedded
// defaults. name is used in errors.
func parseConfig(name string, data []byte) (Config, error) {
	sources := []any{defaultINI}
	if data != nil {
		if err := checkKeys(name, data); err != nil {
			return Config{}, err
		}
		sources = append(sources, data)
	}
	f, err := ini.LoadSources(iniOptions, sources[0], sources[1:]...)
	if err != nil {
		return Config{}, fmt.Errorf("arcache: load config %s: %w: %w", name, ErrConfig, err)
	}
	sec := f.Section(configSection)
	var cfg Config
	for _, fl := range fields {
		if !sec.HasKey(fl.key) {
			continue // bin_file, which follows cache_dir unless set
		}
		if err := fl.set(&cfg, sec.Key(fl.key)); err != nil {
			return Config{}, configError(name, lineOf(data, fl.key), "key %s = %q: %w", fl.key, sec.Key(fl.key).String(), err)
		}
	}
	if key, err := cfg.check(); err != nil {
		return Config{}, configError(name, lineOf(data, key), "key %s: %w", key, err)
	}
	return cfg, nil
}

// configError reports a problem at a line of the config file name.
func configError(name string, line int, format string, args ...any) error {
	return fmt.Errorf("arcache: load config %s:%d: %w: "+format, append([]any{name, line, ErrConfig}, args...)...)
}

// checkKeys refuses sections and keys that arcache does not know, so a
// misspelt key is reported instead of silently ignored.
func checkKeys(name string, data []byte) error {
	f, err := ini.LoadSources(iniOptions, data)
	if err != nil {
		return fmt.Errorf("arcache: load config %s: %w: %w", name, ErrConfig, err)
	}
	for _, sec := range f.Sections() {
		if sec.Name() != configSection && (sec.Name() != ini.DefaultSection || len(sec.Keys()) > 0) {
			if sec.Name() == ini.DefaultSection {
				k := sec.Keys()[0].Name()
				return configError(name, lineOf(data, k), "key %s is outside the [%s] section", k, configSection)
			}
			return configError(name, lineOf(data, "["+sec.Name()+"]"), "unknown section [%s]", sec.Name())
		}
		for _, k := range sec.Keys() {
			if !knownKey(k.Name()) {
				return configError(name, lineOf(data, k.Name()), "unknown key %s", k.Name())
			}
		}
	}
	return nil
}

func knownKey(k string) bool {
	for _, fl := range fields {
		if fl.key == k {
			return true
		}
	}
	return false
}

// lineOf returns the 1-based line on which key (or a "[section]" header)
// first appears in data, or 0 where it does not.
func lineOf(data []byte, key string) int {
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if strings.HasPrefix(key, "[") {
			if string(line) == key {
				return i + 1
			}
			continue
		}
		rest, ok := bytes.CutPrefix(line, []byte(key))
		rest = bytes.TrimLeft(rest, " \t")
		if ok && len(rest) > 0 && (rest[0] == '=' || rest[0] == ':') {
			return i + 1
		}
	}
	return 0
}

// expandHome replaces a leading "~" with the user's home directory.
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, p[1:])
}

// check returns the key of a setting New cannot work with, and why.
func (c Config) check() (key string, err error) {
	switch {
	case c.CacheDir == "":
		return "cache_dir", errors.New("must not be empty")
	case c.CacheMax < 1:
		return "cache_max", fmt.Errorf("%d: must be at least 1", c.CacheMax)
	case c.MaxBytes < 0:
		return "max_bytes", fmt.Errorf("%d: must not be negative", c.MaxBytes)
	case c.MaxImagePixels < 1:
		return "max_image_pixels", fmt.Errorf("%d: must be at least 1", c.MaxImagePixels)
	}
	return "", nil
}
