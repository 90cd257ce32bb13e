package arcache

import (
	"context"
	"errors"
	"fmt"
	"image"
	"reflect"
	"time"
)

// ProvideOption changes one call of Provide or Key.
type ProvideOption struct {
	noCache bool
	debug   bool
	name    string
	exclude []string
}

// NoCache makes Provide call the constructor and return its image without
// looking in the cache or storing anything.
func NoCache() ProvideOption { return ProvideOption{noCache: true} }

// Debug logs the call's key, whether it hit, and how long it took, at
// debug level.
func Debug() ProvideOption { return ProvideOption{debug: true} }

// Name keys the constructor by name instead of by its function name.
// Closures made by one function literal share one name however they
// capture, and so do method values of one method whatever their receiver:
// give each a Name, or better, pass what they capture as arguments. The
// cache remembers every name for the life of the process, so names are
// meant to be a fixed few, not made per call.
func Name(name string) ProvideOption { return ProvideOption{name: name} }

// Exclude leaves the named struct fields or map keys of the arguments out
// of the key; the constructor still receives them.
// It applies to the top level of the arguments. A struct field tagged
// `arcache:"-"` is always left out.
func Exclude(names ...string) ProvideOption { return ProvideOption{exclude: names} }

func mergeOptions(opts []ProvideOption) ProvideOption {
	if len(opts) == 1 {
		return opts[0]
	}
	var po ProvideOption
	for _, o := range opts {
		po.noCache = po.noCache || o.noCache
		po.debug = po.debug || o.debug
		if o.name != "" {
			po.name = o.name
		}
		po.exclude = append(po.exclude, o.exclude...)
	}
	return po
}

// Provide returns the image fn makes from args, building it at most once.
//
// The result is cached under a key made from fn's name and the values of
// args (see [Key]). On a hit fn is not called. On a miss fn is called once,
// however many goroutines ask for the key at the same time, and they all
// receive its result. An error, a panic or a nil image from fn is returned
// to every one of them, wrapped with the key, and nothing is cached. An
// entry of another type than I under the key is rebuilt and replaced.
func Provide[A any, I image.Image](c *SlugCache, fn func(A) (I, error), args A, opts ...ProvideOption) (I, error) {
	var zero I
	if fn == nil {
		return zero, errors.New("arcache: provide: nil constructor")
	}
	po := mergeOptions(opts)
	if po.noCache {
		img, err := build(context.Background(), dropContext(fn), args)
		if err != nil {
			return zero, fmt.Errorf("arcache: build %s: %w", infoOf(fn, po.name).short, err)
		}
		return img, nil
	}
	info := infoOf(fn, po.name)
	start := po.startTime()
	img, e, h, err := lookupArgs[A, I](c, info, &args, po, start)
	if e != nil || err != nil {
		return img, err
	}
	img, _, err = provideMiss(context.Background(), c, dropContext(fn), args, info, h, po, start)
	return img, err
}

// ProvideContext is [Provide] for constructors that wait on something: an
// HTTP origin, a file, a GPU. A caller whose ctx ends stops waiting at once
// and gets an error matching ctx.Err(); the build goes on for the other
// callers waiting for the same key, and is stored when it succeeds.
//
// fn's context carries the values of the ctx of the call that started the
// build, but not its deadline or cancellation: it is cancelled only when
// every caller waiting for the build has gone, and a build so cancelled
// stores nothing. A hit never looks at ctx.
func ProvideContext[A any, I image.Image](ctx context.Context, c *SlugCache, fn func(context.Context, A) (I, error), args A, opts ...ProvideOption) (I, error) {
	var zero I
	if fn == nil {
		return zero, errors.New("arcache: provide: nil constructor")
	}
	po := mergeOptions(opts)
	if po.noCache {
		img, err := build(ctx, fn, args)
		if err != nil {
			return zero, fmt.Errorf("arcache: build %s: %w", infoOfContext(fn, po.name).short, err)
		}
		return img, nil
	}
	info := infoOfContext(fn, po.name)
	start := po.startTime()
	img, e, h, err := lookupArgs[A, I](c, info, &args, po, start)
	if e != nil || err != nil {
		return img, err
	}
	img, _, err = provideMiss(ctx, c, fn, args, info, h, po, start)
	return img, err
}

// dropContext adapts a constructor without a context; only misses call
// it, so that a hit allocates nothing.
func dropContext[A any, I image.Image](fn func(A) (I, error)) func(context.Context, A) (I, error) {
	return func(_ context.Context, a A) (I, error) { return fn(a) }
}

func (po *ProvideOption) startTime() time.Time {
	if po.debug {
		return time.Now()
	}
	return time.Time{}
}

