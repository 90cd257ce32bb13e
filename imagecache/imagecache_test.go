//go:build linux

package imagecache

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"golang.org/x/sys/unix"

	"github.com/arcache-go/arcache/internal/pgtest"
)

// The shared suite: every case runs against each metadata driver, each
// on a fresh cache in its own t.TempDir(). On postgres every case is a
// node of its own on one database: a query not scoped to its node would
// show the case the records of the others.

// icCase is one case of the suite. cfg's Dir and Driver are filled in;
// setup, if set, runs on the empty cache directory before New.
type icCase struct {
	name  string
	cfg   Config
	setup func(t *testing.T, dir string)
	run   func(t *testing.T, e *icEnv)
}

// icEnv is what a case gets: the cache, its directory, its driver and its
// log.
type icEnv struct {
	c    *Cache
	dir  string
	drv  string
	cfg  Config
	logs *icLogBuffer
}

func (e *icEnv) path(parts ...string) string {
	return filepath.Join(append([]string{e.dir}, parts...)...)
}

// open opens another Cache on the same directory, as another process would.
func (e *icEnv) open(t *testing.T) *Cache {
	t.Helper()
	return icOpen(t, e.cfg, e.logs)
}

var icSuite = []icCase{
	{name: "Layout", run: icTestLayout},
	{name: "InvalidIDs", run: icTestInvalidIDs},
	{name: "CacheFile", run: icTestCacheFile},
	{name: "CacheReader", run: icTestCacheReader},
	{name: "CachingReaderCaches", run: icTestCachingReaderCaches},
	{name: "SecondWriterPassesThrough", run: icTestSecondWriter},
	{name: "ZeroLength", run: icTestZeroLength},
	{name: "RecacheAfterDelete", run: icTestRecache},
	{name: "CachingReaderHandsEveryByte", run: icTestPassThrough},
	{name: "SourceError", run: icTestSourceError},
	{name: "ChecksumMismatch", run: icTestChecksumMismatch},
	{name: "ChecksumMatch", run: icTestChecksumMatch},
	{name: "ChecksumVerifiedWhenPassingThrough", run: icTestPassThroughChecksum},
	{name: "UnknownChecksumAlgorithm", run: icTestUnknownAlgo},
	{name: "CloseBeforeEnd", run: icTestCloseBeforeEnd},
	{name: "DiskWriteFails", run: icTestDiskWriteFails},
	{name: "CommitFails", run: icTestCommitFails},
	{name: "ReadMissing", run: icTestReadMissing},
	{name: "ReadCountsHits", run: icTestReadHits},
	{name: "DeleteMissing", run: icTestDeleteMissing},
	{name: "DeleteAll", cfg: Config{MaxSize: 1 << 30}, run: icTestDeleteAll},
	{name: "DeleteAllCachedDropsStaleRecords", run: icTestDeleteAllStale},
	{name: "Queue", run: icTestQueue},
	{name: "QueueOrder", run: icTestQueueOrder},
	{name: "QueueCounterLost", run: icTestQueueCounterLost},
	{name: "DamagedDatabase", setup: icSetupDamagedDB, run: icTestDamagedDB},
	{name: "DamagedAttributes", cfg: Config{MaxSize: 1 << 20}, run: icTestDamagedAttributes},
	{name: "PruneGlanceReference", cfg: Config{MaxSize: 5 << 10}, run: icTestPruneGlance},
	{name: "PruneLeastRecentlyAccessed", cfg: Config{MaxSize: 5 << 10}, run: icTestPruneLRU},
	{name: "PruneStaleRecord", cfg: Config{MaxSize: 1 << 10}, run: icTestPruneStale},
	{name: "PruneAtLimit", cfg: Config{MaxSize: 5 << 10}, run: icTestPruneAtLimit},
	{name: "PruneToZero", cfg: Config{MaxSize: 0}, run: icTestPruneToZero},
	{name: "SizeIsSumOfRecords", run: icTestSize},
	{name: "AdoptsUnrecordedFiles", cfg: Config{MaxSize: 2000}, setup: icSetupAdopt, run: icTestAdopt},
	{name: "ConcurrentPrunes", cfg: Config{MaxSize: 4 << 10}, run: icTestPruneConcurrent},
	{name: "AutoPrune", cfg: Config{MaxSize: 3 << 10, AutoPrune: true}, run: icTestAutoPrune},
	{name: "Clean", run: icTestClean},
	{name: "CleanUsesConfigStallTime", cfg: Config{StallTime: 30 * time.Minute}, run: icTestCleanConfigStall},
	{name: "CleanSparesLiveWriter", run: icTestCleanLiveWriter},
	{name: "TwoWritersOneID", run: icTestTwoWriters},
	{name: "ReadFullCountsAHit", run: icTestReadFull},
	{name: "CopyFromCachingReader", run: icTestCopy},
	{name: "Closed", run: icTestClosed},
}

func TestDrivers(t *testing.T) {
	for _, drv := range []string{DriverSQLite, DriverXattr, DriverPostgres} {
		t.Run(drv, func(t *testing.T) {
			var dsn string
			if drv == DriverPostgres {
				dsn = pgtest.Shared(t).CreateDB(t) // skips where PostgreSQL is missing
			}
			if drv == DriverXattr {
				dir := t.TempDir()
				c, err := New(Config{Dir: dir, Driver: DriverXattr}, WithLogger(slog.New(slog.DiscardHandler)))
				if err != nil {
					t.Fatal(err)
				}
				got := c.Driver()
				c.Close()
				if got != DriverXattr {
					t.Skipf("the xattr driver fell back to %q: the file system of %s keeps no user extended attributes", got, dir)
				}
			}
			for _, tc := range icSuite {
				t.Run(tc.name, func(t *testing.T) {
					dir := t.TempDir()
					if tc.setup != nil {
						tc.setup(t, dir)
					}
					cfg := tc.cfg
					cfg.Dir, cfg.Driver = dir, drv
					if drv == DriverPostgres {
						cfg.DSN, cfg.Node = dsn, "http://"+strings.ToLower(tc.name)+":9292"
					}
					logs := &icLogBuffer{}
					c := icOpen(t, cfg, logs)
					if got := c.Driver(); got != drv {
						t.Fatalf("Driver() = %q, want %q", got, drv)
					}
					tc.run(t, &icEnv{c: c, dir: dir, drv: drv, cfg: cfg, logs: logs})
				})
			}
		})
	}
}

// icOpen opens a cache logging into logs, closed when the test ends; the
// log is shown if the test fails.
func icOpen(t *testing.T, cfg Config, logs *icLogBuffer) *Cache {
	t.Helper()
	c, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("cache log:\n%s", logs)
		}
	})
	return c
}

// 1. Layout and ids.

func icTestLayout(t *testing.T, e *icEnv) {
	for _, d := range []string{dataDir, incompleteDir, invalidDir, queueDir} {
		if fi, err := os.Stat(e.path(d)); err != nil || !fi.IsDir() {
			t.Errorf("%s/ after New: %v; want a directory", d, err)
		}
	}
	if e.drv == DriverSQLite {
		if fi, err := os.Stat(e.path(dbFile)); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("cache.db after New: %v; want a file", err)
		}
	}
	if names := icNames(t, e.path(dataDir)); len(names) != 0 {
		t.Errorf("data/ after New holds %q; want nothing (no probe file)", names)
	}
	for _, cfg := range []Config{
		{},
		{Dir: t.TempDir(), Driver: e.drv, MaxSize: -1},
		{Dir: t.TempDir(), Driver: "bogus"},
		{Dir: t.TempDir(), Driver: "XATTR"},
	} {
		c, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
		if !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v; want ErrConfig", cfg, err)
		}
		if c != nil {
			c.Close()
		}
	}
}

var icBadIDs = []string{
	"../x", "a/b", "", strings.Repeat("a", 201), "a b", "é", ".", "..",
	"x/../y", "/abs", "a\x00b", "a+b", "a\nb",
}

func icTestInvalidIDs(t *testing.T, e *icEnv) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("image bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := icTree(t, e.dir)
	for _, id := range icBadIDs {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
		want := func(call string, err error) {
			t.Helper()
			if !errors.Is(err, ErrInvalidID) {
				t.Errorf("%s(%q): %v; want ErrInvalidID", call, id, err)
			}
		}
		ok, err := e.c.CacheFile(id, src)
		want("CacheFile", err)
		if ok {
			t.Errorf("CacheFile(%q) cached", id)
		}
		cr := &icCountingReader{r: strings.NewReader("image bytes")}
		ok, err = e.c.CacheReader(id, cr, Checksum{})
		want("CacheReader", err)
		if ok || cr.reads != 0 {
			t.Errorf("CacheReader(%q) = %v after %d reads; want false, source unread", id, ok, cr.reads)
		}
		cr = &icCountingReader{r: strings.NewReader("image bytes")}
		rc := e.c.CachingReader(id, Checksum{}, cr)
		n, err := rc.Read(make([]byte, 64))
		want("CachingReader's first Read", err)
		if n != 0 || cr.reads != 0 {
			t.Errorf("CachingReader(%q)'s first Read = %d bytes after %d source reads; want 0, 0", id, n, cr.reads)
		}
		rc.Close()
		r, err := e.c.OpenForRead(id)
		want("OpenForRead", err)
		if r != nil {
			r.Close()
			t.Errorf("OpenForRead(%q) returned a reader", id)
		}
		if e.c.IsCached(id) {
			t.Errorf("IsCached(%q) = true", id)
		}
		if e.c.IsQueued(id) {
			t.Errorf("IsQueued(%q) = true", id)
		}
		ok, err = e.c.Queue(id)
		want("Queue", err)
		if ok {
			t.Errorf("Queue(%q) = true", id)
		}
		want("DeleteCached", e.c.DeleteCached(id))
		want("DeleteQueued", e.c.DeleteQueued(id))
		_, err = e.c.HitCount(id)
		want("HitCount", err)
		_, err = e.c.ImageSize(id)
		want("ImageSize", err)
	}
	if after := icTree(t, e.dir); !slices.Equal(before, after) {
		t.Errorf("invalid ids changed the cache directory:\nbefore %q\nafter  %q", before, after)
	}
	// The edges of the valid set are valid.
	for _, id := range []string{strings.Repeat("a", 200), "Az09._-", "...", "-", "_", ".x"} {
		if !ValidID(id) {
			t.Errorf("ValidID(%q) = false", id)
		}
		icCache(t, e.c, id, []byte(id), Checksum{})
		icCheckCached(t, e, id, []byte(id), Checksum{})
	}
}

// 2. Writing.

