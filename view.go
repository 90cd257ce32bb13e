package arcache

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"sync"
	"sync/atomic"
)

// Views keeps a toolkit's own form of cached images: an *ebiten.Image
// uploaded to the GPU, a Gio paint.ImageOp, a Fyne canvas image. Making
// that form is the costly step that toolkits warn against doing every
// frame; Views makes it once per stored image and keeps it while the
// image stays in the cache.
//
// When an image leaves the cache, by eviction, Remove, Clear, Close or
// replacement, its view is queued, and the next call of [Views.Release]
// releases it, on the goroutine that calls Release and no other: toolkits
// free their textures on their UI or GL thread, so a program calls
// Release there, once a frame. Several Views, one per toolkit or window,
// can share one cache. A Views is safe for concurrent use.
type Views[T any] struct {
	c       *SlugCache
	convert func(image.Image) (T, error)
	release func(T)
	w       *watcher

	closed atomic.Bool

	mu   sync.Mutex
	held map[uint64]*view[T] // by entry index
	// left holds the views of entries that have left, until the next
	// Release, so that a caller still holding such an entry shares its
	// view instead of converting the image again.
	left  map[*entry]*view[T]
	queue []T // views of images that left, to release
	made  uint64
	freed uint64
}

// view is the view made, or being made, for one entry.
type view[T any] struct {
	e     *entry
	done  bool          // v or err is set; guarded by the Views' mu
	ready chan struct{} // closed when done is set
	v     T
	err   error
	// orphan marks a view whose image left while it was being made:
	// it is queued for release once made.
	orphan bool
}

// ViewStats counts a Views' views.
type ViewStats struct {
	Made     uint64 // views made
	Released uint64 // views released
	Held     int    // views made and not yet released, queued ones included
}

// NewViews returns the views of c's images, made by convert. release,
// which may be nil, frees a view once its image has left the cache;
// Release calls it.
func NewViews[T any](c *SlugCache, convert func(image.Image) (T, error), release func(T)) *Views[T] {
	v := &Views[T]{c: c, convert: convert, release: release,
		held: make(map[uint64]*view[T]), left: make(map[*entry]*view[T])}
	v.w = &watcher{left: v.leave}
	c.mu.Lock()
	c.watchers = append(c.watchers, v.w)
	c.mu.Unlock()
	return v
}

// ProvideView is [Provide] followed by v's view of the image: made on the
// first call for each image the cache stores, on the calling goroutine,
// and the same view on every later call while the image stays cached.
// Concurrent calls for one key share one build and one conversion. An
// error of the conversion is returned and nothing is kept, so that a
// later call tries again.
func ProvideView[A any, I image.Image, T any](v *Views[T], fn func(A) (I, error), args A, opts ...ProvideOption) (T, error) {
	var zero T
	if fn == nil {
		return zero, errors.New("arcache: provide view: nil constructor")
	}
	c := v.c
	if v.closed.Load() {
		return zero, fmt.Errorf("arcache: provide view: %w", ErrClosed)
	}
	po := mergeOptions(opts)
	info := infoOf(fn, po.name)
	if po.noCache {
		img, err := build(context.Background(), dropContext(fn), args)
		if err != nil {
			return zero, fmt.Errorf("arcache: build %s: %w", info.short, err)
		}
		return v.viewOf(0, unkept(info.short, img))
	}
	start := po.startTime()
	_, e, h, err := lookupArgs[A, I](c, info, &args, po, start)
	if err != nil {
		return zero, err
	}
	if e == nil {
		if _, e, err = provideMiss(context.Background(), c, dropContext(fn), args, info, h, po, start); err != nil {
			return zero, err
		}
	}
	return v.viewOf(h, e)
}

// View returns the view of the image cached under key, making it if
// needed. It reports false when key holds no image, the views are closed,
// or the conversion fails.
func (v *Views[T]) View(key string) (T, bool) {
	var zero T
	c := v.c
	if c.closed.Load() || v.closed.Load() {
		return zero, false
	}
	h := keyIndex(key)
	c.mu.Lock()
	e, ok := c.lru.Get(h)
	c.mu.Unlock()
	if !ok || e.key != key {
		return zero, false
	}
	t, err := v.viewOf(h, e)
	return t, err == nil
}

