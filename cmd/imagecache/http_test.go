package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcache-go/arcache/imagecache"
)

// testOrigin is an image origin on loopback: GET /ID answers images[ID]
// with its Repr-Digest, 404 for an id it does not have, and 500 for
// "broken".
type testOrigin struct {
	*httptest.Server
	mu      sync.Mutex
	images  map[string][]byte
	fetches map[string]int
	// hold, if set, is waited for after the first half of every body.
	hold chan struct{}
	// halfSent, if set, is closed once a first half is sent.
	halfSent chan struct{}
}

func newTestOrigin(t *testing.T, images map[string][]byte) *testOrigin {
	o := &testOrigin{images: images, fetches: map[string]int{}}
	o.Server = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.Close)
	return o
}

func (o *testOrigin) serve(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/")
	o.mu.Lock()
	o.fetches[id]++
	b, ok := o.images[id]
	hold, halfSent := o.hold, o.halfSent
	o.mu.Unlock()
	switch {
	case id == "broken":
		http.Error(w, "broken", http.StatusInternalServerError)
		return
	case !ok:
		http.NotFound(w, r)
		return
	}
	d := sha256.Sum256(b)
	w.Header().Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(d[:])+":")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if hold == nil {
		w.Write(b)
		return
	}
	w.Write(b[:len(b)/2])
	http.NewResponseController(w).Flush()
	if halfSent != nil {
		close(halfSent)
	}
	select {
	case <-hold:
	case <-r.Context().Done():
		return
	}
	w.Write(b[len(b)/2:])
}

func (o *testOrigin) fetchCount(id string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fetches[id]
}

func pattern(seed string, n int) []byte {
	return bytes.Repeat([]byte(seed), n/len(seed)+1)[:n]
}

func TestPrefetch(t *testing.T) {
	dir := t.TempDir()
	a, b := pattern("a", 10<<10), pattern("bb", 3000)
	o := newTestOrigin(t, map[string][]byte{"a": a, "b": b, "x": pattern("x", 10)})
	c := openCache(t, dir, imagecache.Config{})
	for _, id := range []string{"a", "missing", "x", "broken", "b"} {
		if _, err := c.Queue(id); err != nil {
			t.Fatal(err)
		}
	}
	// Cached by another writer after it was queued, before prefetch
	// took it off the queue: skipped. (Caching takes an id off the queue,
	// so the queue entry is put back by hand.)
	cacheImage(t, c, "x", 10)
	if err := os.WriteFile(filepath.Join(dir, "queue", "x"), []byte("3"), 0o644); err != nil {
		t.Fatal(err)
	}

	out, errs, code := run(t, "prefetch", "--dir", dir, "--origin", o.URL, "--workers", "2")
	if code != 1 {
		t.Errorf("prefetch with failures: exit status %d, want 1", code)
	}
	if want := "cached 2 images (13 KiB), skipped 1, failed 2\n"; out != want {
		t.Errorf("prefetch printed %q, want %q", out, want)
	}
	lines := strings.Split(errs, "\n")
	for _, want := range []string{"cached a (10 KiB)", "cached b (2.9 KiB)", "skipped x: already cached", "failed missing: ", "failed broken: ",
		"imagecache: prefetch: 2 of 4 images failed; they stay queued"} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, want)
		}
		if !found {
			t.Errorf("prefetch's stderr has no line %q:\n%s", want, errs)
		}
	}
	if i, j := strings.Index(errs, "failed missing"), strings.Index(errs, "failed broken"); i > j {
		t.Errorf("prefetch's failures are not in queue order:\n%s", errs)
	}
	for id, want := range map[string][]byte{"a": a, "b": b} {
		rc, err := c.OpenForRead(id)
		if err != nil {
			t.Fatalf("%s not cached: %v", id, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, want) {
			t.Errorf("%s cached with %d bytes, want %d", id, len(got), len(want))
		}
	}
	if q, err := c.QueuedImages(); strings.Join(q, " ") != "missing broken" || err != nil {
		t.Errorf("after prefetch, the queue is %q, %v; want the failures", q, err)
	}

	// Nothing left to fail.
	c.DeleteAllQueued()
	if out := mustRun(t, "prefetch", "--dir", dir, "--origin", o.URL); out != "cached 0 images (0 B), skipped 0, failed 0\n" {
		t.Errorf("prefetch of an empty queue printed %q", out)
	}
}

