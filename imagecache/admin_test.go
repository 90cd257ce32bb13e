package imagecache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// The management API's tests run against a real cache with each driver,
// served over a real listener.

// admEnv is a cache behind NewAdminHandler.
type admEnv struct {
	c   *Cache
	dir string
	srv *httptest.Server
	log *admLog
}

// admLog collects a cache's log lines.
type admLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *admLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *admLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// admDrivers runs f on a fresh admEnv with each metadata driver.
func admDrivers(t *testing.T, cfg Config, f func(t *testing.T, e *admEnv)) {
	for _, drv := range []string{DriverSQLite, DriverXattr} {
		t.Run(drv, func(t *testing.T) {
			cfg := cfg
			cfg.Driver = drv
			e := admNew(t, cfg)
			if e.c.Driver() != drv {
				t.Logf("the cache fell back to %s", e.c.Driver())
			}
			f(t, e)
		})
	}
}

func admNew(t *testing.T, cfg Config) *admEnv {
	t.Helper()
	e := &admEnv{dir: t.TempDir(), log: &admLog{}}
	cfg.Dir = e.dir
	c, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(e.log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	e.srv = httptest.NewServer(NewAdminHandler(c))
	t.Cleanup(func() {
		e.srv.Close()
		c.Close()
		if t.Failed() {
			t.Logf("cache log:\n%s", e.log)
		}
	})
	return e
}

// admResp is an answer, its body read.
type admResp struct {
	code   int
	header http.Header
	body   []byte
}

// do sends method path with the headers given as name, value pairs.
func (e *admEnv) do(t *testing.T, method, path string, header ...string) admResp {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return admResp{resp.StatusCode, resp.Header, body}
}

// want checks the status and, for a non-empty body, that it is JSON
// with the right Content-Type.
func (r admResp) want(t *testing.T, what string, code int) admResp {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: status %d, body %q; want %d", what, r.code, r.body, code)
	}
	if len(r.body) > 0 {
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q; want application/json", what, ct)
		}
		if !json.Valid(r.body) {
			t.Errorf("%s: body %q is not JSON", what, r.body)
		}
	}
	return r
}

// wantJSON checks the status and that the body is exactly the JSON want.
func (r admResp) wantJSON(t *testing.T, what string, code int, want string) {
	t.Helper()
	r.want(t, what, code)
	var got, w any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatalf("%s: body %q: %v", what, r.body, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !reflect.DeepEqual(got, w) {
		t.Errorf("%s: body %s; want %s", what, r.body, want)
	}
}

// wantError checks the status and an {"error":...} body that contains
// part.
func (r admResp) wantError(t *testing.T, what string, code int, part string) {
	t.Helper()
	r.want(t, what, code)
	var e struct{ Error string }
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
		t.Fatalf("%s: body %q; want {\"error\":...}", what, r.body)
	}
	if !strings.Contains(e.Error, part) {
		t.Errorf("%s: error %q; want it to contain %q", what, e.Error, part)
	}
}

func admCache(t *testing.T, c *Cache, id string, data []byte, sum Checksum) {
	t.Helper()
	if ok, err := c.CacheReader(id, bytes.NewReader(data), sum); !ok || err != nil {
		t.Fatalf("CacheReader(%s) = %v, %v", id, ok, err)
	}
}

func admQueue(t *testing.T, c *Cache, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if ok, err := c.Queue(id); !ok || err != nil {
			t.Fatalf("Queue(%s) = %v, %v", id, ok, err)
		}
	}
}

// admList is the body of GET /cache.
type admList struct {
	Cached []struct {
		ImageID      string  `json:"image_id"`
		Size         int64   `json:"size"`
		Hits         int64   `json:"hits"`
		LastAccessed *string `json:"last_accessed"`
		LastModified *string `json:"last_modified"`
		Checksum     *string `json:"checksum"`
	} `json:"cached_images"`
	Queued []string `json:"queued_images"`
}

