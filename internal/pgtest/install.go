package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/arcache-go/arcache/internal/servicetest"
)

// RequireEnv is the environment variable that turns a missing PostgreSQL
// from a skip into a failure when set to "1".
const RequireEnv = servicetest.RequireEnv

// debianBin is where the Debian package postgresql installs the server
// programs of each major version.
const debianBin = "/usr/lib/postgresql/*/bin"

// Superuser is the database user a server's DSNs connect as.
const Superuser = "postgres"

// install is what running a server needs: the two programs, and the
// account to run them as when the test runs as root.
type install struct {
	initdb, postgres string
	as               *account // nil: as this process's user
}

type account struct {
	name     string
	uid, gid uint32
}

var (
	installOnce sync.Once
	installed   *install
	missing     string // why there is no install, for the skip message
)

// need returns the install, or skips tb (fails it when RequireEnv is
// "1") when there is none.
func need(tb testing.TB) *install {
	tb.Helper()
	installOnce.Do(func() { installed, missing = findInstall(debianBin) })
	return require(tb, installed, missing)
}

// require returns in, or skips or fails tb for the reason missing.
func require(tb testing.TB, in *install, missing string) *install {
	tb.Helper()
	if in != nil {
		return in
	}
	servicetest.Missing(tb, "pgtest: "+missing)
	return nil
}

// findInstall looks for the programs in the directories glob matches,
// then on PATH, and for the user to run them as.
func findInstall(glob string) (*install, string) {
	initdb, postgres := findPrograms(glob)
	if postgres == "" {
		return nil, "no PostgreSQL server programs (initdb and postgres) in " + debianBin + " or on PATH (install the Debian package postgresql)"
	}
	in := &install{initdb: initdb, postgres: postgres}
	if os.Geteuid() != 0 {
		return in, ""
	}
	// PostgreSQL refuses to run as root.
	u, err := user.Lookup(Superuser)
	if err != nil {
		return nil, fmt.Sprintf("running as root, and there is no user %s to run PostgreSQL as (%v); the Debian package postgresql creates it", Superuser, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Sprintf("user %s: %v", Superuser, err)
	}
	in.as = &account{name: Superuser, uid: uint32(uid), gid: uint32(gid)}
	return in, ""
}

// findPrograms returns initdb and postgres from the newest version
// directory glob matches that has both, else from PATH.
func findPrograms(glob string) (initdb, postgres string) {
	dirs, _ := filepath.Glob(glob)
	slices.SortFunc(dirs, func(a, b string) int { return versionOf(b) - versionOf(a) })
	for _, d := range dirs {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
		if isExecutable(i) && isExecutable(p) {
			return i, p
		}
	}
	p, err := exec.LookPath("postgres")
	if err != nil {
		return "", ""
	}
	if i := filepath.Join(filepath.Dir(p), "initdb"); isExecutable(i) {
		return i, p
	}
	i, err := exec.LookPath("initdb")
	if err != nil {
		return "", ""
	}
	return i, p
}

// versionOf returns the major version in a path .../VERSION/bin, 0 if
// there is none.
func versionOf(bin string) int {
	v := filepath.Base(filepath.Dir(bin))
	v, _, _ = strings.Cut(v, ".") // "9.6" before version 10
	n, _ := strconv.Atoi(v)
	return n
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// searchable reports the first directory above dir that a's user cannot
// pass through: the server could not reach its own directory.
func (a *account) searchable(dir string) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if !a.canSearch(fi) {
			return fmt.Errorf("user %s cannot reach %s through %s (mode %v); set TMPDIR to a directory it can reach", a.name, dir, d, fi.Mode().Perm())
		}
		if p := filepath.Dir(d); p == d {
			return nil
		}
	}
}

// startAs starts cmd as the account as, or as this process's user when as
// is nil, to die with the test binary.
func startAs(cmd *exec.Cmd, as *account) error {
	if as == nil {
		return servicetest.Start(cmd)
	}
	return servicetest.StartAs(cmd, as.uid, as.gid)
}
