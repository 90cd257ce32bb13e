package redistier

import "time"

// DefaultPrefix is the prefix of every key the tier writes unless the
// Prefix option says otherwise.
const DefaultPrefix = "arcache:"

// DefaultLeaseTTL is how long a lease lasts unless the LeaseTTL option or
// the call says otherwise.
const DefaultLeaseTTL = 30 * time.Second

// An Option configures a Tier made by New.
type Option func(*Tier)

// Prefix sets the string every key of the tier starts with (DefaultPrefix
// unless set), so that several caches, or several programs, can share one
// server without seeing each other's images. A prefix should hold no '{'
// or '}': in a Redis Cluster a brace in the prefix would become the hash
// tag and put every image of the tier in one slot.
func Prefix(p string) Option {
	return func(t *Tier) { t.prefix = p }
}

// TTL sets how long an image stays on the server after it is stored. Zero,
// the default, stores images without expiry: the server then evicts them
// under its own maxmemory policy, such as allkeys-lru. A negative d counts
// as zero.
func TTL(d time.Duration) Option {
	return func(t *Tier) { t.ttl = max(d, 0) }
}

// LeaseTTL sets how long a lease lasts when Lease is asked for one with no
// duration of its own (DefaultLeaseTTL unless set): the longest a builder
// that goes away can keep others waiting. A d of zero or less keeps the
// default.
func LeaseTTL(d time.Duration) Option {
	return func(t *Tier) {
		if d > 0 {
			t.leaseTTL = d
		}
	}
}