func TestAdminListEmpty(t *testing.T) {
	admDrivers(t, Config{}, func(t *testing.T, e *admEnv) {
		r := e.do(t, "GET", "/cache")
		r.wantJSON(t, "GET /cache", 200, `{"cached_images":[],"queued_images":[]}`)
		if !bytes.Contains(r.body, []byte(`"cached_images":[]`)) || !bytes.Contains(r.body, []byte(`"queued_images":[]`)) {
			t.Errorf("GET /cache: %s; want empty arrays, not null", r.body)
		}
	})
}

func TestAdminList(t *testing.T) {
	admDrivers(t, Config{}, func(t *testing.T, e *admEnv) {
		before := time.Now().Add(-time.Second)
		a, b := []byte("first image"), bytes.Repeat([]byte("b"), 3000)
		sum := sha256.Sum256(a)
		admCache(t, e.c, "a.png", a, Checksum{"SHA256", strings.ToUpper(hex.EncodeToString(sum[:]))})
		admCache(t, e.c, "b.png", b, Checksum{})
		rc, err := e.c.OpenForRead("a.png")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, rc)
		rc.Close()
		admQueue(t, e.c, "z", "q", "m")
		after := time.Now().Add(time.Second)

		r := e.do(t, "GET", "/cache").want(t, "GET /cache", 200)
		var l admList
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatal(err)
		}
		if want := []string{"z", "q", "m"}; !reflect.DeepEqual(l.Queued, want) {
			t.Errorf("queued_images %q; want %q (queue order)", l.Queued, want)
		}
		if len(l.Cached) != 2 || l.Cached[0].ImageID != "a.png" || l.Cached[1].ImageID != "b.png" {
			t.Fatalf("cached_images %s; want a.png and b.png, by id", r.body)
		}
		ia, ib := l.Cached[0], l.Cached[1]
		if ia.Size != int64(len(a)) || ib.Size != int64(len(b)) {
			t.Errorf("sizes %d, %d; want %d, %d", ia.Size, ib.Size, len(a), len(b))
		}
		if ia.Hits != 1 || ib.Hits != 0 {
			t.Errorf("hits %d, %d; want 1, 0", ia.Hits, ib.Hits)
		}
		if want := "sha256:" + hex.EncodeToString(sum[:]); ia.Checksum == nil || *ia.Checksum != want {
			t.Errorf("a.png checksum %v; want %q", ia.Checksum, want)
		}
		if ib.Checksum == nil || *ib.Checksum != "" {
			t.Errorf("b.png checksum %v; want \"\"", ib.Checksum)
		}
		for _, s := range []*string{ia.LastAccessed, ia.LastModified, ib.LastAccessed, ib.LastModified} {
			if s == nil {
				t.Fatalf("a time is null in %s", r.body)
			}
			tm, err := time.Parse(time.RFC3339Nano, *s)
			if err != nil {
				t.Fatalf("time %q: %v", *s, err)
			}
			if tm.Before(before) || tm.After(after) || !strings.HasSuffix(*s, "Z") {
				t.Errorf("time %q; want one in UTC between %v and %v", *s, before, after)
			}
		}
		recs, err := e.c.CachedImages()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := *ia.LastAccessed, recs[0].LastAccessed.UTC().Format(time.RFC3339Nano); got != want {
			t.Errorf("a.png last_accessed %s; want the record's %s", got, want)
		}

		// HEAD answers as GET does, without the body.
		if h := e.do(t, "HEAD", "/cache"); h.code != 200 || len(h.body) != 0 {
			t.Errorf("HEAD /cache: %d, %q; want 200 and no body", h.code, h.body)
		}
	})
}

func TestAdminTimeJSON(t *testing.T) {
	b, err := json.Marshal(adminTime{})
	if err != nil || string(b) != "null" {
		t.Errorf("the zero time: %s, %v; want null", b, err)
	}
	tm := time.Date(2024, 5, 6, 7, 8, 9, 120_000_000, time.FixedZone("x", 3600))
	b, err = json.Marshal(adminTime(tm))
	if want := `"2024-05-06T06:08:09.12Z"`; err != nil || string(b) != want {
		t.Errorf("%v: %s, %v; want %s", tm, b, err, want)
	}
}

