package imagecache

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The queue's benchmarks and their baselines run under b.TempDir, on the
// same file system, with the same numbers of files: on an ext4 disk,
// creating and deleting thousands of files leaves the file system slow
// for minutes, so that a baseline measured elsewhere, or at another time,
// would not compare.

// benchQueueListed is how many ids BenchmarkQueuedImages lists, and how
// many files BenchmarkBaselineReadDir reads.
const benchQueueListed = 10_000

// BenchmarkQueue queues a new id per op; compare with
// BenchmarkBaselineCreateEmpty, which is what Glance's queue costs (a
// touch).
func BenchmarkQueue(b *testing.B) {
	c := benchCache(b, Config{Dir: filepath.Join(b.TempDir(), "cache")})
	i := 0
	for b.Loop() {
		id := "image-" + strconv.Itoa(i)
		if ok, err := c.Queue(id); !ok || err != nil {
			b.Fatalf("Queue(%s) = %v, %v", id, ok, err)
		}
		i++
	}
}

// BenchmarkBaselineCreateEmpty creates a new empty file per op, in one
// directory.
func BenchmarkBaselineCreateEmpty(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "queue")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		f, err := os.OpenFile(filepath.Join(dir, "image-"+strconv.Itoa(i)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkQueuedImages lists a queue of 10,000 ids, oldest first; compare
// with BenchmarkBaselineReadDir.
func BenchmarkQueuedImages(b *testing.B) {
	c := benchCache(b, Config{Dir: filepath.Join(b.TempDir(), "cache")})
	for i := range benchQueueListed {
		if ok, err := c.Queue(fmt.Sprintf("image-%05d", (i*7919)%benchQueueListed)); !ok || err != nil {
			b.Fatalf("Queue = %v, %v", ok, err)
		}
	}
	for b.Loop() {
		ids, err := c.QueuedImages()
		if err != nil || len(ids) != benchQueueListed {
			b.Fatalf("QueuedImages() = %d ids, %v", len(ids), err)
		}
	}
}

// BenchmarkBaselineReadDir reads a directory of 10,000 empty files with
// os.ReadDir.
func BenchmarkBaselineReadDir(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "queue")
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range benchQueueListed {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("image-%05d", i)), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	for b.Loop() {
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) != benchQueueListed {
			b.Fatalf("ReadDir = %d entries, %v", len(entries), err)
		}
	}
}