// On a terminal, prefetch draws a bar of the images done, with the bytes.
func TestPrefetchBar(t *testing.T) {
	dir := t.TempDir()
	o := newTestOrigin(t, map[string][]byte{"a": pattern("a", 5000), "b": pattern("b", 5000)})
	c := openCache(t, dir, imagecache.Config{})
	for _, id := range []string{"a", "b"} {
		if _, err := c.Queue(id); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	err := prefetch(t.Context(), c, imagecache.HTTPOrigin(o.URL, o.Client()), 1, &stdout, &stderr, true)
	if err != nil {
		t.Fatal(err)
	}
	bar := stderr.String()
	for _, want := range []string{"100%", "(2/2", "9.8 KiB"} {
		if !strings.Contains(bar, want) {
			t.Errorf("the progress bar has no %q:\n%q", want, bar)
		}
	}
	if strings.Contains(bar, "cached a") {
		t.Errorf("with a bar, prefetch printed lines as well:\n%s", bar)
	}
}

func TestCacheStatus(t *testing.T) {
	for in, want := range map[string]string{
		"imagecache; hit":                           "hit",
		"imagecache; fwd=uri-miss":                  "fwd",
		"imagecache; fwd=uri-miss; collapsed":       "fwd",
		"Other; hit, imagecache; fwd=uri-miss":      "fwd",
		"imagecache;fwd=miss;stored":                "fwd",
		"imagecache; fwd=uri-miss, downstream; hit": "fwd",
		"other; hit": "",
		"":           "",
	} {
		if got := cacheStatus(in); got != want {
			t.Errorf("cacheStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

// syncBuffer is a bytes.Buffer for a writer and a reader in different
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var (
	publicAddrRE = regexp.MustCompile(`msg="imagecache: serving images" addr=(\S+)`)
	adminAddrRE  = regexp.MustCompile(`msg="imagecache: serving the management API and metrics" addr=(\S+)`)
)

// servedAddrs finds the listeners' addresses in serve's log, as URLs on
// loopback.
func servedAddrs(log string) (public, admin string, ok bool) {
	p, a := publicAddrRE.FindStringSubmatch(log), adminAddrRE.FindStringSubmatch(log)
	if p == nil || a == nil {
		return "", "", false
	}
	return loopbackURL(p[1]), loopbackURL(a[1]), true
}

func loopbackURL(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return "http://127.0.0.1:" + port
}

// startServe runs serve with args in this process until the test ends or
// stop is called, and returns its listeners' URLs.
func startServe(t *testing.T, args ...string) (public, admin string, stderr *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr = &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- execute(ctx, append([]string{"serve"}, args...), io.Discard, stderr) }()
	code, stopped := 0, false
	stop = func() int {
		if !stopped {
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("serve did not stop:\n%s", stderr)
			}
			stopped = true
		}
		return code
	}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		if public, admin, ok = servedAddrs(stderr.String()); ok {
			return public, admin, stderr, stop
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with status %d:\n%s", code, stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", stderr)
		}
	}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, b
}

// waitFor polls cond until it holds, or fails the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s", what)
		}
	}
}

// scrape reads the metrics at url: "name{labels}" to value.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, b := get(t, url)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		m[line[:i]] = v
	}
	return m
}