func TestAdminQueue(t *testing.T) {
	admDrivers(t, Config{}, func(t *testing.T, e *admEnv) {
		e.do(t, "PUT", "/cache/new-1").want(t, "PUT new", 202)
		if !e.c.IsQueued("new-1") {
			t.Error("PUT answered 202 and new-1 is not queued")
		}
		e.do(t, "PUT", "/cache/new-1").want(t, "PUT queued", 200)

		admCache(t, e.c, "cached", []byte("x"), Checksum{})
		e.do(t, "PUT", "/cache/cached").want(t, "PUT cached", 200)
		if e.c.IsQueued("cached") {
			t.Error("a cached id was queued")
		}

		// Being written: a CachingReader that has not reached its end.
		pr, pw := io.Pipe()
		defer pw.Close()
		cr := e.c.CachingReader("writing", Checksum{}, pr)
		read := make(chan error, 1)
		go func() { _, err := cr.Read(make([]byte, 1)); read <- err }()
		pw.Write([]byte("a"))
		if err := <-read; err != nil {
			t.Fatal(err)
		}
		e.do(t, "PUT", "/cache/writing").want(t, "PUT being written", 200)
		if e.c.IsQueued("writing") {
			t.Error("an id being written was queued")
		}
		cr.Close()

		for _, path := range []string{"/cache/a%2Fb", "/cache/" + strings.Repeat("x", 201), "/cache/bad$id"} {
			e.do(t, "PUT", path).wantError(t, "PUT "+path, 400, "invalid image id")
		}
		if q, _ := e.c.QueuedImages(); !reflect.DeepEqual(q, []string{"new-1"}) {
			t.Errorf("queue %q; want only new-1", q)
		}
	})
}

func TestAdminDelete(t *testing.T) {
	admDrivers(t, Config{}, func(t *testing.T, e *admEnv) {
		admCache(t, e.c, "cached", []byte("c"), Checksum{})
		admQueue(t, e.c, "queued")
		for _, id := range []string{"cached", "queued"} {
			r := e.do(t, "DELETE", "/cache/"+id).want(t, "DELETE "+id, 204)
			if len(r.body) != 0 {
				t.Errorf("DELETE %s: body %q; want none", id, r.body)
			}
			if e.c.IsCached(id) || e.c.IsQueued(id) {
				t.Errorf("DELETE %s answered 204 and it is still cached or queued", id)
			}
			e.do(t, "DELETE", "/cache/"+id).wantError(t, "DELETE "+id+" again", 404, id)
		}
		e.do(t, "DELETE", "/cache/never").wantError(t, "DELETE never", 404, "never")
		e.do(t, "DELETE", "/cache/a%2Fb").wantError(t, "DELETE a/b", 400, "invalid image id")
		e.do(t, "GET", "/cache").wantJSON(t, "GET /cache", 200, `{"cached_images":[],"queued_images":[]}`)

		// Cached and queued at once, as when another process queues an
		// id while it is committed.
		admCache(t, e.c, "both", []byte("b"), Checksum{})
		if err := os.WriteFile(filepath.Join(e.dir, queueDir, "both"), []byte("1"), 0o644); err != nil {
			t.Fatal(err)
		}
		if !e.c.IsQueued("both") {
			t.Log("the queue is not a file per id: not testing an id cached and queued")
			return
		}
		e.do(t, "DELETE", "/cache/both").want(t, "DELETE both", 204)
		if e.c.IsCached("both") || e.c.IsQueued("both") {
			t.Error("DELETE both answered 204 and it is still cached or queued")
		}
		e.do(t, "DELETE", "/cache/both").want(t, "DELETE both again", 404)
	})
}

