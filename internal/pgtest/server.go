package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/arcache-go/arcache/internal/servicetest"
)

const (
	// A server accepts connections in a fraction of a second; these are
	// for a loaded machine.
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second // after SIGINT, before SIGKILL
	dialTimeout  = time.Second
	// maxSocketPath leaves room under the 104 bytes some systems allow in
	// sun_path (108 on Linux).
	maxSocketPath = 100
	socketName    = ".s.PGSQL.5432"
	// AdminDB is the database every server has from initdb.
	AdminDB = "postgres"
)

// settings are the server's: only the Unix socket, and nothing synced,
// since a test's data need not survive a crash.
var settings = []string{
	"listen_addresses=",
	"fsync=off",
	"synchronous_commit=off",
	"full_page_writes=off",
	"autovacuum=off",
	"max_connections=200",
	"shared_buffers=32MB",
	"log_min_messages=warning",
}

// A Server is a PostgreSQL server private to a test, or shared by a test
// binary's tests (see Shared). Its methods are safe for concurrent use.
type Server struct {
	in     *install
	dir    string // the socket's directory; the data directory is in it
	data   string
	shared bool

	mu   sync.Mutex
	proc *servicetest.Process // nil while no server runs
	dbs  atomic.Int64
}

// Start starts a server for tb and stops it, removing its files, when
// tb's cleanups run. The server listens only on a Unix socket, accepts
// connections by the time Start returns, and has no databases but the
// AdminDB initdb makes. Start skips tb when PostgreSQL is not installed
// (fails it when RequireEnv is "1"), and fails it when the server does not
// come up.
func Start(tb testing.TB) *Server {
	tb.Helper()
	in := need(tb)
	s, err := newServer(in)
	if s != nil {
		tb.Cleanup(s.remove)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// newServer makes a data directory and starts a server on it. A server
// returned with an error is to be removed.
func newServer(in *install) (*Server, error) {
	dir, err := makeDir(in)
	if err != nil {
		return nil, err
	}
	s := &Server{in: in, dir: dir, data: filepath.Join(dir, "data")}
	if err := initData(in, s.data); err != nil {
		return s, err
	}
	return s, s.launch()
}

// makeDir makes a directory for one server (its data, socket and log),
// owned by the user the server runs as. It is not tb.TempDir(): the
// socket's path must be short, that user must reach the directory, and
// it had better be on a memory file system (see tempRoot).
func makeDir(in *install) (string, error) {
	dir, err := os.MkdirTemp(tempRoot(), "pgtest-")
	if err != nil {
		return "", fmt.Errorf("pgtest: %w", err)
	}
	if p := filepath.Join(dir, socketName); len(p) > maxSocketPath {
		os.RemoveAll(dir)
		return "", fmt.Errorf("pgtest: socket path %s is too long for a Unix socket; set TMPDIR to a shorter directory", p)
	}
	if in.as != nil {
		if err := os.Chown(dir, int(in.as.uid), int(in.as.gid)); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("pgtest: %w", err)
		}
		if err := in.as.searchable(dir); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("pgtest: %w", err)
		}
	}
	return dir, nil
}

// runInitdb makes a new data directory data, which must not exist yet.
func runInitdb(in *install, data string) error {
	log := filepath.Join(filepath.Dir(data), "initdb.log")
	out, err := os.Create(log)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(in.initdb, "-D", data, "-U", Superuser, "-A", "trust",
		"--no-sync", "--no-instructions", "-E", "UTF8", "--locale=C")
	cmd.Dir = filepath.Dir(data)
	cmd.Env = environ()
	cmd.Stdout, cmd.Stderr = out, out
	if err := startAs(cmd, in.as); err != nil {
		return fmt.Errorf("pgtest: start %s: %w", in.initdb, err)
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("pgtest: %s: %w; its output:\n%s", in.initdb, err, tail(log))
	}
	return nil
}

// environ is this process's environment without the PG variables, which
// would point the programs at other servers and directories.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// Dir returns the directory of the server's Unix socket, the host of its
// DSNs. It stays the same across Restart.
func (s *Server) Dir() string { return s.dir }