// lookupArgs is the hit path: it hashes args and looks the hash up,
// building no string. It returns the entry on a hit, and the hash for the
// miss path.
func lookupArgs[A any, I image.Image](c *SlugCache, info *fnInfo, args *A, po ProvideOption, start time.Time) (img I, e *entry, h uint64, err error) {
	if c == nil {
		return img, nil, 0, errors.New("arcache: provide: nil cache")
	}
	if c.closed.Load() {
		return img, nil, 0, fmt.Errorf("arcache: provide %s: %w", info.short, ErrClosed)
	}
	h, err = argsHash(info, args, po.exclude)
	if err != nil {
		return img, nil, 0, fmt.Errorf("arcache: key for %s: %w", info.short, err)
	}
	if e, found := c.lookup(h); found {
		if i, isI := e.img.(I); isI {
			c.hits.Add(1)
			if po.debug {
				c.log.Debug("arcache: hit", "key", info.key(*args, po.exclude, h), "took", time.Since(start))
			}
			return i, e, h, nil
		}
	}
	c.misses.Add(1)
	return img, nil, h, nil
}

// provideMiss builds the key's image once for all concurrent callers. It
// also returns the entry that holds the image, which is gone already when
// the image was not kept.
func provideMiss[A any, I image.Image](ctx context.Context, c *SlugCache, fn func(context.Context, A) (I, error), args A, info *fnInfo, h uint64, po ProvideOption, start time.Time) (I, *entry, error) {
	var zero I
	key := info.key(args, po.exclude, h)
	if err := ctx.Err(); err != nil {
		return zero, nil, fmt.Errorf("arcache: provide %s: %w", key, err)
	}
	v, err := c.flights.do(ctx, key, func(bctx context.Context) (any, error) {
		// A flight that ended just before this one began may have
		// stored the image already.
		if e, ok := c.lookup(h); ok {
			if _, ok := e.img.(I); ok {
				return e, nil
			}
		}
		img, err := sharedBuild(bctx, c, fn, args, key)
		if err != nil {
			return nil, err
		}
		if bctx.Err() != nil {
			// Every caller has gone; the image may be half made.
			return nil, fmt.Errorf("arcache: build %s: %w", key, context.Cause(bctx))
		}
		e, err := c.store(h, key, img)
		if err != nil {
			return nil, fmt.Errorf("arcache: store %s: %w", key, err)
		}
		if e == nil {
			e = unkept(key, img)
		}
		return e, nil
	})
	if po.debug {
		c.log.Debug("arcache: miss", "key", key, "took", time.Since(start), "err", err)
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return zero, nil, fmt.Errorf("arcache: provide %s: %w", key, err)
		}
		return zero, nil, err
	}
	e := v.(*entry)
	if i, ok := e.img.(I); ok {
		return i, e, nil
	}
	// Another call under the same key wanted another type: build ours.
	img, err := countedBuild(ctx, c, fn, args, key)
	if err != nil {
		return zero, nil, err
	}
	return img, unkept(key, img), nil
}

// unkept is the entry of an image that the cache does not hold.
func unkept(key string, img image.Image) *entry {
	e := &entry{key: key, img: img}
	e.gone.Store(true)
	return e
}

// sharedBuild is countedBuild through the cache's tier, when it has one.
func sharedBuild[A any, I image.Image](ctx context.Context, c *SlugCache, fn func(context.Context, A) (I, error), args A, key string) (I, error) {
	if c.tier == nil {
		return countedBuild(ctx, c, fn, args, key)
	}
	img, _, err := buildShared(ctx, c.tier, key, func(ctx context.Context) (I, error) {
		return countedBuild(ctx, c, fn, args, key)
	})
	return img, err
}

// countedBuild is Provide's call of fn, counted in c's stats; its errors
// name key.
func countedBuild[A any, I image.Image](ctx context.Context, c *SlugCache, fn func(context.Context, A) (I, error), args A, key string) (I, error) {
	c.builds.Add(1)
	img, err := build(ctx, fn, args)
	if err != nil {
		c.buildErrors.Add(1)
		return img, fmt.Errorf("arcache: build %s: %w", key, err)
	}
	return img, nil
}

// build calls fn, turning a panic or a nil image into an error.
func build[A any, I image.Image](ctx context.Context, fn func(context.Context, A) (I, error), args A) (img I, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero I
			img = zero
			if e, ok := r.(error); ok {
				err = fmt.Errorf("%w: %w", ErrPanic, e)
			} else {
				err = fmt.Errorf("%w: %v", ErrPanic, r)
			}
		}
	}()
	img, err = fn(ctx, args)
	if err == nil && isNil(img) {
		err = ErrNilImage
	}
	return img, err
}

// isNil reports whether img is nil or a typed nil pointer.
func isNil(img image.Image) bool {
	if img == nil {
		return true
	}
	v := reflect.ValueOf(img)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