func TestServe(t *testing.T) {
	dir := t.TempDir()
	img := pattern("0123456789abcdef", 100<<10)
	o := newTestOrigin(t, map[string][]byte{"img": img, "other": pattern("o", 10)})
	public, admin, stderr, stop := startServe(t, "--dir", dir, "--origin", o.URL,
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--prefetch-interval", "0")

	resp, b := get(t, public+"/img")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, img) {
		t.Fatalf("first GET: %s, %d bytes, want 200 and %d", resp.Status, len(b), len(img))
	}
	if cs := resp.Header.Get("Cache-Status"); cacheStatus(cs) != "fwd" {
		t.Errorf("first GET's Cache-Status %q, want fwd", cs)
	}
	waitFor(t, "the image to be cached", func() bool {
		_, b := get(t, admin+"/cache")
		return bytes.Contains(b, []byte(`"img"`))
	})
	resp, b = get(t, public+"/img")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, img) {
		t.Fatalf("second GET: %s, %d bytes, want 200 and %d", resp.Status, len(b), len(img))
	}
	if cs := resp.Header.Get("Cache-Status"); cacheStatus(cs) != "hit" {
		t.Errorf("second GET's Cache-Status %q, want hit", cs)
	}
	if n := o.fetchCount("img"); n != 1 {
		t.Errorf("the origin was asked %d times, want once", n)
	}

	req, _ := http.NewRequest(http.MethodPut, admin+"/cache/other", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("PUT /cache/other: %s, want 202", resp.Status)
	}
	if _, b := get(t, admin+"/cache"); !bytes.Contains(b, []byte(`"queued_images":["other"]`)) {
		t.Errorf("GET /cache after PUT:\n%s", b)
	}

	m := scrape(t, admin+"/metrics")
	for name, want := range map[string]float64{
		"imagecache_hits_total":                                   1,
		"imagecache_misses_total":                                 1,
		"imagecache_origin_fetches_total":                         1,
		"imagecache_origin_errors_total":                          0,
		`imagecache_http_requests_total{code="200",method="GET"}`: 2,
		"imagecache_http_response_bytes_total":                    float64(2 * len(img)),
		"imagecache_size_bytes":                                   float64(len(img)),
	} {
		if got, ok := m[name]; !ok || got != want {
			t.Errorf("metric %s = %v (present: %v), want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_open_fds"} {
		if _, ok := m[name]; !ok {
			t.Errorf("no metric %s", name)
		}
	}

	// An origin error: 502, counted as such.
	if resp, _ := get(t, public+"/broken"); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("GET of an image the origin fails on: %s, want 502", resp.Status)
	}
	m = scrape(t, admin+"/metrics")
	for name, want := range map[string]float64{
		"imagecache_origin_fetches_total":                         2,
		"imagecache_origin_errors_total":                          1,
		`imagecache_http_requests_total{code="502",method="GET"}`: 1,
	} {
		if got := m[name]; got != want {
			t.Errorf("after an origin error, metric %s = %v, want %v", name, got, want)
		}
	}

	if code := stop(); code != 0 {
		t.Errorf("serve exited with status %d after its context ended:\n%s", code, stderr)
	}
	if !strings.Contains(stderr.String(), `msg="imagecache: stopped"`) {
		t.Errorf("serve's log does not say it stopped:\n%s", stderr)
	}
	if _, err := http.Get(public + "/img"); err == nil {
		t.Error("the public listener still answers after serve returned")
	}
	// The cache was closed, and its hits written.
	c := openCache(t, dir, imagecache.Config{})
	if n, err := c.HitCount("img"); n != 1 || err != nil {
		t.Errorf("after serve, HitCount(img) = %d, %v; want 1", n, err)
	}
}