func icTestCacheFile(t *testing.T, e *icEnv) {
	b := icBytes(1, 3000)
	src := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ok, err := e.c.CacheFile("file-1", src)
	end := time.Now()
	if !ok || err != nil {
		t.Fatalf("CacheFile = %v, %v; want true, nil", ok, err)
	}
	r := icCheckCached(t, e, "file-1", b, Checksum{})
	icCheckFresh(t, r, start, end)

	// Already cached: false, and the cached bytes stay.
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.c.CacheFile("file-1", other); ok || err != nil {
		t.Errorf("CacheFile of a cached id = %v, %v; want false, nil", ok, err)
	}
	icCheckCached(t, e, "file-1", b, Checksum{})

	// A missing source file: its error, and nothing cached or left over.
	ok, err = e.c.CacheFile("file-2", filepath.Join(t.TempDir(), "missing"))
	if ok || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CacheFile of a missing file = %v, %v; want false, ErrNotExist", ok, err)
	}
	icCheckNotCached(t, e, "file-2")
}

func icTestCacheReader(t *testing.T, e *icEnv) {
	b := icBytes(2, 5000)
	sum := icSum("sha256", b)
	start := time.Now()
	ok, err := e.c.CacheReader("rd", bytes.NewReader(b), sum)
	end := time.Now()
	if !ok || err != nil {
		t.Fatalf("CacheReader = %v, %v; want true, nil", ok, err)
	}
	r := icCheckCached(t, e, "rd", b, sum)
	icCheckFresh(t, r, start, end)

	// A second CacheReader of the cached id leaves its source unread.
	cr := &icCountingReader{r: bytes.NewReader(icBytes(3, 100))}
	ok, err = e.c.CacheReader("rd", cr, Checksum{})
	if ok || err != nil || cr.reads != 0 {
		t.Errorf("CacheReader of a cached id = %v, %v after %d reads; want false, nil, no read", ok, err, cr.reads)
	}
	// A CachingReader of the cached id passes its data through, uncached.
	other := icBytes(4, 700)
	got, err := io.ReadAll(e.c.CachingReader("rd", Checksum{}, bytes.NewReader(other)))
	if err != nil || !bytes.Equal(got, other) {
		t.Errorf("CachingReader of a cached id: %d bytes, %v; want its source's %d bytes", len(got), err, len(other))
	}
	r2 := icCheckCached(t, e, "rd", b, sum)
	if !r2.LastModified.Equal(r.LastModified) || r2.Hits != 0 {
		t.Errorf("record changed by writers of a cached id: %+v, was %+v", r2, r)
	}
	if names := icNames(t, e.path(invalidDir)); len(names) != 0 {
		t.Errorf("invalid/ holds %q; want nothing", names)
	}
}

func icTestCachingReaderCaches(t *testing.T, e *icEnv) {
	b := icBytes(5, 70000)
	sum := icSum("sha512", b)
	start := time.Now()
	rc := e.c.CachingReader("cr", sum, bytes.NewReader(b))
	got, err := io.ReadAll(rc)
	end := time.Now()
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("ReadAll: %d bytes, %v; want %d bytes, nil", len(got), err, len(b))
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	r := icCheckCached(t, e, "cr", b, sum)
	icCheckFresh(t, r, start, end)
}

func icTestSecondWriter(t *testing.T, e *icEnv) {
	first, second := icBytes(6, 5000), icBytes(7, 4000)
	w1 := e.c.CachingReader("busy", Checksum{}, bytes.NewReader(first))
	head := make([]byte, 1000)
	if _, err := io.ReadFull(w1, head); err != nil {
		t.Fatal(err)
	}
	inc := e.path(incompleteDir, "busy")
	fi1, err := os.Stat(inc)
	if err != nil {
		t.Fatalf("the first writer has no incomplete file: %v", err)
	}

	// A second CachingReader passes its own data through, intact.
	w2 := e.c.CachingReader("busy", Checksum{}, bytes.NewReader(second))
	got, err := icReadRandom(w2, 7, 100)
	if err != nil || !bytes.Equal(got, second) {
		t.Errorf("second writer read %d bytes, %v; want its source's %d bytes", len(got), err, len(second))
	}
	w2.Close()
	// CacheReader and CacheFile pass and leave their sources unread.
	cr := &icCountingReader{r: bytes.NewReader(second)}
	if ok, err := e.c.CacheReader("busy", cr, Checksum{}); ok || err != nil || cr.reads != 0 {
		t.Errorf("CacheReader of an id being written = %v, %v after %d reads; want false, nil, no read", ok, err, cr.reads)
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, second, 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.c.CacheFile("busy", src); ok || err != nil {
		t.Errorf("CacheFile of an id being written = %v, %v; want false, nil", ok, err)
	}
	if e.c.IsCached("busy") {
		t.Errorf("IsCached of an unfinished write = true")
	}
	// The first writer's file is untouched.
	fi2, err := os.Stat(inc)
	if err != nil || !os.SameFile(fi1, fi2) {
		t.Fatalf("the first writer's incomplete file was replaced or removed: %v", err)
	}
	if part := icContent(t, inc); !bytes.Equal(part, head) {
		t.Errorf("the first writer's file holds %d bytes not its own", len(part))
	}
	if names := icNames(t, e.path(invalidDir)); len(names) != 0 {
		t.Errorf("invalid/ holds %q; want nothing", names)
	}
	// And the first writer finishes, with its own data.
	rest, err := io.ReadAll(w1)
	if err != nil || !bytes.Equal(append(head, rest...), first) {
		t.Fatalf("first writer: %d bytes, %v", len(head)+len(rest), err)
	}
	w1.Close()
	icCheckCached(t, e, "busy", first, Checksum{})
}

func icTestZeroLength(t *testing.T, e *icEnv) {
	sum := icSum("sha256", nil)
	if ok, err := e.c.CacheReader("empty", bytes.NewReader(nil), sum); !ok || err != nil {
		t.Fatalf("CacheReader of nothing = %v, %v; want true, nil", ok, err)
	}
	icCheckCached(t, e, "empty", nil, sum)
	rc := e.c.CachingReader("empty2", Checksum{}, bytes.NewReader(nil))
	if got, err := io.ReadAll(rc); err != nil || len(got) != 0 {
		t.Fatalf("CachingReader of nothing: %d bytes, %v", len(got), err)
	}
	rc.Close()
	icCheckCached(t, e, "empty2", nil, Checksum{})
	src := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(src, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.c.CacheFile("empty3", src); !ok || err != nil {
		t.Fatalf("CacheFile of an empty file = %v, %v", ok, err)
	}
	icCheckCached(t, e, "empty3", nil, Checksum{})
	if got := icRead(t, e.c, "empty"); len(got) != 0 {
		t.Errorf("read %d bytes of an empty image", len(got))
	}
	if n, err := e.c.HitCount("empty"); n != 1 || err != nil {
		t.Errorf("HitCount after reading an empty image = %d, %v; want 1", n, err)
	}
	if size, err := e.c.Size(); size != 0 || err != nil {
		t.Errorf("Size = %d, %v; want 0", size, err)
	}
}

func icTestRecache(t *testing.T, e *icEnv) {
	b1 := icBytes(8, 100)
	sum1 := icSum("sha256", b1)
	icCache(t, e.c, "re", b1, sum1)
	icRead(t, e.c, "re")
	r1 := icCheckCached(t, e, "re", b1, sum1)
	if r1.Hits != 1 {
		t.Fatalf("hits after a read = %d; want 1", r1.Hits)
	}
	if err := e.c.DeleteCached("re"); err != nil {
		t.Fatalf("DeleteCached: %v", err)
	}
	icCheckNotCached(t, e, "re")
	if size, err := e.c.Size(); size != 0 || err != nil {
		t.Errorf("Size after DeleteCached = %d, %v; want 0", size, err)
	}

	b2 := icBytes(9, 250)
	sum2 := icSum("md5", b2)
	start := time.Now()
	icCache(t, e.c, "re", b2, sum2)
	end := time.Now()
	r2 := icCheckCached(t, e, "re", b2, sum2)
	icCheckFresh(t, r2, start, end)
	if !r2.LastModified.After(r1.LastModified) {
		t.Errorf("re-cached LastModified %v is not after the first's %v", r2.LastModified, r1.LastModified)
	}

	// Re-caching over a record whose file went behind the cache's back
	// replaces the whole record.
	icRead(t, e.c, "re")
	if err := os.Remove(e.path(dataDir, "re")); err != nil {
		t.Fatal(err)
	}
	b3 := icBytes(11, 333)
	sum3 := icSum("sha512", b3)
	start = time.Now()
	icCache(t, e.c, "re", b3, sum3)
	end = time.Now()
	r3 := icCheckCached(t, e, "re", b3, sum3)
	icCheckFresh(t, r3, start, end)
}

// 3. CachingReader.

func icTestPassThrough(t *testing.T, e *icEnv) {
	b := icBytes(10, 12345)
	sum := icSum("sha256", b)
	type readFunc func(r io.Reader) ([]byte, error)
	all := func(r io.Reader) ([]byte, error) { return io.ReadAll(r) }
	cases := []struct {
		name string
		src  func() io.Reader
		read readFunc
	}{
		{"OneByteReader", func() io.Reader { return bytes.NewReader(b) },
			func(r io.Reader) ([]byte, error) { return io.ReadAll(iotest.OneByteReader(r)) }},
		{"HalfReader", func() io.Reader { return bytes.NewReader(b) },
			func(r io.Reader) ([]byte, error) { return io.ReadAll(iotest.HalfReader(r)) }},
		{"random small reads", func() io.Reader { return bytes.NewReader(b) },
			func(r io.Reader) ([]byte, error) { return icReadRandom(r, 10, 97) }},
		{"source returns data with EOF", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) }, all},
		{"source of one byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
			func(r io.Reader) ([]byte, error) { return icReadRandom(r, 11, 300) }},
		{"source of half reads", func() io.Reader { return iotest.HalfReader(bytes.NewReader(b)) }, all},
		{"iotest.TestReader", func() io.Reader { return bytes.NewReader(b) },
			func(r io.Reader) ([]byte, error) {
				if err := iotest.TestReader(r, b); err != nil {
					return nil, err
				}
				return b, nil
			}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "pass-" + strconv.Itoa(i)
			rc := e.c.CachingReader(id, sum, tc.src())
			got, err := tc.read(rc)
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("read %d bytes, %v; want the source's %d bytes", len(got), err, len(b))
			}
			if n, err := rc.Read(make([]byte, 10)); n != 0 || err != io.EOF {
				t.Errorf("Read after the end = %d, %v; want 0, EOF", n, err)
			}
			if err := rc.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			icCheckCached(t, e, id, b, sum)
		})
	}
}