// A record whose file is gone is still listed, so deleting it deletes
// something.
func TestAdminDeleteStaleRecord(t *testing.T) {
	e := admNew(t, Config{Driver: DriverSQLite})
	admCache(t, e.c, "stale", []byte("s"), Checksum{})
	if err := os.Remove(filepath.Join(e.dir, dataDir, "stale")); err != nil {
		t.Fatal(err)
	}
	if rs, _ := e.c.CachedImages(); len(rs) != 1 {
		t.Fatalf("CachedImages %v; want the stale record", rs)
	}
	e.do(t, "DELETE", "/cache/stale").want(t, "DELETE stale", 204)
	if rs, _ := e.c.CachedImages(); len(rs) != 0 {
		t.Errorf("CachedImages %v after DELETE; want none", rs)
	}
	e.do(t, "DELETE", "/cache/stale").want(t, "DELETE stale again", 404)
}

func TestAdminDeleteCachedReports(t *testing.T) {
	admDrivers(t, Config{MaxSize: 1 << 20, AutoPrune: true}, func(t *testing.T, e *admEnv) {
		admCache(t, e.c, "x", []byte("xx"), Checksum{})
		if removed, err := e.c.deleteCached("x"); !removed || err != nil {
			t.Errorf("deleteCached(cached) = %v, %v; want true, nil", removed, err)
		}
		if removed, err := e.c.deleteCached("x"); removed || err != nil {
			t.Errorf("deleteCached(gone) = %v, %v; want false, nil", removed, err)
		}
		if err := e.c.DeleteCached("x"); err != nil {
			t.Errorf("DeleteCached(gone) = %v; want nil", err)
		}
		if n, err := e.c.Size(); n != 0 || err != nil {
			t.Errorf("Size after the delete = %d, %v; want 0", n, err)
		}
	})
}

func TestAdminClear(t *testing.T) {
	for _, tc := range []struct {
		target, want   string
		cached, queued int // left
	}{
		{"", `{"cached_deleted":2,"queued_deleted":3}`, 0, 0},
		{"both", `{"cached_deleted":2,"queued_deleted":3}`, 0, 0},
		{"Cache", `{"cached_deleted":2,"queued_deleted":0}`, 0, 3},
		{"queue", `{"cached_deleted":0,"queued_deleted":3}`, 2, 0},
	} {
		t.Run("target="+tc.target, func(t *testing.T) {
			admDrivers(t, Config{}, func(t *testing.T, e *admEnv) {
				admCache(t, e.c, "c1", []byte("1"), Checksum{})
				admCache(t, e.c, "c2", []byte("2"), Checksum{})
				admQueue(t, e.c, "q1", "q2", "q3")
				var hdr []string
				if tc.target != "" {
					hdr = []string{"x-image-cache-clear-target", tc.target}
				}
				e.do(t, "DELETE", "/cache", hdr...).wantJSON(t, "DELETE /cache", 200, tc.want)
				rs, _ := e.c.CachedImages()
				qs, _ := e.c.QueuedImages()
				if len(rs) != tc.cached || len(qs) != tc.queued {
					t.Errorf("left %d cached, %d queued; want %d, %d", len(rs), len(qs), tc.cached, tc.queued)
				}
			})
		})
	}
	t.Run("bad target", func(t *testing.T) {
		e := admNew(t, Config{})
		admCache(t, e.c, "c1", []byte("1"), Checksum{})
		admQueue(t, e.c, "q1")
		e.do(t, "DELETE", "/cache", "X-Image-Cache-Clear-Target", "all").wantError(t, "DELETE /cache all", 400, "cache, queue or both")
		if !e.c.IsCached("c1") || !e.c.IsQueued("q1") {
			t.Error("a bad target deleted something")
		}
	})
}

func TestAdminPrune(t *testing.T) {
	admDrivers(t, Config{MaxSize: 1000}, func(t *testing.T, e *admEnv) {
		for _, id := range []string{"p1", "p2", "p3"} {
			admCache(t, e.c, id, bytes.Repeat([]byte(id), 300), Checksum{})
		}
		e.do(t, "POST", "/cache/prune").wantJSON(t, "POST /cache/prune", 200, `{"files":2,"bytes":1200}`)
		if !e.c.IsCached("p3") || e.c.IsCached("p1") {
			t.Error("prune did not keep the most recent image")
		}
		e.do(t, "POST", "/cache/prune").wantJSON(t, "POST /cache/prune again", 200, `{"files":0,"bytes":0}`)
	})
}

