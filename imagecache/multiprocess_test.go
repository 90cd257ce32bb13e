package imagecache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests here re-run the test binary as child processes. Environment
// variables, which the parent sets for its children only, select child
// mode: mpEnvChild numbers the children, and each test has its own
// variable for the directory.
const (
	mpEnvDir   = "IMAGECACHE_MULTIPROCESS_DIR"
	mpEnvChild = "IMAGECACHE_MULTIPROCESS_CHILD"

	mpChildren = 2
	mpShared   = 20        // ids both children cache
	mpOwn      = 20        // ids one child caches
	mpPasses   = 3         // times each child goes through its ids
	mpMaxSize  = 512 << 10 // well under the ~2 MB of all 60 images: prunes evict
)

// TestMultiProcess runs two processes against one cache directory with the
// sqlite driver at the same time, each caching (ids of its own and ids
// both cache), reading and pruning, and then checks that the directory
// and its metadata agree: every record has its file, of its size and
// checksum, every file its record, Size is their total, and nothing is
// left in incomplete/ or invalid/.
func TestMultiProcess(t *testing.T) {
	if dir := os.Getenv(mpEnvDir); dir != "" {
		mpChildMain(func(n int) error { return mpChild(dir, n) })
	}
	if testing.Short() {
		t.Skip("runs two processes: skipped under -short")
	}

	dir := filepath.Join(t.TempDir(), "cache")
	outs, ok := mpRunChildren(t, "TestMultiProcess", mpChildren, mpEnvDir+"="+dir, true)
	if !ok {
		return
	}
	var pruned, reads, notFound int
	for _, out := range outs {
		var p, r, nf int
		for line := range strings.Lines(out) {
			if _, err := fmt.Sscanf(line, "mpstats pruned=%d reads=%d notfound=%d", &p, &r, &nf); err == nil {
				pruned, reads, notFound = pruned+p, reads+r, notFound+nf
			}
		}
	}
	t.Logf("children pruned %d files and read %d images (%d reads raced a prune)", pruned, reads, notFound)
	if pruned == 0 {
		t.Errorf("the children's prunes evicted nothing: the test did not exercise eviction")
	}
	if reads == 0 {
		t.Errorf("the children read nothing back")
	}

	// The parent's cache must have nothing to adopt and nothing to warn about.
	logs := &mpLog{}
	c, err := New(Config{Dir: dir, MaxSize: mpMaxSize, Driver: DriverSQLite}, WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, l := range logs.take() {
		t.Errorf("opening the cache after the children logged: %s", l)
	}
	mpCheckConsistent(t, c, dir)

	// And a final prune from the parent brings it within budget, still consistent.
	if _, _, err := c.Prune(); err != nil {
		t.Fatal(err)
	}
	if size, err := c.Size(); err != nil || size > mpMaxSize {
		t.Errorf("after Prune: Size() = %d, %v; want at most %d", size, err, mpMaxSize)
	}
	mpCheckConsistent(t, c, dir)
	for _, l := range logs.take() {
		t.Errorf("the parent's cache logged: %s", l)
	}
}

// mpChildMain runs a child's work and exits: 0 when it succeeds, 1 with
// the error on stderr when it fails.
func mpChildMain(work func(n int) error) {
	n, err := strconv.Atoi(os.Getenv(mpEnvChild))
	if err == nil {
		err = work(n)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "multiprocess child %s: %v\n", os.Getenv(mpEnvChild), err)
		os.Exit(1)
	}
	os.Exit(0)
}

// mpRunChildren runs count children, the test binary running test in
// child mode, selected by env, and waits for them. It reports their
// stdouts, and whether they all succeeded. With stopOthers, a child that
// fails stops the others, which might otherwise wait for it at a barrier.
func mpRunChildren(t *testing.T, test string, count int, env string, stopOthers bool) (stdouts []string, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	type child struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
		err            error
	}
	children := make([]*child, count)
	for n := range children {
		ch := &child{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1")}
		ch.cmd.Env = append(os.Environ(), env, mpEnvChild+"="+strconv.Itoa(n))
		ch.cmd.Stdout, ch.cmd.Stderr = &ch.stdout, &ch.stderr
		if err := ch.cmd.Start(); err != nil {
			cancel()
			t.Fatalf("start child %d: %v", n, err)
		}
		children[n] = ch
	}
	var wg sync.WaitGroup
	for _, ch := range children {
		wg.Go(func() {
			if ch.err = ch.cmd.Wait(); ch.err != nil && stopOthers {
				cancel()
			}
		})
	}
	wg.Wait()
	ok = true
	for n, ch := range children {
		if out := ch.stdout.String(); out != "" {
			t.Logf("child %d stdout:\n%s", n, out)
		}
		if ch.err != nil {
			t.Errorf("child %d: %v; stderr:\n%s", n, ch.err, ch.stderr.String())
			ok = false
		}
		stdouts = append(stdouts, ch.stdout.String())
	}
	return stdouts, ok
}

