//go:build unix

package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// envUnmanaged makes TestMain run the tests without Main, as a binary
// without a TestMain would.
const envUnmanaged = "PGTEST_UNMANAGED"

func TestMain(m *testing.M) {
	if os.Getenv(envUnmanaged) == "1" {
		os.Exit(m.Run())
	}
	os.Exit(Main(m))
}

// query runs sql on dsn and returns the first column of each row.
func query(t *testing.T, dsn, sql string) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rs, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return nil, err
	}
	var col []string
	for _, r := range rs {
		for _, row := range r.Rows {
			col = append(col, string(row[0]))
		}
	}
	return col, nil
}

func mustQuery(t *testing.T, dsn, sql string) []string {
	t.Helper()
	col, err := query(t, dsn, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return col
}

// A server listens on its socket only, with nothing synced, and makes a
// new database at each CreateDB.
func TestStart(t *testing.T) {
	t.Parallel()
	s := Start(t)
	if !s.Running() {
		t.Fatal("Running() = false after Start")
	}
	if fi, err := os.Stat(filepath.Join(s.Dir(), socketName)); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket in %s: %v, %v", s.Dir(), fi, err)
	}
	dsn := s.DSN(AdminDB)
	for setting, want := range map[string]string{"listen_addresses": "", "fsync": "off", "unix_socket_directories": s.Dir()} {
		if got := mustQuery(t, dsn, "SHOW "+setting); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q; want %q", setting, got, want)
		}
	}
	if os.Geteuid() == 0 {
		if got := mustQuery(t, dsn, "SELECT current_setting('data_directory')"); len(got) != 1 || !strings.HasPrefix(got[0], s.Dir()) {
			t.Errorf("data_directory = %q; want one in %s", got, s.Dir())
		}
		var st syscall.Stat_t
		if err := syscall.Stat(s.Dir(), &st); err != nil || st.Uid == 0 {
			t.Errorf("the server's directory is owned by uid %d (%v); want the user %s", st.Uid, err, Superuser)
		}
	}

	a, b := s.CreateDB(t), s.CreateDB(t)
	if a == b {
		t.Fatalf("CreateDB returned %q twice", a)
	}
	mustQuery(t, a, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
	if _, err := query(t, b, "SELECT x FROM t"); err == nil {
		t.Errorf("the second database sees the first's table")
	}
	if got := mustQuery(t, a, "SELECT x FROM t"); len(got) != 1 || got[0] != "1" {
		t.Errorf("SELECT x FROM t = %q; want [1]", got)
	}
}

// After Stop, connections fail; Restart brings the same data back on the
// same socket.
func TestStopRestart(t *testing.T) {
	t.Parallel()
	s := Start(t)
	dsn := s.CreateDB(t)
	mustQuery(t, dsn, "CREATE TABLE t (x int); INSERT INTO t VALUES (42)")
	pid := s.pid(t)

	s.Stop()
	if s.Running() {
		t.Error("Running() = true after Stop")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill -0 of the stopped server (pid %d): %v; want ESRCH", pid, err)
	}
	if _, err := query(t, dsn, "SELECT 1"); err == nil {
		t.Fatal("a query after Stop succeeded")
	}
	s.Stop() // a second Stop does nothing

	s.Restart(t)
	if got := mustQuery(t, dsn, "SELECT x FROM t"); len(got) != 1 || got[0] != "42" {
		t.Errorf("after Restart, SELECT x FROM t = %q; want [42]", got)
	}
	s.Restart(t) // of a running server
	if got := mustQuery(t, dsn, "SELECT x FROM t"); len(got) != 1 || got[0] != "42" {
		t.Errorf("after a second Restart, SELECT x FROM t = %q; want [42]", got)
	}
}

// pid returns the server's process id from its postmaster.pid.
func (s *Server) pid(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.data, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(line)
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || s.proc.Cmd.Process.Pid != pid {
		t.Fatalf("postmaster.pid names %d, not the child that was started", pid)
	}
	return pid
}

