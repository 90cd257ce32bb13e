package imagecache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pfSumHeader carries an image's sha256 from the test servers to pfFetcher.
const pfSumHeader = "X-Image-Sha256"

// pfStatusError is pfFetcher's error for a response that is not 200.
type pfStatusError struct{ code int }

func (e *pfStatusError) Error() string { return "HTTP status " + strconv.Itoa(e.code) }

// pfFetcher fetches <base>/img/<id> with client, and verifies it against
// the sha256 in the response's pfSumHeader.
func pfFetcher(client *http.Client, base string) Fetcher {
	return func(ctx context.Context, id string) (io.ReadCloser, Checksum, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/img/"+id, nil)
		if err != nil {
			return nil, Checksum{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, Checksum{}, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, Checksum{}, &pfStatusError{resp.StatusCode}
		}
		return resp.Body, Checksum{Algo: "sha256", Hex: resp.Header.Get(pfSumHeader)}, nil
	}
}

func pfBytes(seed uint64, n int) []byte {
	var s [32]byte
	s[0] = byte(seed)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

func pfHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func pfNew(t *testing.T, dir string) *Cache {
	t.Helper()
	c, err := New(Config{Dir: dir, MaxSize: 1 << 30}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func pfQueue(t *testing.T, c *Cache, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if ok, err := c.Queue(id); !ok || err != nil {
			t.Fatalf("Queue(%s) = %v, %v; want true, nil", id, ok, err)
		}
	}
}

// pfCheckCached checks that id is cached with the bytes want and is off
// the queue.
func pfCheckCached(t *testing.T, c *Cache, id string, want []byte) {
	t.Helper()
	if !c.IsCached(id) {
		t.Errorf("%s is not cached", id)
		return
	}
	if c.IsQueued(id) {
		t.Errorf("%s is cached and still queued", id)
	}
	rc, err := c.OpenForRead(id)
	if err != nil {
		t.Errorf("OpenForRead(%s): %v", id, err)
		return
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s holds %d bytes (err %v); want the %d served", id, len(got), err, len(want))
	}
}

// pfDirNames lists the names in one of the cache's directories.
func pfDirNames(t *testing.T, dir, sub string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func pfSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func pfKeys(m map[string]error) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestPrefetch(t *testing.T) {
	good := map[string][]byte{}
	for i := range 4 {
		good["good-"+strconv.Itoa(i)] = pfBytes(uint64(i), 8<<10+i*9000)
	}
	const (
		slow    = "slow"
		bad     = "bad-checksum"
		missing = "missing"
		already = "already-cached"
	)
	good[slow] = pfBytes(10, 20<<10)
	badBody, badClaim := pfBytes(11, 12<<10), pfBytes(12, 12<<10)
	alreadyBody := pfBytes(13, 3<<10)

	var (
		inflight, maxInflight atomic.Int64
		badFixed              atomic.Bool // serve bad-checksum with its true sum
		mu                    sync.Mutex
		requests              = map[string]int{}
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A request counts as in flight from its arrival until just before
		// its last byte is written: the worker that sent it cannot finish,
		// and so cannot free its place for another, before that.
		n := inflight.Add(1)
		for m := maxInflight.Load(); n > m && !maxInflight.CompareAndSwap(m, n); m = maxInflight.Load() {
		}
		released := false
		release := func() {
			if !released {
				released = true
				inflight.Add(-1)
			}
		}
		defer release()
		id, ok := strings.CutPrefix(r.URL.Path, "/img/")
		if !ok {
			http.Error(w, "no such path", http.StatusBadRequest)
			return
		}
		mu.Lock()
		requests[id]++
		mu.Unlock()
		// Every response takes a while, so that the workers overlap; the
		// slow one longer. Both stop when the request is given up.
		delay := 50 * time.Millisecond
		if id == slow {
			delay = 300 * time.Millisecond
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		body, sum := good[id], pfHex(good[id])
		switch {
		case id == bad && badFixed.Load():
			body, sum = badBody, pfHex(badBody)
		case id == bad:
			body, sum = badBody, pfHex(badClaim)
		case body == nil:
			release()
			http.NotFound(w, r)
			return
		}
		w.Header().Set(pfSumHeader, sum)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:len(body)-1])
		release()
		w.Write(body[len(body)-1:])
	}))
	defer srv.Close()
	fetch := pfFetcher(srv.Client(), srv.URL)

	dir := t.TempDir()
	c := pfNew(t, dir)
	// Queue order: the slow one early, so that the other worker goes on
	// past it.
	order := []string{"good-0", slow, bad, "good-1", missing, already, "good-2", "good-3"}
	pfQueue(t, c, order...)
	// Queue refuses an id that is cached, and caching an id takes it off the
	// queue; so the queued id that is already cached is made the other way
	// the design allows: a file in data/ that the cache adopts when it opens.
	if err := os.WriteFile(filepath.Join(dir, dataDir, already), alreadyBody, 0o644); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = pfNew(t, dir)
	if !c.IsCached(already) || !c.IsQueued(already) {
		t.Fatalf("%s: cached %v, queued %v; want both", already, c.IsCached(already), c.IsQueued(already))
	}

	res, err := c.Prefetch(t.Context(), fetch, 2)
	if err != nil {
		t.Fatalf("Prefetch: %v", err)
	}
	wantCached := []string{"good-0", "good-1", "good-2", "good-3", slow}
	if got := pfSorted(res.Cached); !slices.Equal(got, pfSorted(wantCached)) {
		t.Errorf("Cached = %v; want %v", got, pfSorted(wantCached))
	}
	for _, id := range wantCached {
		pfCheckCached(t, c, id, good[id])
	}
	if !slices.Equal(res.Skipped, []string{already}) {
		t.Errorf("Skipped = %v; want [%s]", res.Skipped, already)
	}
	if c.IsQueued(already) {
		t.Errorf("%s was skipped and is still queued", already)
	}
	if got := pfKeys(res.Failed); !slices.Equal(got, []string{bad, missing}) {
		t.Errorf("Failed has %v; want [%s %s] (Failed: %v)", got, bad, missing, res.Failed)
	}
	if err := res.Failed[bad]; !errors.Is(err, ErrChecksum) {
		t.Errorf("Failed[%s] = %v; want ErrChecksum", bad, err)
	}
	var se *pfStatusError
	if err := res.Failed[missing]; !errors.As(err, &se) || se.code != http.StatusNotFound {
		t.Errorf("Failed[%s] = %v; want the fetcher's 404 error", missing, err)
	}
	if q, err := c.QueuedImages(); err != nil || !slices.Equal(q, []string{bad, missing}) {
		t.Errorf("QueuedImages() = %v, %v; want [%s %s]", q, err, bad, missing)
	}
	if c.IsCached(bad) {
		t.Errorf("%s is cached despite its checksum", bad)
	}
	if _, err := os.Lstat(filepath.Join(dir, dataDir, bad)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data/%s: %v; want nothing there", bad, err)
	}
	if got := pfDirNames(t, dir, invalidDir); !slices.Equal(got, []string{bad}) {
		t.Errorf("invalid/ holds %v; want [%s]", got, bad)
	}
	if got := pfDirNames(t, dir, incompleteDir); len(got) > 0 {
		t.Errorf("incomplete/ holds %v after Prefetch", got)
	}
	if m := maxInflight.Load(); m != 2 {
		t.Errorf("at most %d requests were in flight at once; want 2 (the workers)", m)
	}

	// Again: the cached ids are not fetched again; the failures fail again.
	res, err = c.Prefetch(t.Context(), fetch, 2)
	if err != nil {
		t.Fatalf("second Prefetch: %v", err)
	}
	if len(res.Cached) > 0 || len(res.Skipped) > 0 {
		t.Errorf("second Prefetch: Cached %v, Skipped %v; want none", res.Cached, res.Skipped)
	}
	if got := pfKeys(res.Failed); !slices.Equal(got, []string{bad, missing}) {
		t.Errorf("second Prefetch: Failed has %v; want [%s %s]", got, bad, missing)
	}
	// Once the server has it right, the id that failed its checksum is
	// fetched from the queue it stayed in.
	badFixed.Store(true)
	res, err = c.Prefetch(t.Context(), fetch, 2)
	if err != nil {
		t.Fatalf("third Prefetch: %v", err)
	}
	if !slices.Equal(res.Cached, []string{bad}) || len(res.Skipped) > 0 {
		t.Errorf("third Prefetch: Cached %v, Skipped %v; want [%s] and none", res.Cached, res.Skipped, bad)
	}
	if got := pfKeys(res.Failed); !slices.Equal(got, []string{missing}) {
		t.Errorf("third Prefetch: Failed has %v; want [%s]", got, missing)
	}
	pfCheckCached(t, c, bad, badBody)
	if q, err := c.QueuedImages(); err != nil || !slices.Equal(q, []string{missing}) {
		t.Errorf("QueuedImages() = %v, %v; want [%s]", q, err, missing)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, id := range wantCached {
		if requests[id] != 1 {
			t.Errorf("%s was requested %d times; want once", id, requests[id])
		}
	}
	if requests[already] != 0 {
		t.Errorf("%s, already cached, was requested %d times", already, requests[already])
	}
	if requests[bad] != 3 || requests[missing] != 3 {
		t.Errorf("requests: %s %d, %s %d; want 3 each (one per Prefetch)", bad, requests[bad], missing, requests[missing])
	}
	if m := maxInflight.Load(); m > 2 {
		t.Errorf("%d requests were in flight at once; want at most 2 (the workers)", m)
	}
}

func TestPrefetchHonoursContext(t *testing.T) {
	var started atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		// Headers and a first part of the body, then nothing until the
		// request is given up (or, bounded, 10 s).
		w.Header().Set(pfSumHeader, strings.Repeat("0", 64))
		w.Header().Set("Content-Length", strconv.Itoa(64<<10))
		w.Write(make([]byte, 4<<10))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()

	dir := t.TempDir()
	c := pfNew(t, dir)
	ids := []string{"block-0", "block-1", "block-2", "block-3", "block-4"}
	pfQueue(t, c, ids...)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	res, err := c.Prefetch(ctx, pfFetcher(srv.Client(), srv.URL), 2)
	elapsed := time.Since(start)
	t.Logf("Prefetch returned %v after it started, the context being cancelled at 100ms", elapsed)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Prefetch = %v; want context.Canceled", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("Prefetch took %v to return after the context was cancelled", elapsed)
	}
	if len(res.Cached) > 0 || len(res.Skipped) > 0 {
		t.Errorf("Cached %v, Skipped %v; want none", res.Cached, res.Skipped)
	}
	if got := pfKeys(res.Failed); !slices.Equal(got, ids) {
		t.Errorf("Failed has %v; want every id %v", got, ids)
	}
	for id, err := range res.Failed {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Failed[%s] = %v; want context.Canceled", id, err)
		}
	}
	if q, err := c.QueuedImages(); err != nil || !slices.Equal(q, ids) {
		t.Errorf("QueuedImages() = %v, %v; want %v", q, err, ids)
	}
	if n := started.Load(); n > 2 {
		t.Errorf("%d requests were made; want at most 2 (the workers)", n)
	}
	if got := pfDirNames(t, dir, dataDir); len(got) > 0 {
		t.Errorf("data/ holds %v", got)
	}
	if got := pfDirNames(t, dir, incompleteDir); len(got) > 0 {
		t.Errorf("incomplete/ holds %v after Prefetch returned", got)
	}
}