// TestMultiProcessOpen: processes that open a new cache directory at the
// same moment all succeed. The race is in creating the database, so the
// processes open many new directories, one after the other, each at the
// same moment as the others: the parent says when.
func TestMultiProcessOpen(t *testing.T) {
	const (
		envDir   = "IMAGECACHE_MULTIPROCESS_OPEN_DIR"
		children = 3
		rounds   = 40
	)
	mark := func(base, what string, round, n int) string {
		return filepath.Join(base, fmt.Sprintf("%s-%d-%d", what, round, n))
	}
	if base := os.Getenv(envDir); base != "" {
		mpChildMain(func(n int) error {
			for round := range rounds {
				if err := os.WriteFile(mark(base, "ready", round, n), nil, 0o644); err != nil {
					return err
				}
				for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Microsecond) {
					if _, err := os.Stat(mark(base, "go", round, 0)); err == nil {
						break
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("round %d: never told to go", round)
					}
				}
				dir := filepath.Join(base, fmt.Sprintf("cache-%d", round))
				c, err := New(Config{Dir: dir, Driver: DriverSQLite}, WithLogger(slog.New(slog.DiscardHandler)))
				if err == nil {
					_, err = c.Size()
					if cerr := c.Close(); err == nil {
						err = cerr
					}
				}
				if err != nil {
					return fmt.Errorf("round %d: %w", round, err)
				}
			}
			return nil
		})
	}
	if testing.Short() {
		t.Skip("runs processes: skipped under -short")
	}
	base := t.TempDir()
	stop := make(chan struct{})
	go func() {
		for round := range rounds {
			for n := 0; n < children; {
				if _, err := os.Stat(mark(base, "ready", round, n)); err == nil {
					n++
					continue
				}
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Microsecond):
				}
			}
			os.WriteFile(mark(base, "go", round, 0), nil, 0o644)
		}
	}()
	_, ok := mpRunChildren(t, "TestMultiProcessOpen", children, envDir+"="+base, true)
	close(stop)
	if !ok {
		t.Errorf("a process could not open a new cache directory that others opened at the same time")
	}
}

// TestMultiProcessPruneVersusCommit: a Prune (or DeleteCached) that removes
// an image while another process caches the same id again must not leave
// the new file without a record. The other process is a second Cache on
// the directory; it caches the id again at the worst moment, between the
// removal of the old file and that of its record, through a hook in the
// first cache's metadata. A cache that keeps the two apart makes the
// second write wait: the hook gives up waiting after a second.
func TestMultiProcessPruneVersusCommit(t *testing.T) {
	for _, op := range []string{"Prune", "DeleteCached"} {
		t.Run(op, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			discard := WithLogger(slog.New(slog.DiscardHandler))
			c, err := New(Config{Dir: dir, MaxSize: 0, Driver: DriverSQLite}, discard)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			other, err := New(Config{Dir: dir, MaxSize: 0, Driver: DriverSQLite}, discard)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			const id = "shared-00"
			data := mpContent(id)
			if ok, err := c.CacheReader(id, bytes.NewReader(data), mpSum(data)); !ok || err != nil {
				t.Fatalf("CacheReader = %v, %v", ok, err)
			}

			recached := make(chan error, 1)
			c.meta = &mpHookMeta{metadata: c.meta, beforeRemove: func(string) {
				go func() {
					ok, err := other.CacheReader(id, bytes.NewReader(data), mpSum(data))
					if err == nil && !ok {
						err = errors.New("the other cache did not cache it again")
					}
					recached <- err
				}()
				select {
				case err := <-recached:
					recached <- err
				case <-time.After(time.Second):
				}
			}}
			switch op {
			case "Prune":
				if files, _, err := c.Prune(); files != 1 || err != nil {
					t.Fatalf("Prune() = %d files, %v; want 1, nil", files, err)
				}
			case "DeleteCached":
				if err := c.DeleteCached(id); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case err := <-recached:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(time.Minute):
				t.Fatal("the other cache never finished caching the id again")
			}
			mpCheckConsistent(t, c, dir)
		})
	}
}

