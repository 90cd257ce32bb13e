package imagecache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)

// FuzzID hands the cache hostile ids and checksums with some data. It must
// never panic; ValidID must agree with the documented pattern; an invalid
// id is ErrInvalidID and touches nothing; a valid one is cached, read
// back, queued and deleted; and no file ever lands outside the cache's
// layout. The seed corpus is in testdata/fuzz/FuzzID.
func FuzzID(f *testing.F) {
	good := []byte("image bytes")
	goodSum := sha256.Sum256(good)
	f.Add("photo-1.jpg", "sha256", hex.EncodeToString(goodSum[:]), good)
	f.Add("../escape", "", "", good)
	f.Add("sub/dir", "md5", "00", []byte{})
	f.Add("..", "SHA512", "zz", good)
	f.Add(strings.Repeat("a", 201), "crc32", "", good)

	// In memory where it can: on a disk the syncs of every case slow the
	// fuzzer to a crawl.
	dir := filepath.Join(memDir(f), "cache")
	c, err := New(Config{Dir: dir, MaxSize: 1 << 20}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })

	f.Fuzz(func(t *testing.T, id, algo, hexSum string, data []byte) {
		valid := ValidID(id)
		if want := idPattern.MatchString(id) && id != "." && id != ".."; valid != want {
			t.Fatalf("ValidID(%q) = %v; the pattern says %v", id, valid, want)
		}
		sum := Checksum{Algo: algo, Hex: hexSum}
		ok, err := c.CacheReader(id, bytes.NewReader(data), sum)
		if !valid {
			if ok || !errors.Is(err, ErrInvalidID) {
				t.Fatalf("CacheReader(%q) = %v, %v; want false, ErrInvalidID", id, ok, err)
			}
			if _, err := c.Queue(id); !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Queue(%q) = %v; want ErrInvalidID", id, err)
			}
			if _, err := c.OpenForRead(id); !errors.Is(err, ErrInvalidID) {
				t.Fatalf("OpenForRead(%q) = %v; want ErrInvalidID", id, err)
			}
			checkLayout(t, dir)
			return
		}
		_, hashErr := sum.newHash()
		switch {
		case hashErr != nil:
			if ok || err == nil {
				t.Fatalf("CacheReader with checksum %+v = %v, %v; want an error", sum, ok, err)
			}
		case ok:
			if err != nil {
				t.Fatalf("CacheReader = true, %v", err)
			}
			rc, err := c.OpenForRead(id)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, %v; cached %d", len(got), err, len(data))
			}
			if h, _ := sum.newHash(); h != nil {
				h.Write(data)
				if !sum.matches(h) {
					t.Fatalf("cached data that does not match its checksum %+v", sum)
				}
			}
		default:
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("CacheReader = false, %v; want a cached image or ErrChecksum", err)
			}
		}
		if _, err := c.Queue(id); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteQueued(id); err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteCached(id); err != nil {
			t.Fatal(err)
		}
		if c.IsCached(id) || c.IsQueued(id) {
			t.Fatalf("%q is still cached or queued after its deletion", id)
		}
		checkLayout(t, dir)
	})
}

// checkLayout fails if the cache directory holds anything but its layout,
// or a file in data/ or queue/ whose name is not an id.
func checkLayout(t *testing.T, dir string) {
	t.Helper()
	root := map[string]bool{dataDir: true, incompleteDir: true, invalidDir: true, queueDir: true,
		dbFile: true, dbFile + "-wal": true, dbFile + "-shm": true,
		queueSeq: true, queueLock: true, pruneLock: true, openLock: true}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		switch {
		case rel == ".":
		case len(parts) == 1 && !root[parts[0]]:
			t.Errorf("%s does not belong in the cache directory", rel)
		case len(parts) == 2 && !ValidID(parts[1]):
			t.Errorf("%s is not named by an id", rel)
		case len(parts) > 2:
			t.Errorf("%s is nested too deep", rel)
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
}
