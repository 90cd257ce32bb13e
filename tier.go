package arcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Tier is a store that many processes share, such as Redis (package
// redistier), through which a fleet builds each image once. Provide asks
// it on a local miss, before building; see [WithTier].
//
// Its methods must be safe for concurrent use and must return when their
// context ends.
type Tier interface {
	// Get returns the value stored under key; ok is false if there is
	// none. The caller owns value: the image decoded from it keeps it.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value under key.
	Set(ctx context.Context, key string, value []byte) error
	// Lease asks for the right to build key for ttl. ok is false while
	// another holder has it. release gives the lease up early; it may be
	// called more than once.
	Lease(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error)
}

// WithTier makes the cache share its builds through t. A local miss asks
// t before building: a value there is decoded and stored locally, and the
// constructor is not called. Otherwise the caller takes t's lease on the
// key, builds, publishes the image and gives the lease up; a caller that
// finds the lease taken waits for the holder's image, for at most the
// lease's time, and then builds itself. A local hit never touches t.
//
// The tier never makes a call fail or hang: each of its calls is bounded
// by a second (and by ProvideContext's context), and an error, a timeout
// or a value that does not decode is logged (one line for many), counted
// in [Stats].TierErrors and answered locally. After an error the tier is
// left alone for a second, so that a server that has gone away costs a
// miss nothing.
//
// Values are bin file records: the image's exact type, CRC-checked, and
// bounded by max_image_pixels before it is built. Images of types outside
// package image are stored as NRGBA (or NRGBA64), and so a constructor of
// such a type is built by each process: its callers want their own type.
//
// The lease lasts 30 seconds, or what the tier's LeaseTTL method says, if
// it has one (redistier's does). A tier whose calls end when their
// context does says so with a method HonorsContext() bool (redistier's,
// for a client with ContextTimeoutEnabled) and is called directly; any
// other is called on a goroutine of its own, which the cache stops
// waiting for at the call's bound.
func WithTier(t Tier) Option {
	return func(o *options) { o.tier = t }
}

const (
	// tierCallTimeout bounds each call to the tier.
	tierCallTimeout = time.Second
	// tierPause is how long the tier is left alone after an error.
	tierPause = time.Second
	// tierLogEvery is how often, at most, a tier error is logged.
	tierLogEvery = 10 * time.Second
	// defaultLeaseTTL is the lease's time for a tier that does not say.
	defaultLeaseTTL = 30 * time.Second
	// The wait for another holder's image asks the tier this often at
	// first, and then less often, up to tierPollMax.
	tierPollMin = 5 * time.Millisecond
	tierPollMax = 100 * time.Millisecond
)

// tier is a cache's side of its Tier.
type tier struct {
	t         Tier
	direct    bool // t's calls end with their context: no goroutine to bound them
	lease     time.Duration
	maxPixels int64
	log       *slog.Logger

	hits, misses, errors atomic.Uint64

	mu         sync.Mutex
	pauseUntil time.Time // no calls before this, after an error
	lastLog    time.Time
	unlogged   int // errors since the last line
}

func newTier(t Tier, maxPixels int64, log *slog.Logger) *tier {
	lease := defaultLeaseTTL
	if lt, ok := t.(interface{ LeaseTTL() time.Duration }); ok && lt.LeaseTTL() > 0 {
		lease = lt.LeaseTTL()
	}
	hc, ok := t.(interface{ HonorsContext() bool })
	direct := ok && hc.HonorsContext()
	return &tier{t: t, direct: direct, lease: lease, maxPixels: maxPixels, log: log}
}

// paused reports whether the tier is being left alone after an error.
func (t *tier) paused() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return time.Now().Before(t.pauseUntil)
}

// fail counts an error of the operation op on key, logs it unless one was
// logged lately, and pauses the tier when the fault is the server's.
func (t *tier) fail(op, key string, err error, pause bool) {
	t.errors.Add(1)
	now := time.Now()
	t.mu.Lock()
	if pause {
		t.pauseUntil = now.Add(tierPause)
	}
	t.unlogged++
	if now.Sub(t.lastLog) < tierLogEvery {
		t.mu.Unlock()
		return
	}
	n := t.unlogged
	t.lastLog, t.unlogged = now, 0
	t.mu.Unlock()
	t.log.Warn("arcache: tier error; answering locally", "op", op, "key", key, "err", err, "errors", n)
}