// serve's periodic tasks: prefetch, clean and prune, each on its ticker.
func TestServeTasks(t *testing.T) {
	dir := t.TempDir()
	o := newTestOrigin(t, map[string][]byte{"q": pattern("q", 3000)})
	c := openCache(t, dir, imagecache.Config{})
	cacheImage(t, c, "old", 2000)
	if _, err := c.Queue("q"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "invalid", "junk"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The admin listener on every interface: a warning, no refusal.
	_, admin, stderr, stop := startServe(t, "--dir", dir, "--origin", o.URL,
		"--listen", "127.0.0.1:0", "--admin-listen", ":0", "--max-size", "4000",
		"--prefetch-interval", "20ms", "--clean-interval", "20ms", "--prune-interval", "20ms")
	if !strings.Contains(stderr.String(), "level=WARN msg=\"imagecache: the management API is reachable from other hosts") {
		t.Errorf("no warning of an admin listener off loopback:\n%s", stderr)
	}
	// Each task counts what it did once it is done.
	var m map[string]float64
	waitFor(t, "the three tasks to have run", func() bool {
		m = scrape(t, admin+"/metrics")
		return m[`imagecache_prefetch_images_total{result="cached"}`] > 0 &&
			m["imagecache_prune_removed_files_total"] > 0 && m["imagecache_clean_removed_files_total"] > 0
	})
	if !c.IsCached("q") || c.IsCached("old") {
		t.Errorf("after the tasks, q cached %v, old cached %v; want q prefetched, old pruned", c.IsCached("q"), c.IsCached("old"))
	}
	if _, err := os.Stat(filepath.Join(dir, "invalid", "junk")); !os.IsNotExist(err) {
		t.Errorf("invalid/ was not cleaned: %v", err)
	}
	for name, want := range map[string]float64{
		`imagecache_prefetch_images_total{result="cached"}`: 1,
		"imagecache_prune_removed_files_total":              1,
		"imagecache_prune_removed_bytes_total":              2000,
		"imagecache_clean_removed_files_total":              1,
		"imagecache_origin_fetches_total":                   1,
	} {
		if got := m[name]; got != want {
			t.Errorf("metric %s = %v, want %v", name, got, want)
		}
	}
	if code := stop(); code != 0 {
		t.Errorf("serve exited with status %d:\n%s", code, stderr)
	}
	for _, want := range []string{`msg="imagecache: prefetched" cached=1`, `msg="imagecache: cleaned" invalid=1`, `msg="imagecache: pruned" files=1 bytes=2000`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("serve's log has no %q:\n%s", want, stderr)
		}
	}
}

func TestServeUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--dir", dir}, `imagecache: required flag(s) "origin" not set`},
		{[]string{"serve", "--dir", dir, "--origin", "http://o", "--workers", "0"}, "imagecache: --workers 0: want at least 1"},
		{[]string{"serve", "--dir", dir, "--origin", "http://o", "--max-size", "0", "--auto-prune"}, "imagecache: --auto-prune needs a --max-size above 0"},
		{[]string{"serve", "--dir", dir, "--origin", "http://o", "--listen", "127.0.0.1:-1"}, "imagecache: listen tcp: address -1: invalid port"},
		{[]string{"serve", "--dir", dir, "--origin", "images.internal"}, `imagecache: --origin "images.internal": want an http or https URL`},
		{[]string{"prefetch", "--dir", dir, "--origin", "ftp://images"}, `imagecache: --origin "ftp://images": want an http or https URL`},
		{[]string{"prefetch", "--dir", dir, "--origin", "http://o", "--workers", "-1"}, "imagecache: --workers -1: want at least 1"},
	} {
		_, errs, code := run(t, tc.args...)
		if code != 1 || !strings.HasPrefix(errs, tc.want) {
			t.Errorf("%q: status %d, stderr %q; want 1 and %q", tc.args, code, errs, tc.want)
		}
	}
}

func TestCheckOrigin(t *testing.T) {
	if got, err := checkOrigin("https://cache:s3cret@images.internal/v2/images"); err != nil || strings.Contains(got, "s3cret") {
		t.Errorf("checkOrigin with a password = %q, %v; want it without the password", got, err)
	}
	for _, bad := range []string{"", "images.internal", "/v2/images", "ftp://images.internal", "http://", "http://[::1"} {
		if _, err := checkOrigin(bad); err == nil {
			t.Errorf("checkOrigin(%q) accepted it", bad)
		}
	}
}
