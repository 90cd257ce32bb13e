package imagecache

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/arcache-go/arcache/internal/fsutil"
)

// The queue is a file per id in queue/, holding a sequence number that a
// counter beside the directory hands out under a lock, so that the order
// of insertion is total, across processes too (Glance sorted by file
// times, which tie).
const (
	queueSeq  = "queue.seq"
	queueLock = "queue.lock"
)

// Queue adds id to the prefetch queue (Glance's queue_image). It reports
// false for an id that is cached, being written, or queued already.
func (c *Cache) Queue(id string) (bool, error) {
	if err := c.check("queue", id); err != nil {
		return false, err
	}
	if c.IsCached(id) || c.beingWritten(id) {
		return false, nil
	}
	lock, err := fsutil.LockFile(filepath.Join(c.cfg.Dir, queueLock))
	if err != nil {
		return false, fmt.Errorf("imagecache: queue %s: %w", id, err)
	}
	defer lock.Unlock()
	if c.IsQueued(id) {
		return false, nil
	}
	seq, err := c.nextSeq()
	if err != nil {
		return false, fmt.Errorf("imagecache: queue %s: %w", id, err)
	}
	// Not fsutil.WriteAtomic: its temporary names look like ids. A file
	// left empty by a crash sorts last.
	f, err := os.OpenFile(c.path(queueDir, id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return false, fmt.Errorf("imagecache: queue %s: %w", id, err)
	}
	_, err = f.WriteString(strconv.FormatUint(seq, 10))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return false, fmt.Errorf("imagecache: queue %s: %w", id, err)
	}
	return true, nil
}

// nextSeq takes the next sequence number; the caller holds the queue lock.
func (c *Cache) nextSeq() (uint64, error) {
	path := filepath.Join(c.cfg.Dir, queueSeq)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	seq, perr := parseSeq(b)
	if err != nil || perr != nil {
		// A counter lost or damaged must not restart below the ids
		// queued already: go on from the largest of theirs.
		qs, err := c.queued()
		if err != nil {
			return 0, err
		}
		seq = 0
		for _, q := range qs {
			if q.seq != unordered {
				seq = max(seq, q.seq)
			}
		}
	}
	seq++
	err = fsutil.WriteAtomic(path, 64, func(w io.Writer) error {
		_, err := io.WriteString(w, strconv.FormatUint(seq, 10))
		return err
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

func (c *Cache) beingWritten(id string) bool {
	_, err := os.Lstat(c.path(incompleteDir, id))
	return err == nil
}

// IsQueued reports whether id is in the prefetch queue.
func (c *Cache) IsQueued(id string) bool {
	if c.check("stat queued", id) != nil {
		return false
	}
	_, err := os.Stat(c.path(queueDir, id))
	return err == nil
}

// QueuedImages returns the queued ids, oldest first.
func (c *Cache) QueuedImages() ([]string, error) {
	if err := c.checkOpen("list queue"); err != nil {
		return nil, err
	}
	ids, err := c.queuedInOrder()
	if err != nil {
		return nil, fmt.Errorf("imagecache: list queue: %w", err)
	}
	return ids, nil
}

// queuedInOrder returns the queued ids, oldest first.
func (c *Cache) queuedInOrder() ([]string, error) {
	qs, err := c.queued()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(qs, func(a, b queuedID) int { return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.id, b.id)) })
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.id
	}
	return out, nil
}

type queuedID struct {
	id  string
	seq uint64
}

// unordered is the place of a queue file that holds no sequence number,
// such as one a crash left empty: last.
const unordered = ^uint64(0)

// queued reads the queue, in no order.
func (c *Cache) queued() ([]queuedID, error) {
	ids, err := listIDs(filepath.Join(c.cfg.Dir, queueDir))
	if err != nil {
		return nil, err
	}
	qs := make([]queuedID, 0, len(ids))
	for _, id := range ids {
		b, err := os.ReadFile(c.path(queueDir, id))
		if err != nil {
			continue // taken off the queue meanwhile
		}
		seq, err := parseSeq(b)
		if err != nil {
			seq = unordered
		}
		qs = append(qs, queuedID{id, seq})
	}
	return qs, nil
}

func parseSeq(b []byte) (uint64, error) {
	return strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
}

// DeleteQueued takes id off the queue; an id not queued is not an error.
func (c *Cache) DeleteQueued(id string) error {
	if err := c.check("unqueue", id); err != nil {
		return err
	}
	if err := os.Remove(c.path(queueDir, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("imagecache: unqueue %s: %w", id, err)
	}
	return nil
}

// DeleteAllQueued empties the queue and returns how many ids it removed.
func (c *Cache) DeleteAllQueued() (int, error) {
	if err := c.checkOpen("delete all queued"); err != nil {
		return 0, err
	}
	n, err := c.removeAll(queueDir)
	if err != nil {
		return n, fmt.Errorf("imagecache: delete all queued: %w", err)
	}
	return n, nil
}