// get, lease and set are the tier's calls, each bounded by
// tierCallTimeout and ctx even when the tier does not heed its context
// (a go-redis client without ContextTimeoutEnabled reads for as long as
// its own ReadTimeout, 3 s by default): the caller goes on, and a call
// that comes back later is dropped, a lease it took released.
func (t *tier) get(ctx context.Context, key string) ([]byte, bool, error) {
	type result struct {
		v     []byte
		found bool
	}
	r, err := bounded(ctx, t.direct, func(ctx context.Context) (result, error) {
		v, found, err := t.t.Get(ctx, key)
		return result{v, found}, err
	}, nil)
	return r.v, r.found, err
}

func (t *tier) take(ctx context.Context, key string) (release func(), held bool, err error) {
	type result struct {
		release func()
		held    bool
	}
	r, err := bounded(ctx, t.direct, func(ctx context.Context) (result, error) {
		release, held, err := t.t.Lease(ctx, key, t.lease)
		return result{release, held}, err
	}, func(r result) {
		if r.held && r.release != nil {
			r.release()
		}
	})
	if r.release == nil {
		r.release = func() {}
	}
	return r.release, r.held, err
}

func (t *tier) set(ctx context.Context, key string, v []byte) error {
	_, err := bounded(ctx, t.direct, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, t.t.Set(ctx, key, v)
	}, nil)
	return err
}

// bounded runs call on a goroutine of its own and returns its results, or
// the error of a context ended, after tierCallTimeout or with ctx; late,
// if set, is given the results of a call that comes back after that. A
// direct call, of a tier that heeds its context, runs on the caller's
// goroutine.
func bounded[T any](ctx context.Context, direct bool, call func(context.Context) (T, error), late func(T)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, tierCallTimeout)
	if direct {
		defer cancel()
		return call(ctx)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	var mu sync.Mutex
	abandoned := false
	go func() {
		defer cancel()
		v, err := call(ctx)
		mu.Lock()
		defer mu.Unlock()
		if abandoned {
			if late != nil && err == nil {
				late(v)
			}
			return
		}
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		select {
		case r := <-done: // it came back meanwhile
			return r.v, r.err
		default:
		}
		abandoned = true
		var zero T
		return zero, ctx.Err()
	}
}

// getTier asks the tier for key's image. It reports whether the tier
// holds a value, and whether that is an image the caller can use; the
// error is the tier's. A value that does not decode is counted here; one
// of another type than the caller wants is not an error.
func getTier[I image.Image](ctx context.Context, t *tier, key string) (img I, ok, found bool, err error) {
	v, found, err := t.get(ctx, key)
	if err != nil || !found {
		return img, false, false, err
	}
	m, err := decodeTierValue(v, key, t.maxPixels)
	if err != nil {
		t.fail("decode", key, err, false)
		return img, false, true, nil
	}
	img, ok = m.(I)
	return img, ok, true, nil
}

// lookTier is getTier counting a hit, or an error unless ctx ended.
func lookTier[I image.Image](ctx context.Context, t *tier, key string) (img I, ok, found bool) {
	img, ok, found, err := getTier[I](ctx, t, key)
	if err != nil && ctx.Err() == nil {
		t.fail("get", key, err, true)
	}
	if ok {
		t.hits.Add(1)
	}
	return img, ok, found
}

