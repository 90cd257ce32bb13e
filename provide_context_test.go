package arcache

import (
	"context"
	"errors"
	"image"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The tests of ProvideContext order their goroutines with channels, never
// with sleeps; hangGuard only turns a deadlock into a failure, and no
// passing run comes near it.
const hangGuard = time.Minute

type ctxArgs struct {
	Name string
	Size int
}

type ctxValueKey struct{}

// ctxImage is the image every constructor of these tests makes of a.
func ctxImage(a ctxArgs) *image.NRGBA {
	return fill(image.NewNRGBA(image.Rect(0, 0, a.Size, a.Size)), len(a.Name)).(*image.NRGBA)
}

// slowBuild is a constructor that reports each start, with its context,
// and returns only once release is closed.
type slowBuild struct {
	calls   atomic.Int64
	started chan context.Context
	release chan struct{}
}

func newSlowBuild() *slowBuild {
	return &slowBuild{started: make(chan context.Context, 64), release: make(chan struct{})}
}

func (s *slowBuild) fn(ctx context.Context, a ctxArgs) (*image.NRGBA, error) {
	s.calls.Add(1)
	s.started <- ctx
	<-s.release
	return ctxImage(a), nil
}

type ctxResult struct {
	img *image.NRGBA
	err error
}

// provideAsync runs ProvideContext on a goroutine of its own and sends its
// result on the channel returned.
func provideAsync(ctx context.Context, c *SlugCache, fn func(context.Context, ctxArgs) (*image.NRGBA, error), args ctxArgs) <-chan ctxResult {
	ch := make(chan ctxResult, 1)
	go func() {
		img, err := ProvideContext(ctx, c, fn, args)
		ch <- ctxResult{img, err}
	}()
	return ch
}

// await returns what ch delivers.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hangGuard):
		t.Fatalf("still waiting for %s", what)
		panic("unreachable")
	}
}

// checkNotYet fails if ch has delivered.
func checkNotYet[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("%s returned too early: %v", what, v)
	default:
	}
}

