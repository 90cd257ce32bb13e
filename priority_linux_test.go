package arcache

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestLowerPriority checks that the debug writer's thread ends up at the
// lowest priority, and that other threads keep theirs.
func TestLowerPriority(t *testing.T) {
	before, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		prio int
		err  error
	}
	done := make(chan result)
	go func() {
		lowerPriority()
		// The raw system call answers 20 - nice.
		p, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
		done <- result{p, err}
	}()
	r := <-done
	if r.err != nil || 20-r.prio != 19 {
		t.Errorf("nice value after lowerPriority = %d, %v; want 19", 20-r.prio, r.err)
	}
	if after, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid()); err != nil || after != before {
		t.Errorf("the test's own thread changed priority: %d, then %d, %v", before, after, err)
	}
}
