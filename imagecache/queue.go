package imagecache

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/arcache-go/arcache/internal/fsutil"
)

// The queue on disk is a file per id and a log beside them:
//
//	queue/<id>  the id is queued; the file holds its sequence number in
//	            decimal. IsQueued, DeleteQueued and a commit need only
//	            the name.
//	queue.seq   the log: a line "<seq> <id>\n" per Queue, numbers rising,
//	            so that listing the queue reads the directory and this one
//	            file. An id's last line gives its place; a line whose id
//	            has no file in queue/ is dead.
//	queue.lock  the lock that Queue and the log's rewrites take.
//
// Numbers are handed out under the lock, one more than the log's last, so
// that the order is total across processes (Glance sorted by file times,
// which tie). Queue appends the line, then creates the file: a write each
// to the page cache, which a kill -9 does not lose, so nothing is synced.
//
// The files are the truth, and the log their index. A file the log does
// not name is placed by its number; the log is rebuilt from the files
// when it is missing or its last line is damaged, and rewritten when dead
// lines outnumber live ones by more than queueSlack (by a listing, or by
// the Queue that takes the log's size past a power of two, from 64 KiB);
// a damaged line is skipped. A file without a number goes last, by id, until a rebuild
// numbers it.
//
// The format before the log had the files and the lock as they are, and
// a counter in queue.seq: to this code, a log damaged at its end, rebuilt
// from the files by the first Queue or listing. A process of that version
// on the same directory still takes the same lock and numbers from the
// files when it finds no counter, and a log it replaces by one is rebuilt.
const (
	queueSeq  = "queue.seq"
	queueLock = "queue.lock"

	// queueTail is how much of the log's end Queue reads for its last
	// line: more than the longest, 19 digits, a space, a 200-byte id and
	// a newline.
	queueTail = 256
	// queueSlack is how many dead lines the log may hold beyond as many
	// as there are live ones before it is compacted.
	queueSlack = 1024
	// queueGrowth is the log size from which Queue, each time the size
	// passes a power of two, looks whether the log wants compacting: the
	// ids a process takes off the queue do not shrink it.
	queueGrowth = 64 << 10
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
	unlock, err := c.lockQueue(true)
	if err != nil {
		return false, fmt.Errorf("imagecache: queue %s: %w", id, err)
	}
	defer unlock()
	if c.IsQueued(id) {
		return false, nil
	}
	if err := c.enqueue(id); err != nil {
		return false, fmt.Errorf("imagecache: queue %s: %w", id, err)
	}
	return true, nil
}

// lockQueue takes the queue lock, and returns what releases it; held by
// another, it waits for it, or without wait returns a nil unlock.
//
// Most often no one else holds it: a lock tried on the file opened with
// syscall.Open, then closed, costs four system calls where
// fsutil.LockFile and Unlock make nine. A lock held by another is
// waited for through fsutil.LockFile, on the same file.
func (c *Cache) lockQueue(wait bool) (unlock func(), err error) {
	path := filepath.Join(c.cfg.Dir, queueLock)
	fd, err := openRaw(syscall.Open, path, syscall.O_RDWR|syscall.O_CREAT)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	ok, err := fsutil.TryLock(f)
	if ok && err == nil {
		return func() { f.Close() }, nil // which releases the lock
	}
	f.Close()
	if !wait {
		return nil, err
	}
	l, err := fsutil.LockFile(path)
	if err != nil {
		return nil, err
	}
	return l.Unlock, nil
}

// enqueue numbers id, logs it and creates its file; the caller holds the
// queue lock.
//
// It opens files with syscall.Open, not os.OpenFile, which tries to add a
// regular file to the poller and so makes six system calls where one
// will do: on a fast file system, where creating a file costs about five,
// they would be most of what Queue costs.
func (c *Cache) enqueue(id string) error {
	var buf [queueTail]byte
	line, size, err := c.logQueued(buf[:0], id)
	if err != nil {
		return err
	}
	// The file after the line: a crash between the two leaves a dead
	// line, not an id the log cannot place.
	path := c.path(queueDir, id)
	fd, err := openRaw(syscall.Open, path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL)
	if err != nil {
		return err
	}
	num := line[:len(line)-len(id)-2]
	n, err := syscall.Write(fd, num)
	if err == nil && n < len(num) {
		err = io.ErrShortWrite
	}
	if cerr := syscall.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	if end := size + int64(len(line)); end >= queueGrowth && bits.Len64(uint64(size)) != bits.Len64(uint64(end)) {
		c.compactQueueLogLocked() // the id is queued whether or not this works
	}
	return nil
}

