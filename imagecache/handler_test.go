package imagecache

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hEnv is a cache behind NewHandler behind an httptest server, with an
// origin the test can change, and counters of fetches and of requests.
type hEnv struct {
	c       *Cache
	dir     string
	srv     *httptest.Server
	origin  atomic.Pointer[Fetcher]
	fetches atomic.Int64
	arrived atomic.Int64 // requests that reached the handler
	active  atomic.Int64 // requests the handler has not finished
	// arrivals, when set, is told each arrival count.
	arrivals atomic.Pointer[func(n int64)]
}

// hStart starts an env on a fresh cache with the metadata driver drv.
func hStart(t *testing.T, drv string, origin Fetcher) *hEnv {
	t.Helper()
	e := &hEnv{dir: t.TempDir()}
	logs := &hLog{}
	c, err := New(Config{Dir: e.dir, Driver: drv}, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	e.setOrigin(origin)
	h := NewHandler(c, func(ctx context.Context, id string) (io.ReadCloser, Checksum, error) {
		e.fetches.Add(1)
		return (*e.origin.Load())(ctx, id)
	})
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.active.Add(1)
		defer e.active.Add(-1)
		n := e.arrived.Add(1)
		if f := e.arrivals.Load(); f != nil {
			(*f)(n)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		e.srv.Close()
		c.Close()
		if t.Failed() {
			t.Logf("cache log:\n%s", logs)
		}
	})
	return e
}

func (e *hEnv) setOrigin(f Fetcher) { e.origin.Store(&f) }

func (e *hEnv) onArrival(f func(n int64)) { e.arrivals.Store(&f) }

// idle waits until the handler has finished every request, so that what
// it does after the body (counting a hit) is done.
func (e *hEnv) idle(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); e.active.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests still in the handler", e.active.Load())
		}
	}
}

// hResp is an answer read to its end.
type hResp struct {
	code    int
	header  http.Header
	body    []byte
	err     error // reading the body
	chunked bool
}

func (r hResp) status() string { return r.header.Get("Cache-Status") }

