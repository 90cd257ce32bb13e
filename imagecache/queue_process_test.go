package imagecache

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests here run the test binary as child processes that queue ids
// in one cache directory, as multiprocess_test.go's do, talking to the
// parent through their standard input and output.

// qpChild is a child process and its pipes.
type qpChild struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr bytes.Buffer
	waited sync.Once
	err    error
}

// qpStart starts count children, the test binary running test in child
// mode, selected by env.
func qpStart(t *testing.T, test string, count int, env ...string) []*qpChild {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	children := make([]*qpChild, count)
	for n := range children {
		ch := &qpChild{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$", "-test.count=1")}
		ch.cmd.Env = append(append(os.Environ(), env...), mpEnvChild+"="+strconv.Itoa(n))
		ch.cmd.Stderr = &ch.stderr
		var err error
		if ch.in, err = ch.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		out, err := ch.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		ch.out = bufio.NewScanner(out)
		if err := ch.cmd.Start(); err != nil {
			t.Fatalf("start child %d: %v", n, err)
		}
		t.Cleanup(func() {
			ch.cmd.Process.Kill()
			ch.wait()
		})
		children[n] = ch
	}
	return children
}

// line reads the child's next line of output.
func (ch *qpChild) line(t *testing.T) string {
	t.Helper()
	if !ch.out.Scan() {
		ch.wait()
		t.Fatalf("child %v: no more output (%v); stderr:\n%s", ch.cmd.Args, ch.err, ch.stderr.String())
	}
	return ch.out.Text()
}

// rest reads the child's output to its end.
func (ch *qpChild) rest() []string {
	var lines []string
	for ch.out.Scan() {
		lines = append(lines, ch.out.Text())
	}
	return lines
}

func (ch *qpChild) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(ch.in, line+"\n"); err != nil {
		t.Fatalf("write to child: %v; stderr:\n%s", err, ch.stderr.String())
	}
}

func (ch *qpChild) wait() error {
	ch.waited.Do(func() { ch.err = ch.cmd.Wait() })
	return ch.err
}

// qpFinish closes the children's input, reads the rest of their output
// and waits for them to succeed, all at once: under the race detector,
// each waits a second before it exits.
func qpFinish(t *testing.T, children []*qpChild) (outs [][]string) {
	t.Helper()
	outs = make([][]string, len(children))
	var wg sync.WaitGroup
	for n, ch := range children {
		ch.in.Close()
		wg.Go(func() {
			outs[n] = ch.rest()
			ch.wait()
		})
	}
	wg.Wait()
	for n, ch := range children {
		if ch.err != nil {
			t.Fatalf("child %d: %v; stderr:\n%s", n, ch.err, ch.stderr.String())
		}
	}
	return outs
}

func qpOpen(dir string) (*Cache, error) {
	return New(Config{Dir: dir}, WithLogger(slog.New(slog.DiscardHandler)))
}

// TestQueueProcessesOrder: processes that queue one after the other, as
// the parent tells them, with the parent queueing and unqueueing too, list
// the ids exactly in the order the Queue calls returned true.
func TestQueueProcessesOrder(t *testing.T) {
	const envDir = "IMAGECACHE_QUEUE_ORDER_DIR"
	if dir := os.Getenv(envDir); dir != "" {
		mpChildMain(func(int) error {
			c, err := qpOpen(dir)
			if err != nil {
				return err
			}
			defer c.Close()
			in := bufio.NewScanner(os.Stdin)
			for in.Scan() {
				ok, err := c.Queue(in.Text())
				if err != nil {
					return err
				}
				fmt.Println(ok)
			}
			return in.Err()
		})
	}
	if testing.Short() {
		t.Skip("runs processes: skipped under -short")
	}
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := qpOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	children := qpStart(t, "TestQueueProcessesOrder", 3, envDir+"="+dir)

	rng := rand.New(rand.NewPCG(7, 11))
	pool := make([]string, 40)
	for i := range pool {
		pool[i] = fmt.Sprintf("img-%08x", rng.Uint32())
	}
	var want []string // the order so far
	for step := range 200 {
		id := pool[rng.IntN(len(pool))]
		queued := slices.Contains(want, id)
		who := rng.IntN(len(children) + 1) // the last is the parent
		var got bool
		switch {
		case queued && rng.IntN(3) == 0:
			if err := c.DeleteQueued(id); err != nil {
				t.Fatal(err)
			}
			want = slices.DeleteFunc(want, func(s string) bool { return s == id })
			continue
		case who == len(children):
			if got, err = c.Queue(id); err != nil {
				t.Fatal(err)
			}
		default:
			children[who].send(t, id)
			got = children[who].line(t) == "true"
		}
		if got == queued {
			t.Fatalf("step %d: Queue(%s) = %v with %s queued %v", step, id, got, id, queued)
		}
		if got {
			want = append(want, id)
		}
		if step%50 == 49 {
			qWant(t, c, want...)
		}
	}
	qpFinish(t, children)
	qWant(t, c, want...)
	t.Logf("%d ids queued", len(want))
}