// logQueued appends id's line, numbered one after the log's last, to the
// log and to b, and returns the log's size before it; the caller holds
// the queue lock.
func (c *Cache) logQueued(b []byte, id string) ([]byte, int64, error) {
	path := filepath.Join(c.cfg.Dir, queueSeq)
	for rewritten := false; ; rewritten = true {
		fd, err := openRaw(syscall.Open, path, syscall.O_RDWR|syscall.O_APPEND|syscall.O_CREAT)
		if err != nil {
			return b, 0, err
		}
		// The last line is in the last queueTail bytes; a seek before
		// the start fails, and the whole log is read from 0.
		var tail [queueTail]byte
		off, err := syscall.Seek(fd, -queueTail, io.SeekEnd)
		if err != nil {
			off = 0
		}
		n, err := syscall.Read(fd, tail[:])
		if err != nil {
			syscall.Close(fd)
			return b, 0, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		size := off + int64(n)
		seq, ok := lastSeq(tail[:n], off == 0)
		if !ok && !rewritten {
			// New, lost or damaged at its end: number from the files,
			// in a new log.
			syscall.Close(fd)
			if err := c.rewriteQueueLog(); err != nil {
				return b, 0, err
			}
			continue
		}
		b = appendLine(b, seq+1, id)
		n, err = syscall.Write(fd, b)
		if err == nil && n < len(b) {
			err = io.ErrShortWrite
		}
		if cerr := syscall.Close(fd); err == nil {
			err = cerr
		}
		if err != nil {
			return b, 0, &fs.PathError{Op: "write", Path: path, Err: err}
		}
		return b, size, nil
	}
}

// openRaw opens path with open, which is syscall.Open, as os.OpenFile
// would: mode 0644, closed on exec, interrupted opens tried again. It
// takes open as an argument for its type, which names the descriptor's
// (an int, or a Handle on Windows).
func openRaw[FD any](open func(string, int, uint32) (FD, error), path string, flag int) (fd FD, err error) {
	for {
		fd, err = open(path, flag|syscall.O_CLOEXEC, 0o644)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return fd, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// lastSeq reads the number of the last line in tail, the end of the log;
// whole tells that tail is all of it. It reports false if that line is
// not whole, or there is none.
func lastSeq(tail []byte, whole bool) (uint64, bool) {
	if len(tail) == 0 || tail[len(tail)-1] != '\n' {
		return 0, false
	}
	tail = tail[:len(tail)-1]
	i := bytes.LastIndexByte(tail, '\n')
	if i < 0 && !whole {
		return 0, false
	}
	seq, _, ok := parseLine(tail[i+1:])
	return seq, ok
}

// appendLine appends the log's line for id.
func appendLine(b []byte, seq uint64, id string) []byte {
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ' ')
	b = append(b, id...)
	return append(b, '\n')
}

// parseLine reads a log line without its newline.
func parseLine(line []byte) (seq uint64, id []byte, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return 0, nil, false
	}
	seq, ok = parseSeq(line[:sp])
	id = line[sp+1:]
	if !ok || !ValidID(string(id)) {
		return 0, nil, false
	}
	return seq, id, true
}

// parseSeq reads a sequence number: 1 to 19 decimal digits, so that
// neither the next number nor a rebuild's numbering overflows (or
// reaches unordered), without making a string of b.
func parseSeq(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, d := range b {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + uint64(d-'0')
	}
	return n, true
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
	q, err := c.readQueue()
	if err != nil {
		return nil, err
	}
	if q.wantsRewrite() {
		c.compactQueueLog() // the listing stands whether or not this works
	}
	out := make([]string, len(q.ids))
	for i, e := range q.ids {
		out[i] = e.id
	}
	return out, nil
}

type queuedID struct {
	id     string
	seq    uint64
	logged bool // the log names it
}

// unordered is the place of a queue file that the log does not name and
// that holds no number: last.
const unordered = ^uint64(0)

// queueState is what queue/ and the log say.
type queueState struct {
	ids      []queuedID // oldest first
	lines    int        // in the log, live, dead or damaged
	unlogged int        // ids the log does not name
}

// wantsRewrite reports whether the log holds too many dead lines, or
// leaves ids to be placed by reading their files.
func (q *queueState) wantsRewrite() bool {
	return q.unlogged > 0 || q.lines > 2*len(q.ids)+queueSlack
}

// readQueue reads queue/, then the log. In that order, a listing made
// while others queue sees every id in queue/ in the log, which gets each
// line before the id's file.
func (c *Cache) readQueue() (queueState, error) {
	var q queueState
	d, err := os.Open(filepath.Join(c.cfg.Dir, queueDir))
	if err != nil {
		return q, err
	}
	// Names, in no order: the log's is wanted, and os.ReadDir's
	// entries, one allocation more per id, cost a third more. A name
	// that is not a file shows when the log does not name it, as a file
	// that cannot be read.
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return q, err
	}
	q.ids = make([]queuedID, 0, len(names))
	index := make(map[string]int, len(names))
	for _, name := range names {
		if ValidID(name) {
			index[name] = len(q.ids)
			q.ids = append(q.ids, queuedID{id: name, seq: unordered})
		}
	}
	log, err := os.ReadFile(filepath.Join(c.cfg.Dir, queueSeq))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return q, err
	}
	for len(log) > 0 {
		nl := bytes.IndexByte(log, '\n')
		if nl < 0 {
			break // unfinished, or damaged: not a line
		}
		line := log[:nl]
		log = log[nl+1:]
		q.lines++
		if seq, id, ok := parseLine(line); ok {
			if i, ok := index[string(id)]; ok {
				q.ids[i].seq, q.ids[i].logged = seq, true
			}
		}
	}
	kept := q.ids[:0]
	for _, e := range q.ids {
		if !e.logged {
			b, err := os.ReadFile(c.path(queueDir, e.id))
			if err != nil {
				continue // taken off the queue meanwhile, or not a file
			}
			q.unlogged++
			if seq, ok := parseSeq(bytes.TrimSpace(b)); ok {
				e.seq = seq
			}
		}
		kept = append(kept, e)
	}
	q.ids = kept
	slices.SortFunc(q.ids, func(a, b queuedID) int { return cmp.Or(cmp.Compare(a.seq, b.seq), cmp.Compare(a.id, b.id)) })
	return q, nil
}

