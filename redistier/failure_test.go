package redistier_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/arcache-go/arcache/redistier"
)

// prompt is the most a call may take against a server that has gone away,
// with the test clients' 200 ms timeouts and one retry: far less than a
// hang, far more than a loaded machine needs.
const prompt = 2 * time.Second

// timed runs fn and fails t if it takes longer than prompt.
func timed(t *testing.T, what string, fn func()) {
	t.Helper()
	start := time.Now()
	fn()
	if d := time.Since(start); d > prompt {
		t.Errorf("%s took %v against a server that has gone away", what, d)
	}
}

// A server that dies in use makes every call fail promptly with a
// wrapped error; a restarted server serves again.
func TestServerKilled(t *testing.T) {
	tier, _, srv := newTier(t)
	if err := tier.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	held, ok, err := tier.Lease(ctx, "held", time.Minute)
	if !ok || err != nil {
		t.Fatalf("Lease = %v, %v", ok, err)
	}
	srv.Kill()

	timed(t, "Get", func() {
		v, ok, err := tier.Get(ctx, "k")
		if err == nil || ok || v != nil {
			t.Errorf("Get = %q, %v, %v; want an error", v, ok, err)
		} else if !strings.HasPrefix(err.Error(), "redistier: get k: ") {
			t.Errorf("Get error %q; want it to start redistier: get k: ", err)
		}
	})
	timed(t, "Set", func() {
		if err := tier.Set(ctx, "k", []byte("v")); err == nil || !strings.HasPrefix(err.Error(), "redistier: set k: ") {
			t.Errorf("Set: %v; want an error starting redistier: set k: ", err)
		}
	})
	timed(t, "Lease", func() {
		release, ok, err := tier.Lease(ctx, "k", time.Minute)
		if err == nil || ok || release == nil || !strings.HasPrefix(err.Error(), "redistier: lease k: ") {
			t.Errorf("Lease = %v, %v; want a no-op release, false and an error starting redistier: lease k: ", ok, err)
		}
		release()
	})
	timed(t, "release", held)

	srv.Restart()
	// The client drops each dead connection on its first error.
	within(t, 5*time.Second, "Get after Restart", func() bool {
		_, ok, err := tier.Get(ctx, "k")
		if ok {
			t.Fatal("an image survived the restart of a server that saves nothing")
		}
		return err == nil
	})
	if err := tier.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatalf("Set after Restart: %v", err)
	}
}

// A server that hangs makes calls fail at the client's ReadTimeout.
func TestServerHangs(t *testing.T) {
	tier, _, srv := newTier(t)
	if err := tier.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	timed(t, "Get", func() {
		if _, _, err := tier.Get(ctx, "k"); err == nil {
			t.Error("Get of a server that hangs succeeded")
		}
	})
	timed(t, "Lease", func() {
		release, ok, err := tier.Lease(ctx, "k", time.Minute)
		if err == nil || ok {
			t.Errorf("Lease of a server that hangs = %v, %v; want an error", ok, err)
		}
		release()
	})
}

// A context that has ended stops a call before it reaches the server,
// whatever the client's options; with ContextTimeoutEnabled a deadline
// ends a call that waits on a server that hangs.
func TestContext(t *testing.T) {
	srv, quickClient := start(t)
	// This client waits long and ignores deadlines: only the tier's own
	// check can stop its calls.
	slow := srv.NewClient(srv.Options())
	for name, tier := range map[string]*redistier.Tier{"default options": redistier.New(slow), "quick": redistier.New(quickClient)} {
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := tier.Get(cancelled, "k"); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Get with a cancelled context: %v; want context.Canceled", name, err)
		}
		if err := tier.Set(cancelled, "k", []byte("v")); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Set with a cancelled context: %v; want context.Canceled", name, err)
		}
		if _, ok, err := tier.Lease(cancelled, "k", time.Minute); ok || !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Lease with a cancelled context = %v, %v; want context.Canceled", name, ok, err)
		}
	}
	if n := quickClient.Exists(ctx, "arcache:{k}", "arcache:{k}:lease").Val(); n != 0 {
		t.Errorf("calls with a cancelled context wrote %d keys", n)
	}

	o := srv.Options()
	o.ReadTimeout = time.Minute // only the context can end the wait
	o.ContextTimeoutEnabled = true
	tier := redistier.New(srv.NewClient(o))
	if err := tier.Set(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	timed(t, "Get past its deadline", func() {
		if _, _, err := tier.Get(short, "k"); err == nil {
			t.Error("Get of a server that hangs succeeded")
		}
	})
}
