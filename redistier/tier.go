package redistier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Tier stores encoded images on a Redis or Valkey server for every cache
// that shares it, and hands out leases so that one of them builds each
// image. It satisfies arcache.Tier. A Tier is safe for concurrent use by
// many goroutines; it holds no state of its own beyond its settings.
type Tier struct {
	client   redis.UniversalClient
	prefix   string
	ttl      time.Duration
	leaseTTL time.Duration
	honors   bool // the client's calls end with their context
}

// New returns a tier that stores its images through client: a
// *redis.Client for one server, a failover client for a Sentinel setup, or
// a *redis.ClusterClient, as redis.NewUniversalClient makes them. The tier
// does not close the client.
//
// Every call is bounded by the client's DialTimeout, ReadTimeout and
// WriteTimeout. For a context's deadline or cancellation to end a call
// already waiting on the server, make the client with
// ContextTimeoutEnabled set; otherwise a context that has ended only keeps
// new calls from starting.
func New(client redis.UniversalClient, opts ...Option) *Tier {
	t := &Tier{client: client, prefix: DefaultPrefix, leaseTTL: DefaultLeaseTTL, honors: contextTimeout(client)}
	for _, o := range opts {
		o(t)
	}
	return t
}

// HonorsContext reports whether the tier's calls end when their context
// does: whether its client was made with ContextTimeoutEnabled. arcache
// calls such a tier directly; any other it calls on a goroutine of its
// own, so as to stop waiting for a call at its deadline, which costs a
// tier hit about half as much again.
func (t *Tier) HonorsContext() bool { return t.honors }

// contextTimeout reports whether client's calls heed their contexts.
func contextTimeout(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// Get returns the value stored under key. A key that holds nothing, or
// whose value has expired or been evicted, reports false and no error.
// The value is the caller's own: the tier keeps no reference to it.
func (t *Tier) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := check(ctx, key); err != nil {
		return nil, false, wrap("get", key, err)
	}
	v, err := t.client.Get(ctx, t.imageKey(key)).Bytes()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, false, nil
		}
		return nil, false, wrap("get", key, err)
	}
	return v, true, nil
}

// Set stores value under key, replacing what was there, for the tier's TTL
// or, without one, until the server evicts it.
func (t *Tier) Set(ctx context.Context, key string, value []byte) error {
	if err := check(ctx, key); err != nil {
		return wrap("set", key, err)
	}
	if err := t.client.Set(ctx, t.imageKey(key), value, t.ttl).Err(); err != nil {
		return wrap("set", key, err)
	}
	return nil
}

// check refuses a call whose context has already ended, whatever the
// client's ContextTimeoutEnabled, and a key the tier cannot store.
func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		return ErrEmptyKey
	}
	return nil
}

func wrap(op, key string, err error) error {
	return fmt.Errorf("redistier: %s %s: %w", op, subject(key), err)
}
