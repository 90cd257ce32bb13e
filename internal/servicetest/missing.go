package servicetest

import (
	"os"
	"testing"
)

// RequireEnv is the environment variable that turns a missing server
// from a skip into a failure when set to "1", as CI sets it, so that CI
// never passes by skipping.
const RequireEnv = "ARCACHE_REQUIRE_SERVICES"

// Missing skips tb, or fails it under RequireEnv=1, for a server that is
// not installed; why says so, naming the package to install.
func Missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%s; %s=1 requires it", why, RequireEnv)
		return // for a testing.TB that goes on after Fatalf
	}
	tb.Skip(why)
}
