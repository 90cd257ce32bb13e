package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// quickClient fails in a fraction of a second when the server is away or
// does not answer, so that tests of such a server end promptly.
func quickClient(s *Server) *redis.Client {
	o := s.Options()
	o.DialTimeout = 200 * time.Millisecond
	o.ReadTimeout = 200 * time.Millisecond
	o.WriteTimeout = 200 * time.Millisecond
	o.MaxRetries = -1
	return s.NewClient(o)
}

// A started server answers on its socket, inside the test's directory,
// and on no TCP port.
func TestStart(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	c := s.Client()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); got != "v" || err != nil {
		t.Fatalf("GET k = %q, %v; want v", got, err)
	}
	if fi, err := os.Stat(s.Addr()); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %s: %v, %v", s.Addr(), fi, err)
	}
	cfg, err := c.ConfigGet(ctx, "port").Result()
	if err != nil {
		t.Fatal(err)
	}
	if cfg["port"] != "0" {
		t.Errorf("port = %q; want 0 (no TCP)", cfg["port"])
	}
	cfg, err = c.ConfigGet(ctx, "save").Result()
	if err != nil {
		t.Fatal(err)
	}
	if cfg["save"] != "" {
		t.Errorf("save = %q; want empty (no snapshots)", cfg["save"])
	}
	if !s.Running() {
		t.Error("Running() = false while the server answers")
	}
}

// Two servers in one test are independent.
func TestTwoServers(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("both servers on %s", a.Addr())
	}
	ctx := context.Background()
	if err := a.Client().Set(ctx, "k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Client().Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET k on the second server: %v; want redis.Nil", err)
	}
}

// After Kill, calls fail promptly; Restart brings back an empty server on
// the same socket.
func TestKillRestart(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	c := quickClient(s)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if s.Running() {
		t.Error("Running() = true after Kill")
	}
	start := time.Now()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded after Kill")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("PING after Kill took %v", d)
	}
	s.Kill() // a second Kill does nothing

	addr := s.Addr()
	s.Restart()
	if s.Addr() != addr {
		t.Errorf("Addr() = %s after Restart; want %s", s.Addr(), addr)
	}
	// The pool may still hold the dead server's connections; go-redis
	// drops each one on its first error.
	var err error
	for range 20 {
		if err = c.Ping(ctx).Err(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET k after Restart: %v; want redis.Nil (an empty server)", err)
	}
}

// A paused server takes requests but answers none until Resume; Stop ends
// it all the same.
func TestPauseResume(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGSTOP")
	}
	s := Start(t)
	ctx := context.Background()
	c := quickClient(s)
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	err := c.Ping(ctx).Err()
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("PING of a paused server: %v; want a timeout", err)
	}
	s.Resume()
	for range 20 {
		if err = c.Ping(ctx).Err(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("PING after Resume: %v", err)
	}
	s.Pause()
	start := time.Now()
	s.Stop()
	if d := time.Since(start); d >= stopTimeout {
		t.Errorf("Stop of a paused server took %v: it needed SIGKILL", d)
	}
	if s.Running() {
		t.Error("Running() = true after Stop")
	}
}

// Stop shuts the server down and removes its socket.
func TestStop(t *testing.T) {
	s := Start(t)
	s.Stop()
	if _, err := os.Stat(s.Addr()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Stop: %v; want it removed", err)
	}
	if err := ping(s.Addr()); err == nil {
		t.Error("PING answered after Stop")
	}
	s.Stop() // a second Stop does nothing
}

// Options reach the server's command line.
func TestMaxMemory(t *testing.T) {
	s := Start(t, MaxMemory(8<<20, "allkeys-lru"), Args("--hz", "50"))
	cfg, err := s.Client().ConfigGet(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"maxmemory": "8388608", "maxmemory-policy": "allkeys-lru", "hz": "50"} {
		if cfg[k] != want {
			t.Errorf("%s = %q; want %q", k, cfg[k], want)
		}
	}
}

// A server that cannot start fails the test with its own output.
func TestStartFailure(t *testing.T) {
	if lookBinary() == "" {
		t.Skip("no redis-server")
	}
	ft := &fakeTB{TB: t}
	ft.run(func() { Start(ft, Args("--no-such-option", "1")) })
	if !ft.failed || !strings.Contains(ft.msg, "exited while starting") || !strings.Contains(ft.msg, "no-such-option") {
		t.Errorf("failed %v, message %q; want a failure quoting the server's complaint", ft.failed, ft.msg)
	}
}

// Without a server binary, Start skips, naming the Debian package; with
// RequireEnv=1 it fails.
func TestMissingBinary(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, require := range []string{"", "1"} {
		t.Setenv(RequireEnv, require)
		ft := &fakeTB{TB: t}
		ft.run(func() { Start(ft) })
		if ft.skipped == (require == "1") || ft.failed != (require == "1") {
			t.Errorf("%s=%q: skipped %v, failed %v", RequireEnv, require, ft.skipped, ft.failed)
		}
		if !strings.Contains(ft.msg, "Debian package redis-server") {
			t.Errorf("%s=%q: message %q does not name the Debian package", RequireEnv, require, ft.msg)
		}
	}
}

// The benchmark value is stable and of the documented size.
func TestBenchValue(t *testing.T) {
	a, b := BenchValue(), BenchValue()
	if len(a) != BenchValueSize || string(a) != string(b) {
		t.Fatalf("BenchValue: %d bytes, stable %v", len(a), string(a) == string(b))
	}
	zeros := strings.Count(string(a), "\x00")
	if zeros > len(a)/64 {
		t.Errorf("BenchValue has %d zero bytes of %d", zeros, len(a))
	}
}

// BenchmarkBenchGet runs the baseline helper itself; the baseline beside a
// tier's benchmark is redistier's BenchmarkBaselineRedisGet.
func BenchmarkBenchGet(b *testing.B) {
	s := Start(b)
	BenchGet(b, s.Client(), "bench", BenchValue())
}

// fakeTB records a skip or a failure instead of ending the real test.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skip(args ...any) {
	f.skipped, f.msg = true, strings.TrimSuffix(fmt.Sprint(args...), "\n")
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) {
	f.failed, f.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Fatal(fmt.Sprintf(format, args...))
}

// run calls fn on a goroutine of its own, which Skip and Fatal end.
func (f *fakeTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}
