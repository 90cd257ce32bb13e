// Package redistest starts a private redis-server for a test and stops it
// when the test ends.
//
// [Start] runs redis-server (or valkey-server) as a child process that
// listens only on a Unix socket inside the test's temporary directory: no
// TCP port, no persistence, nothing shared with other tests or with a
// server the machine may already run. It returns once the server answers
// PING, and the test's cleanup stops it.
//
//	srv := redistest.Start(t)
//	client := srv.Client()
//
// Where neither binary is on PATH the test is skipped, with a message
// naming the Debian package redis-server; with ARCACHE_REQUIRE_SERVICES=1
// in the environment, as CI sets it, the test fails instead, so that a
// suite never passes by skipping.
//
// A test of a server that goes away calls [Server.Kill], or [Server.Pause]
// for one that stops answering; [Server.Restart] brings up an empty server
// on the same socket. Child processes of a test (the test binary run again)
// reach the parent's server through the socket path [Server.Addr] returns.
//
// On Linux the server dies with the test binary even when the binary is
// killed before its cleanups run (by go test's -timeout, say), so no
// server outlives a test run.
package redistest