func icTestSourceError(t *testing.T, e *icEnv) {
	b := icBytes(12, 6000)
	boom := errors.New("boom")
	for _, n := range []int{0, 1, 3000} {
		src := func() io.Reader { return io.MultiReader(bytes.NewReader(b[:n]), iotest.ErrReader(boom)) }
		id := "fail-" + strconv.Itoa(n)
		rc := e.c.CachingReader(id, icSum("sha256", b), src())
		got, err := icReadRandom(rc, uint64(n), 1000)
		if err != boom { // unchanged, not merely wrapped
			t.Errorf("%s: the reader's error is %v; want the source's error itself", id, err)
		}
		if !bytes.Equal(got, b[:n]) {
			t.Errorf("%s: the reader handed through %d bytes; want the source's %d", id, len(got), n)
		}
		// The error itself abandons the write, before any Close.
		icCheckNotCached(t, e, id)
		icCheckInvalid(t, e, id, b[:n])
		rc.Close()
		icCheckNotCached(t, e, id)

		id += "-cr"
		ok, err := e.c.CacheReader(id, src(), Checksum{})
		if ok || err != boom {
			t.Errorf("%s: CacheReader = %v, %v; want false and the source's error", id, ok, err)
		}
		icCheckNotCached(t, e, id)
		icCheckInvalid(t, e, id, b[:n])
		// Nothing is left in the way of a later write.
		icCache(t, e.c, id, b, Checksum{})
		icCheckCached(t, e, id, b, Checksum{})
	}
}

func icTestChecksumMismatch(t *testing.T, e *icEnv) {
	b := icBytes(13, 9000)
	for _, algo := range []string{"md5", "sha256", "sha512"} {
		wrong := icSum(algo, append(slices.Clone(b), 'x'))
		for _, dataWithEOF := range []bool{false, true} {
			id := fmt.Sprintf("bad-%s-%v", algo, dataWithEOF)
			var src io.Reader = bytes.NewReader(b)
			if dataWithEOF {
				src = iotest.DataErrReader(src)
			}
			rc := e.c.CachingReader(id, wrong, src)
			var got []byte
			var readErr error
			p := make([]byte, 1000)
			for range 100 {
				n, err := rc.Read(p)
				got = append(got, p[:n]...)
				if err != nil {
					readErr = err
					break
				}
			}
			if !errors.Is(readErr, ErrChecksum) {
				t.Errorf("%s: reading ended with %v; want ErrChecksum in place of io.EOF", id, readErr)
			}
			if !bytes.Equal(got, b) {
				t.Errorf("%s: %d bytes handed through before the error; want all %d", id, len(got), len(b))
			}
			if n, err := rc.Read(p); n != 0 || !errors.Is(err, ErrChecksum) {
				t.Errorf("%s: Read after the mismatch = %d, %v; want 0, ErrChecksum", id, n, err)
			}
			rc.Close()
			icCheckNotCached(t, e, id)
			icCheckInvalid(t, e, id, b)
		}
		id := "bad-" + algo + "-cr"
		ok, err := e.c.CacheReader(id, bytes.NewReader(b), wrong)
		if ok || !errors.Is(err, ErrChecksum) {
			t.Errorf("%s: CacheReader = %v, %v; want false, ErrChecksum", id, ok, err)
		}
		icCheckNotCached(t, e, id)
		icCheckInvalid(t, e, id, b)
	}
}

func icTestChecksumMatch(t *testing.T, e *icEnv) {
	b := icBytes(14, 4321)
	for _, algo := range []string{"md5", "sha256", "sha512"} {
		for _, upper := range []bool{false, true} {
			sum := icSum(algo, b)
			if upper {
				sum.Hex = strings.ToUpper(sum.Hex)
			}
			id := fmt.Sprintf("good-%s-%v", algo, upper)
			rc := e.c.CachingReader(id, sum, bytes.NewReader(b))
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, b) {
				t.Errorf("%s: %d bytes, %v; want %d, nil", id, len(got), err, len(b))
			}
			rc.Close()
			icCheckCached(t, e, id, b, sum)
			if ok, err := e.c.CacheReader(id+"-cr", bytes.NewReader(b), sum); !ok || err != nil {
				t.Errorf("%s: CacheReader = %v, %v; want true, nil", id, ok, err)
			}
			icCheckCached(t, e, id+"-cr", b, sum)
		}
	}
}

// icTestPassThroughChecksum: a CachingReader that passes its data through
// uncached (the id is cached, or being written by another writer) still
// verifies it: the documented contract, which README's usage relies on
// ("read on to io.EOF, where ... a checksum mismatch shows, before
// trusting img"), makes no exception for it.
func icTestPassThroughChecksum(t *testing.T, e *icEnv) {
	b := icBytes(19, 5000)
	good := icSum("sha256", b)
	icCache(t, e.c, "cached", b, good)
	busy := e.c.CachingReader("busy", good, bytes.NewReader(b))
	defer busy.Close()
	if _, err := io.ReadFull(busy, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	corrupt := slices.Clone(b)
	corrupt[len(corrupt)/2] ^= 0xff
	for _, id := range []string{"cached", "busy"} {
		got, err := io.ReadAll(e.c.CachingReader(id, good, bytes.NewReader(corrupt)))
		if !errors.Is(err, ErrChecksum) {
			t.Errorf("%s: a corrupt source passed through ends with %v; want ErrChecksum", id, err)
		}
		if !bytes.Equal(got, corrupt) {
			t.Errorf("%s: %d bytes handed through; want all %d", id, len(got), len(corrupt))
		}
		got, err = io.ReadAll(e.c.CachingReader(id, good, bytes.NewReader(b)))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s: a sound source passed through: %d bytes, %v; want all %d, nil", id, len(got), err, len(b))
		}
	}
	icCheckCached(t, e, "cached", b, good)
	if e.c.IsCached("busy") {
		t.Errorf("IsCached(busy) before its writer finished")
	}
}

func icTestUnknownAlgo(t *testing.T, e *icEnv) {
	for _, sum := range []Checksum{{Algo: "crc32", Hex: "00"}, {Hex: "00"}} {
		cr := &icCountingReader{r: strings.NewReader("image")}
		rc := e.c.CachingReader("algo", sum, cr)
		n, err := rc.Read(make([]byte, 10))
		if n != 0 || err == nil || err == io.EOF {
			t.Errorf("checksum %+v: first Read = %d, %v; want 0 and an error", sum, n, err)
		}
		rc.Close()
		ok, err := e.c.CacheReader("algo", cr, sum)
		if ok || err == nil {
			t.Errorf("checksum %+v: CacheReader = %v, %v; want false and an error", sum, ok, err)
		}
		if cr.reads != 0 {
			t.Errorf("checksum %+v: source read %d times", sum, cr.reads)
		}
		icCheckNotCached(t, e, "algo")
		if names := icNames(t, e.path(invalidDir)); len(names) != 0 {
			t.Errorf("invalid/ holds %q; want nothing", names)
		}
	}
}

func icTestCloseBeforeEnd(t *testing.T, e *icEnv) {
	b := icBytes(15, 5000)
	src := &icCloser{Reader: bytes.NewReader(b)}
	rc := e.c.CachingReader("early", icSum("sha256", b), src)
	head := make([]byte, 100)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !src.closed {
		t.Errorf("Close did not close the source")
	}
	icCheckNotCached(t, e, "early")
	icCheckInvalid(t, e, "early", head)

	// Closed before the first Read.
	rc = e.c.CachingReader("early-2", Checksum{}, bytes.NewReader(b))
	rc.Close()
	icCheckNotCached(t, e, "early-2")
	icCheckInvalid(t, e, "early-2", nil)

	// The id can be cached afresh.
	icCache(t, e.c, "early", b, Checksum{})
	icCheckCached(t, e, "early", b, Checksum{})
}

// icTestDiskWriteFails breaks the writer's file under it: the reader must
// hand every byte through and end with io.EOF, and nothing is cached.
func icTestDiskWriteFails(t *testing.T, e *icEnv) {
	b := icBytes(16, 20000)
	sum := icSum("sha256", b)

	// White-box: close the CachingReader's writer's file.
	rc := e.c.CachingReader("disk", sum, bytes.NewReader(b))
	crd, ok := rc.(*cachingReader)
	if !ok || crd.w == nil || crd.w.f == nil {
		t.Fatalf("white-box: the CachingReader is %T with no writer", rc)
	}
	crd.w.f.Close()
	got, err := io.ReadAll(iotest.HalfReader(rc))
	if err != nil || !bytes.Equal(got, b) {
		t.Errorf("after a failed disk write the reader gave %d bytes, %v; want all %d and no error", len(got), err, len(b))
	}
	if n, err := rc.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read after the end = %d, %v; want 0, EOF", n, err)
	}
	rc.Close()
	icCheckNotCached(t, e, "disk")
	if !strings.Contains(e.logs.String(), "write failed") {
		t.Errorf("the failed write was not logged")
	}

	// CacheReader: its source, at its first read, puts a read-only
	// descriptor in place of the writer's file, so that writes fail.
	src := &icHookReader{r: bytes.NewReader(b), first: func() { icBreakWrites(t, e.path(incompleteDir, "disk-cr")) }}
	ok, err = e.c.CacheReader("disk-cr", src, sum)
	if ok || err == nil {
		t.Errorf("CacheReader with failing disk writes = %v, %v; want false and an error", ok, err)
	}
	icCheckNotCached(t, e, "disk-cr")

	// The ids can be cached once the disk works.
	icCache(t, e.c, "disk", b, sum)
	icCheckCached(t, e, "disk", b, sum)
	icCache(t, e.c, "disk-cr", b, sum)
	icCheckCached(t, e, "disk-cr", b, sum)
}

// icTestCommitFails takes the finished file away before the commit's
// rename: the reader still ends cleanly, CacheReader reports the error.
func icTestCommitFails(t *testing.T, e *icEnv) {
	b := icBytes(17, 3000)
	vanish := func(id string) func() {
		return func() {
			if err := os.Remove(e.path(incompleteDir, id)); err != nil {
				t.Errorf("remove the incomplete file: %v", err)
			}
		}
	}
	rc := e.c.CachingReader("commit", Checksum{}, &icHookReader{r: bytes.NewReader(b), atEOF: vanish("commit")})
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, b) {
		t.Errorf("reader with a failing commit: %d bytes, %v; want all %d and no error", len(got), err, len(b))
	}
	rc.Close()
	icCheckNotCached(t, e, "commit")

	ok, err := e.c.CacheReader("commit-cr", &icHookReader{r: bytes.NewReader(b), atEOF: vanish("commit-cr")}, Checksum{})
	if ok || err == nil {
		t.Errorf("CacheReader with a failing commit = %v, %v; want false and an error", ok, err)
	}
	icCheckNotCached(t, e, "commit-cr")
}

// 4. Reading.

