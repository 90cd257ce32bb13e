package redistier

import (
	"context"
	"crypto/rand"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// releaseTimeout bounds a release, which has no context of its own. A
// release that does not reach the server costs nothing worse than a lease
// that runs its course.
const releaseTimeout = time.Second

// releaseScript deletes a lease only while it still holds the holder's
// token: once a lease has expired and another builder has taken it, the
// first holder's release must leave the new lease alone.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0
`)

func noRelease() {}

// Lease asks for the right to build key for ttl, or for the tier's
// LeaseTTL if ttl is zero or less. It reports true if the caller now holds
// the lease, and false, without an error, while another holder has it: the
// caller then waits for that holder's image to appear under key, for at
// most the lease's time.
//
// The holder calls release once it has stored the image, or given up.
// release deletes the lease only if the caller still holds it, waits at
// most a second for the server, and does nothing when called again.
// release is never nil, so that a caller can defer it whatever Lease
// reports. A holder that never calls release holds the lease until ttl
// has passed.
func (t *Tier) Lease(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error) {
	if err := check(ctx, key); err != nil {
		return noRelease, false, wrap("lease", key, err)
	}
	if ttl <= 0 {
		ttl = t.leaseTTL
	}
	ttl = max(ttl, time.Millisecond) // the server's unit
	lk := t.leaseKey(key)
	token := rand.Text()
	ok, err = t.client.SetNX(ctx, lk, token, ttl).Result()
	if err != nil {
		return noRelease, false, wrap("lease", key, err)
	}
	if !ok {
		return noRelease, false, nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
			defer cancel()
			// An error leaves the lease to expire by itself.
			_ = releaseScript.Run(ctx, t.client, []string{lk}, token).Err()
		})
	}, true, nil
}

// LeaseTTL returns how long a lease lasts when Lease is given no duration.
func (t *Tier) LeaseTTL() time.Duration { return t.leaseTTL }