// TestPrefetchFetcherPanics: a Fetcher that panics is one failed id, not a
// crash, and the id stays queued.
func TestPrefetchFetcherPanics(t *testing.T) {
	dir := t.TempDir()
	c := pfNew(t, dir)
	fine := pfBytes(20, 5000)
	pfQueue(t, c, "panics", "fine")
	res, err := c.Prefetch(t.Context(), func(ctx context.Context, id string) (io.ReadCloser, Checksum, error) {
		if id == "panics" {
			panic("fetcher bug")
		}
		return io.NopCloser(bytes.NewReader(fine)), Checksum{Algo: "sha256", Hex: pfHex(fine)}, nil
	}, 2)
	if err != nil {
		t.Fatalf("Prefetch: %v", err)
	}
	if err := res.Failed["panics"]; err == nil || !strings.Contains(err.Error(), "fetcher bug") {
		t.Errorf("Failed[panics] = %v; want an error that reports the panic", err)
	}
	if !c.IsQueued("panics") || c.IsCached("panics") {
		t.Errorf("panics: queued %v, cached %v; want queued and not cached", c.IsQueued("panics"), c.IsCached("panics"))
	}
	if !slices.Equal(res.Cached, []string{"fine"}) {
		t.Errorf("Cached = %v; want [fine]", res.Cached)
	}
	pfCheckCached(t, c, "fine", fine)
}