func icTestReadMissing(t *testing.T, e *icEnv) {
	rc, err := e.c.OpenForRead("nope")
	if !errors.Is(err, ErrNotFound) || rc != nil {
		t.Errorf("OpenForRead of a missing id = %v, %v; want nil, ErrNotFound", rc, err)
	}
	if n, err := e.c.HitCount("nope"); n != 0 || err != nil {
		t.Errorf("HitCount of an id without a record = %d, %v; want 0, nil", n, err)
	}
	if n, err := e.c.ImageSize("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ImageSize of a missing id = %d, %v; want ErrNotFound", n, err)
	}
	if e.c.IsCached("nope") {
		t.Errorf("IsCached of a missing id = true")
	}
}

func icTestReadHits(t *testing.T, e *icEnv) {
	b := icBytes(18, 50000)
	icCache(t, e.c, "r", b, Checksum{})
	r0 := icCheckCached(t, e, "r", b, Checksum{})

	// Two reads to the end, one after the other.
	if got := icRead(t, e.c, "r"); !bytes.Equal(got, b) {
		t.Fatalf("read %d bytes; want %d", len(got), len(b))
	}
	r1 := icRecordOf(t, e.c, "r")
	if got := icRead(t, e.c, "r"); !bytes.Equal(got, b) {
		t.Fatalf("read %d bytes; want %d", len(got), len(b))
	}
	r2 := icRecordOf(t, e.c, "r")
	if r1.Hits != 1 || r2.Hits != 2 {
		t.Errorf("hits after one and two reads = %d, %d; want 1, 2", r1.Hits, r2.Hits)
	}
	if !r1.LastAccessed.After(r0.LastAccessed) || !r2.LastAccessed.After(r1.LastAccessed) {
		t.Errorf("LastAccessed does not increase strictly: written %v, read %v, read again %v",
			r0.LastAccessed.UnixNano(), r1.LastAccessed.UnixNano(), r2.LastAccessed.UnixNano())
	}
	if !r2.LastModified.Equal(r0.LastModified) || r2.Size != int64(len(b)) {
		t.Errorf("reads changed the record: %+v, was %+v", r2, r0)
	}

	// A partial read counts nothing; nor does no read.
	rc, err := e.c.OpenForRead("r")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	rc, err = e.c.OpenForRead("r")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if r := icRecordOf(t, e.c, "r"); r.Hits != 2 || !r.LastAccessed.Equal(r2.LastAccessed) {
		t.Errorf("after a partial read: hits %d, LastAccessed %v; want 2, %v", r.Hits, r.LastAccessed, r2.LastAccessed)
	}

	// io.Copy into a buffer goes through WriteTo, and counts.
	rc, err = e.c.OpenForRead("r")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rc.(io.WriterTo); !ok {
		t.Errorf("the reader from OpenForRead is no io.WriterTo")
	}
	var buf bytes.Buffer
	if n, err := io.Copy(&buf, rc); err != nil || n != int64(len(b)) || !bytes.Equal(buf.Bytes(), b) {
		t.Errorf("io.Copy = %d, %v; want %d bytes", n, err, len(b))
	}
	if err := rc.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	// A second Close counts nothing more.
	rc.Close()
	r3 := icRecordOf(t, e.c, "r")
	if n, err := e.c.HitCount("r"); n != 3 || err != nil || r3.Hits != 3 {
		t.Errorf("HitCount after io.Copy = %d, %v (record %d); want 3", n, err, r3.Hits)
	}
	if !r3.LastAccessed.After(r2.LastAccessed) {
		t.Errorf("io.Copy did not move LastAccessed on")
	}
	if n, err := e.c.ImageSize("r"); n != int64(len(b)) || err != nil {
		t.Errorf("ImageSize = %d, %v; want %d", n, err, len(b))
	}
}

// 5. Deleting.

func icTestDeleteMissing(t *testing.T, e *icEnv) {
	if err := e.c.DeleteCached("nope"); err != nil {
		t.Errorf("DeleteCached of a missing id: %v", err)
	}
	if err := e.c.DeleteQueued("nope"); err != nil {
		t.Errorf("DeleteQueued of a missing id: %v", err)
	}
	// DeleteCached leaves the queue, DeleteQueued the cached images.
	icCache(t, e.c, "c", []byte("c"), Checksum{})
	if ok, err := e.c.Queue("q"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := e.c.DeleteCached("q"); err != nil || !e.c.IsQueued("q") {
		t.Errorf("DeleteCached of a queued id: %v, queued %v", err, e.c.IsQueued("q"))
	}
	if err := e.c.DeleteQueued("c"); err != nil || !e.c.IsCached("c") {
		t.Errorf("DeleteQueued of a cached id: %v, cached %v", err, e.c.IsCached("c"))
	}
	if err := e.c.DeleteQueued("q"); err != nil || e.c.IsQueued("q") {
		t.Errorf("DeleteQueued: %v, still queued %v", err, e.c.IsQueued("q"))
	}
	if err := e.c.DeleteCached("c"); err != nil {
		t.Errorf("DeleteCached: %v", err)
	}
	icCheckNotCached(t, e, "c")
}

func icTestDeleteAll(t *testing.T, e *icEnv) {
	for i := range 3 {
		icCache(t, e.c, "c"+strconv.Itoa(i), icBytes(uint64(20+i), 1000), Checksum{})
	}
	for _, id := range []string{"q1", "q2"} {
		if ok, err := e.c.Queue(id); !ok || err != nil {
			t.Fatalf("Queue(%s) = %v, %v", id, ok, err)
		}
	}
	if files, _, err := e.c.Prune(); files != 0 || err != nil { // makes the prune lock
		t.Fatalf("Prune = %d, %v", files, err)
	}
	b := icBytes(30, 8000)
	sum := icSum("sha256", b)
	rc := e.c.CachingReader("inflight", sum, bytes.NewReader(b))
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	inc := e.path(incompleteDir, "inflight")
	incBefore, err := os.Stat(inc)
	if err != nil {
		t.Fatal(err)
	}
	rootBefore := icNames(t, e.dir)
	for _, name := range []string{queueLock, queueSeq, pruneLock} {
		if !slices.Contains(rootBefore, name) {
			t.Fatalf("%s is missing before DeleteAllCached: %q", name, rootBefore)
		}
	}
	if e.drv == DriverSQLite && !slices.Contains(rootBefore, dbFile) {
		t.Fatalf("cache.db is missing: %q", rootBefore)
	}

	n, err := e.c.DeleteAllCached()
	if n != 3 || err != nil {
		t.Errorf("DeleteAllCached = %d, %v; want 3, nil", n, err)
	}
	for i := range 3 {
		icCheckNotCached(t, e, "c"+strconv.Itoa(i))
	}
	if names := icNames(t, e.path(dataDir)); len(names) != 0 {
		t.Errorf("data/ after DeleteAllCached: %q", names)
	}
	if rs, err := e.c.CachedImages(); len(rs) != 0 || err != nil {
		t.Errorf("CachedImages after DeleteAllCached = %v, %v", rs, err)
	}
	if size, err := e.c.Size(); size != 0 || err != nil {
		t.Errorf("Size after DeleteAllCached = %d, %v", size, err)
	}
	if root := icNames(t, e.dir); !slices.Equal(root, rootBefore) {
		t.Errorf("DeleteAllCached changed the cache directory: %q; was %q", root, rootBefore)
	}
	if q, err := e.c.QueuedImages(); !slices.Equal(q, []string{"q1", "q2"}) || err != nil {
		t.Errorf("QueuedImages after DeleteAllCached = %q, %v; want [q1 q2]", q, err)
	}
	if fi, err := os.Stat(inc); err != nil || !os.SameFile(fi, incBefore) {
		t.Errorf("DeleteAllCached touched the write in progress: %v", err)
	}
	if n, err := e.c.DeleteAllCached(); n != 0 || err != nil {
		t.Errorf("DeleteAllCached again = %d, %v; want 0, nil", n, err)
	}

	n, err = e.c.DeleteAllQueued()
	if n != 2 || err != nil {
		t.Errorf("DeleteAllQueued = %d, %v; want 2, nil", n, err)
	}
	if q, err := e.c.QueuedImages(); len(q) != 0 || err != nil {
		t.Errorf("QueuedImages after DeleteAllQueued = %q, %v", q, err)
	}
	if names := icNames(t, e.path(queueDir)); len(names) != 0 {
		t.Errorf("queue/ after DeleteAllQueued: %q", names)
	}
	if root := icNames(t, e.dir); !slices.Equal(root, rootBefore) {
		t.Errorf("DeleteAllQueued changed the cache directory: %q; was %q", root, rootBefore)
	}
	if n, err := e.c.DeleteAllQueued(); n != 0 || err != nil {
		t.Errorf("DeleteAllQueued again = %d, %v; want 0, nil", n, err)
	}
	if fi, err := os.Stat(inc); err != nil || !os.SameFile(fi, incBefore) {
		t.Errorf("DeleteAllQueued touched the write in progress: %v", err)
	}

	// The write in progress finishes and is cached.
	rest, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(append(head, rest...), b) {
		t.Fatalf("the write in progress: %d bytes, %v", len(head)+len(rest), err)
	}
	rc.Close()
	icCheckCached(t, e, "inflight", b, sum)
	if ok, err := e.c.Queue("q3"); !ok || err != nil {
		t.Errorf("Queue after DeleteAllQueued = %v, %v", ok, err)
	}
}

// icTestDeleteAllStale: a file removed behind the cache's back is not
// counted, and its record goes too.
func icTestDeleteAllStale(t *testing.T, e *icEnv) {
	for i := range 3 {
		icCache(t, e.c, "s"+strconv.Itoa(i), icBytes(uint64(40+i), 100), Checksum{})
	}
	if err := os.Remove(e.path(dataDir, "s0")); err != nil {
		t.Fatal(err)
	}
	if n, err := e.c.DeleteAllCached(); n != 2 || err != nil {
		t.Errorf("DeleteAllCached = %d, %v; want 2, nil", n, err)
	}
	if rs, err := e.c.CachedImages(); len(rs) != 0 || err != nil {
		t.Errorf("CachedImages after DeleteAllCached = %v, %v; want none", rs, err)
	}
	if size, err := e.c.Size(); size != 0 || err != nil {
		t.Errorf("Size after DeleteAllCached = %d, %v; want 0", size, err)
	}
}

// 6. Queue.

func icTestQueue(t *testing.T, e *icEnv) {
	if ok, err := e.c.Queue("q"); !ok || err != nil {
		t.Fatalf("Queue = %v, %v; want true, nil", ok, err)
	}
	if !e.c.IsQueued("q") {
		t.Errorf("IsQueued after Queue = false")
	}
	if ok, err := e.c.Queue("q"); ok || err != nil {
		t.Errorf("Queue of a queued id = %v, %v; want false, nil", ok, err)
	}
	icCache(t, e.c, "cached", []byte("cached"), Checksum{})
	if ok, err := e.c.Queue("cached"); ok || err != nil || e.c.IsQueued("cached") {
		t.Errorf("Queue of a cached id = %v, %v; want false, nil, not queued", ok, err)
	}
	rc := e.c.CachingReader("writing", Checksum{}, bytes.NewReader(icBytes(50, 3000)))
	if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.c.Queue("writing"); ok || err != nil || e.c.IsQueued("writing") {
		t.Errorf("Queue of an id being written = %v, %v; want false, nil, not queued", ok, err)
	}
	rc.Close()

	// Caching a queued id takes it off the queue, by each way of writing.
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("later"), 0o644); err != nil {
		t.Fatal(err)
	}
	writes := map[string]func(id string){
		"by-reader":  func(id string) { icCache(t, e.c, id, []byte(id), Checksum{}) },
		"by-caching": func(id string) { io.ReadAll(e.c.CachingReader(id, Checksum{}, strings.NewReader(id))) },
		"by-file": func(id string) {
			if ok, err := e.c.CacheFile(id, src); !ok || err != nil {
				t.Fatalf("CacheFile = %v, %v", ok, err)
			}
		},
	}
	for id, write := range writes {
		if ok, err := e.c.Queue(id); !ok || err != nil {
			t.Fatalf("Queue(%s) = %v, %v", id, ok, err)
		}
		write(id)
		if !e.c.IsCached(id) {
			t.Errorf("%s was not cached", id)
		}
		if e.c.IsQueued(id) {
			t.Errorf("%s is still queued once cached", id)
		}
	}
	if q, err := e.c.QueuedImages(); !slices.Equal(q, []string{"q"}) || err != nil {
		t.Errorf("QueuedImages = %q, %v; want [q]", q, err)
	}
	if err := e.c.DeleteQueued("q"); err != nil || e.c.IsQueued("q") {
		t.Errorf("DeleteQueued: %v; queued %v", err, e.c.IsQueued("q"))
	}
	if q, err := e.c.QueuedImages(); len(q) != 0 || err != nil {
		t.Errorf("QueuedImages = %q, %v; want none", q, err)
	}
}