// viewOf returns the view of e, stored at index h, making it if needed.
func (v *Views[T]) viewOf(h uint64, e *entry) (T, error) {
	var zero T
	v.mu.Lock()
	if v.closed.Load() {
		v.mu.Unlock()
		return zero, fmt.Errorf("arcache: view %s: %w", e.key, ErrClosed)
	}
	w := v.held[h]
	if w == nil || w.e != e {
		w = v.left[e]
	}
	if w != nil {
		if w.done {
			v.mu.Unlock()
			return w.v, w.err
		}
		v.mu.Unlock()
		<-w.ready
		return w.v, w.err
	}
	w = &view[T]{e: e, ready: make(chan struct{})}
	// The entry may have left between the lookup and now: leave, which
	// runs after gone is set, either sees w in held or has run already.
	if e.gone.Load() {
		w.orphan = true
		v.left[e] = w
	} else {
		v.held[h] = w // an older view here belongs to an entry that left
	}
	v.mu.Unlock()

	t, err := v.makeView(e.img)

	v.mu.Lock()
	defer v.mu.Unlock()
	defer close(w.ready)
	w.done = true
	if err != nil {
		if v.held[h] == w {
			delete(v.held, h)
		}
		if v.left[e] == w {
			delete(v.left, e)
		}
		w.err = fmt.Errorf("arcache: view %s: %w", e.key, err)
		return zero, w.err
	}
	w.v = t
	v.made++
	if v.closed.Load() && v.held[h] == w {
		delete(v.held, h) // Close left it to be queued here
		w.orphan = true
	}
	if w.orphan {
		v.queue = append(v.queue, t)
	}
	return t, nil
}

// makeView calls convert, turning a panic into an error.
func (v *Views[T]) makeView(img image.Image) (t T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("convert: %w: %v", ErrPanic, r)
		}
	}()
	return v.convert(img)
}

// leave queues the view of an entry that left the cache. It runs under
// the cache's lock.
func (v *Views[T]) leave(h uint64, e *entry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	w := v.held[h]
	if w == nil || w.e != e {
		return
	}
	delete(v.held, h)
	v.left[e] = w
	switch {
	case !w.done:
		w.orphan = true // viewOf queues it when made
	case w.err == nil:
		v.queue = append(v.queue, w.v)
	}
}

// Release releases the views whose images have left the cache, and
// returns how many it released. Call it on the goroutine that may free
// the toolkit's resources, once a frame.
func (v *Views[T]) Release() int {
	v.mu.Lock()
	q := v.queue
	v.queue = nil
	v.freed += uint64(len(q))
	clear(v.left)
	v.mu.Unlock()
	if v.release != nil {
		for _, t := range q {
			v.release(t)
		}
	}
	return len(q)
}

// Len returns the number of views made and not yet released.
func (v *Views[T]) Len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return int(v.made - v.freed)
}

// Stats returns a snapshot of the views' counters.
func (v *Views[T]) Stats() ViewStats {
	v.mu.Lock()
	defer v.mu.Unlock()
	return ViewStats{Made: v.made, Released: v.freed, Held: int(v.made - v.freed)}
}

// Close releases every view, on the calling goroutine, and detaches v
// from its cache. Later calls of ProvideView fail with an error matching
// ErrClosed, and View reports false. A view still being made is queued,
// for a later Release, when it is done.
func (v *Views[T]) Close() {
	c := v.c
	c.mu.Lock()
	if i := slices.Index(c.watchers, v.w); i >= 0 {
		c.watchers = append(c.watchers[:i:i], c.watchers[i+1:]...)
	}
	c.mu.Unlock()
	v.mu.Lock()
	if !v.closed.Swap(true) {
		for h, w := range v.held {
			if w.done {
				if w.err == nil {
					v.queue = append(v.queue, w.v)
				}
				delete(v.held, h)
			}
		}
	}
	v.mu.Unlock()
	v.Release()
}