// DSN returns a connection string for the database dbname, as Superuser,
// in PostgreSQL's key=value form.
func (s *Server) DSN(dbname string) string {
	return "host=" + quote(s.dir) + " dbname=" + quote(dbname) + " user=" + Superuser
}

// quote quotes a value of a key=value connection string when it needs it.
func quote(v string) string {
	if v != "" && !strings.ContainsAny(v, ` '\`) {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// CreateDB creates a new, empty database and returns its DSN. Its name is
// made from tb's, and no other CreateDB of the server returns it.
func (s *Server) CreateDB(tb testing.TB) string {
	tb.Helper()
	name := dbName(tb.Name(), s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	conn, err := pgconn.Connect(ctx, s.DSN(AdminDB))
	if err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE "`+name+`" STRATEGY FILE_COPY`).ReadAll(); err != nil {
		tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return s.DSN(name)
}

// dbName makes a database name of a test's name and a number: letters,
// digits and underscores, at most the 63 bytes PostgreSQL keeps.
func dbName(test string, n int64) string {
	suffix := fmt.Sprintf("_%d", n)
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if max := 63 - len(suffix); len(name) > max {
		name = name[len(name)-max:] // the end tells subtests apart
	}
	return strings.TrimLeft(name, "_0123456789") + suffix
}

// Running reports whether the server process runs.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// Stop shuts the server down (a fast shutdown: sessions are ended) and
// waits until it has gone, killing it if it takes more than a few seconds.
// Clients then fail to connect until Restart; the data stays. Stop does
// nothing when no server runs, or on the server Shared returns, which
// Main stops.
func (s *Server) Stop() {
	if s.shared {
		return
	}
	s.stop()
}

func (s *Server) stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	p.Cmd.Process.Signal(os.Interrupt) // SIGINT: PostgreSQL's fast shutdown
	select {
	case <-p.Done:
	case <-time.After(stopTimeout):
		p.Cmd.Process.Kill()
		<-p.Done
	}
}

// Restart stops the server if it runs and starts it again on the same data
// and socket. It fails tb when the server does not come up, or when s is
// the server Shared returns.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if s.shared {
		tb.Fatal("pgtest: Restart of the shared server; use a server of the test's own, from Start")
	}
	s.stop()
	if err := s.launch(); err != nil {
		tb.Fatal(err)
	}
}

// Log returns the end of the server's log, for a failing test to show.
func (s *Server) Log() string { return tail(filepath.Join(s.dir, "postgres.log")) }

// remove stops the server and removes its files.
func (s *Server) remove() {
	s.stop()
	os.RemoveAll(s.dir)
}

// launch starts a server process on s's data and waits until it accepts
// connections.
func (s *Server) launch() error {
	logPath := filepath.Join(s.dir, "postgres.log")
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	args := []string{"-D", s.data, "-k", s.dir}
	for _, kv := range settings {
		args = append(args, "-c", kv)
	}
	cmd := exec.Command(s.in.postgres, args...)
	cmd.Dir = s.dir
	cmd.Env = environ()
	cmd.Stdout, cmd.Stderr = out, out // files, so that no copying goroutine outlives the server
	p, err := servicetest.Launch(cmd, func(cmd *exec.Cmd) error { return startAs(cmd, s.in.as) })
	out.Close()
	if err != nil {
		return fmt.Errorf("pgtest: start %s: %w", s.in.postgres, err)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	exited, err := p.AwaitReady(startTimeout, s.ping)
	switch {
	case err == nil:
		return nil
	case exited:
		s.mu.Lock()
		s.proc = nil
		s.mu.Unlock()
		return fmt.Errorf("pgtest: %s exited while starting (%v); its log:\n%s", s.in.postgres, cmd.ProcessState, s.Log())
	}
	s.stop()
	return fmt.Errorf("pgtest: %s accepted no connection on %s within %v (last: %v); its log:\n%s",
		s.in.postgres, s.dir, startTimeout, err, s.Log())
}

// ping connects to AdminDB and disconnects.
func (s *Server) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	conn, err := pgconn.Connect(ctx, s.DSN(AdminDB))
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// tail returns the end of a log file, for an error message.
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