// mpHookMeta calls beforeRemove once, before the first record it removes.
type mpHookMeta struct {
	metadata
	once         sync.Once
	beforeRemove func(id string)
}

func (m *mpHookMeta) remove(ids ...string) error {
	m.once.Do(func() { m.beforeRemove(ids[0]) })
	return m.metadata.remove(ids...)
}

// mpCheckConsistent checks that records and the files in data/ agree, one
// for one, in size and checksum, that Size is their total, and that
// incomplete/ and invalid/ are empty.
func mpCheckConsistent(t *testing.T, c *Cache, dir string) {
	t.Helper()
	recs, err := c.CachedImages()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Record{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	entries, err := os.ReadDir(filepath.Join(dir, dataDir))
	if err != nil {
		t.Fatal(err)
	}
	var fileTotal int64
	files := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		files[name] = true
		if !e.Type().IsRegular() {
			t.Errorf("data/%s is not a regular file (%v)", name, e.Type())
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, dataDir, name))
		if err != nil {
			t.Errorf("read data/%s: %v", name, err)
			continue
		}
		fileTotal += int64(len(b))
		r, ok := byID[name]
		if !ok {
			t.Errorf("data/%s (%d bytes) has no record", name, len(b))
			continue
		}
		if r.Size != int64(len(b)) {
			t.Errorf("data/%s has %d bytes; its record says %d", name, len(b), r.Size)
		}
		sum := sha256.Sum256(b)
		if r.Checksum.Algo != "sha256" || !strings.EqualFold(r.Checksum.Hex, hex.EncodeToString(sum[:])) {
			t.Errorf("data/%s: sha256 %x; record checksum %+v", name, sum, r.Checksum)
		}
		if want := mpContent(name); !bytes.Equal(b, want) {
			t.Errorf("data/%s does not hold the bytes cached as %s (%d bytes, want %d)", name, name, len(b), len(want))
		}
	}
	for id, r := range byID {
		if !files[id] {
			t.Errorf("record %s (%d bytes) has no file in data/", id, r.Size)
		}
	}
	size, err := c.Size()
	if err != nil {
		t.Fatal(err)
	}
	if size != fileTotal {
		t.Errorf("Size() = %d; the files in data/ total %d", size, fileTotal)
	}
	for _, d := range []string{incompleteDir, invalidDir} {
		left, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range left {
			t.Errorf("%s/%s is left behind", d, e.Name())
		}
	}
}

// mpContent returns the bytes of image id: 1 to 64 KiB from a generator
// seeded with the id, so that every process knows every image's bytes.
func mpContent(id string) []byte {
	src := rand.NewChaCha8(sha256.Sum256([]byte("multiprocess:" + id)))
	b := make([]byte, 1<<10+int(src.Uint64()%(63<<10+1)))
	src.Read(b)
	return b
}

func mpSum(b []byte) Checksum {
	s := sha256.Sum256(b)
	return Checksum{Algo: "sha256", Hex: hex.EncodeToString(s[:])}
}