func icTestQueueOrder(t *testing.T, e *icEnv) {
	rng := rand.New(rand.NewPCG(51, 52))
	ids := make([]string, 50)
	for i, p := range rng.Perm(len(ids)) {
		ids[i] = fmt.Sprintf("img-%02d", p)
	}
	if slices.IsSorted(ids) {
		t.Fatal("the ids are in name order: the test would prove nothing")
	}
	for _, id := range ids {
		if ok, err := e.c.Queue(id); !ok || err != nil {
			t.Fatalf("Queue(%s) = %v, %v", id, ok, err)
		}
	}
	q, err := e.c.QueuedImages()
	if err != nil || !slices.Equal(q, ids) {
		t.Errorf("QueuedImages = %q, %v;\nwant insertion order %q", q, err, ids)
	}
}

// 7. Prune and size.

// icTestPruneGlance is Glance's reference case: ten 1 KiB images read in
// order, an eleventh never read, a budget of 5 KiB.
func icTestPruneGlance(t *testing.T, e *icEnv) {
	const kib = 1024
	for i := range 10 {
		icCache(t, e.c, strconv.Itoa(i), icBytes(uint64(100+i), kib), Checksum{})
	}
	for i := range 10 {
		icRead(t, e.c, strconv.Itoa(i))
	}
	icCache(t, e.c, "new", icBytes(200, kib), Checksum{})
	if size, err := e.c.Size(); size != 11*kib || err != nil {
		t.Fatalf("Size = %d, %v; want %d", size, err, 11*kib)
	}
	files, n, err := e.c.Prune()
	if files != 6 || n != 6*kib || err != nil {
		t.Errorf("Prune = %d, %d, %v; want 6, 6144, nil", files, n, err)
	}
	want := []string{"6", "7", "8", "9", "new"}
	if ids := icIDs(t, e.c); !slices.Equal(ids, want) {
		t.Errorf("CachedImages after Prune = %q; want %q", ids, want)
	}
	if names := icNames(t, e.path(dataDir)); !slices.Equal(names, want) {
		t.Errorf("data/ after Prune = %q; want %q", names, want)
	}
	for i := range 10 {
		id := strconv.Itoa(i)
		if got, want := e.c.IsCached(id), i >= 6; got != want {
			t.Errorf("IsCached(%s) = %v; want %v", id, got, want)
		}
	}
	if !e.c.IsCached("new") {
		t.Errorf("the image never read was pruned")
	}
	if size, err := e.c.Size(); size != 5*kib || err != nil {
		t.Errorf("Size after Prune = %d, %v; want %d", size, err, 5*kib)
	}
	if files, n, err := e.c.Prune(); files != 0 || n != 0 || err != nil {
		t.Errorf("second Prune = %d, %d, %v; want 0, 0, nil", files, n, err)
	}
}

// icTestPruneLRU: the order of access, not of writing, decides: ten
// images read in the reverse of the order they were written.
func icTestPruneLRU(t *testing.T, e *icEnv) {
	const kib = 1024
	for i := range 10 {
		icCache(t, e.c, strconv.Itoa(i), icBytes(uint64(150+i), kib), Checksum{})
	}
	for i := 9; i >= 0; i-- {
		icRead(t, e.c, strconv.Itoa(i))
	}
	icCache(t, e.c, "new", icBytes(250, kib), Checksum{})
	files, n, err := e.c.Prune()
	if files != 6 || n != 6*kib || err != nil {
		t.Errorf("Prune = %d, %d, %v; want 6, 6144, nil", files, n, err)
	}
	want := []string{"0", "1", "2", "3", "new"}
	if ids := icIDs(t, e.c); !slices.Equal(ids, want) {
		t.Errorf("CachedImages after Prune = %q; want %q (the most recently read, and the new one)", ids, want)
	}
	if names := icNames(t, e.path(dataDir)); !slices.Equal(names, want) {
		t.Errorf("data/ after Prune = %q; want %q", names, want)
	}
}

// icTestPruneStale: an image whose file went behind the cache's back is
// not counted as removed by Prune.
func icTestPruneStale(t *testing.T, e *icEnv) {
	const kib = 1024
	for _, id := range []string{"a", "b", "c"} {
		icCache(t, e.c, id, icBytes(uint64(id[0])+1000, kib), Checksum{})
	}
	if err := os.Remove(e.path(dataDir, "a")); err != nil {
		t.Fatal(err)
	}
	files, n, err := e.c.Prune()
	if files != 1 || n != kib || err != nil {
		t.Errorf("Prune = %d, %d, %v; want 1, 1024, nil (b removed; a was gone already)", files, n, err)
	}
	if ids := icIDs(t, e.c); !slices.Equal(ids, []string{"c"}) {
		t.Errorf("CachedImages after Prune = %q; want [c]", ids)
	}
	if size, err := e.c.Size(); size != kib || err != nil {
		t.Errorf("Size after Prune = %d, %v; want %d", size, err, kib)
	}
}

func icTestPruneAtLimit(t *testing.T, e *icEnv) {
	var want []string
	for i := range 5 {
		id := "lim" + strconv.Itoa(i)
		want = append(want, id)
		icCache(t, e.c, id, icBytes(uint64(60+i), 1024), Checksum{})
	}
	if files, n, err := e.c.Prune(); files != 0 || n != 0 || err != nil {
		t.Errorf("Prune at the limit = %d, %d, %v; want 0, 0, nil", files, n, err)
	}
	if ids := icIDs(t, e.c); !slices.Equal(ids, want) {
		t.Errorf("CachedImages = %q; want %q", ids, want)
	}
}

func icTestPruneToZero(t *testing.T, e *icEnv) {
	for i := range 3 {
		icCache(t, e.c, "z"+strconv.Itoa(i), icBytes(uint64(70+i), (i+1)*1024), Checksum{})
	}
	icRead(t, e.c, "z0")
	if files, n, err := e.c.Prune(); files != 3 || n != 6*1024 || err != nil {
		t.Errorf("Prune with MaxSize 0 = %d, %d, %v; want 3, 6144, nil", files, n, err)
	}
	if ids := icIDs(t, e.c); len(ids) != 0 {
		t.Errorf("CachedImages after Prune = %q; want none", ids)
	}
	if names := icNames(t, e.path(dataDir)); len(names) != 0 {
		t.Errorf("data/ after Prune = %q; want nothing", names)
	}
	if size, err := e.c.Size(); size != 0 || err != nil {
		t.Errorf("Size = %d, %v; want 0", size, err)
	}
}

func icTestSize(t *testing.T, e *icEnv) {
	var want int64
	for i, n := range []int{0, 1, 1000, 4097, 65536} {
		icCache(t, e.c, "sz"+strconv.Itoa(i), icBytes(uint64(80+i), n), Checksum{})
		want += int64(n)
	}
	rs, err := e.c.CachedImages()
	if err != nil || len(rs) != 5 {
		t.Fatalf("CachedImages = %d records, %v; want 5", len(rs), err)
	}
	var sum int64
	for _, r := range rs {
		sum += r.Size
		if fi, err := os.Stat(e.path(dataDir, r.ID)); err != nil || fi.Size() != r.Size {
			t.Errorf("record of %s has size %d; its file: %v", r.ID, r.Size, err)
		}
	}
	if size, err := e.c.Size(); size != want || size != sum || err != nil {
		t.Errorf("Size = %d, %v; want %d, the records' total %d", size, err, want, sum)
	}
}

