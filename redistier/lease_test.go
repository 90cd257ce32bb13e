package redistier_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arcache-go/arcache/redistier"
)

// One caller at a time holds a key's lease; once released it can be taken
// again.
func TestLeaseExclusive(t *testing.T) {
	tier, c, _ := newTier(t)
	release, ok, err := tier.Lease(ctx, "k", time.Minute)
	if !ok || err != nil {
		t.Fatalf("first Lease = %v, %v; want true", ok, err)
	}
	other, ok, err := tier.Lease(ctx, "k", time.Minute)
	if ok || err != nil || other == nil {
		t.Fatalf("second Lease while held = %v, %v; want a no-op release, false, nil", ok, err)
	}
	other() // a refused lease's release leaves the holder's alone
	if n := c.Exists(ctx, "arcache:{k}:lease").Val(); n != 1 {
		t.Fatal("the refused caller's release deleted the holder's lease")
	}
	if _, ok, _ := tier.Lease(ctx, "other-key", time.Minute); !ok {
		t.Error("a lease on one key refused a lease on another")
	}
	release()
	if n := c.Exists(ctx, "arcache:{k}:lease").Val(); n != 0 {
		t.Fatal("release left the lease on the server")
	}
	again, ok, err := tier.Lease(ctx, "k", time.Minute)
	if !ok || err != nil {
		t.Fatalf("Lease after release = %v, %v; want true", ok, err)
	}
	release() // a second call of a release does nothing
	if n := c.Exists(ctx, "arcache:{k}:lease").Val(); n != 1 {
		t.Fatal("calling an old release again deleted the new holder's lease")
	}
	again()
}

// Of many callers racing for one lease, exactly one wins.
func TestLeaseRace(t *testing.T) {
	tier, _, _ := newTier(t)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, ok, err := tier.Lease(ctx, "k", time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Errorf("%d callers hold the lease; want 1", n)
	}
}

// A lease whose holder never releases it ends after its time, and another
// caller takes it; the first holder's late release then leaves the second
// holder's lease alone.
func TestLeaseExpiry(t *testing.T) {
	const ttl = 150 * time.Millisecond
	tier, c, _ := newTier(t)
	first, ok, err := tier.Lease(ctx, "k", ttl)
	if !ok || err != nil {
		t.Fatalf("Lease = %v, %v", ok, err)
	}
	if d := c.PTTL(ctx, "arcache:{k}:lease").Val(); d <= 0 || d > ttl {
		t.Errorf("lease PTTL = %v; want in (0, %v]", d, ttl)
	}
	if _, ok, _ := tier.Lease(ctx, "k", ttl); ok {
		t.Fatal("second Lease granted while the first is held")
	}
	var second func()
	within(t, 5*time.Second, "the expired lease taken again", func() bool {
		var ok bool
		second, ok, err = tier.Lease(ctx, "k", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
	first()
	if n := c.Exists(ctx, "arcache:{k}:lease").Val(); n != 1 {
		t.Fatal("the expired holder's release deleted the new holder's lease")
	}
	second()
	if n := c.Exists(ctx, "arcache:{k}:lease").Val(); n != 0 {
		t.Fatal("the holder's release left its lease on the server")
	}
}

// A Lease with no duration of its own lasts the tier's LeaseTTL.
func TestLeaseDefaultTTL(t *testing.T) {
	tier, c, _ := newTier(t, redistier.LeaseTTL(5*time.Second))
	if tier.LeaseTTL() != 5*time.Second {
		t.Errorf("LeaseTTL() = %v; want 5s", tier.LeaseTTL())
	}
	if _, ok, err := tier.Lease(ctx, "k", 0); !ok || err != nil {
		t.Fatalf("Lease = %v, %v", ok, err)
	}
	if d := c.PTTL(ctx, "arcache:{k}:lease").Val(); d <= 4*time.Second || d > 5*time.Second {
		t.Errorf("lease PTTL = %v; want about 5s", d)
	}
	if d := redistier.New(c).LeaseTTL(); d != redistier.DefaultLeaseTTL {
		t.Errorf("default LeaseTTL() = %v; want %v", d, redistier.DefaultLeaseTTL)
	}
	if d := redistier.New(c, redistier.LeaseTTL(-1)).LeaseTTL(); d != redistier.DefaultLeaseTTL {
		t.Errorf("LeaseTTL(-1) gives %v; want the default %v", d, redistier.DefaultLeaseTTL)
	}
}

// Release works on a server that has forgotten its scripts (a restart, a
// failover, SCRIPT FLUSH): EVALSHA falls back to EVAL.
func TestReleaseAfterScriptFlush(t *testing.T) {
	tier, c, _ := newTier(t)
	for range 2 {
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		release, ok, err := tier.Lease(ctx, "k", time.Minute)
		if !ok || err != nil {
			t.Fatalf("Lease = %v, %v", ok, err)
		}
		release()
		if n := c.Exists(ctx, "arcache:{k}:lease").Val(); n != 0 {
			t.Fatal("release after SCRIPT FLUSH left the lease on the server")
		}
	}
}
