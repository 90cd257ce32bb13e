package imagecache

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"
)

// hitCrashEnv, when set, makes the test binary the child of
// TestHitsSurviveKill: its value is the cache directory.
const hitCrashEnv = "IMAGECACHE_HIT_CRASH_DIR"

// A process killed with SIGKILL loses at most the hits of its last
// flush delay: those counted a second before the kill are on disk.
func TestHitsSurviveKill(t *testing.T) {
	if dir := os.Getenv(hitCrashEnv); dir != "" {
		hitCrashChild(dir)
		return
	}
	dir := t.TempDir()
	c, err := New(Config{Dir: dir}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	icCache(t, c, "a", icBytes(9, 512), Checksum{})
	c.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHitsSurviveKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), hitCrashEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "more" {
	}
	cmd.Process.Kill() // SIGKILL: no Close, no flush
	cmd.Wait()

	again, err := New(Config{Dir: dir}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	n, err := again.HitCount("a")
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 || n > 60 {
		t.Errorf("after SIGKILL the cache holds %d hits; want the 50 counted a second before, and at most the 10 after\n%s", n, &stderr)
	}
}

// hitCrashChild reads "a" 50 times, waits past the flush delay, reads it
// 10 times more and says so, then waits to be killed.
func hitCrashChild(dir string) {
	c, err := New(Config{Dir: dir}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	read := func() {
		rc, err := c.OpenForRead("a")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for buf := make([]byte, 1024); ; {
			if _, err := rc.Read(buf); err != nil {
				break
			}
		}
		rc.Close()
	}
	for range 50 {
		read()
	}
	time.Sleep(hitFlushDelay + 700*time.Millisecond)
	for range 10 {
		read()
	}
	fmt.Println("more")
	time.Sleep(time.Minute)
}
