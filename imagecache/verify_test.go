package imagecache

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// vfDrivers runs f against each metadata driver that works here.
func vfDrivers(t *testing.T, f func(t *testing.T, drv string)) {
	for _, drv := range []string{DriverSQLite, DriverXattr} {
		t.Run(drv, func(t *testing.T) {
			if drv == DriverXattr {
				c, err := New(Config{Dir: t.TempDir(), Driver: drv}, WithLogger(nil))
				if err != nil {
					t.Fatal(err)
				}
				got := c.Driver()
				c.Close()
				if got != drv {
					t.Skip("no user extended attributes here")
				}
			}
			f(t, drv)
		})
	}
}

func vfOpen(t *testing.T, cfg Config) *Cache {
	t.Helper()
	c, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// vfCache caches b as id, with a checksum of algorithm algo ("" for none).
func vfCache(t *testing.T, c *Cache, id string, b []byte, algo string) {
	t.Helper()
	var sum Checksum
	switch algo {
	case "md5":
		d := md5.Sum(b)
		sum = Checksum{algo, hex.EncodeToString(d[:])}
	case "sha256":
		d := sha256.Sum256(b)
		sum = Checksum{algo, hex.EncodeToString(d[:])}
	case "sha512":
		d := sha512.Sum512(b)
		sum = Checksum{algo, strings.ToUpper(hex.EncodeToString(d[:]))}
	}
	if ok, err := c.CacheReader(id, bytes.NewReader(b), sum); !ok || err != nil {
		t.Fatalf("CacheReader(%s) = %v, %v", id, ok, err)
	}
}

// vfDamage changes one byte of the cached file of id, in place, so that
// its record (and, with xattr, its attributes) stay.
func vfDamage(t *testing.T, dir, id string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, dataDir, id), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{'X'}, 3); err != nil {
		t.Fatal(err)
	}
}

