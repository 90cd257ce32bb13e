package imagecache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// erCheck checks that err reads "imagecache: ...", with the package's name
// once, and matches want (nil: any error).
func erCheck(t *testing.T, call string, err, want error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s = nil; want an error matching %v", call, want)
		return
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "imagecache: ") || strings.Count(msg, "imagecache:") != 1 {
		t.Errorf("%s = %q; want one \"imagecache: \", at the front", call, msg)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("%s = %q; want an error matching %q", call, msg, want)
	}
}

func erNew(t *testing.T, cfg Config) *Cache {
	t.Helper()
	c, err := New(cfg, WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// erFirstRead returns the error of a CachingReader's first Read.
func erFirstRead(rc io.ReadCloser) error {
	defer rc.Close()
	_, err := rc.Read(make([]byte, 1))
	return err
}

func TestSentinelsHaveNoPrefix(t *testing.T) {
	for _, err := range []error{ErrNotFound, ErrInvalidID, ErrChecksum, ErrClosed, ErrConfig} {
		if strings.Contains(err.Error(), "imagecache") {
			t.Errorf("sentinel %q names the package: every wrap adds it again", err)
		}
	}
}

func TestErrorsConfig(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []Config{
		{},
		{Dir: dir, MaxSize: -1},
		{Dir: dir, Driver: "bogus"},
		{Dir: dir, AutoPrune: true},
	} {
		c, err := New(cfg, WithLogger(nil))
		if c != nil {
			c.Close()
		}
		erCheck(t, fmt.Sprintf("New(%+v)", cfg), err, ErrConfig)
	}
}

func TestErrors(t *testing.T) {
	for _, drv := range []string{DriverSQLite, DriverXattr} {
		t.Run(drv, func(t *testing.T) {
			dir := t.TempDir()
			c := erNew(t, Config{Dir: dir, Driver: drv, MaxSize: 1 << 20})
			src := filepath.Join(t.TempDir(), "src")
			if err := os.WriteFile(src, []byte("image"), 0o644); err != nil {
				t.Fatal(err)
			}
			data := []byte("image")
			wrong := Checksum{Algo: "sha256", Hex: strings.Repeat("0", 64)}

			t.Run("InvalidID", func(t *testing.T) {
				const id = "../x"
				_, err := c.CacheFile(id, src)
				erCheck(t, "CacheFile", err, ErrInvalidID)
				_, err = c.CacheReader(id, bytes.NewReader(data), Checksum{})
				erCheck(t, "CacheReader", err, ErrInvalidID)
				erCheck(t, "CachingReader's Read", erFirstRead(c.CachingReader(id, Checksum{}, bytes.NewReader(data))), ErrInvalidID)
				_, err = c.OpenForRead(id)
				erCheck(t, "OpenForRead", err, ErrInvalidID)
				_, err = c.HitCount(id)
				erCheck(t, "HitCount", err, ErrInvalidID)
				_, err = c.ImageSize(id)
				erCheck(t, "ImageSize", err, ErrInvalidID)
				_, err = c.Queue(id)
				erCheck(t, "Queue", err, ErrInvalidID)
				erCheck(t, "DeleteCached", c.DeleteCached(id), ErrInvalidID)
				erCheck(t, "DeleteQueued", c.DeleteQueued(id), ErrInvalidID)
			})

			t.Run("Missing", func(t *testing.T) {
				_, err := c.OpenForRead("nope")
				erCheck(t, "OpenForRead", err, ErrNotFound)
				_, err = c.ImageSize("nope")
				erCheck(t, "ImageSize", err, ErrNotFound)
				_, err = c.CacheFile("x", filepath.Join(dir, "no such file"))
				erCheck(t, "CacheFile of a missing file", err, os.ErrNotExist)
				// Documented as no error: nothing to count, nothing to
				// delete.
				if n, err := c.HitCount("nope"); n != 0 || err != nil {
					t.Errorf("HitCount of a missing id = %d, %v; want 0, nil", n, err)
				}
				if err := c.DeleteCached("nope"); err != nil {
					t.Errorf("DeleteCached of a missing id = %v; want nil", err)
				}
				if err := c.DeleteQueued("nope"); err != nil {
					t.Errorf("DeleteQueued of a missing id = %v; want nil", err)
				}
			})

			t.Run("Checksum", func(t *testing.T) {
				rc := c.CachingReader("bad-cr", wrong, bytes.NewReader(data))
				_, err := io.Copy(io.Discard, rc)
				rc.Close()
				erCheck(t, "CachingReader's last Read", err, ErrChecksum)
				_, err = c.CacheReader("bad-cache-reader", bytes.NewReader(data), wrong)
				erCheck(t, "CacheReader", err, ErrChecksum)
				erCheck(t, "CachingReader's Read with an unknown algorithm",
					erFirstRead(c.CachingReader("algo", Checksum{Algo: "crc32", Hex: "00"}, bytes.NewReader(data))), nil)
			})

			t.Run("Prefetch", func(t *testing.T) {
				for _, id := range []string{"mismatch", "unreachable", "broken"} {
					if _, err := c.Queue(id); err != nil {
						t.Fatal(err)
					}
				}
				broken := errors.New("connection reset")
				res, err := c.Prefetch(context.Background(), func(_ context.Context, id string) (io.ReadCloser, Checksum, error) {
					switch id {
					case "mismatch":
						return io.NopCloser(bytes.NewReader(data)), wrong, nil
					case "unreachable":
						return nil, Checksum{}, fmt.Errorf("origin: %w", ErrNotFound)
					}
					return io.NopCloser(io.MultiReader(bytes.NewReader(data), erErrReader{broken})), Checksum{}, nil
				}, 2)
				if err != nil {
					t.Fatal(err)
				}
				erCheck(t, "Prefetch of a mismatch", res.Failed["mismatch"], ErrChecksum)
				erCheck(t, "Prefetch from an origin without it", res.Failed["unreachable"], ErrNotFound)
				erCheck(t, "Prefetch of a body that fails", res.Failed["broken"], broken)
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				res, err = c.Prefetch(ctx, nil, 1)
				erCheck(t, "Prefetch with its context ended", err, context.Canceled)
				erCheck(t, "Prefetch with its context ended, for an id", res.Failed["broken"], context.Canceled)
			})

			t.Run("Closed", func(t *testing.T) {
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				erCheck(t, "second Close", c.Close(), ErrClosed)
				_, err := c.CacheFile("x", src)
				erCheck(t, "CacheFile", err, ErrClosed)
				_, err = c.CacheReader("x", bytes.NewReader(data), Checksum{})
				erCheck(t, "CacheReader", err, ErrClosed)
				erCheck(t, "CachingReader's Read", erFirstRead(c.CachingReader("x", Checksum{}, bytes.NewReader(data))), ErrClosed)
				_, err = c.OpenForRead("x")
				erCheck(t, "OpenForRead", err, ErrClosed)
				_, err = c.HitCount("x")
				erCheck(t, "HitCount", err, ErrClosed)
				_, err = c.ImageSize("x")
				erCheck(t, "ImageSize", err, ErrClosed)
				_, err = c.CachedImages()
				erCheck(t, "CachedImages", err, ErrClosed)
				_, err = c.Size()
				erCheck(t, "Size", err, ErrClosed)
				_, err = c.Queue("x")
				erCheck(t, "Queue", err, ErrClosed)
				_, err = c.QueuedImages()
				erCheck(t, "QueuedImages", err, ErrClosed)
				erCheck(t, "DeleteCached", c.DeleteCached("x"), ErrClosed)
				_, err = c.DeleteAllCached()
				erCheck(t, "DeleteAllCached", err, ErrClosed)
				erCheck(t, "DeleteQueued", c.DeleteQueued("x"), ErrClosed)
				_, err = c.DeleteAllQueued()
				erCheck(t, "DeleteAllQueued", err, ErrClosed)
				_, _, err = c.Prune()
				erCheck(t, "Prune", err, ErrClosed)
				_, err = c.Clean(0)
				erCheck(t, "Clean", err, ErrClosed)
				_, err = c.Prefetch(context.Background(), nil, 1)
				erCheck(t, "Prefetch", err, ErrClosed)
			})
		})
	}
}

type erErrReader struct{ err error }

func (r erErrReader) Read([]byte) (int, error) { return 0, r.err }
