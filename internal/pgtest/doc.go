// Package pgtest starts a private PostgreSQL server for tests and stops it
// when they end.
//
// [Start] runs initdb and postgres from the machine's PostgreSQL
// installation (the Debian package postgresql puts them in
// /usr/lib/postgresql/VERSION/bin; PATH is searched too) in a temporary
// directory of its own. The server listens only on a Unix socket in that
// directory, with fsync off: no TCP port, nothing shared with other tests
// or with a server the machine may already run. PostgreSQL refuses to run
// as root, so a test running as root runs both programs as the user
// postgres, which the Debian package creates, in a directory that user
// owns. Start returns once the server accepts connections, and the
// test's cleanup stops it.
//
//	srv := pgtest.Start(t)
//	dsn := srv.CreateDB(t) // "host=SOCKETDIR dbname=… user=postgres"
//
// Where PostgreSQL is not installed the test is skipped, with a message
// naming the Debian package postgresql; with ARCACHE_REQUIRE_SERVICES=1 in
// the environment, as CI sets it, the test fails instead, so that a suite
// never passes by skipping.
//
// Most of the time goes into initdb. A test binary whose TestMain calls
// [Main] runs it once and copies its result for each server, and its tests
// may share one server through [Shared], each in databases of its own from
// [Server.CreateDB]; Main stops that server when the tests end.
//
// A test of a database that goes away calls [Server.Stop] on a server of
// its own, and [Server.Restart] to bring the same data back on the same
// socket.
//
// On Linux the server dies with the test binary even when the binary is
// killed before its cleanups run (by go test's -timeout, say).
package pgtest