func vfIDs(t *testing.T, c *Cache) []string {
	t.Helper()
	rs, err := c.CachedImages()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestVerify(t *testing.T) {
	vfDrivers(t, func(t *testing.T, drv string) {
		dir := t.TempDir()
		c := vfOpen(t, Config{Dir: dir, Driver: drv})
		body := bytes.Repeat([]byte("0123456789"), 1000)
		vfCache(t, c, "good-md5", body, "md5")
		vfCache(t, c, "good-sha512", body, "sha512") // upper-case hex
		vfCache(t, c, "bad-sha256", body, "sha256")
		vfCache(t, c, "bad-md5", body, "md5")
		vfCache(t, c, "unsummed", body, "")
		vfDamage(t, dir, "bad-sha256")
		vfDamage(t, dir, "bad-md5")
		vfDamage(t, dir, "unsummed") // nothing to check it against
		rc, err := c.OpenForRead("good-md5")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()

		res, err := c.Verify()
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if res.Checked != 4 {
			t.Errorf("Checked = %d, want 4", res.Checked)
		}
		if want := []string{"bad-md5", "bad-sha256"}; !slices.Equal(res.Invalid, want) {
			t.Errorf("Invalid = %q, want %q", res.Invalid, want)
		}
		if got, want := vfIDs(t, c), []string{"good-md5", "good-sha512", "unsummed"}; !slices.Equal(got, want) {
			t.Errorf("records after Verify: %q, want %q", got, want)
		}
		for _, id := range []string{"bad-md5", "bad-sha256"} {
			if c.IsCached(id) {
				t.Errorf("%s is still cached", id)
			}
			if _, err := os.Stat(filepath.Join(dir, invalidDir, id)); err != nil {
				t.Errorf("%s is not in invalid/: %v", id, err)
			}
		}
		if n, err := c.HitCount("good-md5"); n != 1 || err != nil {
			t.Errorf("HitCount(good-md5) = %d, %v; want 1: Verify must not count hits", n, err)
		}
		if size, err := c.Size(); size != 3*int64(len(body)) || err != nil {
			t.Errorf("Size = %d, %v; want %d", size, err, 3*len(body))
		}
		if cr, err := c.Clean(0); cr.Invalid != 2 || err != nil {
			t.Errorf("Clean = %+v, %v; want the 2 invalid files", cr, err)
		}

		// A second pass finds nothing more, and the ids can be cached anew.
		res, err = c.Verify()
		if err != nil || res.Checked != 2 || len(res.Invalid) != 0 {
			t.Errorf("second Verify = %+v, %v; want 2 checked, none invalid", res, err)
		}
		vfCache(t, c, "bad-md5", body, "md5")
	})
}

func TestVerifyEmpty(t *testing.T) {
	c := vfOpen(t, Config{Dir: t.TempDir()})
	res, err := c.Verify()
	if err != nil || res.Checked != 0 || res.Invalid != nil {
		t.Errorf("Verify of an empty cache = %+v, %v", res, err)
	}
}

func TestVerifyAutoPrune(t *testing.T) {
	vfDrivers(t, func(t *testing.T, drv string) {
		dir := t.TempDir()
		c := vfOpen(t, Config{Dir: dir, Driver: drv, MaxSize: 1 << 20, AutoPrune: true})
		vfCache(t, c, "a", bytes.Repeat([]byte{'a'}, 1000), "sha256")
		vfCache(t, c, "b", bytes.Repeat([]byte{'b'}, 3000), "sha256")
		vfDamage(t, dir, "b")
		if res, err := c.Verify(); err != nil || !slices.Equal(res.Invalid, []string{"b"}) {
			t.Fatalf("Verify = %+v, %v; want b invalid", res, err)
		}
		c.auto.mu.Lock()
		est := c.auto.size
		c.auto.mu.Unlock()
		if est != 1000 {
			t.Errorf("AutoPrune's estimate after Verify = %d, want 1000", est)
		}
	})
}

// A file that cannot be read is reported, and Verify goes on with the
// others.
func TestVerifyReadError(t *testing.T) {
	dir := t.TempDir()
	c := vfOpen(t, Config{Dir: dir})
	body := bytes.Repeat([]byte{'z'}, 100)
	vfCache(t, c, "a", body, "sha256")
	vfCache(t, c, "b", body, "sha256")
	vfCache(t, c, "c", body, "sha256")
	vfDamage(t, dir, "c")
	// A directory in place of b's file: it opens, and reading fails.
	if err := os.Remove(filepath.Join(dir, dataDir, "b")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, dataDir, "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	res, err := c.Verify()
	if !errors.Is(err, syscall.EISDIR) {
		t.Errorf("Verify error = %v, want EISDIR", err)
	}
	if err == nil || !strings.HasPrefix(err.Error(), "imagecache: verify: b: ") {
		t.Errorf("Verify error %q does not name b", err)
	}
	if res.Checked != 2 || !slices.Equal(res.Invalid, []string{"c"}) {
		t.Errorf("Verify = %+v, want a and c checked, c invalid", res)
	}
}

// A file gone, or replaced by a new commit, between the listing and the
// hashing or the removal is left alone.
func TestVerifyRaces(t *testing.T) {
	vfDrivers(t, func(t *testing.T, drv string) {
		dir := t.TempDir()
		c := vfOpen(t, Config{Dir: dir, Driver: drv})
		body := bytes.Repeat([]byte{'r'}, 100)
		vfCache(t, c, "gone", body, "sha256")
		r, ok, err := c.meta.get("gone")
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if err := c.DeleteCached("gone"); err != nil {
			t.Fatal(err)
		}
		if checked, bad, err := c.verifyOne(r); checked || bad || err != nil {
			t.Errorf("verifyOne of a file gone = %v, %v, %v; want skipped", checked, bad, err)
		}

		vfCache(t, c, "renewed", body, "sha256")
		// Held open, as Verify holds what it hashed, the old file keeps
		// its inode from being reused by the new one.
		f, err := os.Open(filepath.Join(dir, dataDir, "renewed"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		old, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteCached("renewed"); err != nil {
			t.Fatal(err)
		}
		vfCache(t, c, "renewed", body, "sha256")
		if bad, err := c.invalidate("renewed", old); bad || err != nil {
			t.Errorf("invalidate of a file replaced = %v, %v; want left alone", bad, err)
		}
		if !c.IsCached("renewed") {
			t.Error("the new file was removed")
		}
		if bad, err := c.invalidate("gone", old); bad || err != nil {
			t.Errorf("invalidate of a file gone = %v, %v; want left alone", bad, err)
		}
	})
}

func TestVerifyClosed(t *testing.T) {
	c := vfOpen(t, Config{Dir: t.TempDir()})
	c.Close()
	if _, err := c.Verify(); !errors.Is(err, ErrClosed) {
		t.Errorf("Verify on a closed cache = %v, want ErrClosed", err)
	}
}
