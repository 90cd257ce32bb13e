package arcache

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/arcache-go/arcache/internal/fsutil"
)

// These tests re-run the test binary as child processes that save a cache
// to a bin file shared with the parent: one is killed with SIGKILL at
// random moments, two others save at the same time. The parent then loads
// the file and checks that it holds one whole generation of the cache,
// pixel for pixel.

const (
	// crashChildEnv makes TestSaveSurvivesSIGKILL a child that saves
	// generation <gen> to <dir>/cache.bin forever: "<dir>:<gen>".
	crashChildEnv = "ARCACHE_CRASH_CHILD"
	// crashPairEnv makes TestTwoProcessesSaveAtOnce a child that saves
	// its set <id> to <dir>/cache.bin a few times: "<dir>:<id>".
	crashPairEnv = "ARCACHE_CRASH_PAIR_CHILD"

	crashImages   = 300 // images a generation of the SIGKILL test
	crashPairImgs = 200 // images a process of the two-process test
	crashPairSave = 5   // saves each process of the two-process test makes
	crashSide     = 64  // images are crashSide×crashSide NRGBA
	crashRounds   = 20

	crashBinName = "cache.bin"
)

// crashKey is the key of image i of set id; prefix keeps sets of the two
// tests apart, and every set's keys differ from every other set's.
func crashKey(prefix string, id, i int) string {
	return fmt.Sprintf("%s-%d-%d", prefix, id, i)
}

