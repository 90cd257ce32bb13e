package imagecache

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func qNew(t *testing.T, dir string) *Cache {
	t.Helper()
	c, err := New(Config{Dir: dir}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func qQueue(t *testing.T, c *Cache, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if ok, err := c.Queue(id); !ok || err != nil {
			t.Fatalf("Queue(%s) = %v, %v; want true, nil", id, ok, err)
		}
	}
}

func qWant(t *testing.T, c *Cache, want ...string) {
	t.Helper()
	got, err := c.QueuedImages()
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("QueuedImages() = %q, %v;\nwant %q", got, err, want)
	}
}

// qLog returns the log's lines.
func qLog(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, queueSeq))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// qEdit rewrites the log through edit.
func qEdit(t *testing.T, dir string, edit func(string) string) {
	t.Helper()
	path := filepath.Join(dir, queueSeq)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(edit(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestQueueRequeue: an id taken off the queue, by DeleteQueued, by
// DeleteAllQueued or by being cached, and queued again goes last.
func TestQueueRequeue(t *testing.T) {
	dir := t.TempDir()
	c := qNew(t, dir)
	qQueue(t, c, "a", "b", "c", "d")
	if err := c.DeleteQueued("a"); err != nil {
		t.Fatal(err)
	}
	qQueue(t, c, "a")
	qWant(t, c, "b", "c", "d", "a")

	if ok, err := c.CacheReader("b", strings.NewReader("image b"), Checksum{}); !ok || err != nil {
		t.Fatalf("CacheReader(b) = %v, %v", ok, err)
	}
	if c.IsQueued("b") {
		t.Fatal("b is still queued once cached")
	}
	if err := c.DeleteCached("b"); err != nil {
		t.Fatal(err)
	}
	qQueue(t, c, "b")
	qWant(t, c, "c", "d", "a", "b")

	if n, err := c.DeleteAllQueued(); n != 4 || err != nil {
		t.Fatalf("DeleteAllQueued() = %d, %v", n, err)
	}
	qQueue(t, c, "d", "c", "e")
	qWant(t, c, "d", "c", "e")

	// A second cache on the directory sees the same order.
	qWant(t, qNew(t, dir), "d", "c", "e")
}

// TestQueueOldFormat: a queue directory in the format before the log,
// whose files hold numbers from a counter in queue.seq, keeps its order;
// a file left empty goes last, by id; ids queued afterwards come after.
func TestQueueOldFormat(t *testing.T) {
	for _, first := range []string{"list", "queue"} {
		t.Run(first, func(t *testing.T) {
			dir := t.TempDir()
			for _, d := range []string{dataDir, incompleteDir, invalidDir, queueDir} {
				if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			old := map[string]string{
				"m-first": "3", "c-second": "7\n", "z-third": "12",
				"b-empty": "", "a-empty": "", "k-damaged": "x7",
			}
			for id, content := range old {
				if err := os.WriteFile(filepath.Join(dir, queueDir, id), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, queueSeq), []byte("12"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, queueLock), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			want := []string{"m-first", "c-second", "z-third", "a-empty", "b-empty", "k-damaged"}
			c := qNew(t, dir)
			if first == "list" {
				qWant(t, c, want...)
			}
			qQueue(t, c, "new-1", "a-new-2")
			want = append(want, "new-1", "a-new-2")
			qWant(t, c, want...)
			qWant(t, qNew(t, dir), want...)

			// The log was rebuilt, and the files without a number have one.
			if lines := qLog(t, dir); len(lines) != len(want) {
				t.Errorf("the log holds %q; want a line for each of %q", lines, want)
			}
			for _, id := range []string{"a-empty", "b-empty", "k-damaged"} {
				b, err := os.ReadFile(filepath.Join(dir, queueDir, id))
				if _, perr := strconv.ParseUint(string(b), 10, 64); err != nil || perr != nil {
					t.Errorf("queue/%s holds %q (%v): no number", id, b, err)
				}
			}
		})
	}
}

// TestQueueDamagedLog: lines that are not "<seq> <id>" are skipped, and
// an id whose line is damaged is placed by its file; a damaged end is
// repaired by the next Queue.
func TestQueueDamagedLog(t *testing.T) {
	dir := t.TempDir()
	c := qNew(t, dir)
	ids := []string{"e", "d", "c", "b", "a"}
	qQueue(t, c, ids...)
	qEdit(t, dir, func(log string) string {
		log = strings.Replace(log, " c\n", " c!\n", 1) // c's line damaged
		return "garbage\n\n12 bad id\n-1 x\n99999999999999999999 e\n 7 y\n" + log + "8 not-queued\nnonsense"
	})
	qWant(t, c, ids...)
	qQueue(t, c, "f")
	qWant(t, c, append(ids, "f")...)
	qWant(t, qNew(t, dir), append(ids, "f")...)
	if lines := qLog(t, dir); !strings.HasSuffix(lines[len(lines)-1], " f") {
		t.Errorf("the log ends in %q; want f's line", lines[len(lines)-1])
	}

	// The log's end cut in the middle of a line.
	qEdit(t, dir, func(log string) string { return log[:len(log)-2] })
	qQueue(t, c, "g")
	qWant(t, c, append(ids, "f", "g")...)
}

// TestQueueLogLost: without its log, the queue keeps its order, from the
// numbers in its files, and numbers new ids after them.
func TestQueueLogLost(t *testing.T) {
	dir := t.TempDir()
	c := qNew(t, dir)
	qQueue(t, c, "z", "y", "x")
	if err := os.Remove(filepath.Join(dir, queueSeq)); err != nil {
		t.Fatal(err)
	}
	qWant(t, c, "z", "y", "x")
	// Which rebuilt the log; the next Queue rebuilds it too.
	if err := os.Remove(filepath.Join(dir, queueSeq)); err != nil {
		t.Fatal(err)
	}
	qQueue(t, c, "w")
	qWant(t, c, "z", "y", "x", "w")
	if err := os.Remove(filepath.Join(dir, queueSeq)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.DeleteAllQueued(); n != 4 || err != nil {
		t.Fatalf("DeleteAllQueued() = %d, %v", n, err)
	}
	qQueue(t, c, "b", "a")
	qWant(t, c, "b", "a")
}

// TestQueueCompactByListing: a listing that finds the log holding many
// more lines than ids rewrites it, in the same order.
func TestQueueCompactByListing(t *testing.T) {
	dir := memDir(t)
	c := qNew(t, dir)
	var kept []string
	for i := range 1500 {
		id := fmt.Sprintf("img-%04d", (i*37)%1500)
		qQueue(t, c, id)
		if i%10 == 0 {
			kept = append(kept, id)
		} else if err := c.DeleteQueued(id); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(qLog(t, dir)); n != 1500 {
		t.Fatalf("the log holds %d lines before the listing; want 1500", n)
	}
	qWant(t, c, kept...)
	if n := len(qLog(t, dir)); n != len(kept) {
		t.Errorf("the log holds %d lines after the listing; want %d", n, len(kept))
	}
	qWant(t, c, kept...)
	qQueue(t, c, "img-0001")
	qWant(t, c, append(kept, "img-0001")...)
}

// TestQueueCompactByQueue: a process that queues and unqueues without
// ever listing keeps the log within bounds, and the order.
func TestQueueCompactByQueue(t *testing.T) {
	dir := memDir(t)
	c := qNew(t, dir)
	var kept []string
	const n = 6000 // lines of about 14 bytes: well past 64 KiB
	for i := range n {
		id := fmt.Sprintf("q-%04d", i)
		qQueue(t, c, id)
		if i%500 == 0 {
			kept = append(kept, id)
		} else if err := c.DeleteQueued(id); err != nil {
			t.Fatal(err)
		}
	}
	// Compacted as its size passed 64 KiB, at about 4,700 lines.
	if lines := len(qLog(t, dir)); lines > n/2 {
		t.Errorf("the log holds %d lines for %d ids", lines, len(kept))
	}
	qWant(t, c, kept...)
}

// TestQueueListWhileQueueing: listings made while another goroutine
// queues and unqueues see the ids in the order they were queued, once
// each, while the log is compacted under them.
func TestQueueListWhileQueueing(t *testing.T) {
	dir := memDir(t)
	c := qNew(t, dir)
	const n = 3000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			id := fmt.Sprintf("w-%04d", i)
			if ok, err := c.Queue(id); !ok || err != nil {
				t.Errorf("Queue(%s) = %v, %v", id, ok, err)
				return
			}
			if i%6 != 0 {
				if err := c.DeleteQueued(id); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	lists := 0
	for done := false; !done; lists++ {
		done = c.IsQueued(fmt.Sprintf("w-%04d", n-6))
		ids, err := c.QueuedImages()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
			t.Fatalf("listing %d is out of order or repeats ids: %q", lists, ids)
		}
	}
	wg.Wait()
	t.Logf("%d listings", lists)
	var want []string
	for i := 0; i < n; i += 6 {
		want = append(want, fmt.Sprintf("w-%04d", i))
	}
	qWant(t, c, want...)
	// Compacted by a listing, and within bounds since.
	if lines := len(qLog(t, dir)); lines >= n || lines > 2*len(want)+queueSlack {
		t.Errorf("the log holds %d lines for %d ids", lines, len(want))
	}
}

// TestQueueFileNumbers: each queued file holds its number, the numbers
// rise with the order, and the log's lines are the files' numbers.
func TestQueueFileNumbers(t *testing.T) {
	dir := t.TempDir()
	c := qNew(t, dir)
	ids := []string{"c", "a", "b"}
	qQueue(t, c, ids...)
	var prev uint64
	for i, id := range ids {
		b, err := os.ReadFile(filepath.Join(dir, queueDir, id))
		if err != nil {
			t.Fatal(err)
		}
		seq, err := strconv.ParseUint(string(b), 10, 64)
		if err != nil || seq <= prev {
			t.Errorf("queue/%s holds %q; want a number above %d", id, b, prev)
		}
		prev = seq
		if line := qLog(t, dir)[i]; line != string(b)+" "+id {
			t.Errorf("log line %d is %q; want %q", i, line, string(b)+" "+id)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, queueSeq)); !bytes.HasSuffix(b, []byte("\n")) {
		t.Errorf("the log %q does not end in a newline", b)
	}
}
