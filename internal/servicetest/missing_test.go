package servicetest

import (
	"testing"
)

// recorder is a testing.TB that notes what is asked of it.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skip(args ...any)                  { r.skipped = args[0].(string) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = format }

// A missing server skips, or fails under RequireEnv=1, and never both.
func TestMissing(t *testing.T) {
	for _, env := range []string{"", "1"} {
		t.Setenv(RequireEnv, env)
		r := &recorder{}
		Missing(r, "no server (install the package)")
		if skip, fail := r.skipped != "", r.failed != ""; skip == (env == "1") || fail != (env == "1") {
			t.Errorf("%s=%q: skipped %v, failed %v", RequireEnv, env, skip, fail)
		}
	}
}