// A test's cleanup stops its server and removes its files.
func TestCleanup(t *testing.T) {
	t.Parallel()
	var (
		dir string
		pid int
	)
	t.Run("server", func(t *testing.T) {
		s := Start(t)
		dir, pid = s.Dir(), s.pid(t)
	})
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the server's directory after its test: %v; want it gone", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill -0 of the server after its test (pid %d): %v; want ESRCH", pid, err)
	}
}

// The shared server is one for the binary, and Stop leaves it running.
func TestShared(t *testing.T) {
	t.Parallel()
	s := Shared(t)
	if s2 := Shared(t); s2 != s {
		t.Fatal("two calls of Shared returned two servers")
	}
	dsn := s.CreateDB(t)
	s.Stop()
	if got := mustQuery(t, dsn, "SELECT 1"); len(got) != 1 || got[0] != "1" {
		t.Errorf("SELECT 1 after Stop of the shared server = %q, want [1]", got)
	}
	if p := Start(t); p == s {
		t.Error("Start returned the shared server")
	}
}

// Without Main, every server runs initdb itself, and Shared is Start.
func TestWithoutMain(t *testing.T) {
	if os.Getenv(envUnmanaged) == "1" {
		a, b := Shared(t), Shared(t)
		if a == b {
			t.Fatal("without Main, Shared returned one server twice")
		}
		mustQuery(t, a.CreateDB(t), "SELECT 1")
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWithoutMain$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), envUnmanaged+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestWithoutMain") {
		t.Fatalf("the test without Main: %v\n%s", err, out)
	}
}

// The connection strings name the socket's directory, quoted when it
// needs it.
func TestDSN(t *testing.T) {
	s := &Server{dir: `/some dir/a'b\c`}
	cfg, err := pgconn.ParseConfig(s.DSN("db x"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != s.dir || cfg.Database != "db x" || cfg.User != Superuser {
		t.Errorf("DSN %q parses to host %q, database %q, user %q", s.DSN("db x"), cfg.Host, cfg.Database, cfg.User)
	}
}

func TestDBName(t *testing.T) {
	for _, tc := range []struct {
		test string
		n    int64
		want string
	}{
		{"TestA", 1, "testa_1"},
		{"TestA/sub-test #01", 12, "testa_sub_test__01_12"},
		{"0x", 3, "x_3"},
		{strings.Repeat("a", 70) + "/END", 7, strings.Repeat("a", 57) + "_end_7"},
	} {
		got := dbName(tc.test, tc.n)
		if got != tc.want || len(got) > 63 {
			t.Errorf("dbName(%q, %d) = %q; want %q", tc.test, tc.n, got, tc.want)
		}
	}
}

// fakeTB records what require does to a test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped = fmt.Sprint(args...)
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
}

// Without PostgreSQL a test skips naming the Debian package, or fails
// under RequireEnv=1.
func TestMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	in, missing := findInstall(filepath.Join(t.TempDir(), "*", "bin"))
	if in != nil || !strings.Contains(missing, "postgresql") {
		t.Fatalf("findInstall with no programs = %v, %q; want nil and a message naming postgresql", in, missing)
	}

	t.Setenv(RequireEnv, "")
	f := &fakeTB{TB: t}
	require(f, nil, missing)
	if !strings.Contains(f.skipped, "Debian package postgresql") || f.failed != "" {
		t.Errorf("without %s: skipped %q, failed %q; want a skip naming the package", RequireEnv, f.skipped, f.failed)
	}
	t.Setenv(RequireEnv, "1")
	f = &fakeTB{TB: t}
	require(f, nil, missing)
	if !strings.Contains(f.failed, "postgresql") || f.skipped != "" {
		t.Errorf("with %s=1: skipped %q, failed %q; want a failure", RequireEnv, f.skipped, f.failed)
	}
}

// The newest version directory with both programs wins.
func TestFindPrograms(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "13", "15", "16"} {
		bin := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		names := []string{"initdb", "postgres"}
		if v == "16" {
			names = names[1:] // no initdb: not a whole install
		}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(bin, n), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	initdb, postgres := findPrograms(filepath.Join(root, "*", "bin"))
	want := filepath.Join(root, "15", "bin")
	if filepath.Dir(initdb) != want || filepath.Dir(postgres) != want {
		t.Errorf("findPrograms = %s, %s; want both in %s", initdb, postgres, want)
	}
}
