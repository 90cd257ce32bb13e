package arcache

import (
	"sync"
	"sync/atomic"
)

// cowMap is a map for values worked out once and read on every Provide:
// reads are a plain map lookup with no lock, and writes, which are rare,
// copy the map.
type cowMap[K comparable, V any] struct {
	mu sync.Mutex
	m  atomic.Pointer[map[K]V]
}

func (c *cowMap[K, V]) load(k K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[k]
		return v, ok
	}
	var zero V
	return zero, false
}

// loadOrStore returns the value at k, storing v there first if there is
// none.
func (c *cowMap[K, V]) loadOrStore(k K, v V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if have, ok := (*old)[k]; ok {
			return have
		}
	}
	m := make(map[K]V, 1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[k] = v
	c.m.Store(&m)
	return v
}