// mpChild is one child process's work: open the shared cache, wait for the
// other child, then cache its 40 ids in a random order (three times:
// evicted ones are cached again), reading random cached ids after each
// and pruning every few.
func mpChild(dir string, n int) error {
	logs := &mpLog{inner: slog.NewTextHandler(os.Stderr, nil)}
	c, err := New(Config{Dir: dir, MaxSize: mpMaxSize, Driver: DriverSQLite}, WithLogger(slog.New(logs)))
	if err != nil {
		return err
	}
	defer c.Close()
	if c.Driver() != DriverSQLite {
		return fmt.Errorf("driver %s, want sqlite", c.Driver())
	}
	if err := mpBarrier(dir, n); err != nil {
		return err
	}

	var universe, mine []string
	for i := range mpShared {
		universe = append(universe, fmt.Sprintf("shared-%02d", i))
	}
	mine = append(mine, universe...)
	for k := range mpChildren {
		for i := range mpOwn {
			id := fmt.Sprintf("child%d-%02d", k, i)
			universe = append(universe, id)
			if k == n {
				mine = append(mine, id)
			}
		}
	}
	rng := rand.New(rand.NewPCG(uint64(n)+1, 2024))

	// Three passes: in the later ones, evicted ids are cached again
	// while the other child may be pruning them.
	order := make([]string, 0, mpPasses*len(mine))
	for range mpPasses {
		rng.Shuffle(len(mine), func(i, j int) { mine[i], mine[j] = mine[j], mine[i] })
		order = append(order, mine...)
	}
	var pruned, reads, notFound int
	for step, id := range order {
		data := mpContent(id)
		// false is fine: the other child has it cached or is writing it.
		if _, err := c.CacheReader(id, bytes.NewReader(data), mpSum(data)); err != nil {
			return fmt.Errorf("CacheReader %s: %w", id, err)
		}
		recs, err := c.CachedImages()
		if err != nil {
			return fmt.Errorf("CachedImages: %w", err)
		}
		for range 3 {
			// Mostly ids with a record, sometimes any id at all.
			var rid string
			if len(recs) > 0 && rng.IntN(4) != 0 {
				rid = recs[rng.IntN(len(recs))].ID
			} else {
				rid = universe[rng.IntN(len(universe))]
			}
			switch err := mpRead(c, rid); {
			case errors.Is(err, ErrNotFound):
				notFound++ // pruned, or never cached
			case err != nil:
				return err
			default:
				reads++
			}
		}
		if step%5 == 4 {
			files, _, err := c.Prune()
			if err != nil {
				return fmt.Errorf("Prune: %w", err)
			}
			pruned += files
		}
	}
	files, _, err := c.Prune()
	if err != nil {
		return fmt.Errorf("Prune: %w", err)
	}
	pruned += files
	if err := c.Close(); err != nil {
		return err
	}
	if bad := logs.take(); len(bad) > 0 {
		return fmt.Errorf("unexpected log lines:\n%s", strings.Join(bad, "\n"))
	}
	fmt.Printf("mpstats pruned=%d reads=%d notfound=%d\n", pruned, reads, notFound)
	return nil
}

// mpRead reads id to its end and checks its bytes.
func mpRead(c *Cache, id string) error {
	rc, err := c.OpenForRead(id)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", id, err)
	}
	if want := mpContent(id); !bytes.Equal(b, want) {
		return fmt.Errorf("read %s: %d bytes that are not the %d cached", id, len(b), len(want))
	}
	return nil
}

// mpBarrier makes the children start working together: each marks itself
// ready and waits for the others.
func mpBarrier(dir string, n int) error {
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("ready-%d", n)), nil, 0o644); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for k := 0; k < mpChildren; {
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("ready-%d", k))); err == nil {
			k++
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("child %d never became ready", k)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// mpLog is a slog.Handler that keeps the lines a test does not expect:
// every line at Warn or above, except a hit that could not be counted
// because a prune removed the image being read (ErrNotFound). In the
// parent, with no inner handler, it keeps every line (an adoption is an
// Info line, and means a file in data/ had no record).
type mpLog struct {
	inner slog.Handler // nil: keep every line
	mu    sync.Mutex
	lines []string
}

func (h *mpLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *mpLog) Handle(ctx context.Context, r slog.Record) error {
	keep := h.inner == nil || r.Level >= slog.LevelWarn && !mpExpected(r)
	if keep {
		var buf strings.Builder
		fmt.Fprintf(&buf, "%s %s", r.Level, r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&buf, " %s=%v", a.Key, a.Value)
			return true
		})
		h.mu.Lock()
		h.lines = append(h.lines, buf.String())
		h.mu.Unlock()
	}
	if h.inner != nil {
		return h.inner.Handle(ctx, r)
	}
	return nil
}

// The cache does not call With or WithGroup; these keep the handler whole.
func (h *mpLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *mpLog) WithGroup(string) slog.Handler      { return h }

func (h *mpLog) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lines
	h.lines = nil
	return l
}

func mpExpected(r slog.Record) bool {
	if r.Message != "imagecache: cannot count a hit" {
		return false
	}
	expected := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && a.Key == "err" && errors.Is(err, ErrNotFound) {
			expected = true
		}
		return true
	})
	return expected
}