// do sends a request with the header lines hd ("Name: value") and reads
// the answer; a request that fails has code 0. It may run on any
// goroutine.
func (e *hEnv) do(t *testing.T, method, path string, hd ...string) hResp {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range hd {
		k, v, _ := strings.Cut(l, ": ")
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return hResp{err: fmt.Errorf("%s %s: %w", method, path, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return hResp{code: resp.StatusCode, header: resp.Header, body: body, err: err,
		chunked: len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"}
}

func (e *hEnv) get(t *testing.T, id string, hd ...string) hResp {
	t.Helper()
	return e.do(t, http.MethodGet, "/"+id, hd...)
}

// hDrivers runs f with each metadata driver that works here.
func hDrivers(t *testing.T, f func(t *testing.T, drv string)) {
	for _, drv := range []string{DriverSQLite, DriverXattr} {
		t.Run(drv, func(t *testing.T) {
			if drv == DriverXattr {
				c, err := New(Config{Dir: t.TempDir(), Driver: drv}, WithLogger(slog.New(slog.DiscardHandler)))
				if err != nil {
					t.Fatal(err)
				}
				got := c.Driver()
				c.Close()
				if got != drv {
					t.Skipf("the xattr driver fell back to %q here", got)
				}
			}
			f(t, drv)
		})
	}
}

// hImage returns n random bytes and their sha256.
func hImage(n int, seed uint64) ([]byte, Checksum) {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 'h'}).Read(b)
	s := sha256.Sum256(b)
	return b, Checksum{Algo: "sha256", Hex: hex.EncodeToString(s[:])}
}

func sumETag(s Checksum) string { return `"` + s.Algo + "-" + s.Hex + `"` }

// hServe is an origin that serves data with checksum sum for every id,
// its body made by body (bytes.NewReader when nil).
func hServe(data []byte, sum Checksum, body func([]byte) io.Reader) Fetcher {
	return func(_ context.Context, _ string) (io.ReadCloser, Checksum, error) {
		if body == nil {
			return io.NopCloser(bytes.NewReader(data)), sum, nil
		}
		return io.NopCloser(body(data)), sum, nil
	}
}

// hGated returns a body that gives data[:at], then waits for release to
// be closed, then gives the rest.
func hGated(at int, release <-chan struct{}) func([]byte) io.Reader {
	return func(data []byte) io.Reader {
		return io.MultiReader(bytes.NewReader(data[:at]), hWait(release), bytes.NewReader(data[at:]))
	}
}

// hWait is an empty reader whose Read waits for its channel to close.
type hWait <-chan struct{}

func (w hWait) Read([]byte) (int, error) { <-w; return 0, io.EOF }

// hFailAfter returns a body that gives data[:at] and then fails.
func hFailAfter(at int, err error) func([]byte) io.Reader {
	return func(data []byte) io.Reader {
		return io.MultiReader(bytes.NewReader(data[:at]), iotestErr{err})
	}
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }

// hWaitFor polls cond until it holds, failing the test after a while.
func hWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func hCache(t *testing.T, c *Cache, id string, data []byte, sum Checksum) {
	t.Helper()
	if ok, err := c.CacheReader(id, bytes.NewReader(data), sum); !ok || err != nil {
		t.Fatalf("CacheReader(%s) = %v, %v", id, ok, err)
	}
}

func hHits(t *testing.T, c *Cache, id string) int64 {
	t.Helper()
	n, err := c.HitCount(id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// The second GET of an image comes from disk: one fetch in all, a
// checksum ETag on both answers, and the headers of ServeContent.
func TestHandlerSecondGETFromDisk(t *testing.T) {
	hDrivers(t, func(t *testing.T, drv string) {
		data, sum := hImage(300<<10, 1)
		e := hStart(t, drv, hServe(data, sum, nil))

		first := e.get(t, "img")
		if first.code != 200 || first.err != nil || !bytes.Equal(first.body, data) {
			t.Fatalf("first GET: %d, %d bytes, %v; want 200 and the image", first.code, len(first.body), first.err)
		}
		if got := first.status(); got != statusMiss {
			t.Errorf("first GET Cache-Status %q; want %q", got, statusMiss)
		}
		if !first.chunked || first.header.Get("Content-Length") != "" {
			t.Errorf("first GET: chunked %v, Content-Length %q; want a chunked stream", first.chunked, first.header.Get("Content-Length"))
		}
		if got := first.header.Get("Etag"); got != sumETag(sum) {
			t.Errorf("first GET ETag %s; want %s", got, sumETag(sum))
		}
		if !e.c.IsCached("img") {
			t.Fatal("not cached after the first GET")
		}

		second := e.get(t, "img")
		if second.code != 200 || second.err != nil || !bytes.Equal(second.body, data) {
			t.Fatalf("second GET: %d, %d bytes, %v; want 200 and the image", second.code, len(second.body), second.err)
		}
		if got := second.status(); got != statusHit {
			t.Errorf("second GET Cache-Status %q; want %q", got, statusHit)
		}
		if got := second.header.Get("Etag"); got != sumETag(sum) {
			t.Errorf("second GET ETag %s; want %s", got, sumETag(sum))
		}
		if got := second.header.Get("Content-Length"); got != fmt.Sprint(len(data)) {
			t.Errorf("second GET Content-Length %q; want %d", got, len(data))
		}
		if got := second.header.Get("Accept-Ranges"); got != "bytes" {
			t.Errorf("second GET Accept-Ranges %q; want bytes", got)
		}
		fi, err := os.Stat(filepath.Join(e.dir, dataDir, "img"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := second.header.Get("Last-Modified"), fi.ModTime().UTC().Format(http.TimeFormat); got != want {
			t.Errorf("second GET Last-Modified %q; want %q", got, want)
		}
		if n := e.fetches.Load(); n != 1 {
			t.Errorf("%d fetches for two GETs; want 1", n)
		}
		e.idle(t)
		if n := hHits(t, e.c, "img"); n != 1 {
			t.Errorf("HitCount %d after a fetch and a hit; want 1", n)
		}
	})
}

// A whole GET from disk counts a hit; HEAD, 304 and 206 do not.
func TestHandlerHitCounts(t *testing.T) {
	hDrivers(t, func(t *testing.T, drv string) {
		data, sum := hImage(10<<10, 2)
		e := hStart(t, drv, nil)
		hCache(t, e.c, "img", data, sum)
		etag := sumETag(sum)
		for _, tc := range []struct {
			method string
			hd     []string
			code   int
			hit    bool
		}{
			{"GET", nil, 200, true},
			{"HEAD", nil, 200, false},
			{"GET", []string{"If-None-Match: " + etag}, 304, false},
			{"GET", []string{"Range: bytes=0-99"}, 206, false},
			{"GET", []string{"Range: bytes=0-"}, 206, false},
			{"GET", []string{"If-None-Match: \"other\""}, 200, true},
			{"GET", []string{"Range: bytes=0-99", "If-Range: \"other\""}, 200, true},
			{"HEAD", []string{"If-None-Match: " + etag}, 304, false},
		} {
			before := hHits(t, e.c, "img")
			r := e.do(t, tc.method, "/img", tc.hd...)
			if r.code != tc.code {
				t.Errorf("%s %q: %d; want %d", tc.method, tc.hd, r.code, tc.code)
			}
			if got := r.status(); got != statusHit {
				t.Errorf("%s %q: Cache-Status %q; want %q", tc.method, tc.hd, got, statusHit)
			}
			e.idle(t)
			want := before
			if tc.hit {
				want++
			}
			if got := hHits(t, e.c, "img"); got != want {
				t.Errorf("%s %q: HitCount %d, was %d; want %d", tc.method, tc.hd, got, before, want)
			}
		}
	})
}

// Conditional requests on a cached image are answered 304.
func TestHandlerConditional(t *testing.T) {
	hDrivers(t, func(t *testing.T, drv string) {
		data, sum := hImage(10<<10, 3)
		e := hStart(t, drv, nil)
		hCache(t, e.c, "img", data, sum)
		r := e.get(t, "img")
		etag, mod := r.header.Get("Etag"), r.header.Get("Last-Modified")
		if etag != sumETag(sum) || mod == "" {
			t.Fatalf("ETag %q, Last-Modified %q; want %s and a time", etag, mod, sumETag(sum))
		}
		for _, hd := range []string{
			"If-None-Match: " + etag,
			"If-None-Match: \"x\", " + etag,
			"If-None-Match: *",
			"If-Modified-Since: " + mod,
		} {
			r := e.get(t, "img", hd)
			if r.code != http.StatusNotModified || len(r.body) != 0 {
				t.Errorf("%s: %d with %d bytes; want 304 and no body", hd, r.code, len(r.body))
			}
			if got := r.header.Get("Etag"); got != etag {
				t.Errorf("%s: 304 with ETag %q; want %q", hd, got, etag)
			}
		}
		old := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
		for _, hd := range []string{"If-None-Match: \"x\"", "If-Modified-Since: " + old, "If-None-Match: W/" + etag[:len(etag)-1] + "x\""} {
			if r := e.get(t, "img", hd); r.code != 200 || !bytes.Equal(r.body, data) {
				t.Errorf("%s: %d; want 200 and the image", hd, r.code)
			}
		}
		if r := e.get(t, "img", "If-Match: \"x\""); r.code != http.StatusPreconditionFailed {
			t.Errorf("If-Match \"x\": %d; want 412", r.code)
		}
		if r := e.get(t, "img", "If-Match: "+etag); r.code != 200 {
			t.Errorf("If-Match its ETag: %d; want 200", r.code)
		}
	})
}

// A range of a cached image, and of one not cached yet, is answered 206
// from disk.
func TestHandlerRanges(t *testing.T) {
	hDrivers(t, func(t *testing.T, drv string) {
		data, sum := hImage(100<<10, 4)
		e := hStart(t, drv, hServe(data, sum, nil))
		hCache(t, e.c, "cached", data, sum)

		r := e.get(t, "cached", "Range: bytes=1000-1999")
		if r.code != http.StatusPartialContent || !bytes.Equal(r.body, data[1000:2000]) {
			t.Errorf("range of a cached image: %d, %d bytes; want 206 and bytes 1000-1999", r.code, len(r.body))
		}
		if got, want := r.header.Get("Content-Range"), fmt.Sprintf("bytes 1000-1999/%d", len(data)); got != want {
			t.Errorf("Content-Range %q; want %q", got, want)
		}
		if got := r.status(); got != statusHit {
			t.Errorf("range of a cached image: Cache-Status %q; want %q", got, statusHit)
		}
		if n := e.fetches.Load(); n != 0 {
			t.Errorf("%d fetches for a cached image; want 0", n)
		}

		r = e.get(t, "fresh", "Range: bytes=-500")
		if r.code != http.StatusPartialContent || !bytes.Equal(r.body, data[len(data)-500:]) {
			t.Errorf("range of an image not cached: %d, %d bytes; want 206 and the last 500 bytes", r.code, len(r.body))
		}
		if got := r.status(); got != statusMiss {
			t.Errorf("range of an image not cached: Cache-Status %q; want %q", got, statusMiss)
		}
		if got := r.header.Get("Etag"); got != sumETag(sum) {
			t.Errorf("range of an image not cached: ETag %q; want %q", got, sumETag(sum))
		}
		if n := e.fetches.Load(); n != 1 || !e.c.IsCached("fresh") {
			t.Errorf("after a range of an image not cached: %d fetches, cached %v; want 1 and true", n, e.c.IsCached("fresh"))
		}
		r = e.get(t, "fresh", "Range: bytes=10-19,30-39")
		if r.code != http.StatusPartialContent || !strings.HasPrefix(r.header.Get("Content-Type"), "multipart/byteranges") {
			t.Errorf("two ranges: %d, %q; want 206 multipart/byteranges", r.code, r.header.Get("Content-Type"))
		}
		if r := e.get(t, "fresh", fmt.Sprintf("Range: bytes=%d-", len(data))); r.code != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("a range past the end: %d; want 416", r.code)
		}
		e.idle(t)
		if n := hHits(t, e.c, "fresh"); n != 0 {
			t.Errorf("HitCount %d after ranges only; want 0", n)
		}

		// A HEAD of an image not cached fetches it, and says its size.
		r = e.do(t, http.MethodHead, "/other")
		if r.code != 200 || r.header.Get("Content-Length") != fmt.Sprint(len(data)) || r.status() != statusMiss {
			t.Errorf("HEAD of an image not cached: %d, Content-Length %q, Cache-Status %q; want 200, %d, %q",
				r.code, r.header.Get("Content-Length"), r.status(), len(data), statusMiss)
		}
		if !e.c.IsCached("other") {
			t.Error("not cached after a HEAD")
		}
	})
}

// Twenty GETs at once of an image not cached, behind a slow origin: one
// fetch, twenty identical bodies, one streamed and nineteen from disk.
func TestHandlerConcurrentFirstGETs(t *testing.T) {
	const clients = 20
	data, sum := hImage(2<<20, 5)
	all := make(chan struct{})
	slow := func(data []byte) io.Reader {
		return &hSlowReader{data: data, piece: 64 << 10, pause: 2 * time.Millisecond}
	}
	e := hStart(t, DriverSQLite, func(ctx context.Context, id string) (io.ReadCloser, Checksum, error) {
		<-all // every client is in the handler before the origin answers
		return hServe(data, sum, slow)(ctx, id)
	})
	e.onArrival(func(n int64) {
		if n == clients {
			close(all)
		}
	})
	var wg sync.WaitGroup
	resps := make([]hResp, clients)
	for i := range clients {
		wg.Go(func() { resps[i] = e.get(t, "big") })
	}
	wg.Wait()
	statuses := map[string]int{}
	for i, r := range resps {
		if r.code != 200 || r.err != nil || !bytes.Equal(r.body, data) {
			t.Errorf("client %d: %d, %d bytes, %v; want 200 and the image", i, r.code, len(r.body), r.err)
		}
		if got := r.header.Get("Etag"); got != sumETag(sum) {
			t.Errorf("client %d: ETag %q; want %q", i, got, sumETag(sum))
		}
		statuses[r.status()]++
	}
	if n := e.fetches.Load(); n != 1 {
		t.Errorf("%d fetches for %d clients; want 1", n, clients)
	}
	if statuses[statusMiss] != 1 || statuses[statusCollapsed] != clients-1 {
		t.Errorf("Cache-Status values %v; want 1 %q and %d %q", statuses, statusMiss, clients-1, statusCollapsed)
	}
	e.idle(t)
	// The clients that waited were served from disk.
	if n := hHits(t, e.c, "big"); n != clients-1 {
		t.Errorf("HitCount %d; want %d", n, clients-1)
	}
}

// hSlowReader gives data a piece at a time, pausing before each.
type hSlowReader struct {
	data  []byte
	piece int
	pause time.Duration
}

func (r *hSlowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := copy(p[:min(len(p), r.piece)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// The first half of a body reaches the client while the origin holds the
// second half back.
func TestHandlerStreamsAsItArrives(t *testing.T) {
	data, sum := hImage(4<<20, 6)
	half := len(data) / 2
	release := make(chan struct{})
	e := hStart(t, DriverSQLite, hServe(data, sum, hGated(half, release)))
	resp, err := e.srv.Client().Get(e.srv.URL + "/stream")
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Etag") != sumETag(sum) || resp.Header.Get("Cache-Status") != statusMiss {
		close(release)
		t.Fatalf("%d, ETag %q, Cache-Status %q; want 200, %s, %q", resp.StatusCode, resp.Header.Get("Etag"), resp.Header.Get("Cache-Status"), sumETag(sum), statusMiss)
	}
	early := half - 1<<10 // all but a small hold-back
	got := make([]byte, len(data))
	read := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(resp.Body, got[:early])
		read <- err
	}()
	select {
	case err := <-read:
		if err != nil {
			close(release)
			t.Fatalf("reading the first half: %v", err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the first half did not reach the client while the origin held back the second")
	}
	if !bytes.Equal(got[:early], data[:early]) {
		close(release)
		t.Fatal("the first half differs from the image")
	}
	if e.c.IsCached("stream") {
		t.Error("cached before the origin gave the second half")
	}
	close(release)
	n, err := io.ReadFull(resp.Body, got[early:])
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes more: %v; want the rest of the image", n, err)
	}
	if n, err := resp.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after the image: %d bytes, %v; want io.EOF", n, err)
	}
	if !e.c.IsCached("stream") {
		t.Error("not cached after the whole image was streamed")
	}
}

// A client that hangs up after 1000 bytes leaves the fetch to go on: the
// image is cached all the same.
func TestHandlerClientHangsUp(t *testing.T) {
	hDrivers(t, func(t *testing.T, drv string) {
		data, sum := hImage(1<<20, 7)
		release := make(chan struct{})
		e := hStart(t, drv, hServe(data, sum, hGated(64<<10, release)))
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/img", nil)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1000)
		if _, err := io.ReadFull(resp.Body, buf); err != nil || !bytes.Equal(buf, data[:1000]) {
			t.Fatalf("first 1000 bytes: %v", err)
		}
		cancel()
		resp.Body.Close()
		// The handler leaves while the origin still holds the rest.
		e.idle(t)
		if e.c.IsCached("img") {
			t.Fatal("cached before the origin gave the rest")
		}
		close(release)
		hWaitFor(t, "the image to be cached", func() bool { return e.c.IsCached("img") })
		if got, err := os.ReadFile(filepath.Join(e.dir, dataDir, "img")); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("cached file: %d bytes, %v; want the image", len(got), err)
		}
		r := e.get(t, "img")
		if r.code != 200 || !bytes.Equal(r.body, data) || r.status() != statusHit {
			t.Errorf("GET after the hang-up: %d, %d bytes, %q; want 200, the image, %q", r.code, len(r.body), r.status(), statusHit)
		}
		if n := e.fetches.Load(); n != 1 {
			t.Errorf("%d fetches; want 1", n)
		}
	})
}

// A body that fails its checksum never reaches a client whole, is not
// cached, and the next request after the origin is fixed succeeds.
func TestHandlerChecksumMismatch(t *testing.T) {
	hDrivers(t, func(t *testing.T, drv string) {
		data, sum := hImage(512<<10, 8)
		_, wrong := hImage(16, 9)
		e := hStart(t, drv, hServe(data, wrong, nil))

		r := e.get(t, "img")
		if r.code == 200 && r.err == nil {
			t.Fatalf("a body that fails its checksum ended cleanly (%d of %d bytes)", len(r.body), len(data))
		}
		if len(r.body) >= len(data) {
			t.Errorf("the client got %d bytes of %d; want fewer", len(r.body), len(data))
		}
		if e.c.IsCached("img") {
			t.Error("an image that failed its checksum is cached")
		}
		for _, tc := range [][]string{{"HEAD"}, {"GET", "Range: bytes=0-9"}} {
			r := e.do(t, tc[0], "/img", tc[1:]...)
			if r.code != http.StatusBadGateway || r.status() != statusMiss {
				t.Errorf("%q: %d, %q; want 502, %q", tc, r.code, r.status(), statusMiss)
			}
		}

		e.setOrigin(hServe(data, sum, nil))
		r = e.get(t, "img")
		if r.code != 200 || r.err != nil || !bytes.Equal(r.body, data) {
			t.Fatalf("after the origin was fixed: %d, %d bytes, %v; want 200 and the image", r.code, len(r.body), r.err)
		}
		if !e.c.IsCached("img") {
			t.Error("not cached after the origin was fixed")
		}
		if n := e.fetches.Load(); n != 4 {
			t.Errorf("%d fetches; want 4", n)
		}
	})
}

// Requests that wait for a fetch that fails get its status.
func TestHandlerWaitersShareFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"not found", fmt.Errorf("no such image: %w", ErrNotFound), 404},
		{"origin down", errors.New("origin down"), 502},
		{"checksum", nil, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, _ := hImage(256<<10, 10)
			_, wrong := hImage(16, 11)
			release := make(chan struct{})
			e := hStart(t, DriverSQLite, func(ctx context.Context, id string) (io.ReadCloser, Checksum, error) {
				if tc.err != nil {
					<-release
					return nil, Checksum{}, tc.err
				}
				return hServe(data, wrong, hGated(len(data)/2, release))(ctx, id)
			})
			const waiters = 3
			e.onArrival(func(n int64) {
				if n == 1+waiters {
					go func() {
						time.Sleep(100 * time.Millisecond) // for the last to join
						close(release)
					}()
				}
			})
			leader := make(chan hResp)
			go func() { leader <- e.get(t, "img") }()
			hWaitFor(t, "the fetch", func() bool { return e.fetches.Load() == 1 })
			var wg sync.WaitGroup
			resps := make([]hResp, waiters)
			for i, hd := range []string{"Range: bytes=0-9", "If-None-Match: \"x\"", ""} {
				wg.Go(func() {
					if hd == "" {
						resps[i] = e.do(t, http.MethodHead, "/img")
					} else {
						resps[i] = e.get(t, "img", hd)
					}
				})
			}
			wg.Wait()
			l := <-leader
			if tc.err != nil {
				if l.code != tc.code || l.status() != statusMiss {
					t.Errorf("the first request: %d, %q; want %d, %q", l.code, l.status(), tc.code, statusMiss)
				}
			} else if l.code == 200 && l.err == nil {
				t.Errorf("the first request got a clean end to a body that failed its checksum")
			}
			for i, r := range resps {
				if r.code != tc.code || r.status() != statusCollapsed {
					t.Errorf("waiter %d: %d, %q; want %d, %q", i, r.code, r.status(), tc.code, statusCollapsed)
				}
			}
			if n := e.fetches.Load(); n != 1 {
				t.Errorf("%d fetches; want 1", n)
			}
			if e.c.IsCached("img") {
				t.Error("cached after a failed fetch")
			}
		})
	}
}

// An origin error in the middle of a body aborts the streamed answer.
func TestHandlerOriginFailsMidBody(t *testing.T) {
	data, sum := hImage(256<<10, 12)
	e := hStart(t, DriverSQLite, hServe(data, sum, hFailAfter(100<<10, errors.New("connection reset"))))
	r := e.get(t, "img")
	if r.code == 200 && r.err == nil {
		t.Fatalf("a body cut by the origin ended cleanly (%d bytes)", len(r.body))
	}
	if e.c.IsCached("img") {
		t.Error("a cut image is cached")
	}
}

// Each status of the handler.
func TestHandlerStatuses(t *testing.T) {
	data, sum := hImage(1<<10, 13)
	e := hStart(t, DriverSQLite, func(ctx context.Context, id string) (io.ReadCloser, Checksum, error) {
		switch id {
		case "missing":
			return nil, Checksum{}, fmt.Errorf("looking up %s: %w", id, ErrNotFound)
		case "down":
			return nil, Checksum{}, errors.New("dial unix /run/secret/origin.sock: connection refused")
		case "panics":
			panic("origin bug in /srv/secret/origin.go")
		case "panicky-body":
			return io.NopCloser(hPanicReader{}), Checksum{}, nil
		case "nil-body":
			return nil, Checksum{}, nil
		case "bad-algo":
			return io.NopCloser(bytes.NewReader(data)), Checksum{Algo: "crc32", Hex: "00"}, nil
		}
		return hServe(data, sum, nil)(ctx, id)
	})

	for _, path := range []string{"/", "/a/b", "/..", "/.", "/a%20b", "/a%2Fb", "/..%2F..%2Fetc%2Fpasswd", "/" + strings.Repeat("a", 201), "//img", "/a+b"} {
		r := e.get(t, strings.TrimPrefix(path, "/"))
		if r.code != http.StatusBadRequest || r.status() != "imagecache; detail=invalid-id" {
			t.Errorf("GET %s: %d, %q; want 400, invalid-id", path, r.code, r.status())
		}
	}
	if n := e.fetches.Load(); n != 0 {
		t.Errorf("%d fetches for invalid ids; want 0", n)
	}

	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS"} {
		r := e.do(t, m, "/img")
		if r.code != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d, Allow %q; want 405, \"GET, HEAD\"", m, r.code, r.header.Get("Allow"))
		}
	}
	if n := e.fetches.Load(); n != 0 {
		t.Errorf("%d fetches for other methods; want 0", n)
	}

	for _, tc := range []struct {
		id   string
		code int
	}{
		{"missing", 404},
		{"down", 502},
		{"panics", 502},
		{"panicky-body", 502},
		{"nil-body", 502},
		{"bad-algo", 502},
		{"down", 502}, // again: a failure is not remembered
		{"panics", 502},
		{"img", 200},
	} {
		for _, m := range []string{"GET", "HEAD"} {
			r := e.do(t, m, "/"+tc.id)
			if r.code != tc.code || r.status() != statusMiss && tc.code != 200 {
				t.Errorf("%s %s: %d, %q; want %d, %q", m, tc.id, r.code, r.status(), tc.code, statusMiss)
			}
			if strings.Contains(string(r.body), "secret") || strings.Contains(string(r.body), e.dir) {
				t.Errorf("%s %s: the body %q tells too much", m, tc.id, r.body)
			}
			if tc.code != 200 && e.c.IsCached(tc.id) {
				t.Errorf("%s %s: cached after a failed fetch", m, tc.id)
			}
		}
	}

	// Without an origin, there is nothing to fetch.
	noOrigin := httptest.NewServer(NewHandler(e.c, nil))
	defer noOrigin.Close()
	resp, err := noOrigin.Client().Get(noOrigin.URL + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET of an image not cached without an origin: %d; want 404", resp.StatusCode)
	}

	e.c.Close()
	if r := e.get(t, "img"); r.code != http.StatusServiceUnavailable {
		t.Errorf("GET on a closed cache: %d; want 503", r.code)
	}
}

