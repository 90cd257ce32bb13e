// Package servicetest holds what the test helpers that run a private
// server (internal/redistest, internal/pgtest) share: the rule for a
// server that is not installed, and starting its process so that it dies
// with the test binary.
package servicetest
