package arcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var sentinels = map[string]error{
	"ErrCorrupt":    ErrCorrupt,
	"ErrUnkeyable":  ErrUnkeyable,
	"ErrClosed":     ErrClosed,
	"ErrTooLarge":   ErrTooLarge,
	"ErrInvalidKey": ErrInvalidKey,
	"ErrNilImage":   ErrNilImage,
	"ErrPanic":      ErrPanic,
	"ErrConfig":     ErrConfig,
}

func TestSentinelTextsCarryNoPrefix(t *testing.T) {
	for name, err := range sentinels {
		if msg := err.Error(); msg == "" || strings.Contains(msg, "arcache") {
			t.Errorf("%s is %q: the wrap adds the package name, the sentinel must not", name, msg)
		}
	}
}

type errArgs struct {
	Name string
	Size int
}

type unkeyableArgs struct {
	Name string
	F    func()
}

func errIcon(a errArgs) (*image.NRGBA, error) {
	return image.NewNRGBA(image.Rect(0, 0, a.Size, a.Size)), nil
}

func errIconContext(_ context.Context, a errArgs) (*image.NRGBA, error) { return errIcon(a) }

var errOrigin = errors.New("origin unreachable")

// TestErrorsNameThePackageOnce drives every error path there is and
// checks that each message starts with "arcache: ", names the package
// only there, and matches its sentinel.
func TestErrorsNameThePackageOnce(t *testing.T) {
	type result struct {
		name string
		err  error
		want []error // errors.Is must hold for each
	}
	var results []result
	add := func(name string, err error, want ...error) {
		results = append(results, result{name, err, want})
	}
	bg := context.Background()
	args := errArgs{Name: "x", Size: 2}

	// Calls on a closed cache.
	closed := newTestCache(t, func(cfg *Config) { cfg.BinFile = filepath.Join(t.TempDir(), "cache.bin") })
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Provide(closed, errIcon, args)
	add("Provide, closed", err, ErrClosed)
	_, err = ProvideContext(bg, closed, errIconContext, args)
	add("ProvideContext, closed", err, ErrClosed)
	add("Put, closed", closed.Put("a", nrgba(1)), ErrClosed)
	add("Update, closed", closed.Update(map[string]image.Image{"a": nrgba(1)}), ErrClosed)
	add("Save, closed", closed.Save(), ErrClosed)
	add("Load, closed", closed.Load(), ErrClosed)
	add("SaveTo, closed", closed.SaveTo(io.Discard), ErrClosed)
	_, err = closed.LoadFrom(bytes.NewReader(nil))
	add("LoadFrom, closed", err, ErrClosed)
	_, err = closed.Refresh(false)
	add("Refresh, closed", err, ErrClosed)
	_, err = closed.Refresh(true)
	add("Refresh(true), closed", err, ErrClosed)
	add("Clear, closed", closed.Clear(false), ErrClosed)
	add("Clear(true), closed", closed.Clear(true), ErrClosed)
	add("Close, closed", closed.Close(), ErrClosed)

	// Bad calls of Provide, ProvideContext, Key and KeyContext.
	c := newTestCache(t, nil)
	_, err = Provide[errArgs, *image.NRGBA](c, nil, args)
	add("Provide, nil constructor", err)
	_, err = ProvideContext[errArgs, *image.NRGBA](bg, c, nil, args)
	add("ProvideContext, nil constructor", err)
	_, err = Key[errArgs, *image.NRGBA](nil, args)
	add("Key, nil constructor", err)
	_, err = KeyContext[errArgs, *image.NRGBA](nil, args)
	add("KeyContext, nil constructor", err)
	_, err = Provide(nil, errIcon, args)
	add("Provide, nil cache", err)
	_, err = ProvideContext(bg, nil, errIconContext, args)
	add("ProvideContext, nil cache", err)
	unkeyable := unkeyableArgs{Name: "x", F: func() {}}
	unkeyableFn := func(unkeyableArgs) (*image.NRGBA, error) { return nrgba(1), nil }
	unkeyableCtxFn := func(context.Context, unkeyableArgs) (*image.NRGBA, error) { return nrgba(1), nil }
	_, err = Provide(c, unkeyableFn, unkeyable)
	add("Provide, func field", err, ErrUnkeyable)
	_, err = ProvideContext(bg, c, unkeyableCtxFn, unkeyable)
	add("ProvideContext, func field", err, ErrUnkeyable)
	_, err = Key(unkeyableFn, unkeyable)
	add("Key, func field", err, ErrUnkeyable)
	_, err = KeyContext(unkeyableCtxFn, unkeyable)
	add("KeyContext, func field", err, ErrUnkeyable)
	_, err = Provide(c, func(chan int) (*image.NRGBA, error) { return nrgba(1), nil }, make(chan int))
	add("Provide, channel", err, ErrUnkeyable)

	// Constructors that fail.
	failing := func(errArgs) (*image.NRGBA, error) { return nil, errOrigin }
	_, err = Provide(c, failing, args)
	add("Provide, constructor error", err, errOrigin)
	_, err = Provide(c, failing, args, NoCache())
	add("Provide NoCache, constructor error", err, errOrigin)
	_, err = ProvideContext(bg, c, func(context.Context, errArgs) (*image.NRGBA, error) { return nil, errOrigin }, args)
	add("ProvideContext, constructor error", err, errOrigin)
	_, err = Provide(c, func(errArgs) (*image.NRGBA, error) { panic("kaboom") }, args)
	add("Provide, panic", err, ErrPanic)
	_, err = Provide(c, func(errArgs) (*image.NRGBA, error) { panic(errOrigin) }, args)
	add("Provide, panic with an error", err, ErrPanic, errOrigin)
	_, err = ProvideContext(bg, c, func(context.Context, errArgs) (*image.NRGBA, error) { panic("kaboom") }, args)
	add("ProvideContext, panic", err, ErrPanic)
	_, err = Provide(c, func(errArgs) (*image.NRGBA, error) { panic("kaboom") }, args, NoCache())
	add("Provide NoCache, panic", err, ErrPanic)
	_, err = Provide(c, func(errArgs) (*image.NRGBA, error) { return nil, nil }, args)
	add("Provide, nil image", err, ErrNilImage)
	_, err = Provide(c, func(errArgs) (image.Image, error) { return nil, nil }, args)
	add("Provide, nil interface", err, ErrNilImage)
	_, err = ProvideContext(bg, c, func(context.Context, errArgs) (*image.NRGBA, error) { return nil, nil }, args)
	add("ProvideContext, nil image", err, ErrNilImage)
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	_, err = ProvideContext(cancelled, c, errIconContext, errArgs{Name: "gone", Size: 1})
	add("ProvideContext, cancelled", err, context.Canceled)

	// Put and Update.
	add("Put, invalid key", c.Put("Not A Key", nrgba(1)), ErrInvalidKey)
	add("Put, empty key", c.Put("", nrgba(1)), ErrInvalidKey)
	add("Put, nil image", c.Put("ok", nil), ErrNilImage)
	var typedNil *image.RGBA
	add("Put, typed nil image", c.Put("ok", typedNil), ErrNilImage)
	add("Update, invalid key", c.Update(map[string]image.Image{"../x": nrgba(1)}), ErrInvalidKey)
	add("Update, nil image", c.Update(map[string]image.Image{"ok": nil}), ErrNilImage)

	// Damaged and unreadable bin files, and a bin file that cannot be
	// written.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cache.bin"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	damaged := persistentCache(t, dir, nil)
	add("Load, damaged", damaged.Load(), ErrCorrupt)
	_, err = c.LoadFrom(strings.NewReader("garbage"))
	add("LoadFrom, damaged", err, ErrCorrupt)
	full, _ := streamOf(t, 3)
	_, err = c.LoadFrom(bytes.NewReader(full[:len(full)-5]))
	add("LoadFrom, cut", err, ErrCorrupt)
	_, err = c.LoadFrom(io.MultiReader(bytes.NewReader(full[:20]), errReader{errOrigin}))
	add("LoadFrom, reader error", err, errOrigin)
	add("SaveTo, writer error", c.SaveTo(&failingWriter{n: 3}), errDiskFull)
	unreadable := t.TempDir()
	if err := os.Mkdir(filepath.Join(unreadable, "cache.bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	add("Load, unreadable", persistentCache(t, unreadable, nil).Load())
	cfg := lifecycleConfig(unreadable)
	cfg.BinFile = filepath.Join(unreadable, "cache.bin")
	_, err = New(cfg, WithLogger(nil))
	add("New with Preload, unreadable bin file", err)
	unwritable := persistentCache(t, t.TempDir(), func(cfg *Config) { cfg.BinFile = unwritableBin(t) })
	mustPut(t, unwritable, "a", nrgba(1))
	add("Save, unwritable", unwritable.Save())
	_, err = unwritable.Refresh(true)
	add("Refresh(true), unwritable", err)

	// Configs.
	_, err = LoadConfig(filepath.Join(t.TempDir(), "missing.ini"))
	add("LoadConfig, missing file", err, ErrConfig, fs.ErrNotExist)
	_, err = LoadConfig(writeConfig(t, "[cache]\ncache_max = lots\n"))
	add("LoadConfig, bad value", err, ErrConfig)
	_, err = LoadConfig(writeConfig(t, "[cache]\ncache_max = 0\n"))
	add("LoadConfig, value out of range", err, ErrConfig)
	_, err = LoadConfig(writeConfig(t, "[cache]\ncache_size = 3\n"))
	add("LoadConfig, unknown key", err, ErrConfig)
	_, err = LoadConfig(writeConfig(t, "[other]\nx = 1\n"))
	add("LoadConfig, unknown section", err, ErrConfig)
	_, err = LoadConfig(writeConfig(t, "[cache\n"))
	add("LoadConfig, not INI", err, ErrConfig)
	_, err = Open(writeConfig(t, "[cache]\npreload = maybe\n"))
	add("Open, bad value", err, ErrConfig)
	_, err = Open(filepath.Join(t.TempDir(), "missing.ini"))
	add("Open, missing file", err, ErrConfig)
	for name, edit := range map[string]func(*Config){
		"zero Config":      func(cfg *Config) { *cfg = Config{} },
		"empty CacheDir":   func(cfg *Config) { cfg.CacheDir = "" },
		"zero CacheMax":    func(cfg *Config) { cfg.CacheMax = 0 },
		"negative bytes":   func(cfg *Config) { cfg.MaxBytes = -1 },
		"zero max pixels":  func(cfg *Config) { cfg.MaxImagePixels = 0 },
		"negative entries": func(cfg *Config) { cfg.CacheMax = -5 },
	} {
		cfg := DefaultConfig()
		edit(&cfg)
		_, err := New(cfg)
		add("New, "+name, err, ErrConfig)
	}

	// Refresh of files it refuses.
	r := refreshCache(t, false, nil)
	copyRefreshFixtures(t, r.Config().CacheDir, "huge.png")
	_, err = r.Refresh(false)
	add("Refresh, oversized PNG", err, ErrTooLarge)
	copyRefreshFixtures(t, r.Config().CacheDir, "truncated.png")
	_, err = r.Refresh(false)
	add("Refresh, undecodable PNG", err, ErrCorrupt)
	copyRefreshFixtures(t, r.Config().CacheDir, "huge.png", "truncated.png")
	r.Remove("huge")
	r.Remove("truncated")
	_, err = r.Refresh(false)
	add("Refresh, both", err, ErrTooLarge, ErrCorrupt)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = refreshCache(t, false, func(cfg *Config) { cfg.CacheDir = file; cfg.Preload = false }).Refresh(false)
	add("Refresh, cache_dir a file", err)

	seen := map[error]bool{}
	for _, r := range results {
		if r.err == nil {
			t.Errorf("%s: no error", r.name)
			continue
		}
		msg := r.err.Error()
		if !strings.HasPrefix(msg, "arcache: ") {
			t.Errorf("%s: %q does not start with \"arcache: \"", r.name, msg)
		}
		if n := strings.Count(msg, "arcache:"); n != 1 {
			t.Errorf("%s: %q names the package %d times", r.name, msg, n)
		}
		for _, w := range r.want {
			if !errors.Is(r.err, w) {
				t.Errorf("%s: %q does not match %v", r.name, msg, w)
			}
			seen[w] = true
		}
	}
	// Every sentinel is returned by something.
	for name, s := range sentinels {
		if !seen[s] {
			t.Errorf("no error path above returns %s", name)
		}
	}
	if testing.Verbose() {
		for _, r := range results {
			t.Logf("%-40s %s", r.name+":", strings.ReplaceAll(fmt.Sprint(r.err), "\n", `\n`))
		}
	}
}

// errReader always fails with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