type hPanicReader struct{}

func (hPanicReader) Read([]byte) (int, error) { panic("body bug") }

// ETags: from the checksum when there is one, from the file otherwise;
// strong, and changed when the image is.
func TestHandlerETag(t *testing.T) {
	hDrivers(t, func(t *testing.T, drv string) {
		e := hStart(t, drv, nil)
		a, sumA := hImage(4<<10, 14)
		b, sumB := hImage(4<<10, 15)
		m := md5.Sum(a)
		md5Sum := Checksum{Algo: "MD5", Hex: strings.ToUpper(hex.EncodeToString(m[:]))}

		etag := func(id string) string {
			t.Helper()
			r := e.get(t, id)
			if r.code != 200 {
				t.Fatalf("GET %s: %d", id, r.code)
			}
			return r.header.Get("Etag")
		}
		hCache(t, e.c, "img", a, sumA)
		if got := etag("img"); got != sumETag(sumA) {
			t.Errorf("ETag %s; want %s", got, sumETag(sumA))
		}
		// Replaced under the same id: the memo must not keep the old one.
		if err := e.c.DeleteCached("img"); err != nil {
			t.Fatal(err)
		}
		hCache(t, e.c, "img", b, sumB)
		if got := etag("img"); got != sumETag(sumB) {
			t.Errorf("ETag after a re-cache %s; want %s", got, sumETag(sumB))
		}
		hCache(t, e.c, "md5", a, md5Sum)
		if got, want := etag("md5"), `"md5-`+hex.EncodeToString(m[:])+`"`; got != want {
			t.Errorf("md5 ETag %s; want %s", got, want)
		}

		hCache(t, e.c, "plain", a, Checksum{})
		first := etag("plain")
		if len(first) < 3 || first[0] != '"' || first[len(first)-1] != '"' || strings.ContainsAny(first[1:len(first)-1], "\" ") {
			t.Fatalf("ETag %q of an image without a checksum; want a strong quoted tag", first)
		}
		if again := etag("plain"); again != first {
			t.Errorf("ETag %s, then %s; want the same", first, again)
		}
		if r := e.get(t, "plain", "If-None-Match: "+first); r.code != http.StatusNotModified {
			t.Errorf("If-None-Match its own ETag: %d; want 304", r.code)
		}
		if err := e.c.DeleteCached("plain"); err != nil {
			t.Fatal(err)
		}
		hCache(t, e.c, "plain", b, Checksum{})
		if again := etag("plain"); again == first {
			t.Errorf("ETag %s unchanged after the image changed", again)
		}
	})
}