// TestQueueProcessesConcurrent: processes that queue at the same time,
// ids of their own and ids they all try, each queue every id once, and the
// listing holds each once, in an order that keeps each process's own, with
// numbers that rise along it: no two ids tie.
func TestQueueProcessesConcurrent(t *testing.T) {
	const (
		envDir   = "IMAGECACHE_QUEUE_CONCURRENT_DIR"
		children = 4
		own      = 120
		shared   = 40
	)
	if dir := os.Getenv(envDir); dir != "" {
		mpChildMain(func(n int) error {
			c, err := qpOpen(dir)
			if err != nil {
				return err
			}
			defer c.Close()
			var ids []string
			for i := range own {
				ids = append(ids, fmt.Sprintf("p%d-%03d", n, i))
			}
			for i := range shared {
				ids = append(ids, fmt.Sprintf("shared-%02d", i))
			}
			rand.New(rand.NewPCG(uint64(n), 3)).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
			fmt.Println("ready")
			if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
				return err
			}
			for _, id := range ids {
				ok, err := c.Queue(id)
				if err != nil {
					return err
				}
				if ok {
					fmt.Println(id)
				}
			}
			return nil
		})
	}
	if testing.Short() {
		t.Skip("runs processes: skipped under -short")
	}
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := qpOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chs := qpStart(t, "TestQueueProcessesConcurrent", children, envDir+"="+dir)
	for _, ch := range chs {
		if l := ch.line(t); l != "ready" {
			t.Fatalf("child said %q; want ready", l)
		}
	}
	for _, ch := range chs {
		ch.send(t, "go")
	}
	queuedBy := qpFinish(t, chs)

	got, err := c.QueuedImages()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != children*own+shared {
		t.Errorf("%d ids queued; want %d", len(got), children*own+shared)
	}
	pos := map[string]int{}
	for i, id := range got {
		if _, dup := pos[id]; dup {
			t.Errorf("%s is listed twice", id)
		}
		pos[id] = i
	}
	sharedWins := 0
	for n, ids := range queuedBy {
		last := -1
		for _, id := range ids {
			p, ok := pos[id]
			if !ok {
				t.Errorf("child %d queued %s, which is not listed", n, id)
				continue
			}
			if p <= last {
				t.Errorf("child %d queued %s after %s, which is listed later", n, id, got[last])
			}
			last = p
			if strings.HasPrefix(id, "shared-") {
				sharedWins++
			}
		}
	}
	if sharedWins != shared {
		t.Errorf("the children queued the %d shared ids %d times", shared, sharedWins)
	}
	var prev uint64
	for _, id := range got {
		b, err := os.ReadFile(filepath.Join(dir, queueDir, id))
		seq, perr := strconv.ParseUint(string(b), 10, 64)
		if err != nil || perr != nil || seq <= prev {
			t.Fatalf("queue/%s holds %q (%v), after %d", id, b, err, prev)
		}
		prev = seq
	}
}

// TestQueueProcessKilled: a process killed (SIGKILL) while it queues loses
// none of the ids its Queue calls returned, and leaves the queue in order
// for the next.
func TestQueueProcessKilled(t *testing.T) {
	const (
		envDir   = "IMAGECACHE_QUEUE_KILLED_DIR"
		envRound = "IMAGECACHE_QUEUE_KILLED_ROUND"
		rounds   = 6
	)
	if dir := os.Getenv(envDir); dir != "" {
		mpChildMain(func(int) error {
			c, err := qpOpen(dir)
			if err != nil {
				return err
			}
			for i := 0; ; i++ {
				id := fmt.Sprintf("r%s-%05d", os.Getenv(envRound), i)
				if ok, err := c.Queue(id); !ok || err != nil {
					return fmt.Errorf("Queue(%s) = %v, %v", id, ok, err)
				}
				fmt.Println(id) // once Queue returned
			}
		})
	}
	if testing.Short() {
		t.Skip("runs processes: skipped under -short")
	}
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := qpOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(5, 8))
	var want []string // what the children said they queued, in order
	for round := range rounds {
		ch := qpStart(t, "TestQueueProcessKilled", 1, envDir+"="+dir, envRound+"="+strconv.Itoa(round))[0]
		// Let it queue a few, then kill it in the middle of whatever
		// it does: most often, a Queue.
		printed := []string{ch.line(t)}
		for range rng.IntN(20) {
			printed = append(printed, ch.line(t))
		}
		if err := ch.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		printed = append(printed, ch.rest()...)
		if err := ch.wait(); err == nil {
			t.Fatalf("round %d: the child was not killed", round)
		}
		want = append(want, printed...)

		// Every id printed is queued, in order; the one the child was
		// queueing when it died may be too, right after them.
		got, err := c.QueuedImages()
		if err != nil {
			t.Fatal(err)
		}
		next := fmt.Sprintf("r%d-%05d", round, len(printed))
		if len(got) == len(want)+1 && got[len(got)-1] == next {
			want = append(want, next)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: after the kill, QueuedImages() = %q;\nwant %q", round, got, want)
		}
		t.Logf("round %d: killed after %d ids", round, len(printed))
	}
	qQueue(t, c, "after")
	qWant(t, c, append(want, "after")...)
}