// buildShared returns key's image from the tier, or builds it with
// build and publishes it there; it reports whether the image came from
// the tier. Only the build's own error is returned: the tier's are
// counted and logged, and the image is then built locally.
func buildShared[I image.Image](ctx context.Context, t *tier, key string, build func(context.Context) (I, error)) (I, bool, error) {
	found := false // a value the caller cannot use is there
	if !t.paused() {
		var img I
		var ok bool
		if img, ok, found = lookTier[I](ctx, t, key); ok {
			return img, true, nil
		}
	}
	publish := false
	if !t.paused() {
		release, held, err := t.take(ctx, key)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				t.fail("lease", key, err, true)
			}
		case !held:
			img, ok, release := waitTier[I](ctx, t, key)
			if ok {
				return img, true, nil
			}
			if release != nil {
				defer release()
			}
			t.misses.Add(1)
			publish = true
		default:
			defer release()
			// A holder that published and let go between the first
			// look and the lease leaves its image behind.
			if !found {
				if img, ok, _ := lookTier[I](ctx, t, key); ok {
					return img, true, nil
				}
			}
			t.misses.Add(1)
			publish = true
		}
	}
	img, err := build(ctx)
	if err == nil && publish && ctx.Err() == nil && !t.paused() {
		t.publish(ctx, key, img)
	}
	return img, false, err
}

// waitTier waits for another holder of key's lease to publish its
// image, for at most the lease's time, or until the tier fails. A lease
// that comes free meanwhile (its holder failed, or went away) is taken,
// and its release returned: the caller builds.
func waitTier[I image.Image](ctx context.Context, t *tier, key string) (img I, ok bool, release func()) {
	deadline := time.Now().Add(t.lease)
	poll := tierPollMin
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return img, false, nil
		case <-timer.C:
		}
		if img, ok, _ := lookTier[I](ctx, t, key); ok {
			return img, true, nil
		}
		if t.paused() || ctx.Err() != nil {
			return img, false, nil
		}
		release, held, err := t.take(ctx, key)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				t.fail("lease", key, err, true)
			}
			return img, false, nil
		case held:
			// The image may have come just before the lease.
			if img, ok, _ := lookTier[I](ctx, t, key); ok {
				release()
				return img, true, nil
			}
			return img, false, release
		}
		left := time.Until(deadline)
		if left <= 0 {
			return img, false, nil
		}
		poll = min(2*poll, tierPollMax)
		timer.Reset(min(poll, left))
	}
}

// publish stores key's image in the tier, for the other processes.
func (t *tier) publish(ctx context.Context, key string, img image.Image) {
	v, err := encodeTierValue(key, img)
	if err != nil {
		t.fail("encode", key, err, false)
		return
	}
	if err := t.set(ctx, key, v); err != nil && ctx.Err() == nil {
		t.fail("set", key, err, true)
	}
}

// A tier value is tierMagic, then one bin record's bytes (see
// recordbytes.go): the code that checks bin files checks the tier's.
const tierMagic = "arcache tier 1\n"

// encodeTierValue encodes img as the value of key.
func encodeTierValue(key string, img image.Image) ([]byte, error) {
	r := newRecord(key, img)
	b := make([]byte, 0, len(tierMagic)+len(r.Pix)+len(r.Cb)+len(r.Cr)+len(r.A)+len(r.Palette)+len(key)+64)
	return r.appendBinary(append(b, tierMagic...)), nil
}

// errTierValue reports a tier value that is not an image of its key.
var errTierValue = errors.New("not an image of this key")

// decodeTierValue checks a tier value and rebuilds its image, which
// shares v's memory: a value that is damaged, truncated, foreign, of
// another key, or of an image over maxPixels pixels is an error, never a
// panic, and allocates nothing of its pixels.
func decodeTierValue(v []byte, key string, maxPixels int64) (image.Image, error) {
	rest, ok := bytes.CutPrefix(v, []byte(tierMagic))
	if !ok {
		return nil, fmt.Errorf("%w: no tier header", errTierValue)
	}
	r, err := parseRecord(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTierValue, err)
	}
	if r.Key != key {
		return nil, fmt.Errorf("%w: it is %q's", errTierValue, r.Key)
	}
	if w, h := int64(r.Rect.Dx()), int64(r.Rect.Dy()); w < 0 || h < 0 || (h > 0 && w > maxPixels/h) {
		return nil, fmt.Errorf("%w: %v is over max_image_pixels (%d)", errTierValue, r.Rect, maxPixels)
	}
	img, err := r.image()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTierValue, err)
	}
	return img, nil
}