// The content type goes by the id's extension, or is sniffed, on the
// streamed answer and on hits alike.
func TestHandlerContentType(t *testing.T) {
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 1000)...)
	e := hStart(t, DriverSQLite, hServe(png, Checksum{}, nil))
	for _, tc := range []struct{ id, want string }{
		{"photo.jpg", "image/jpeg"},
		{"sniffed", "image/png"},
	} {
		for i := range 2 {
			r := e.get(t, tc.id)
			if got := r.header.Get("Content-Type"); got != tc.want {
				t.Errorf("GET %s #%d: Content-Type %q; want %q", tc.id, i+1, got, tc.want)
			}
		}
	}
}

// When a fetch leaves nothing in data/ (another writer holds the id), a
// waiter fetches again a few times, then gives up with 502; a streamed
// GET is whole all the same.
func TestHandlerFetchNotCached(t *testing.T) {
	data, sum := hImage(64<<10, 16)
	e := hStart(t, DriverSQLite, hServe(data, sum, nil))
	// Another process's write in progress.
	if err := os.WriteFile(filepath.Join(e.dir, incompleteDir, "img"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, http.MethodHead, "/img")
	if r.code != http.StatusBadGateway {
		t.Errorf("HEAD while another writer holds the id: %d; want 502", r.code)
	}
	if n := e.fetches.Load(); n != fetchAttempts {
		t.Errorf("%d fetches; want %d", n, fetchAttempts)
	}
	r = e.get(t, "img")
	if r.code != 200 || r.err != nil || !bytes.Equal(r.body, data) || r.status() != statusMiss {
		t.Errorf("GET while another writer holds the id: %d, %d bytes, %v, %q; want 200, the image, %q", r.code, len(r.body), r.err, r.status(), statusMiss)
	}
	if e.c.IsCached("img") {
		t.Error("cached while another writer holds the id")
	}
	if err := os.Remove(filepath.Join(e.dir, incompleteDir, "img")); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, http.MethodHead, "/img"); r.code != 200 || !e.c.IsCached("img") {
		t.Errorf("HEAD once the other writer is gone: %d, cached %v; want 200, true", r.code, e.c.IsCached("img"))
	}
}

