package arcache

import (
	"context"
	"sync"
)

// flightGroup runs one build per key at a time and hands its result to
// every caller waiting for it, like golang.org/x/sync/singleflight, which
// it replaces because a build must also know when nobody waits for it any
// more: a caller may leave when its context ends, and the build's own
// context is cancelled once the last caller has left.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one build in progress.
type flight struct {
	ctx     context.Context // the build's: the first caller's values, cancelled by the group
	cancel  context.CancelFunc
	waiters int // callers still waiting; guarded by the group's mu
	done    chan struct{}
	val     any // set before done is closed
	err     error
}

// do returns the result of build for key, started by this call or by an
// earlier one still in flight. A caller whose ctx ends returns ctx's
// error at once; the build goes on while anyone waits for it, and its
// context is cancelled when nobody does. build runs on the caller's
// goroutine when ctx cannot end, and on a goroutine of its own otherwise,
// so that its first caller can leave.
func (g *flightGroup) do(ctx context.Context, key string, build func(ctx context.Context) (any, error)) (any, error) {
	g.mu.Lock()
	f, ok := g.m[key]
	if !ok {
		f = &flight{ctx: ctx, cancel: func() {}, done: make(chan struct{})}
		if ctx.Done() != nil {
			// A caller that cannot leave never lets the waiters fall to
			// none, and needs no cancellation of its own.
			f.ctx, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
		}
		if g.m == nil {
			g.m = make(map[string]*flight)
		}
		g.m[key] = f
	}
	f.waiters++
	g.mu.Unlock()

	if !ok {
		if ctx.Done() == nil {
			g.run(key, f, build)
			return f.val, f.err
		}
		go g.run(key, f, build)
	}
	if ctx.Done() == nil {
		<-f.done
		return f.val, f.err
	}
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		g.leave(key, f)
		return nil, ctx.Err()
	}
}

func (g *flightGroup) run(key string, f *flight, build func(ctx context.Context) (any, error)) {
	defer func() {
		g.mu.Lock()
		if g.m[key] == f {
			delete(g.m, key)
		}
		g.mu.Unlock()
		f.cancel()
		close(f.done)
	}()
	f.val, f.err = build(f.ctx)
}

// leave gives up one caller's wait. The last to leave cancels the build
// and forgets it, so that a caller coming later starts a build of its own
// rather than join one that is being abandoned.
func (g *flightGroup) leave(key string, f *flight) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f.waiters--; f.waiters == 0 {
		f.cancel()
		if g.m[key] == f {
			delete(g.m, key)
		}
	}
}