func icSetupAdopt(t *testing.T, dir string) {
	if err := os.MkdirAll(filepath.Join(dir, dataDir), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, dataDir, "adopted")
	if err := os.WriteFile(path, icBytes(90, 1234), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

// icTestAdopt: a file put into data/ before New is counted, and pruned
// like any other (first: it is the oldest).
func icTestAdopt(t *testing.T, e *icEnv) {
	r, ok := icFind(t, e.c, "adopted")
	if !ok {
		t.Fatalf("the file put into data/ was not adopted: %v", icIDs(t, e.c))
	}
	if r.Size != 1234 || r.Hits != 0 {
		t.Errorf("adopted record = %+v; want size 1234, no hits", r)
	}
	if age := time.Since(r.LastAccessed); age < 59*time.Minute || age > 2*time.Hour {
		t.Errorf("adopted record's LastAccessed %v is not the file's time, an hour ago", r.LastAccessed)
	}
	if size, err := e.c.Size(); size != 1234 || err != nil {
		t.Errorf("Size = %d, %v; want 1234", size, err)
	}
	if !e.c.IsCached("adopted") {
		t.Errorf("IsCached(adopted) = false")
	}
	if got := icRead(t, e.c, "adopted"); !bytes.Equal(got, icBytes(90, 1234)) {
		t.Errorf("read %d bytes of the adopted image", len(got))
	}
	if n, err := e.c.HitCount("adopted"); n != 1 || err != nil {
		t.Errorf("HitCount of the adopted image after a read = %d, %v; want 1", n, err)
	}
	if !strings.Contains(e.logs.String(), "adopted") {
		t.Errorf("the adoption was not logged")
	}
	// Opening again adopts nothing more.
	icOpen(t, e.cfg, e.logs)
	if ids := icIDs(t, e.c); !slices.Equal(ids, []string{"adopted"}) {
		t.Errorf("CachedImages = %q; want [adopted]", ids)
	}
	// A new image takes the cache over its 2000 bytes; Prune takes the
	// adopted one, the least recently accessed.
	icCache(t, e.c, "fresh", icBytes(91, 1000), Checksum{})
	if size, err := e.c.Size(); size != 2234 || err != nil {
		t.Errorf("Size = %d, %v; want 2234", size, err)
	}
	icRead(t, e.c, "fresh")
	if files, n, err := e.c.Prune(); files != 1 || n != 1234 || err != nil {
		t.Errorf("Prune = %d, %d, %v; want 1, 1234, nil", files, n, err)
	}
	if ids := icIDs(t, e.c); !slices.Equal(ids, []string{"fresh"}) {
		t.Errorf("CachedImages after Prune = %q; want [fresh]", ids)
	}
}

// icTestPruneConcurrent: eight prunes at once, half of them through a
// second Cache on the directory, remove what one would.
func icTestPruneConcurrent(t *testing.T, e *icEnv) {
	const kib = 1024
	for i := range 10 {
		icCache(t, e.c, strconv.Itoa(i), icBytes(uint64(300+i), kib), Checksum{})
	}
	for i := range 10 {
		icRead(t, e.c, strconv.Itoa(i))
	}
	// Another Cache sees these hits once they are written, within a
	// second; write them now.
	if err := e.c.flushHits(); err != nil {
		t.Fatal(err)
	}
	c2 := e.open(t)
	var (
		mu           sync.Mutex
		files        int
		bytesRemoved int64
		errs         []error
		wg           sync.WaitGroup
		start        = make(chan struct{})
	)
	for i := range 8 {
		c := e.c
		if i%2 == 1 {
			c = c2
		}
		wg.Go(func() {
			<-start
			f, n, err := c.Prune()
			mu.Lock()
			defer mu.Unlock()
			files += f
			bytesRemoved += n
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if files != 6 || bytesRemoved != 6*kib || len(errs) != 0 {
		t.Errorf("eight concurrent prunes removed %d files, %d bytes, errors %v; want 6, 6144, none", files, bytesRemoved, errs)
	}
	want := []string{"6", "7", "8", "9"}
	for _, c := range []*Cache{e.c, c2} {
		if ids := icIDs(t, c); !slices.Equal(ids, want) {
			t.Errorf("CachedImages = %q; want %q", ids, want)
		}
		if size, err := c.Size(); size != 4*kib || err != nil {
			t.Errorf("Size = %d, %v; want %d", size, err, 4*kib)
		}
	}
	if names := icNames(t, e.path(dataDir)); !slices.Equal(names, want) {
		t.Errorf("data/ = %q; want %q", names, want)
	}
}

func icTestAutoPrune(t *testing.T, e *icEnv) {
	for _, id := range []string{"a", "b", "c"} {
		icCache(t, e.c, id, icBytes(uint64(id[0]), 1024), Checksum{})
	}
	if ids := icIDs(t, e.c); !slices.Equal(ids, []string{"a", "b", "c"}) {
		t.Fatalf("at the limit AutoPrune removed images: %q", ids)
	}
	icCache(t, e.c, "d", icBytes(uint64('d'), 1024), Checksum{})
	if size, err := e.c.Size(); size > 3<<10 || err != nil {
		t.Errorf("Size after a write over the budget = %d, %v; want at most %d", size, err, 3<<10)
	}
	if ids := icIDs(t, e.c); !slices.Equal(ids, []string{"b", "c", "d"}) {
		t.Errorf("CachedImages after AutoPrune = %q; want [b c d]", ids)
	}
	if names := icNames(t, e.path(dataDir)); !slices.Equal(names, []string{"b", "c", "d"}) {
		t.Errorf("data/ after AutoPrune = %q; want [b c d]", names)
	}
}

// 8. Clean.

func icTestClean(t *testing.T, e *icEnv) {
	b := icBytes(400, 3000)
	// Two failed writes in invalid/.
	rc := e.c.CachingReader("abandoned", Checksum{}, bytes.NewReader(b))
	if _, err := io.ReadFull(rc, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if ok, err := e.c.CacheReader("mismatch", bytes.NewReader(b), icSum("md5", nil)); ok || !errors.Is(err, ErrChecksum) {
		t.Fatalf("CacheReader with a wrong checksum = %v, %v", ok, err)
	}
	// A stalled write made by hand, an hour old, and a fresh one.
	stalled, fresh := e.path(incompleteDir, "stalled"), e.path(incompleteDir, "fresh")
	if err := os.WriteFile(stalled, make([]byte, 500), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stalled, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fresh, make([]byte, 700), 0o644); err != nil {
		t.Fatal(err)
	}

	// The default stall time, a day, spares the hour-old file.
	res, err := e.c.Clean(0)
	if want := (CleanResult{Invalid: 2, Bytes: 3100}); res != want || err != nil {
		t.Errorf("Clean(0) = %+v, %v; want %+v", res, err, want)
	}
	if names := icNames(t, e.path(invalidDir)); len(names) != 0 {
		t.Errorf("invalid/ after Clean: %q", names)
	}
	if names := icNames(t, e.path(incompleteDir)); !slices.Equal(names, []string{"fresh", "stalled"}) {
		t.Errorf("incomplete/ after Clean(0) = %q; want [fresh stalled]", names)
	}
	res, err = e.c.Clean(30 * time.Minute)
	if want := (CleanResult{Stalled: 1, Bytes: 500}); res != want || err != nil {
		t.Errorf("Clean(30m) = %+v, %v; want %+v", res, err, want)
	}
	if names := icNames(t, e.path(incompleteDir)); !slices.Equal(names, []string{"fresh"}) {
		t.Errorf("incomplete/ after Clean(30m) = %q; want [fresh]", names)
	}
	if res, err := e.c.Clean(30 * time.Minute); res != (CleanResult{}) || err != nil {
		t.Errorf("Clean again = %+v, %v; want nothing removed", res, err)
	}
}

func icTestCleanConfigStall(t *testing.T, e *icEnv) {
	stalled := e.path(incompleteDir, "stalled")
	if err := os.WriteFile(stalled, make([]byte, 42), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stalled, old, old); err != nil {
		t.Fatal(err)
	}
	res, err := e.c.Clean(0)
	if want := (CleanResult{Stalled: 1, Bytes: 42}); res != want || err != nil {
		t.Errorf("Clean(0) with StallTime 30m = %+v, %v; want %+v", res, err, want)
	}
	if names := icNames(t, e.path(incompleteDir)); len(names) != 0 {
		t.Errorf("incomplete/ after Clean = %q", names)
	}
}

func icTestCleanLiveWriter(t *testing.T, e *icEnv) {
	b := icBytes(401, 6000)
	sum := icSum("sha256", b)
	rc := e.c.CachingReader("live", sum, bytes.NewReader(b))
	head := make([]byte, 1000)
	if _, err := io.ReadFull(rc, head); err != nil {
		t.Fatal(err)
	}
	inc := e.path(incompleteDir, "live")
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(inc, old, old); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(inc)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.c.Clean(time.Minute); res != (CleanResult{}) || err != nil {
		t.Errorf("Clean with a live writer's backdated file = %+v, %v; want nothing removed", res, err)
	}
	if fi, err := os.Stat(inc); err != nil || !os.SameFile(fi, before) {
		t.Fatalf("Clean removed a live writer's file: %v", err)
	}
	rest, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(append(head, rest...), b) {
		t.Fatalf("the live writer: %d bytes, %v", len(head)+len(rest), err)
	}
	rc.Close()
	icCheckCached(t, e, "live", b, sum)
	if res, err := e.c.Clean(time.Minute); res != (CleanResult{}) || err != nil {
		t.Errorf("Clean after the write = %+v, %v; want nothing removed", res, err)
	}
}

// 10. Two writers of one id at once.

func icTestTwoWriters(t *testing.T, e *icEnv) {
	b := icBytes(500, 256<<10)
	sum := icSum("sha256", b)
	readers := []io.ReadCloser{
		e.c.CachingReader("twin", sum, bytes.NewReader(b)),
		e.c.CachingReader("twin", sum, bytes.NewReader(b)),
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		got   [2][]byte
		errs  [2]error
	)
	for i, r := range readers {
		wg.Go(func() {
			<-start
			got[i], errs[i] = icReadRandom(r, uint64(i), 4096)
			if err := r.Close(); err != nil && errs[i] == nil {
				errs[i] = err
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range readers {
		if errs[i] != nil || !bytes.Equal(got[i], b) {
			t.Errorf("reader %d: %d bytes, %v; want all %d, no error", i, len(got[i]), errs[i], len(b))
		}
	}
	if names := icNames(t, e.path(dataDir)); !slices.Equal(names, []string{"twin"}) {
		t.Errorf("data/ = %q; want [twin]", names)
	}
	icCheckCached(t, e, "twin", b, sum)
	for _, d := range []string{incompleteDir, invalidDir} {
		if names := icNames(t, e.path(d)); len(names) != 0 {
			t.Errorf("%s/ = %q; want nothing", d, names)
		}
	}
}

// Close.

func icTestClosed(t *testing.T, e *icEnv) {
	b := []byte("cached")
	icCache(t, e.c, "x", b, Checksum{})
	if ok, err := e.c.Queue("q"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := e.c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.c.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v; want ErrClosed", err)
	}
	closed := func(call string, err error) {
		t.Helper()
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v; want ErrClosed", call, err)
		}
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ok, err := e.c.CacheFile("y", src)
	closed("CacheFile", err)
	cr := &icCountingReader{r: bytes.NewReader(b)}
	ok2, err := e.c.CacheReader("y", cr, Checksum{})
	closed("CacheReader", err)
	if ok || ok2 || cr.reads != 0 {
		t.Errorf("writes after Close: CacheFile %v, CacheReader %v after %d reads", ok, ok2, cr.reads)
	}
	rc := e.c.CachingReader("y", Checksum{}, bytes.NewReader(b))
	_, err = rc.Read(make([]byte, 10))
	closed("CachingReader's Read", err)
	rc.Close()
	r, err := e.c.OpenForRead("x")
	closed("OpenForRead", err)
	if r != nil {
		r.Close()
	}
	if e.c.IsCached("x") || e.c.IsQueued("q") {
		t.Errorf("IsCached or IsQueued after Close = true")
	}
	_, err = e.c.Queue("z")
	closed("Queue", err)
	_, err = e.c.QueuedImages()
	closed("QueuedImages", err)
	closed("DeleteCached", e.c.DeleteCached("x"))
	closed("DeleteQueued", e.c.DeleteQueued("q"))
	_, err = e.c.DeleteAllCached()
	closed("DeleteAllCached", err)
	_, err = e.c.DeleteAllQueued()
	closed("DeleteAllQueued", err)
	_, err = e.c.CachedImages()
	closed("CachedImages", err)
	_, err = e.c.HitCount("x")
	closed("HitCount", err)
	_, err = e.c.ImageSize("x")
	closed("ImageSize", err)
	_, err = e.c.Size()
	closed("Size", err)
	_, _, err = e.c.Prune()
	closed("Prune", err)
	_, err = e.c.Clean(0)
	closed("Clean", err)
	fetched := false
	_, err = e.c.Prefetch(context.Background(), func(context.Context, string) (io.ReadCloser, Checksum, error) {
		fetched = true
		return io.NopCloser(bytes.NewReader(b)), Checksum{}, nil
	}, 1)
	closed("Prefetch", err)
	if fetched {
		t.Errorf("Prefetch after Close fetched")
	}
	// Nothing on disk was touched.
	if got := icContent(t, e.path(dataDir, "x")); !bytes.Equal(got, b) {
		t.Errorf("data/x after Close holds %q", got)
	}
	if _, err := os.Stat(e.path(queueDir, "q")); err != nil {
		t.Errorf("queue/q after Close: %v", err)
	}
	if _, err := os.Stat(e.path(dataDir, "y")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("data/y after writes on a closed cache: %v", err)
	}
}

// 9. Drivers: the fallback from xattr to sqlite.

// TestXattrFallback opens an xattr cache on a file system without user
// extended attributes, if one is found.
func TestXattrFallback(t *testing.T) {
	var candidates []string
	if d := os.Getenv("IMAGECACHE_NOXATTR_DIR"); d != "" {
		candidates = append(candidates, d)
	}
	candidates = append(candidates, "/dev/shm", os.TempDir())
	var tried []string
	for _, base := range candidates {
		dir, err := os.MkdirTemp(base, "imagecache-noxattr-")
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s (%v)", base, err))
			continue
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if icXattrWorks(t, dir) {
			tried = append(tried, base+" (keeps user xattrs)")
			continue
		}
		icCheckFallback(t, dir, true)
		return
	}
	t.Skipf("no writable file system without user extended attributes found (set IMAGECACHE_NOXATTR_DIR to a directory on one); tried %s",
		strings.Join(tried, ", "))
}

// TestXattrFallbackProbeFails makes the probe fail for want of a writable
// data/: data/ is a link to an empty directory no file can be made in.
func TestXattrFallbackProbeFails(t *testing.T) {
	for _, d := range []string{"/proc/sys/fs/binfmt_misc", "/sys/fs/pstore", "/sys/kernel/security", "/sys/fs/bpf"} {
		if ents, err := os.ReadDir(d); err != nil || len(ents) != 0 {
			continue
		}
		if f, err := os.CreateTemp(d, "probe"); err == nil {
			f.Close()
			os.Remove(f.Name())
			continue
		}
		dir := t.TempDir()
		if err := os.Symlink(d, filepath.Join(dir, dataDir)); err != nil {
			t.Fatal(err)
		}
		icCheckFallback(t, dir, false)
		if ents, err := os.ReadDir(d); err != nil || len(ents) != 0 {
			t.Errorf("%s after New: %v, %v; want it empty", d, ents, err)
		}
		return
	}
	t.Skip("no empty directory here in which files cannot be created")
}

// icCheckFallback opens dir with the xattr driver and checks that it
// falls back to sqlite with a warning, leaving data/ empty; if use, it
// then caches and reads an image.
func icCheckFallback(t *testing.T, dir string, use bool) {
	t.Helper()
	logs := &icLogBuffer{}
	c := icOpen(t, Config{Dir: dir, Driver: DriverXattr}, logs)
	if got := c.Driver(); got != DriverSQLite {
		t.Fatalf("Driver() = %q; want the fallback %q", got, DriverSQLite)
	}
	log := logs.String()
	if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "sqlite") {
		t.Errorf("no warning of the fallback; log:\n%s", log)
	}
	if names := icNames(t, filepath.Join(dir, dataDir)); len(names) != 0 {
		t.Errorf("data/ after the probe holds %q; want nothing", names)
	}
	if _, err := os.Stat(filepath.Join(dir, dbFile)); err != nil {
		t.Errorf("cache.db of the fallback: %v", err)
	}
	if !use {
		return
	}
	b := icBytes(600, 2048)
	icCache(t, c, "fb", b, icSum("sha256", b))
	if got := icRead(t, c, "fb"); !bytes.Equal(got, b) {
		t.Errorf("read back %d bytes; want %d", len(got), len(b))
	}
	if n, err := c.HitCount("fb"); n != 1 || err != nil {
		t.Errorf("HitCount = %d, %v; want 1", n, err)
	}
}

func TestProbeXattr(t *testing.T) {
	dir := t.TempDir()
	err := probeXattr(dir)
	if names := icNames(t, dir); len(names) != 0 {
		t.Errorf("probeXattr (%v) left %q behind", err, names)
	}
	if err != nil && icXattrWorks(t, dir) {
		t.Errorf("probeXattr(%s) = %v on a file system that keeps user xattrs", dir, err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := probeXattr(plain); err == nil {
		t.Errorf("probeXattr of a file that is no directory = nil; want an error")
	}
	if err := probeXattr(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("probeXattr of a missing directory = nil; want an error")
	}
	if names := icNames(t, dir); !slices.Equal(names, []string{"plain"}) {
		t.Errorf("failed probes left %q; want only [plain]", names)
	}
}

// Helpers.

func icXattrWorks(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.CreateTemp(dir, "xattr-check-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	return unix.Fsetxattr(int(f.Fd()), "user.imagecache.test", []byte("1"), 0) == nil
}

func icBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x1ca))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func icSum(algo string, b []byte) Checksum {
	var h hash.Hash
	switch algo {
	case "md5":
		h = md5.New()
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		panic(algo)
	}
	h.Write(b)
	return Checksum{Algo: algo, Hex: hex.EncodeToString(h.Sum(nil))}
}

func icCache(t *testing.T, c *Cache, id string, b []byte, sum Checksum) {
	t.Helper()
	if ok, err := c.CacheReader(id, bytes.NewReader(b), sum); !ok || err != nil {
		t.Fatalf("CacheReader(%s) = %v, %v; want true, nil", id, ok, err)
	}
}

// icRead reads id to the end and closes it: one hit.
func icRead(t *testing.T, c *Cache, id string) []byte {
	t.Helper()
	rc, err := c.OpenForRead(id)
	if err != nil {
		t.Fatalf("OpenForRead(%s): %v", id, err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("close %s: %v", id, err)
	}
	return b
}

func icFind(t *testing.T, c *Cache, id string) (Record, bool) {
	t.Helper()
	rs, err := c.CachedImages()
	if err != nil {
		t.Fatalf("CachedImages: %v", err)
	}
	for _, r := range rs {
		if r.ID == id {
			return r, true
		}
	}
	return Record{}, false
}

func icRecordOf(t *testing.T, c *Cache, id string) Record {
	t.Helper()
	r, ok := icFind(t, c, id)
	if !ok {
		t.Fatalf("no record of %s", id)
	}
	return r
}

func icIDs(t *testing.T, c *Cache) []string {
	t.Helper()
	rs, err := c.CachedImages()
	if err != nil {
		t.Fatalf("CachedImages: %v", err)
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// icCheckCached checks that id is cached with exactly want, recorded with
// its size and sum, and that no write of it is left in incomplete/.
func icCheckCached(t *testing.T, e *icEnv, id string, want []byte, sum Checksum) Record {
	t.Helper()
	if !e.c.IsCached(id) {
		t.Errorf("IsCached(%s) = false", id)
	}
	if got := icContent(t, e.path(dataDir, id)); !bytes.Equal(got, want) {
		t.Errorf("data/%s holds %d bytes, not the %d written", id, len(got), len(want))
	}
	if n, err := e.c.ImageSize(id); n != int64(len(want)) || err != nil {
		t.Errorf("ImageSize(%s) = %d, %v; want %d", id, n, err, len(want))
	}
	if _, err := os.Lstat(e.path(incompleteDir, id)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("incomplete/%s after the write: %v", id, err)
	}
	r, ok := icFind(t, e.c, id)
	if !ok {
		t.Errorf("no record of the cached %s", id)
		return r
	}
	if r.Size != int64(len(want)) || r.Checksum != sum {
		t.Errorf("record of %s = size %d, checksum %+v; want %d, %+v", id, r.Size, r.Checksum, len(want), sum)
	}
	if n, err := e.c.HitCount(id); n != r.Hits || err != nil {
		t.Errorf("HitCount(%s) = %d, %v; the record says %d", id, n, err, r.Hits)
	}
	return r
}

// icCheckFresh checks a record just written between start and end.
func icCheckFresh(t *testing.T, r Record, start, end time.Time) {
	t.Helper()
	if r.Hits != 0 {
		t.Errorf("new record of %s has %d hits", r.ID, r.Hits)
	}
	if !r.LastAccessed.Equal(r.LastModified) {
		t.Errorf("new record of %s: LastAccessed %v != LastModified %v", r.ID, r.LastAccessed, r.LastModified)
	}
	if r.LastModified.Before(start) || r.LastModified.After(end) {
		t.Errorf("new record of %s: LastModified %v is not between %v and %v", r.ID, r.LastModified, start, end)
	}
}

// icCheckNotCached checks that id is neither cached, recorded, nor being
// written.
func icCheckNotCached(t *testing.T, e *icEnv, id string) {
	t.Helper()
	if e.c.IsCached(id) {
		t.Errorf("IsCached(%s) = true", id)
	}
	if _, err := os.Lstat(e.path(dataDir, id)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("data/%s: %v; want no file", id, err)
	}
	if _, err := os.Lstat(e.path(incompleteDir, id)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("incomplete/%s: %v; want no file", id, err)
	}
	if r, ok := icFind(t, e.c, id); ok {
		t.Errorf("record of %s that is not cached: %+v", id, r)
	}
	if n, err := e.c.HitCount(id); n != 0 || err != nil {
		t.Errorf("HitCount(%s) = %d, %v; want 0, nil", id, n, err)
	}
	if _, err := e.c.ImageSize(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("ImageSize(%s) = %v; want ErrNotFound", id, err)
	}
	if rc, err := e.c.OpenForRead(id); !errors.Is(err, ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("OpenForRead(%s) = %v; want ErrNotFound", id, err)
	}
}

// icCheckInvalid checks that the failed write of id is in invalid/ with
// the bytes written.
func icCheckInvalid(t *testing.T, e *icEnv, id string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(e.path(invalidDir, id))
	if err != nil {
		t.Errorf("the failed write of %s is not in invalid/: %v", id, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("invalid/%s holds %d bytes; want the %d written", id, len(got), len(want))
	}
}

func icContent(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v", err)
	}
	return b
}

// icNames returns the names in dir, sorted; none if it does not exist.
func icNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// icTree returns every path under root, relative to it.
func icTree(t *testing.T, root string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		paths = append(paths, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// icReadRandom reads r to its end in reads of 1 to max bytes.
func icReadRandom(r io.Reader, seed uint64, max int) ([]byte, error) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var out []byte
	p := make([]byte, max)
	for {
		n, err := r.Read(p[:1+rng.IntN(max)])
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// icBreakWrites puts a read-only descriptor of /dev/null in place of this
// process's one descriptor of the file at path, so that writes to it fail.
func icBreakWrites(t *testing.T, path string) {
	t.Helper()
	target, err := os.Stat(path)
	if err != nil {
		t.Fatalf("break writes: %v", err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("break writes: %v", err)
	}
	var fds []int
	for _, ent := range ents {
		fi, err := os.Stat("/proc/self/fd/" + ent.Name())
		if err == nil && os.SameFile(fi, target) {
			fd, _ := strconv.Atoi(ent.Name())
			fds = append(fds, fd)
		}
	}
	if len(fds) != 1 {
		t.Fatalf("break writes: %d descriptors of %s open (%v); want 1", len(fds), path, fds)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if err := unix.Dup3(int(null.Fd()), fds[0], unix.O_CLOEXEC); err != nil {
		t.Fatalf("break writes: %v", err)
	}
}

type icCountingReader struct {
	r     io.Reader
	reads int
}

func (c *icCountingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

type icCloser struct {
	io.Reader
	closed bool
}

func (c *icCloser) Close() error {
	c.closed = true
	return nil
}

// icHookReader runs first before its first Read, and atEOF when r
// reports io.EOF, before returning it.
type icHookReader struct {
	r            io.Reader
	first, atEOF func()
}

func (h *icHookReader) Read(p []byte) (int, error) {
	if f := h.first; f != nil {
		h.first = nil
		f()
	}
	n, err := h.r.Read(p)
	if f := h.atEOF; err == io.EOF && f != nil {
		h.atEOF = nil
		f()
	}
	return n, err
}

// icLogBuffer is a log destination safe for concurrent use.
type icLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *icLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *icLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// icTestReadFull reads exactly the image's size, which never sees io.EOF:
// that is still a read to the end.
func icTestReadFull(t *testing.T, e *icEnv) {
	b := icBytes(19, 4096)
	icCache(t, e.c, "full", b, Checksum{})
	rc, err := e.c.OpenForRead("full")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(b))
	if _, err := io.ReadFull(rc, got); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("ReadFull: %v", err)
	}
	rc.Close()
	if n, _ := e.c.HitCount("full"); n != 1 {
		t.Fatalf("hits after io.ReadFull of the whole image = %d, want 1", n)
	}
}

// icFailWriter accepts limit bytes, then fails.
type icFailWriter struct{ limit int }

var errIcWriter = errors.New("the destination is full")

func (w *icFailWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, errIcWriter
	}
	w.limit -= len(p)
	return len(p), nil
}

// icTestCopy goes through the reader's WriteTo, which io.Copy prefers,
// with images larger than its buffer.
func icTestCopy(t *testing.T, e *icEnv) {
	b := icBytes(40, 1<<20+12345)
	sum := icSum("sha256", b)
	rc := e.c.CachingReader("copied", sum, bytes.NewReader(b))
	var dst bytes.Buffer
	if n, err := io.Copy(&dst, rc); err != nil || n != int64(len(b)) || !bytes.Equal(dst.Bytes(), b) {
		t.Fatalf("io.Copy = %d, %v; want %d bytes, the same as the source", n, err, len(b))
	}
	rc.Close()
	icCheckCached(t, e, "copied", b, sum)

	// A destination that fails stops the copy with its error; the
	// unfinished write is abandoned on Close.
	rc = e.c.CachingReader("stopped", sum, bytes.NewReader(b))
	if n, err := io.Copy(&icFailWriter{limit: 300000}, rc); !errors.Is(err, errIcWriter) || n != 300000 {
		t.Fatalf("io.Copy into a failing writer = %d, %v; want 300000, %v", n, err, errIcWriter)
	}
	rc.Close()
	icCheckNotCached(t, e, "stopped")

	// A mismatch shows at the end of the copy.
	bad := icSum("sha256", b[1:])
	rc = e.c.CachingReader("mismatch", bad, bytes.NewReader(b))
	if n, err := io.Copy(io.Discard, rc); !errors.Is(err, ErrChecksum) || n != int64(len(b)) {
		t.Fatalf("io.Copy of a mismatching image = %d, %v; want %d bytes and ErrChecksum", n, err, len(b))
	}
	rc.Close()
	icCheckNotCached(t, e, "mismatch")
	icCheckInvalid(t, e, "mismatch", b)
}

// icTestQueueCounterLost damages, then removes, the queue's counter: ids
// queued afterwards still come after those queued before.
func icTestQueueCounterLost(t *testing.T, e *icEnv) {
	var want []string
	queue := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			if ok, err := e.c.Queue(id); !ok || err != nil {
				t.Fatalf("Queue(%s) = %v, %v", id, ok, err)
			}
			want = append(want, id)
		}
	}
	queue("z-first", "y-second", "x-third")
	if err := os.WriteFile(filepath.Join(e.dir, queueSeq), []byte("not a number"), 0o644); err != nil {
		t.Fatal(err)
	}
	queue("b-fourth", "a-fifth")
	if err := os.Remove(filepath.Join(e.dir, queueSeq)); err != nil {
		t.Fatal(err)
	}
	queue("d-sixth", "c-seventh")
	q, err := e.c.QueuedImages()
	if err != nil || !slices.Equal(q, want) {
		t.Errorf("QueuedImages = %q, %v;\nwant insertion order %q", q, err, want)
	}
}

// icTestDamagedAttributes damages the xattr records of two images: one
// with a hit count that is not a number, no access time and an
// over-long checksum, one with no modification time. The cache must go on
// working with them, and count their hits afresh.
func icTestDamagedAttributes(t *testing.T, e *icEnv) {
	if e.drv != DriverXattr {
		t.Skip("attributes are the xattr driver's")
	}
	data := map[string][]byte{"a": icBytes(60, 1000), "b": icBytes(61, 2000), "c": icBytes(62, 3000)}
	for id, b := range data {
		icCache(t, e.c, id, b, icSum("sha256", b))
	}
	set := func(id, attr, v string) {
		t.Helper()
		if err := unix.Setxattr(e.path(dataDir, id), attr, []byte(v), 0); err != nil {
			t.Fatal(err)
		}
	}
	set("a", attrHits, "many")
	set("a", attrChecksum, "sha256:"+strings.Repeat("0", 300))
	if err := unix.Removexattr(e.path(dataDir, "a"), attrAccessed); err != nil {
		t.Fatal(err)
	}
	if err := unix.Removexattr(e.path(dataDir, "b"), attrModified); err != nil {
		t.Fatal(err)
	}

	rs, err := e.c.CachedImages()
	if err != nil || len(rs) != 3 {
		t.Fatalf("CachedImages = %d records, %v; want 3, nil", len(rs), err)
	}
	if size, err := e.c.Size(); err != nil || size != 6000 {
		t.Fatalf("Size = %d, %v; want 6000, nil", size, err)
	}
	if got := icRead(t, e.c, "a"); !bytes.Equal(got, data["a"]) {
		t.Fatal("a reads back other bytes")
	}
	if hits, err := e.c.HitCount("a"); err != nil || hits != 1 {
		t.Errorf("HitCount(a) after one read = %d, %v; want 1, nil", hits, err)
	}
	if _, _, err := e.c.Prune(); err != nil {
		t.Errorf("Prune with damaged records: %v", err)
	}
	e.c.cfg.MaxSize = 0
	if files, bytes, err := e.c.Prune(); files != 3 || bytes != 6000 || err != nil {
		t.Errorf("Prune to zero = %d, %d, %v; want 3, 6000, nil", files, bytes, err)
	}
}

// icSetupDamagedDB caches two images with the sqlite driver, then writes
// text over cache.db.
func icSetupDamagedDB(t *testing.T, dir string) {
	c, err := New(Config{Dir: dir, Driver: DriverSQLite}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	icCache(t, c, "kept-1", icBytes(70, 1500), icSum("sha256", icBytes(70, 1500)))
	icCache(t, c, "kept-2", icBytes(71, 2500), Checksum{})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, dbFile+"-wal"))
	os.Remove(filepath.Join(dir, dbFile+"-shm"))
	junk := bytes.Repeat([]byte("this is no database. "), 400)
	if err := os.WriteFile(filepath.Join(dir, dbFile), junk, 0o644); err != nil {
		t.Fatal(err)
	}
}

// icTestDamagedDB: New moved the damaged cache.db to invalid/, made a new
// one and adopted the images, which read back whole.
func icTestDamagedDB(t *testing.T, e *icEnv) {
	if e.drv != DriverSQLite {
		t.Skip("cache.db is the sqlite driver's")
	}
	if !strings.Contains(e.logs.String(), "cache.db is damaged") {
		t.Errorf("the damaged database was not logged")
	}
	if ids := icIDs(t, e.c); !slices.Equal(ids, []string{"kept-1", "kept-2"}) {
		t.Fatalf("CachedImages = %q; want both images adopted", ids)
	}
	if size, err := e.c.Size(); size != 4000 || err != nil {
		t.Errorf("Size = %d, %v; want 4000", size, err)
	}
	if got := icRead(t, e.c, "kept-1"); !bytes.Equal(got, icBytes(70, 1500)) {
		t.Errorf("kept-1 reads back %d other bytes", len(got))
	}
	moved := icNames(t, e.path(invalidDir))
	if len(moved) != 1 || !strings.HasPrefix(moved[0], dbFile+".") {
		t.Fatalf("invalid/ holds %q; want the damaged cache.db", moved)
	}
	if b, err := os.ReadFile(e.path(invalidDir, moved[0])); err != nil || !bytes.HasPrefix(b, []byte("this is no database")) {
		t.Errorf("invalid/%s does not hold the damaged file: %v", moved[0], err)
	}
	// The new database works, and survives a reopen.
	icCache(t, e.c, "new", icBytes(72, 100), Checksum{})
	other := e.open(t)
	if ids := icIDs(t, other); !slices.Equal(ids, []string{"kept-1", "kept-2", "new"}) {
		t.Errorf("CachedImages after a reopen = %q", ids)
	}
}
