package imagecache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/arcache-go/arcache/internal/pgtest"
)

// benchStreamSize is how much one op of BenchmarkCachingReader and
// BenchmarkBaselineCopySHA256 writes.
const benchStreamSize = 256 << 20

// benchRepeatReader yields block over and over, left bytes in all: a
// cheap source of incompressible bytes.
type benchRepeatReader struct {
	block []byte
	off   int
	left  int64
}

func (r *benchRepeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), r.left)], r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	r.left -= int64(n)
	return n, nil
}

// benchStream returns a fresh reader of benchStreamSize bytes and their
// sha256, both the same for every call.
func benchStream() (func() io.Reader, Checksum) {
	var seed [32]byte
	copy(seed[:], "imagecache benchmark block")
	block := make([]byte, 1<<20)
	rand.NewChaCha8(seed).Read(block)
	h := sha256.New()
	for range benchStreamSize / len(block) {
		h.Write(block)
	}
	sum := Checksum{Algo: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	return func() io.Reader { return &benchRepeatReader{block: block, left: benchStreamSize} }, sum
}

func benchCache(b *testing.B, cfg Config) *Cache {
	b.Helper()
	c, err := New(cfg, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkCachingReader streams 256 MiB through CachingReader into the
// cache, checking a sha256; compare with BenchmarkBaselineCopySHA256.
func BenchmarkCachingReader(b *testing.B) {
	src, sum := benchStream()
	c := benchCache(b, Config{Dir: filepath.Join(b.TempDir(), "cache"), MaxSize: 1 << 40})
	b.SetBytes(benchStreamSize)
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("image-%d", i)
		i++
		rc := c.CachingReader(id, sum, src())
		n, err := io.Copy(io.Discard, rc)
		if err != nil || n != benchStreamSize {
			b.Fatalf("copied %d bytes: %v", n, err)
		}
		if err := rc.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if !c.IsCached(id) {
			b.Fatalf("%s was not cached", id)
		}
		if err := c.DeleteCached(id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkBaselineCopySHA256 is what BenchmarkCachingReader does without
// the cache: the same bytes copied into a new file, hashed with sha256 on
// the way, synced and closed, in a directory of the same file system.
func BenchmarkBaselineCopySHA256(b *testing.B) {
	src, sum := benchStream()
	dir := filepath.Join(b.TempDir(), "baseline")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchStreamSize)
	i := 0
	for b.Loop() {
		path := filepath.Join(dir, fmt.Sprintf("image-%d", i))
		i++
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(f, io.TeeReader(src(), h))
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil || n != benchStreamSize {
			b.Fatalf("copied %d bytes: %v", n, err)
		}
		if hex.EncodeToString(h.Sum(nil)) != sum.Hex {
			b.Fatal("sha256 mismatch")
		}
		b.StopTimer()
		if err := os.Remove(path); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

const (
	benchPruneEntries = 10000
	benchPruneKeep    = 5000
	benchPruneSize    = 64 // bytes per entry
)

// BenchmarkPrune prunes a cache of 10,000 entries down to 5,000; the
// evicted ones are cached again, untimed, between ops.
//
// It runs in /dev/shm when it can. On the ext4 disk of our machines each
// new entry costs an fsync: the setup took 6.5 s there and each refill of
// 5,000 entries 2.7 s (and files created soon after thousands were deleted
// are 10-20x slower for minutes), while Prune itself took 480 ms. On tmpfs
// the setup takes about 0.6 s, a refill 0.3 s, and the figure, about
// 120 ms, is the cost of Prune's own work (sqlite, unlink), not the disk's.
func BenchmarkPrune(b *testing.B) { benchPrune(b, Config{}) }

// benchPrune is BenchmarkPrune with the driver settings of cfg.
func benchPrune(b *testing.B, cfg Config) {
	dir := memDir(b)
	cfg.Dir, cfg.MaxSize = dir, benchPruneKeep*benchPruneSize
	c := benchCache(b, cfg)
	ids := make([]string, benchPruneEntries)
	for i := range ids {
		ids[i] = fmt.Sprintf("entry-%05d", i)
	}
	data := bytes.Repeat([]byte{'x'}, benchPruneSize)
	fill := func() int {
		n := 0
		for _, id := range ids {
			if c.IsCached(id) {
				continue
			}
			if ok, err := c.CacheReader(id, bytes.NewReader(data), Checksum{}); !ok || err != nil {
				b.Fatalf("CacheReader(%s) = %v, %v", id, ok, err)
			}
			n++
		}
		return n
	}
	start := time.Now()
	fill()
	b.Logf("setup: %d entries cached in %v in %s", benchPruneEntries, time.Since(start).Round(time.Millisecond), dir)

	var refill time.Duration
	for b.Loop() {
		files, bytes, err := c.Prune()
		if err != nil || files != benchPruneEntries-benchPruneKeep || bytes != (benchPruneEntries-benchPruneKeep)*benchPruneSize {
			b.Fatalf("Prune() = %d, %d, %v", files, bytes, err)
		}
		b.StopTimer()
		t := time.Now()
		if n := fill(); n != files {
			b.Fatalf("cached %d entries again; Prune removed %d", n, files)
		}
		refill += time.Since(t)
		b.StartTimer()
	}
	b.ReportMetric(float64(refill.Nanoseconds())/float64(b.N), "refill-ns/op")
}

// BenchmarkBaselineRemove is the part of BenchmarkPrune no cache can
// avoid: removing 5,000 of 10,000 files of a directory in the same place.
func BenchmarkBaselineRemove(b *testing.B) {
	dir := memDir(b)
	data := bytes.Repeat([]byte{'x'}, benchPruneSize)
	paths := make([]string, benchPruneEntries)
	for i := range paths {
		paths[i] = filepath.Join(dir, fmt.Sprintf("entry-%05d", i))
		if err := os.WriteFile(paths[i], data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	victims := paths[:benchPruneEntries-benchPruneKeep]
	for b.Loop() {
		for _, p := range victims {
			if err := os.Remove(p); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		for _, p := range victims {
			if err := os.WriteFile(p, data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
}

// memDir returns a new directory in /dev/shm, or tb.TempDir() where there
// is no /dev/shm.
func memDir(tb testing.TB) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "imagecache-test-"); err == nil {
			tb.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return tb.TempDir()
}

// BenchmarkOpenForReadHit reads a cached image of 1 KiB or 64 KiB to its
// end and closes it, which counts a hit, with each metadata driver. Its
// baseline opens, reads and closes a file of the same size without a
// cache, in the same kind of directory.
func BenchmarkOpenForReadHit(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		data := make([]byte, size)
		rand.NewChaCha8([32]byte{1}).Read(data)
		name := fmt.Sprintf("%dKiB", size>>10)
		b.Run(name+"/baseline", func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "image")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
			benchReadLoop(b, len(data), func() (io.ReadCloser, error) { return os.Open(path) })
		})
		for _, driver := range []string{DriverSQLite, DriverXattr, DriverPostgres} {
			b.Run(name+"/"+driver, func(b *testing.B) {
				var warned bool
				cfg := Config{Dir: b.TempDir(), MaxSize: 1 << 30, Driver: driver}
				if driver == DriverPostgres {
					cfg.DSN, cfg.Node = pgtest.Shared(b).CreateDB(b), "http://bench:9292"
				}
				c, err := New(cfg, WithLogger(slog.New(benchWarnHandler{&warned})))
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				if c.Driver() != driver {
					b.Skipf("driver %s not available here (got %s)", driver, c.Driver())
				}
				s := sha256.Sum256(data)
				if ok, err := c.CacheReader("image", bytes.NewReader(data), Checksum{Algo: "sha256", Hex: hex.EncodeToString(s[:])}); !ok || err != nil {
					b.Fatalf("CacheReader = %v, %v", ok, err)
				}
				benchReadLoop(b, len(data), func() (io.ReadCloser, error) { return c.OpenForRead("image") })
				if hits, err := c.HitCount("image"); err != nil || hits != int64(b.N) || warned {
					b.Fatalf("HitCount = %d, %v after %d reads (a warning logged: %v)", hits, err, b.N, warned)
				}
			})
		}
	}
}

// benchReadLoop opens, reads to the end and closes size bytes per op.
func benchReadLoop(b *testing.B, size int, open func() (io.ReadCloser, error)) {
	b.SetBytes(int64(size))
	for b.Loop() {
		rc, err := open()
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(size) {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		if err := rc.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchWarnHandler notes that something was logged at Warn or above.
type benchWarnHandler struct{ warned *bool }

func (h benchWarnHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h benchWarnHandler) Handle(context.Context, slog.Record) error    { *h.warned = true; return nil }
func (h benchWarnHandler) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h benchWarnHandler) WithGroup(string) slog.Handler                { return h }

// BenchmarkAutoPruneCommit caches one small image more into a cache of
// benchPruneEntries entries under its budget, with AutoPrune ("on") and
// without ("off"): the cost of a commit that must tell whether to prune.
// The image is deleted again, untimed. It runs in /dev/shm when it can,
// as BenchmarkPrune does.
func BenchmarkAutoPruneCommit(b *testing.B) {
	for _, driver := range []string{DriverSQLite, DriverXattr} {
		for _, auto := range []bool{false, true} {
			name := driver + "/off"
			if auto {
				name = driver + "/on"
			}
			b.Run(name, func(b *testing.B) {
				c := benchCache(b, Config{Dir: memDir(b), MaxSize: 1 << 40, Driver: driver, AutoPrune: auto})
				if c.Driver() != driver {
					b.Skipf("driver %s not available here (got %s)", driver, c.Driver())
				}
				data := bytes.Repeat([]byte{'x'}, benchPruneSize)
				for i := range benchPruneEntries {
					if ok, err := c.CacheReader(fmt.Sprintf("entry-%05d", i), bytes.NewReader(data), Checksum{}); !ok || err != nil {
						b.Fatalf("CacheReader = %v, %v", ok, err)
					}
				}
				for b.Loop() {
					if ok, err := c.CacheReader("new", bytes.NewReader(data), Checksum{}); !ok || err != nil {
						b.Fatalf("CacheReader = %v, %v", ok, err)
					}
					b.StopTimer()
					if err := c.DeleteCached("new"); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	}
}