func TestAdminClean(t *testing.T) {
	admDrivers(t, Config{}, func(t *testing.T, e *admEnv) {
		old := time.Now().Add(-2 * time.Hour)
		write := func(dir, name string, n int) {
			p := filepath.Join(e.dir, dir, name)
			if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
		write(invalidDir, "bad", 10)
		write(incompleteDir, "stalled", 7)

		for _, stall := range []string{"abc", "-1h", "1"} {
			e.do(t, "POST", "/cache/clean?stall="+stall).wantError(t, "clean stall="+stall, 400, "stall")
		}
		// The default stall time, a day, spares the 2 hour old write.
		e.do(t, "POST", "/cache/clean").wantJSON(t, "POST /cache/clean", 200, `{"invalid":1,"stalled":0,"bytes":10}`)
		e.do(t, "POST", "/cache/clean?stall=1h").wantJSON(t, "POST /cache/clean?stall=1h", 200, `{"invalid":0,"stalled":1,"bytes":7}`)
	})
}

func TestAdminRoutes(t *testing.T) {
	e := admNew(t, Config{})
	for _, tc := range []struct {
		method, path string
		allow        []string
	}{
		{"POST", "/cache", []string{"DELETE", "GET", "HEAD"}},
		{"GET", "/cache/x", []string{"DELETE", "PUT"}},
		{"GET", "/cache/prune", []string{"DELETE", "POST", "PUT"}},
		{"PATCH", "/cache/clean", []string{"DELETE", "POST", "PUT"}},
	} {
		what := tc.method + " " + tc.path
		r := e.do(t, tc.method, tc.path)
		r.wantError(t, what, 405, "Method Not Allowed")
		for _, m := range tc.allow {
			if !strings.Contains(r.header.Get("Allow"), m) {
				t.Errorf("%s: Allow %q; want it to have %s", what, r.header.Get("Allow"), m)
			}
		}
	}
	for _, path := range []string{"/", "/cache/", "/cache/x/y", "/other"} {
		e.do(t, "GET", path).wantError(t, "GET "+path, 404, "Not Found")
	}
}

func TestAdminStripPrefix(t *testing.T) {
	dir := t.TempDir()
	c, err := New(Config{Dir: dir}, WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := httptest.NewServer(http.StripPrefix("/admin", NewAdminHandler(c)))
	defer srv.Close()
	req, _ := http.NewRequest("PUT", srv.URL+"/admin/cache/img", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 || !c.IsQueued("img") {
		t.Errorf("PUT /admin/cache/img: %d, queued %v; want 202, true", resp.StatusCode, c.IsQueued("img"))
	}
}

func TestAdminClosed(t *testing.T) {
	e := admNew(t, Config{})
	admCache(t, e.c, "x", []byte("x"), Checksum{})
	e.c.Close()
	for _, rq := range [][2]string{
		{"GET", "/cache"}, {"PUT", "/cache/x"}, {"DELETE", "/cache/x"},
		{"DELETE", "/cache"}, {"POST", "/cache/prune"}, {"POST", "/cache/clean"},
	} {
		e.do(t, rq[0], rq[1]).wantError(t, rq[0]+" "+rq[1], 503, "closed")
	}
	// An invalid id is still the client's fault.
	e.do(t, "PUT", "/cache/a%2Fb").want(t, "PUT a/b", 400)
}

// A failure of the cache is a 500 with a short message; the details,
// paths included, go to the log.
func TestAdminCacheFailure(t *testing.T) {
	admDrivers(t, Config{}, func(t *testing.T, e *admEnv) {
		inv := filepath.Join(e.dir, invalidDir)
		if err := os.Remove(inv); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(inv, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.do(t, "POST", "/cache/clean")
		r.wantError(t, "clean with invalid/ a file", 500, "cannot clean")
		if bytes.Contains(r.body, []byte(e.dir)) {
			t.Errorf("the answer %s names the cache directory", r.body)
		}
		if !strings.Contains(e.log.String(), inv) {
			t.Errorf("the log does not give the failure:\n%s", e.log)
		}
	})
}