// pfPanicReader hands out some bytes, then panics.
type pfPanicReader struct{ n int }

func (r *pfPanicReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		panic("reader bug")
	}
	n := min(len(p), r.n)
	clear(p[:n])
	r.n -= n
	return n, nil
}

func (r *pfPanicReader) Close() error { return nil }

// TestPrefetchReaderPanics: a Fetcher whose reader panics half way is one
// failed id too, and leaves nothing behind that keeps the id from being
// queued and fetched again.
func TestPrefetchReaderPanics(t *testing.T) {
	dir := t.TempDir()
	c := pfNew(t, dir)
	body := pfBytes(21, 40<<10)
	pfQueue(t, c, "reader-panics")
	res, err := c.Prefetch(t.Context(), func(ctx context.Context, id string) (io.ReadCloser, Checksum, error) {
		return &pfPanicReader{n: 16 << 10}, Checksum{Algo: "sha256", Hex: pfHex(body)}, nil
	}, 1)
	if err != nil {
		t.Fatalf("Prefetch: %v", err)
	}
	if err := res.Failed["reader-panics"]; err == nil || !strings.Contains(err.Error(), "reader bug") {
		t.Errorf("Failed[reader-panics] = %v; want an error that reports the panic", err)
	}
	if !c.IsQueued("reader-panics") {
		t.Errorf("reader-panics is no longer queued")
	}
	if got := pfDirNames(t, dir, incompleteDir); len(got) > 0 {
		t.Errorf("incomplete/ holds %v after the write's source panicked: the write was never abandoned", got)
	}
	// The id can be fetched once the fetcher works.
	res, err = c.Prefetch(t.Context(), func(ctx context.Context, id string) (io.ReadCloser, Checksum, error) {
		return io.NopCloser(bytes.NewReader(body)), Checksum{Algo: "sha256", Hex: pfHex(body)}, nil
	}, 1)
	if err != nil {
		t.Fatalf("second Prefetch: %v", err)
	}
	if !slices.Equal(res.Cached, []string{"reader-panics"}) {
		t.Errorf("second Prefetch: Cached %v, Failed %v; want reader-panics cached", res.Cached, res.Failed)
	}
	if c.IsCached("reader-panics") {
		pfCheckCached(t, c, "reader-panics", body)
	}
}