// compactQueueLog rewrites the log if it wants it, under the queue lock,
// unless another holds the lock: a listing does not wait for a rewrite
// that a later one can do.
func (c *Cache) compactQueueLog() error {
	unlock, err := c.lockQueue(false)
	if unlock == nil {
		return err
	}
	defer unlock()
	return c.compactQueueLogLocked()
}

// compactQueueLogLocked rewrites the log if it wants it; the caller holds
// the queue lock.
func (c *Cache) compactQueueLogLocked() error {
	q, err := c.readQueue()
	if err != nil || !q.wantsRewrite() {
		return err
	}
	return c.writeQueueLog(q)
}

// rewriteQueueLog rewrites the log from queue/ and the log; the caller
// holds the queue lock.
func (c *Cache) rewriteQueueLog() error {
	q, err := c.readQueue()
	if err != nil {
		return err
	}
	return c.writeQueueLog(q)
}

// writeQueueLog replaces the log by one line for each id of q, numbering
// those without a number after the others, in their files too; the
// caller holds the queue lock. A new log replaces the old whole, so that
// a reader sees one or the other.
func (c *Cache) writeQueueLog(q queueState) error {
	var last uint64
	for i := range q.ids {
		e := &q.ids[i]
		if e.seq == unordered {
			e.seq = last + 1
			// Only a file still there: the id may have left the queue.
			if f, err := os.OpenFile(c.path(queueDir, e.id), os.O_WRONLY|os.O_TRUNC, 0); err == nil {
				f.WriteString(strconv.FormatUint(e.seq, 10))
				f.Close()
			}
		}
		last = max(last, e.seq)
	}
	logPath := filepath.Join(c.cfg.Dir, queueSeq)
	if len(q.ids) == 0 && q.lines == 0 {
		// Nothing to keep and nothing to drop, but maybe a damaged
		// end, or the counter of the format before the log.
		if err := os.Truncate(logPath, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	// One name, not a random one: only the lock's holder writes it, and
	// what a crash leaves of it the next rewrite truncates.
	tmp := logPath + fsutil.TmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	var buf [queueTail]byte
	for _, e := range q.ids {
		w.Write(appendLine(buf[:0], e.seq, e.id))
	}
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, logPath)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
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
