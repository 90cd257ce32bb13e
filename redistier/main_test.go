package redistier_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/arcache-go/arcache/internal/redistest"
	"github.com/arcache-go/arcache/redistier"
	"github.com/redis/go-redis/v9"
)

// TestMain keeps go-redis quiet: the tests of a server that has gone away
// make it log every failed dial.
func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	os.Exit(m.Run())
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// quick is how long a client waits for a server that has gone away.
const quick = 200 * time.Millisecond

// start returns a private server and a client of it that gives up on a
// server that has gone away within a fraction of a second, and honours
// contexts: one dial an attempt and one retry, where go-redis's defaults
// (five dials, three retries, backoffs between) take seconds.
func start(t *testing.T, opts ...redistest.Option) (*redistest.Server, *redis.Client) {
	t.Helper()
	srv := redistest.Start(t, opts...)
	o := srv.Options()
	o.DialTimeout = quick
	o.ReadTimeout = quick
	o.WriteTimeout = quick
	o.DialerRetries = 1
	o.MaxRetries = 1
	o.ContextTimeoutEnabled = true
	return srv, srv.NewClient(o)
}

// newTier returns a tier on a private server, and a client of the server
// to look behind the tier's back.
func newTier(t *testing.T, opts ...redistier.Option) (*redistier.Tier, *redis.Client, *redistest.Server) {
	t.Helper()
	srv, c := start(t)
	return redistier.New(c, opts...), c, srv
}

// within fails t unless cond becomes true before d has passed.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
