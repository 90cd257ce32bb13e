package redistest

import "strconv"

// An Option adds settings to the server's command line.
type Option func(*[]string)

// MaxMemory bounds the server's data set to bytes and sets the policy by
// which it evicts keys when full, such as "allkeys-lru" or "noeviction".
func MaxMemory(bytes int64, policy string) Option {
	return Args("--maxmemory", strconv.FormatInt(bytes, 10), "--maxmemory-policy", policy)
}

// Args appends raw command-line arguments, such as "--hz", "100". Later
// settings override earlier ones, including the defaults Start gives.
func Args(args ...string) Option {
	return func(a *[]string) { *a = append(*a, args...) }
}
