package redistest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/arcache-go/arcache/internal/servicetest"
)

// RequireEnv is the environment variable that turns a missing server from
// a skip into a failure when set to "1".
const RequireEnv = servicetest.RequireEnv

// binaries are the server programs Start looks for on PATH, in order.
var binaries = []string{"redis-server", "valkey-server"}

const (
	startTimeout = 10 * time.Second // a server answers in milliseconds; this is for a loaded machine
	stopTimeout  = 5 * time.Second  // after SIGTERM, before SIGKILL
	pingTimeout  = time.Second
	// maxSocketPath leaves room under the 104 bytes some systems allow in
	// sun_path (108 on Linux).
	maxSocketPath = 100
)

// A Server is a redis-server process private to one test. Its methods are
// safe for concurrent use; those that can fail the test (Restart, Pause,
// Resume) must be called from the test's goroutine.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	sock string
	args []string

	mu   sync.Mutex
	proc *servicetest.Process // nil while no server runs
}

// Start starts a server for tb and stops it when tb's cleanups run. The
// server listens only on a Unix socket in a temporary directory, saves
// nothing to disk, and answers PING by the time Start returns. Start skips
// tb when no server binary is installed (fails it when RequireEnv is "1"),
// and fails it when the server does not come up.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	bin := lookBinary()
	if bin == "" {
		servicetest.Missing(tb, "redistest: no redis-server on PATH (install the Debian package redis-server; valkey-server also works)")
	}
	dir := tb.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	if len(sock) > maxSocketPath {
		// A long test name makes a long temporary directory; the socket
		// needs a short one.
		d, err := os.MkdirTemp("", "redistest")
		if err != nil {
			tb.Fatalf("redistest: %v", err)
		}
		tb.Cleanup(func() { os.RemoveAll(d) })
		dir, sock = d, filepath.Join(d, "redis.sock")
		if len(sock) > maxSocketPath {
			tb.Fatalf("redistest: socket path %s is too long for a Unix socket; set TMPDIR to a shorter directory", sock)
		}
	}
	args := []string{
		"--port", "0",
		"--unixsocket", sock,
		"--unixsocketperm", "700",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--loglevel", "warning",
		"--logfile", "",
	}
	for _, o := range opts {
		o(&args)
	}
	s := &Server{tb: tb, bin: bin, dir: dir, sock: sock, args: args}
	tb.Cleanup(s.Stop)
	if err := s.launch(); err != nil {
		tb.Fatal(err)
	}
	return s
}

func lookBinary() string {
	for _, name := range binaries {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Addr returns the path of the server's Unix socket, which stays the same
// across Restart.
func (s *Server) Addr() string { return s.sock }

// Binary returns the path of the server program that runs.
func (s *Server) Binary() string { return s.bin }

// Options returns new client options that reach the server, for a test
// to adjust before it makes a client with NewClient.
func (s *Server) Options() *redis.Options {
	return &redis.Options{Network: "unix", Addr: s.sock}
}

// Client returns a new client of the server with go-redis's default
// options, closed when the test ends.
func (s *Server) Client() *redis.Client { return s.NewClient(s.Options()) }

// NewClient returns a new client made with opt, closed when the test ends.
func (s *Server) NewClient(opt *redis.Options) *redis.Client {
	c := redis.NewClient(opt)
	s.tb.Cleanup(func() { c.Close() })
	return c
}

// Running reports whether a server process runs (paused or not).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// Kill ends the server at once with SIGKILL, as a crash would, and waits
// until it has gone. Clients then fail to connect until Restart. Kill does
// nothing when no server runs.
func (s *Server) Kill() {
	p := s.take()
	if p == nil {
		return
	}
	p.Cmd.Process.Kill()
	<-p.Done
}

// Stop shuts the server down with SIGTERM, and with SIGKILL if it has not
// gone within a few seconds. Stop does nothing when no server runs; the
// test's cleanup calls it.
func (s *Server) Stop() {
	p := s.take()
	if p == nil {
		return
	}
	p.Cmd.Process.Signal(sigTerm)
	if sigCont != nil {
		p.Cmd.Process.Signal(sigCont) // a paused server acts on SIGTERM only once it runs
	}
	select {
	case <-p.Done:
	case <-time.After(stopTimeout):
		p.Cmd.Process.Kill()
		<-p.Done
	}
}

// Restart stops the server if it runs and starts a new one on the same
// socket. The new server is empty: nothing is saved across a restart.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	if err := s.launch(); err != nil {
		s.tb.Fatal(err)
	}
}

// Pause stops the server's process with SIGSTOP: connections still open
// and requests are still sent, but no answer comes until Resume, as with
// a server that hangs. Stop and Kill end a paused server too.
func (s *Server) Pause() {
	s.tb.Helper()
	s.signal(sigStop, "pause")
}

// Resume lets a paused server run again with SIGCONT.
func (s *Server) Resume() {
	s.tb.Helper()
	s.signal(sigCont, "resume")
}

func (s *Server) signal(sig os.Signal, op string) {
	s.tb.Helper()
	if sig == nil {
		s.tb.Fatalf("redistest: %s: not supported on this system", op)
	}
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		s.tb.Fatalf("redistest: %s: no server runs", op)
	}
	if err := p.Cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("redistest: %s: %v", op, err)
	}
}

// take removes the running process from s, for the caller to end.
func (s *Server) take() *servicetest.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	s.proc = nil
	return p
}

// launch starts a server process and waits until it answers PING.
func (s *Server) launch() error {
	logPath := filepath.Join(s.dir, "redis.out")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("redistest: %w", err)
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = out, out // files, so that no copying goroutine outlives Kill
	p, err := servicetest.Launch(cmd, servicetest.Start)
	out.Close()
	if err != nil {
		return fmt.Errorf("redistest: start %s: %w", s.bin, err)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	exited, err := p.AwaitReady(startTimeout, func() error { return ping(s.sock) })
	switch {
	case err == nil:
		return nil
	case exited:
		s.take()
		return fmt.Errorf("redistest: %s exited while starting (%v); its output:\n%s",
			s.bin, cmd.ProcessState, tail(logPath))
	}
	s.Kill()
	return fmt.Errorf("redistest: %s did not answer PING on %s within %v (last: %v); its output:\n%s",
		s.bin, s.sock, startTimeout, err, tail(logPath))
}

// ping sends PING in the protocol's inline form and expects +PONG.
func ping(sock string) error {
	c, err := net.DialTimeout("unix", sock, pingTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(pingTimeout))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	want := []byte("+PONG\r\n")
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("PING answered %q", got)
	}
	return nil
}

// tail returns the end of the server's output, for an error message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const max = 4 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