// awaitWaiters waits until n callers wait for the flight of key, and
// returns it.
func awaitWaiters(t *testing.T, c *SlugCache, key string, n int) *flight {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		c.flights.mu.Lock()
		f, w := c.flights.m[key], 0
		if f != nil {
			w = f.waiters
		}
		c.flights.mu.Unlock()
		if w == n {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d callers wait for %s, want %d", w, key, n)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func mustKeyContext(t *testing.T, fn func(context.Context, ctxArgs) (*image.NRGBA, error), args ctxArgs, opts ...ProvideOption) string {
	t.Helper()
	key, err := KeyContext(fn, args, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// checkCtxErr fails unless err is ProvideContext's error for a caller
// whose context ended with want.
func checkCtxErr(t *testing.T, who string, r ctxResult, want error, key string) {
	t.Helper()
	if r.img != nil || !errors.Is(r.err, want) {
		t.Fatalf("%s: %v, %v; want no image and an error matching %v", who, r.img, r.err, want)
	}
	if msg := r.err.Error(); !strings.HasPrefix(msg, "arcache: ") || strings.Count(msg, "arcache:") != 1 || !strings.Contains(msg, key) {
		t.Errorf("%s: %q should name the package once, at the front, and the key %s", who, msg, key)
	}
}

func TestProvideContextImpatientCallerLeavesTheBuildRunning(t *testing.T) {
	c := newTestCache(t, nil)
	s := newSlowBuild()
	args := ctxArgs{Name: "slow", Size: 4}
	key := mustKeyContext(t, s.fn, args)

	patient := provideAsync(context.Background(), c, s.fn, args)
	await(t, s.started, "the build to start")

	// The build waits for release, which is closed only once the
	// impatient caller has returned: it cannot have waited for the build.
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	r := await(t, provideAsync(ctx, c, s.fn, args), "the impatient caller")
	checkCtxErr(t, "impatient caller", r, context.DeadlineExceeded, key)
	checkNotYet(t, patient, "the patient caller")

	close(s.release)
	p := await(t, patient, "the patient caller")
	if p.err != nil || p.img == nil || !samePixels(p.img, ctxImage(args)) {
		t.Fatalf("patient caller: %v, %v; want the built image", p.img, p.err)
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("%d builds, want 1", n)
	}
	if st := c.Stats(); st.Builds != 1 || st.BuildErrors != 0 {
		t.Errorf("stats %+v, want 1 build, no error", st)
	}
	if got, ok := c.Get(key); !ok || got != image.Image(p.img) {
		t.Errorf("Get(%s) = %v, %v; want the image the patient caller got", key, got, ok)
	}
}

func TestProvideContextEveryCallerGoneCancelsTheBuild(t *testing.T) {
	c := newTestCache(t, nil)
	var calls atomic.Int64
	started := make(chan struct{}, 1)
	observed := make(chan error, 1)
	fn := func(ctx context.Context, a ctxArgs) (*image.NRGBA, error) {
		if calls.Add(1) == 1 {
			started <- struct{}{}
			<-ctx.Done()
			observed <- ctx.Err()
		}
		// An image all the same: one made after every caller had gone
		// must not be stored.
		return ctxImage(a), nil
	}
	args := ctxArgs{Name: "abandoned", Size: 3}
	key := mustKeyContext(t, fn, args)

	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	first := provideAsync(ctx1, c, fn, args)
	await(t, started, "the build to start")
	second := provideAsync(ctx2, c, fn, args)
	f := awaitWaiters(t, c, key, 2)

	cancel1()
	checkCtxErr(t, "first caller", await(t, first, "the first caller"), context.Canceled, key)
	if err := f.ctx.Err(); err != nil {
		t.Fatalf("the build's context ended (%v) while a caller still waited", err)
	}
	cancel2()
	checkCtxErr(t, "second caller", await(t, second, "the second caller"), context.Canceled, key)

	if err := await(t, observed, "the constructor to see its context end"); !errors.Is(err, context.Canceled) {
		t.Errorf("the build's context ended with %v, want context.Canceled", err)
	}
	await(t, f.done, "the abandoned build to end")
	if c.Len() != 0 || len(c.Keys()) != 0 {
		t.Fatalf("an abandoned build was stored: %q", c.Keys())
	}
	if _, ok := c.Get(key); ok {
		t.Fatal("Get found the abandoned build's image")
	}

	// A later caller builds anew, and this time the build is stored.
	img, err := ProvideContext(context.Background(), c, fn, args)
	if err != nil || img == nil {
		t.Fatalf("later call: %v, %v", img, err)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d builds, want 2: the later call should build anew", n)
	}
	if got, ok := c.Get(key); !ok || got != image.Image(img) {
		t.Errorf("the later build was not stored: %v", ok)
	}
}

func TestProvideContextManyCallersSomeCancelled(t *testing.T) {
	const callers = 32
	c := newTestCache(t, nil)
	s := newSlowBuild()
	args := ctxArgs{Name: "shared", Size: 5}
	key := mustKeyContext(t, s.fn, args)

	// The first caller is patient and starts the build; the others join
	// it: every odd one with a context that is cancelled while the build
	// runs, the even ones with a context that does not end (half of them
	// one that could).
	results := make([]<-chan ctxResult, callers)
	cancels := make([]context.CancelFunc, callers)
	results[0] = provideAsync(context.Background(), c, s.fn, args)
	await(t, s.started, "the build to start")
	for i := 1; i < callers; i++ {
		ctx := context.Background()
		if i%2 == 1 || i%4 == 0 {
			ctx, cancels[i] = context.WithCancel(ctx)
			defer cancels[i]()
		}
		results[i] = provideAsync(ctx, c, s.fn, args)
	}
	awaitWaiters(t, c, key, callers)

	for i := 1; i < callers; i += 2 {
		cancels[i]()
	}
	for i := 1; i < callers; i += 2 {
		checkCtxErr(t, "cancelled caller", await(t, results[i], "a cancelled caller"), context.Canceled, key)
	}
	awaitWaiters(t, c, key, callers/2)
	for i := 0; i < callers; i += 2 {
		checkNotYet(t, results[i], "a patient caller")
	}

	close(s.release)
	var img *image.NRGBA
	for i := 0; i < callers; i += 2 {
		r := await(t, results[i], "a patient caller")
		if r.err != nil || r.img == nil {
			t.Fatalf("patient caller %d: %v, %v", i, r.img, r.err)
		}
		if img == nil {
			img = r.img
		} else if r.img != img {
			t.Errorf("patient caller %d got another image than caller 0", i)
		}
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("%d builds, want 1", n)
	}
	if got, ok := c.Get(key); !ok || got != image.Image(img) || c.Len() != 1 {
		t.Errorf("the shared build was not stored: %v, %d entries", ok, c.Len())
	}
}

func TestProvideContextHitIgnoresTheContext(t *testing.T) {
	c := newTestCache(t, nil)
	var calls atomic.Int64
	fn := func(_ context.Context, a ctxArgs) (*image.NRGBA, error) { calls.Add(1); return ctxImage(a), nil }
	args := ctxArgs{Name: "hit", Size: 2}
	img, err := ProvideContext(context.Background(), c, fn, args)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	for _, ctx := range []context.Context{cancelled, expired} {
		got, err := ProvideContext(ctx, c, fn, args)
		if err != nil || got != img {
			t.Fatalf("hit with an ended context (%v): %v, %v; want the cached image", ctx.Err(), got, err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d builds, want 1", n)
	}
	if s := c.Stats(); s.Hits != 2 {
		t.Errorf("stats %+v, want 2 hits", s)
	}
}

func TestProvideContextMissWithAnEndedContext(t *testing.T) {
	c := newTestCache(t, nil)
	var calls atomic.Int64
	fn := func(_ context.Context, a ctxArgs) (*image.NRGBA, error) { calls.Add(1); return ctxImage(a), nil }
	args := ctxArgs{Name: "miss", Size: 2}
	key := mustKeyContext(t, fn, args)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	for _, tc := range []struct {
		ctx  context.Context
		want error
	}{{cancelled, context.Canceled}, {expired, context.DeadlineExceeded}} {
		img, err := ProvideContext(tc.ctx, c, fn, args)
		checkCtxErr(t, "miss with an ended context", ctxResult{img, err}, tc.want, key)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the constructor was called %d times for callers that had gone", n)
	}
	if s := c.Stats(); s.Builds != 0 || s.Entries != 0 {
		t.Errorf("stats %+v, want no build and no entry", s)
	}
}

func TestProvideContextBuildContext(t *testing.T) {
	c := newTestCache(t, nil)
	s := newSlowBuild()
	args := ctxArgs{Name: "values", Size: 3}
	key := mustKeyContext(t, s.fn, args)

	ctx1 := context.WithValue(context.Background(), ctxValueKey{}, "first")
	ctx1, cancelTimeout := context.WithTimeout(ctx1, time.Hour)
	defer cancelTimeout()
	ctx1, cancel1 := context.WithCancel(ctx1)
	defer cancel1()
	first := provideAsync(ctx1, c, s.fn, args)
	bctx := await(t, s.started, "the build to start")

	if v := bctx.Value(ctxValueKey{}); v != "first" {
		t.Errorf("the build's context carries %v, want the first caller's value", v)
	}
	if d, ok := bctx.Deadline(); ok {
		t.Errorf("the build's context has the first caller's deadline %v", d)
	}
	if err := bctx.Err(); err != nil {
		t.Fatalf("the build's context has ended: %v", err)
	}

	// A second caller joins with values of its own; the first leaves.
	ctx2 := context.WithValue(context.Background(), ctxValueKey{}, "second")
	second := provideAsync(ctx2, c, s.fn, args)
	awaitWaiters(t, c, key, 2)
	cancel1()
	checkCtxErr(t, "first caller", await(t, first, "the first caller"), context.Canceled, key)
	if err := bctx.Err(); err != nil {
		t.Fatalf("the first caller's cancellation reached the build: %v", err)
	}
	if v := bctx.Value(ctxValueKey{}); v != "first" {
		t.Errorf("the build's context carries %v once the first caller left, want \"first\"", v)
	}

	close(s.release)
	r := await(t, second, "the second caller")
	if r.err != nil || r.img == nil {
		t.Fatalf("second caller: %v, %v", r.img, r.err)
	}
	if got, ok := c.Get(key); !ok || got != image.Image(r.img) {
		t.Errorf("the build the first caller started and left was not stored: %v", ok)
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("%d builds, want 1", n)
	}
}

func TestKeyContextIsTheKeyProvideContextStores(t *testing.T) {
	fn := func(_ context.Context, a ctxArgs) (*image.NRGBA, error) { return ctxImage(a), nil }
	args := ctxArgs{Name: "Stored Icon", Size: 2}
	seen := map[string]string{}
	for name, opts := range map[string][]ProvideOption{
		"plain":   nil,
		"named":   {Name("ctx-icon")},
		"exclude": {Exclude("Size")},
		"both":    {Name("ctx-icon"), Exclude("Name")},
	} {
		c := newTestCache(t, nil)
		key, err := KeyContext(fn, args, opts...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !ValidKey(key) {
			t.Errorf("%s: %q is not a valid key", name, key)
		}
		if _, err := ProvideContext(context.Background(), c, fn, args, opts...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := c.Keys(); !slices.Equal(got, []string{key}) {
			t.Errorf("%s: ProvideContext stored under %q, KeyContext says %q", name, got, key)
		}
		if other, ok := seen[key]; ok {
			t.Errorf("%s and %s share the key %s", name, other, key)
		}
		seen[key] = name
	}
	if _, err := KeyContext(func(context.Context, struct{ F func() }) (*image.NRGBA, error) { return nil, nil }, struct{ F func() }{}); !errors.Is(err, ErrUnkeyable) {
		t.Errorf("KeyContext of a func field: %v, want ErrUnkeyable", err)
	}
}

func TestProvideContextNoCachePassesTheContext(t *testing.T) {
	c := newTestCache(t, nil)
	var got any
	fn := func(ctx context.Context, a ctxArgs) (*image.NRGBA, error) {
		got = ctx.Value(ctxValueKey{})
		return ctxImage(a), nil
	}
	ctx := context.WithValue(context.Background(), ctxValueKey{}, "mine")
	if _, err := ProvideContext(ctx, c, fn, ctxArgs{Size: 1}, NoCache()); err != nil {
		t.Fatal(err)
	}
	if got != "mine" {
		t.Errorf("the constructor saw %v, want the caller's value", got)
	}
	if c.Len() != 0 {
		t.Errorf("NoCache stored %q", c.Keys())
	}
}
