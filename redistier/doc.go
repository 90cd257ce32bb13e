// Package redistier shares arcache's images across a fleet of processes
// through a Redis or Valkey server, so that each image is built once for
// all of them rather than once in each.
//
// # When to use it
//
// A cache on its own builds every image in every process: ten replicas of
// a thumbnail or map-tile service behind a load balancer build each tile
// ten times, and a replica that starts is cold. With a [Tier] in front of
// its constructors, a cache that misses asks the server first; the first
// process to miss takes a lease on the key, builds the image and stores it,
// and the others wait for that image rather than build it themselves. A
// program that runs as one process gains nothing from a tier.
//
//	client := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{"localhost:6379"}})
//	cache, err := arcache.New(cfg, arcache.WithTier(redistier.New(client)))
//
// # Servers
//
// The tier speaks to any server go-redis does: Redis, or its fork Valkey,
// as one server ([redis.NewClient]), behind Sentinel
// ([redis.NewFailoverClient]) or as a Cluster ([redis.NewClusterClient]);
// [redis.NewUniversalClient] picks one of these from its options. The tier
// needs only GET, SET and a short Lua script.
//
// # Keys
//
// An image under the arcache key K is stored as PREFIX{K}, and its lease
// as PREFIX{K}:lease, where PREFIX is [DefaultPrefix] unless the [Prefix]
// option sets another. The braces are a Cluster hash tag: an image and its
// lease always live in one slot, while different images spread over the
// cluster. arcache's keys hold only lower-case letters, digits, '-' and
// '_'; any other key is stored too, with '%', '{' and '}' written as %25,
// %7B and %7D so that no key can break out of its braces. Only the empty
// key is refused ([ErrEmptyKey]).
//
// # Memory
//
// The server holds what the tier stores until it is told otherwise. Bound
// it either on the server, with maxmemory and an eviction policy that may
// drop any key, least recently used first:
//
//	maxmemory 2gb
//	maxmemory-policy allkeys-lru
//
// or in the tier, with the [TTL] option, after which an image expires
// whether or not it is used. A policy such as volatile-lru evicts only keys
// that have a TTL, and noeviction, the server's default, makes writes fail
// once the server is full; the tier's writes then fail, and every process
// goes on building for itself.
//
// # Failure
//
// The tier never makes a call of the cache fail. Its methods return the
// server's errors, wrapped as "redistier: <op> <key>: <cause>", and arcache
// logs and counts them and answers from the process itself: an image not
// found, not readable or not stored on the server is built locally, as it
// would be without a tier. A lease is only an agreement to save work; one
// whose holder goes away lasts [LeaseTTL] at most.
//
// How long a call waits for a server that has gone away is the client's
// to say. go-redis retries a failed dial five times and a failed command
// three times, with pauses between, so that with its defaults a call to a
// server that is down takes seconds. A tier wants few retries and short
// timeouts: a miss that gives up on the server soon only builds for
// itself. Set DialTimeout, ReadTimeout and WriteTimeout to what a miss may
// wait, DialerRetries and MaxRetries to 1, and ContextTimeoutEnabled so
// that a caller's context bounds each call too (see [New]).
package redistier