// crashImage is image i of set id: pixels drawn from a generator
// (splitmix64) seeded with prefix, id and i, so every image of every set is
// different and can be made again to check what was loaded. It is much
// cheaper than math/rand under the race detector.
func crashImage(prefix string, id, i int) *image.NRGBA {
	x := uint64(14695981039346656037) // FNV-1a of prefix
	for _, b := range []byte(prefix) {
		x = (x ^ uint64(b)) * 1099511628211
	}
	x ^= uint64(id)<<32 | uint64(uint32(i))
	img := image.NewNRGBA(image.Rect(0, 0, crashSide, crashSide))
	for j := 0; j+8 <= len(img.Pix); j += 8 {
		x += 0x9e3779b97f4a7c15
		z := (x ^ x>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		binary.LittleEndian.PutUint64(img.Pix[j:], z^z>>31)
	}
	return img
}

// crashFill puts the n images of set id into c, image 0 first, so that
// Keys lists them in index order.
func crashFill(t testing.TB, c *SlugCache, prefix string, id, n int) {
	t.Helper()
	for i := range n {
		if err := c.Put(crashKey(prefix, id, i), crashImage(prefix, id, i)); err != nil {
			t.Fatal(err)
		}
	}
}

// crashContents reports which set c holds: 0 for none (an empty cache),
// else the id of the set whose n images c holds, all of them, in order,
// pixel for pixel, and nothing else. ids lists the sets it may be; ids
// are positive, and a 0 among them, standing for the empty cache, is
// ignored.
func crashContents(c *SlugCache, prefix string, n int, ids ...int) (int, error) {
	keys := c.Keys()
	if len(keys) == 0 {
		return 0, nil
	}
	id := -1
	for _, cand := range ids {
		if cand > 0 && keys[0] == crashKey(prefix, cand, 0) {
			id = cand
		}
	}
	if id < 0 {
		return 0, fmt.Errorf("first key %q is of none of the sets %v", keys[0], ids)
	}
	if len(keys) != n {
		return 0, fmt.Errorf("set %d: %d keys, want %d (first %q, last %q)", id, len(keys), n, keys[0], keys[len(keys)-1])
	}
	for i, k := range keys {
		if want := crashKey(prefix, id, i); k != want {
			return 0, fmt.Errorf("set %d: key %d is %q, want %q", id, i, k, want)
		}
	}
	for i, k := range keys {
		img, ok := c.Get(k)
		if !ok {
			return 0, fmt.Errorf("set %d: Get(%q) found nothing", id, k)
		}
		got, ok := img.(*image.NRGBA)
		if !ok {
			return 0, fmt.Errorf("set %d: %s is a %T, want *image.NRGBA", id, k, img)
		}
		want := crashImage(prefix, id, i)
		if got.Rect != want.Rect || got.Stride != want.Stride || !bytes.Equal(got.Pix, want.Pix) {
			return 0, fmt.Errorf("set %d: %s: pixels differ (rect %v stride %d, want %v %d)", id, k, got.Rect, got.Stride, want.Rect, want.Stride)
		}
	}
	return id, nil
}

// crashLoad opens a fresh cache on bin, loads it, and checks that the load
// found no damage and quarantined nothing.
func crashLoad(t *testing.T, bin, errDir string) *SlugCache {
	t.Helper()
	c := newTestCache(t, func(cfg *Config) {
		cfg.BinFile = bin
		cfg.ErrorDir = errDir
		// The Load below is the one under test: a preload at New would
		// quarantine a damaged file before it could see the damage.
		cfg.Preload = false
	})
	if err := c.Load(); err != nil {
		t.Fatalf("Load: %v (ErrCorrupt: %v)", err, errors.Is(err, ErrCorrupt))
	}
	if q := c.Stats().Quarantined; q != 0 {
		t.Fatalf("Load quarantined %d files", q)
	}
	if ents, err := os.ReadDir(errDir); err == nil && len(ents) > 0 {
		t.Fatalf("error_dir %s holds %d files, first %s", errDir, len(ents), ents[0].Name())
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return c
}

// crashTemps lists the temporary files that writers of bin left in its
// directory.
func crashTemps(t *testing.T, bin string) []string {
	t.Helper()
	m, err := filepath.Glob(bin + fsutil.TmpSuffix + "*")
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// crashSplitSpec splits a child's "<dir>:<n>" spec; the dir may hold
// colons, n does not.
func crashSplitSpec(t *testing.T, spec string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(spec, ':')
	if i < 0 {
		t.Fatalf("bad child spec %q", spec)
	}
	n, err := strconv.Atoi(spec[i+1:])
	if err != nil {
		t.Fatalf("bad child spec %q: %v", spec, err)
	}
	return spec[:i], n
}

// crashChildCmd returns a command that re-runs this test binary for the
// test named run, with env set to spec. The child's temporary files,
// TestMain's scratch directory among them, go under a directory of the
// parent's, so that those of a killed child are removed too.
func crashChildCmd(t *testing.T, run, env, spec string) *exec.Cmd {
	t.Helper()
	tmp, err := os.MkdirTemp(t.TempDir(), "child-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), env+"="+spec, "TMPDIR="+tmp)
	return cmd
}

// TestSaveSurvivesSIGKILL kills children that save the cache over and
// over, and checks after each kill that the bin file holds either what it
// held before or the child's whole cache.
//
// A fixed range of sleeps does not suit both builds: with the race
// detector a child takes 50-80 ms to start and build its cache, and
// 17-30 ms a save; without it about 13 ms and 6 ms. So the rounds take turns
// aiming at three moments, each with a random sleep: from the start, for
// up to the time this process took to build a cache (before the first
// save); from the child's "built" line, for up to one save (during the
// first save, or just after it); and from its "saved k" line, k in 1..3,
// for up to one save (during a later save).
func TestSaveSurvivesSIGKILL(t *testing.T) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		crashSaveForever(t, spec)
		return
	}
	if testing.Short() {
		t.Skip("starts and kills 20 processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, crashBinName)
	errDir := filepath.Join(t.TempDir(), "errors")

	// How long building a generation and saving it take here.
	var buildTime, saveTime time.Duration
	{
		c := newTestCache(t, func(cfg *Config) { cfg.BinFile = filepath.Join(t.TempDir(), crashBinName) })
		start := time.Now()
		crashFill(t, c, "gen", 0, crashImages)
		buildTime = time.Since(start)
		saves := make([]time.Duration, 3)
		for i := range saves {
			start := time.Now()
			if err := c.Save(); err != nil {
				t.Fatal(err)
			}
			saves[i] = time.Since(start)
		}
		slices.Sort(saves)
		saveTime = saves[1]
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("in this process: building %d images took %v, saving them %v (median of %v)",
			crashImages, buildTime.Round(100*time.Microsecond), saveTime.Round(100*time.Microsecond), saves)
	}

	var (
		prev        = 0 // the generation the bin file holds; 0: none
		olds, news  int
		beforeBuilt int                // kills before the child had built its cache
		inFirst     int                // kills after, before the first save returned
		inLater     int                // kills after that
		leftover    = map[string]int{} // temporary file names, and the round that left them
		totalSaves  int
	)
	for g := 1; g <= crashRounds; g++ {
		cmd := crashChildCmd(t, "TestSaveSurvivesSIGKILL", crashChildEnv, fmt.Sprintf("%s:%d", dir, g))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var aim string // the line the sleep starts from; "" for the start
		window := saveTime
		switch g % 3 {
		case 1:
			window = buildTime
		case 2:
			aim = "CRASH built"
		case 0:
			aim = fmt.Sprintf("CRASH saved %d", 1+rand.IntN(3))
		}
		sleep := rand.N(window)

		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		reached := make(chan struct{})
		done := make(chan []string, 1)
		go func() {
			var lines []string
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines = append(lines, sc.Text())
				if aim != "" && sc.Text() == aim {
					close(reached)
				}
			}
			done <- lines
		}()
		if aim == "" {
			close(reached)
		}
		var lines []string
		exited := false
		select {
		case <-reached:
		case lines = <-done:
			exited = true
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-done
			cmd.Wait()
			t.Fatalf("round %d: the child never printed %q\n%s", g, aim, &stderr)
		}
		if !exited { // else the Wait below reports how it ended
			time.Sleep(sleep)
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			lines = <-done
		}
		err = cmd.Wait()
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: the child was not killed: %v\n%s\n%s", g, err, strings.Join(lines, "\n"), &stderr)
		}

		// What the child had done when it was killed.
		saves, isBuilt := 0, false
		for _, line := range lines {
			if line == "CRASH built" {
				isBuilt = true
			} else if s, ok := strings.CutPrefix(line, "CRASH saved "); ok {
				saves, _ = strconv.Atoi(s)
			}
		}
		switch {
		case !isBuilt:
			beforeBuilt++
		case saves == 0:
			inFirst++
		default:
			inLater++
		}
		totalSaves += saves

		c := crashLoad(t, bin, errDir)
		got, err := crashContents(c, "gen", crashImages, prev, g)
		if err != nil {
			t.Fatalf("round %d (killed %v after %q, %d saves done): %v", g, sleep, aim, saves, err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", g, err)
		}
		switch {
		case got == g:
			news++
		case saves > 0:
			t.Fatalf("round %d: the child completed %d saves, but the file holds generation %d", g, saves, got)
		default:
			olds++
		}

		// A killed child leaves at most one temporary file, and a save
		// that completed removed those of earlier rounds.
		next, fresh := map[string]int{}, 0
		for _, name := range crashTemps(t, bin) {
			r, ok := leftover[name]
			if !ok {
				r = g
				fresh++
			}
			if got == g && r < g {
				t.Errorf("round %d: temporary file %s of round %d outlived a save", g, name, r)
			}
			next[name] = r
		}
		if fresh > 1 {
			t.Errorf("round %d: the child left %d temporary files", g, fresh)
		}
		leftover = next

		from := "the start"
		if aim != "" {
			from = strconv.Quote(aim)
		}
		t.Logf("round %2d: killed %5.1f ms after %-16s %2d saves done; file holds generation %2d; %d temporary files",
			g, float64(sleep)/float64(time.Millisecond), from+",", saves, got, len(leftover))
		prev = got
	}
	t.Logf("%d rounds ended with the old generation, %d with the new one; killed before the cache was built %d times, during the first save %d, during a later save %d; %d saves completed",
		olds, news, beforeBuilt, inFirst, inLater, totalSaves)
	if olds == 0 || news == 0 {
		t.Errorf("every round ended with the %s generation: the kills did not straddle the first save", map[bool]string{true: "new", false: "old"}[olds == 0])
	}

	// One clean save removes what the killed children left.
	c := crashLoad(t, bin, errDir)
	if got, err := crashContents(c, "gen", crashImages, prev); err != nil {
		t.Fatal(err)
	} else if got != prev {
		t.Fatalf("the file holds generation %d, want %d", got, prev)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if m := crashTemps(t, bin); len(m) > 0 {
		t.Errorf("temporary files left after a clean save: %v", m)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = crashLoad(t, bin, errDir)
	if got, err := crashContents(c, "gen", crashImages, prev); err != nil || got != prev {
		t.Fatalf("after the clean save: generation %d, %v; want %d", got, err, prev)
	}
}

// crashSaveForever is the child of TestSaveSurvivesSIGKILL: it builds
// generation gen and saves it to the bin file until it is killed.
func crashSaveForever(t *testing.T, spec string) {
	dir, gen := crashSplitSpec(t, spec)
	c := newTestCache(t, func(cfg *Config) {
		cfg.BinFile = filepath.Join(dir, crashBinName)
		cfg.ErrorDir = filepath.Join(dir, "child-errors")
		// Generation gen alone: preloading the file an earlier child
		// left would add its generation to this one.
		cfg.Preload = false
	})
	crashFill(t, c, "gen", gen, crashImages)
	fmt.Println("CRASH built")
	for n := 1; ; n++ {
		if err := c.Save(); err != nil {
			t.Fatal(err)
		}
		fmt.Println("CRASH saved", n)
	}
}

func TestTwoProcessesSaveAtOnce(t *testing.T) {
	if spec := os.Getenv(crashPairEnv); spec != "" {
		crashSaveTogether(t, spec)
		return
	}
	if testing.Short() {
		t.Skip("starts two processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, crashBinName)
	errDir := filepath.Join(t.TempDir(), "errors")

	ids := []int{1, 2}
	cmds := make([]*exec.Cmd, len(ids))
	outs := make([]*bytes.Buffer, len(ids))
	for i, id := range ids {
		cmds[i] = crashChildCmd(t, "TestTwoProcessesSaveAtOnce", crashPairEnv, fmt.Sprintf("%s:%d", dir, id))
		outs[i] = new(bytes.Buffer)
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
	}
	for i, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			for _, started := range cmds[:i] {
				started.Process.Kill()
				started.Wait()
			}
			t.Fatal(err)
		}
	}
	failed := false
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", ids[i], err, outs[i])
			failed = true
		}
	}
	if failed {
		t.FailNow()
	}

	// Each child logged when its saves began and ended; calls that
	// overlap in time show that one process waited for the other's lock.
	type span struct{ id, n, start, end int64 }
	var spans []span
	for i, out := range outs {
		sc := bufio.NewScanner(bytes.NewReader(out.Bytes()))
		for sc.Scan() {
			var s span
			if _, err := fmt.Sscanf(sc.Text(), "CRASH save %d %d %d", &s.n, &s.start, &s.end); err == nil {
				s.id = int64(ids[i])
				spans = append(spans, s)
			}
		}
	}
	if len(spans) != len(ids)*crashPairSave {
		t.Fatalf("children logged %d saves, want %d:\n%s\n%s", len(spans), len(ids)*crashPairSave, outs[0], outs[1])
	}
	overlaps := 0
	for _, a := range spans {
		for _, b := range spans {
			if a.id < b.id && a.start < b.end && b.start < a.end {
				overlaps++
			}
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.end, b.end) })
	order := make([]string, len(spans))
	for i, s := range spans {
		order[i] = fmt.Sprintf("%d.%d", s.id, s.n)
	}
	t.Logf("saves in the order they ended (process.save): %s; %d pairs of calls overlapped", strings.Join(order, " "), overlaps)

	c := crashLoad(t, bin, errDir)
	got, err := crashContents(c, "proc", crashPairImgs, ids...)
	if err != nil {
		t.Fatal(err)
	}
	if got == 0 {
		t.Fatal("the bin file holds nothing")
	}
	// Saves are serialized by the lock, so the last to end should be the
	// one the file holds; only log it, since a process can be descheduled
	// between its save and its clock reading.
	t.Logf("the file holds process %d's %d images; process %d's save ended last", got, crashPairImgs, spans[len(spans)-1].id)
	if m := crashTemps(t, bin); len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// crashSaveTogether is a child of TestTwoProcessesSaveAtOnce: it builds
// set id, waits until every child has built its own, then saves a few
// times, logging when each save began and ended.
func crashSaveTogether(t *testing.T, spec string) {
	dir, id := crashSplitSpec(t, spec)
	c := newTestCache(t, func(cfg *Config) {
		cfg.BinFile = filepath.Join(dir, crashBinName)
		cfg.ErrorDir = filepath.Join(dir, "child-errors")
		cfg.Preload = false // its own set alone, whichever child starts first
	})
	crashFill(t, c, "proc", id, crashPairImgs)

	// A barrier: each child marks itself ready, then waits for the others.
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("ready-%d", id)), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := filepath.Glob(filepath.Join(dir, "ready-*"))
		if err != nil {
			t.Fatal(err)
		}
		if len(m) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other child never got ready")
		}
		time.Sleep(200 * time.Microsecond)
	}
	for n := 1; n <= crashPairSave; n++ {
		start := time.Now().UnixNano()
		if err := c.Save(); err != nil {
			t.Fatal(err)
		}
		fmt.Println("CRASH save", n, start, time.Now().UnixNano())
	}
}