// A request that waits for a fetch gives up when its own context ends,
// and the fetch goes on.
func TestHandlerWaiterGivesUp(t *testing.T) {
	data, sum := hImage(64<<10, 17)
	release := make(chan struct{})
	e := hStart(t, DriverSQLite, hServe(data, sum, hGated(1<<10, release)))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, e.srv.URL+"/img", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := e.srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	hWaitFor(t, "the fetch", func() bool { return e.fetches.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("HEAD after its context ended: %v; want context.Canceled", err)
	}
	e.idle(t)
	close(release)
	hWaitFor(t, "the image to be cached", func() bool { return e.c.IsCached("img") })
}

// hLog collects a cache's log lines.
type hLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *hLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *hLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Closing the cache ends a fetch no request waits for: Close returns
// promptly, nothing is cached and no write is left behind.
func TestHandlerCloseEndsOrphanFetch(t *testing.T) {
	data, _ := hImage(256<<10, 11)
	e := hStart(t, DriverSQLite, func(ctx context.Context, id string) (io.ReadCloser, Checksum, error) {
		// The second half comes only when the fetch's context ends,
		// and then as an error.
		return io.NopCloser(io.MultiReader(bytes.NewReader(data[:len(data)/2]), hCtxErr{ctx})), Checksum{}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/img", nil)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	e.idle(t)
	closed := make(chan error, 1)
	go func() { closed <- e.c.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits for a fetch nobody waits for")
	}
	for _, d := range []string{dataDir, incompleteDir} {
		if names, _ := os.ReadDir(filepath.Join(e.dir, d)); len(names) != 0 {
			t.Errorf("%s/ holds %d files after Close; want none", d, len(names))
		}
	}
	if r := e.get(t, "img"); r.code != http.StatusServiceUnavailable {
		t.Errorf("GET after Close: %d; want 503", r.code)
	}
}

// hCtxErr blocks until its context ends, then reads as its error.
type hCtxErr struct{ ctx context.Context }

func (r hCtxErr) Read([]byte) (int, error) { <-r.ctx.Done(); return 0, r.ctx.Err() }
