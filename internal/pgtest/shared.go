package pgtest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// managed is set by Main: the binary then keeps one initdb result to copy,
// and one shared server, until its tests end.
var managed atomic.Bool

var (
	templateOnce sync.Once
	templateDir  string // holds data/, initdb's result, never started
	templateErr  error

	sharedOnce sync.Once
	sharedSrv  *Server
	sharedErr  error
)

// Main runs a test binary's tests, as a TestMain calls it:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// Under Main, initdb runs once, when a test first needs a server, and each
// server starts on a copy of its result, which takes a fraction of the
// time; Shared hands out one server for all the tests. Main stops that
// server and removes its files and the copy's source when the tests end.
// A binary none of whose tests needs a server starts none.
func Main(m *testing.M) int {
	managed.Store(true)
	code := m.Run()
	if sharedSrv != nil {
		sharedSrv.remove()
	}
	if templateDir != "" {
		os.RemoveAll(templateDir)
	}
	return code
}

// Shared returns a server for any test of the binary to use, started when
// a test first asks for it. Tests share it, so each should work in
// databases of its own (CreateDB); Stop and Restart do not apply to it.
// Without Main, which stops it when the tests end, Shared is Start. It
// skips or fails tb as Start does.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	if !managed.Load() {
		return Start(tb)
	}
	in := need(tb)
	sharedOnce.Do(func() {
		sharedSrv, sharedErr = newServer(in)
		if sharedSrv != nil {
			sharedSrv.shared = true
		}
	})
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	return sharedSrv
}

// initData makes the data directory data of a new server: under Main, a
// copy of the binary's one initdb result; otherwise by running initdb.
func initData(in *install, data string) error {
	if !managed.Load() {
		return runInitdb(in, data)
	}
	templateOnce.Do(func() {
		templateDir, templateErr = makeDir(in)
		if templateErr == nil {
			templateErr = runInitdb(in, filepath.Join(templateDir, "data"))
		}
	})
	if templateErr != nil {
		return templateErr
	}
	if err := copyTree(filepath.Join(templateDir, "data"), data, in.as); err != nil {
		return fmt.Errorf("pgtest: copy the initdb result: %w", err)
	}
	return nil
}

// copyTree copies the directory src to dst, which must not exist, with
// the same modes (PostgreSQL wants its data directory to be 0700 or
// 0750), owned by as when it is not nil.
func copyTree(src, dst string, as *account) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			err = os.Mkdir(to, fi.Mode().Perm())
		case d.Type().IsRegular():
			err = copyFile(path, to, fi.Mode().Perm())
		default:
			return fmt.Errorf("%s: not a file or directory", path)
		}
		if err == nil && as != nil {
			err = os.Lchown(to, int(as.uid), int(as.gid))
		}
		return err
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
