package imagecache

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// orgImage is what the test origin serves for an id.
type orgImage struct {
	body   []byte
	header map[string][]string
	status int // 0: 200
	gzip   bool
}

// orgServer is a test origin serving images by path.
type orgServer struct {
	*httptest.Server
	mu       sync.Mutex
	images   map[string]orgImage
	requests atomic.Int64
	last     *http.Request // the last request
}

func orgNew(t *testing.T, images map[string]orgImage) *orgServer {
	t.Helper()
	o := &orgServer{images: images}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		o.mu.Lock()
		o.last = r
		img, ok := o.images[r.URL.Path]
		o.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		for k, vs := range img.header {
			w.Header()[k] = vs
		}
		body := img.body
		if img.gzip {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(body)
			zw.Close()
			body = b.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
		if img.status != 0 {
			w.WriteHeader(img.status)
		}
		w.Write(body)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *orgServer) lastRequest() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// orgBodies is a transport that remembers the bodies of its responses,
// to tell whether they were closed.
type orgBodies struct {
	mu     sync.Mutex
	bodies []*orgBody
}

type orgBody struct {
	io.ReadCloser
	closed atomic.Bool
}

func (b *orgBody) Close() error { b.closed.Store(true); return b.ReadCloser.Close() }

func (t *orgBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b := &orgBody{ReadCloser: resp.Body}
	resp.Body = b
	t.mu.Lock()
	t.bodies = append(t.bodies, b)
	t.mu.Unlock()
	return resp, nil
}

// allClosed reports whether every body so far was closed.
func (t *orgBodies) allClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range t.bodies {
		if !b.closed.Load() {
			return false
		}
	}
	return true
}

func orgB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func orgSHA256(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
func orgSHA512(b []byte) []byte { s := sha512.Sum512(b); return s[:] }
func orgMD5(b []byte) []byte    { s := md5.Sum(b); return s[:] }

func orgCache(t *testing.T) *Cache {
	t.Helper()
	c, err := New(Config{Dir: t.TempDir()}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestHTTPOriginChecksums(t *testing.T) {
	img := []byte("the image's bytes, as the origin sends them")
	s256, s512, m5 := orgSHA256(img), orgSHA512(img), orgMD5(img)
	other := orgSHA256([]byte("other"))
	for _, tc := range []struct {
		name   string
		header map[string][]string
		want   Checksum
	}{
		{"none", nil, Checksum{}},
		{"Repr-Digest sha-256", map[string][]string{"Repr-Digest": {"sha-256=:" + orgB64(s256) + ":"}}, Checksum{"sha256", hex.EncodeToString(s256)}},
		{"Repr-Digest sha-512", map[string][]string{"Repr-Digest": {"sha-512=:" + orgB64(s512) + ":"}}, Checksum{"sha512", hex.EncodeToString(s512)}},
		{"Repr-Digest sha-512 over sha-256", map[string][]string{"Repr-Digest": {"sha-256=:" + orgB64(s256) + ":, sha-512=:" + orgB64(s512) + ":"}}, Checksum{"sha512", hex.EncodeToString(s512)}},
		{"Repr-Digest on two lines", map[string][]string{"Repr-Digest": {"unixsum=:AAA=:", "sha-256=:" + orgB64(s256) + ":"}}, Checksum{"sha256", hex.EncodeToString(s256)}},
		{"Content-Digest", map[string][]string{"Content-Digest": {"sha-256=:" + orgB64(s256) + ":"}}, Checksum{"sha256", hex.EncodeToString(s256)}},
		{"Repr-Digest over Content-Digest", map[string][]string{
			"Repr-Digest":    {"sha-256=:" + orgB64(s256) + ":"},
			"Content-Digest": {"sha-256=:" + orgB64(other) + ":"},
		}, Checksum{"sha256", hex.EncodeToString(s256)}},
		{"Repr-Digest of unknown algorithms", map[string][]string{
			"Repr-Digest":    {"sha-3000=:AAAA:, md5=:" + orgB64(m5) + ":"},
			"Content-Digest": {"sha-512=:" + orgB64(s512) + ":"},
		}, Checksum{"sha512", hex.EncodeToString(s512)}},
		{"Content-MD5", map[string][]string{"Content-Md5": {orgB64(m5)}}, Checksum{"md5", hex.EncodeToString(m5)}},
		{"Content-Digest over Content-MD5", map[string][]string{
			"Content-Digest": {"sha-256=:" + orgB64(s256) + ":"},
			"Content-Md5":    {orgB64(orgMD5([]byte("other")))},
		}, Checksum{"sha256", hex.EncodeToString(s256)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := orgNew(t, map[string]orgImage{"/img/photo.jpg": {body: img, header: tc.header}})
			fetch := HTTPOrigin(o.URL+"/img", nil)
			rc, sum, err := fetch(context.Background(), "photo.jpg")
			if err != nil {
				t.Fatal(err)
			}
			if sum != tc.want {
				t.Errorf("checksum %+v; want %+v", sum, tc.want)
			}
			if ae := o.lastRequest().Header.Get("Accept-Encoding"); ae != "identity" {
				t.Errorf("Accept-Encoding %q; want identity", ae)
			}
			c := orgCache(t)
			ok, err := c.CacheReader("photo.jpg", rc, sum)
			rc.Close()
			if !ok || err != nil {
				t.Fatalf("CacheReader = %v, %v; want true, nil", ok, err)
			}
			rc2, err := c.OpenForRead("photo.jpg")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc2)
			rc2.Close()
			if !bytes.Equal(got, img) {
				t.Errorf("cached %q; want %q", got, img)
			}
		})
	}
}

// A digest that does not match the body: the fetch works, the write
// fails its checksum, and nothing is cached.
func TestHTTPOriginLyingDigest(t *testing.T) {
	for _, header := range []map[string][]string{
		{"Repr-Digest": {"sha-256=:" + orgB64(orgSHA256([]byte("not the image"))) + ":"}},
		{"Content-Digest": {"sha-512=:" + orgB64(orgSHA512([]byte("not the image"))) + ":"}},
		{"Content-Md5": {orgB64(orgMD5([]byte("not the image")))}},
	} {
		o := orgNew(t, map[string]orgImage{"/x": {body: []byte("the image"), header: header}})
		rc, sum, err := HTTPOrigin(o.URL, nil)(context.Background(), "x")
		if err != nil {
			t.Fatalf("%v: %v", header, err)
		}
		c := orgCache(t)
		ok, err := c.CacheReader("x", rc, sum)
		rc.Close()
		if ok || !errors.Is(err, ErrChecksum) {
			t.Errorf("%v: CacheReader = %v, %v; want false, ErrChecksum", header, ok, err)
		}
		if c.IsCached("x") {
			t.Errorf("%v: a lying image was cached", header)
		}
	}
}

func TestHTTPOriginMalformedDigest(t *testing.T) {
	img := []byte("img")
	for _, tc := range []struct {
		name, field, value string
	}{
		{"bad base64", "Repr-Digest", "sha-256=:!!!!:"},
		{"base64 that does not decode", "Repr-Digest", "sha-256=:A:"},
		{"short sha-256", "Repr-Digest", "sha-256=:" + orgB64(orgSHA256(img)[:31]) + ":"},
		{"sha-512 of sha-256's length", "Content-Digest", "sha-512=:" + orgB64(orgSHA256(img)) + ":"},
		{"not a byte sequence", "Repr-Digest", "sha-256=" + hex.EncodeToString(orgSHA256(img))},
		{"bad syntax", "Content-Digest", "sha-256=:" + orgB64(orgSHA256(img)) + ": sha-512"},
		{"trailing comma", "Repr-Digest", "sha-256=:" + orgB64(orgSHA256(img)) + ":,"},
		{"upper-case key", "Repr-Digest", "SHA-256=:" + orgB64(orgSHA256(img)) + ":"},
		{"the old Digest syntax", "Content-Digest", "sha-256=" + orgB64(orgSHA256(img))},
		{"bad Content-MD5", "Content-Md5", "zz"},
		{"short Content-MD5", "Content-Md5", orgB64(orgMD5(img)[:15])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := orgNew(t, map[string]orgImage{"/x": {body: img, header: map[string][]string{tc.field: {tc.value}}}})
			bodies := &orgBodies{}
			rc, _, err := HTTPOrigin(o.URL, &http.Client{Transport: bodies})(context.Background(), "x")
			if err == nil {
				rc.Close()
				t.Fatalf("%s: %q accepted", tc.field, tc.value)
			}
			if !strings.Contains(strings.ToLower(err.Error()), "malformed "+strings.ToLower(tc.field)) {
				t.Errorf("error %q; want it to name %s", err, tc.field)
			}
			if !strings.HasPrefix(err.Error(), "imagecache: fetch x from "+o.URL+": ") {
				t.Errorf("error %q; want it to start imagecache: fetch x from %s: ", err, o.URL)
			}
			if !bodies.allClosed() {
				t.Error("the response body was left open")
			}
		})
	}
}

func TestHTTPOriginStatuses(t *testing.T) {
	o := orgNew(t, map[string]orgImage{
		"/gone":   {status: http.StatusGone},
		"/broken": {status: http.StatusInternalServerError, body: []byte("oops")},
		"/busy":   {status: http.StatusServiceUnavailable},
		"/part":   {status: http.StatusPartialContent, body: []byte("pa")},
		"/moved":  {status: http.StatusFound, header: map[string][]string{"Location": {"/elsewhere"}}},
		"/zipped": {gzip: true, body: []byte("zip me")},
		"/fine":   {status: http.StatusNonAuthoritativeInfo, body: []byte("fine")},
	})
	bodies := &orgBodies{}
	fetch := HTTPOrigin(o.URL+"/", &http.Client{Transport: bodies})
	for _, tc := range []struct {
		id, want string
		notFound bool
	}{
		{"missing", "imagecache: fetch missing from " + o.URL + "/: not found: origin answered 404 Not Found", true},
		{"gone", "imagecache: fetch gone from " + o.URL + "/: not found: origin answered 410 Gone", true},
		{"broken", "imagecache: fetch broken from " + o.URL + "/: origin answered 500 Internal Server Error", false},
		{"busy", "imagecache: fetch busy from " + o.URL + "/: origin answered 503 Service Unavailable", false},
		{"part", "imagecache: fetch part from " + o.URL + "/: origin answered 206 Partial Content", false},
		{"moved", "imagecache: fetch moved from " + o.URL + "/: not found: origin answered 404 Not Found", true}, // followed
		{"zipped", "imagecache: fetch zipped from " + o.URL + `/: origin sent Content-Encoding "gzip", not identity`, false},
	} {
		_, _, err := fetch(context.Background(), tc.id)
		if err == nil || err.Error() != tc.want {
			t.Errorf("fetch %s: %v; want %s", tc.id, err, tc.want)
		}
		if errors.Is(err, ErrNotFound) != tc.notFound {
			t.Errorf("fetch %s: errors.Is(%v, ErrNotFound) = %v; want %v", tc.id, err, !tc.notFound, tc.notFound)
		}
	}
	if !bodies.allClosed() {
		t.Error("a response body was left open")
	}
	rc, _, err := fetch(context.Background(), "fine")
	if err != nil {
		t.Fatalf("fetch fine (203): %v", err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "fine" {
		t.Errorf("fetch fine: %q", b)
	}
}

func TestHTTPOriginURLs(t *testing.T) {
	o := orgNew(t, map[string]orgImage{"/a b/img-1.png": {body: []byte("1")}})
	for _, base := range []string{o.URL + "/a%20b", o.URL + "/a%20b/", o.URL + "/a%20b/?token=t#frag"} {
		rc, _, err := HTTPOrigin(base, nil)(context.Background(), "img-1.png")
		if err != nil {
			t.Errorf("base %s: %v", base, err)
			continue
		}
		rc.Close()
		r := o.lastRequest()
		if r.URL.EscapedPath() != "/a%20b/img-1.png" {
			t.Errorf("base %s: GET %s; want /a%%20b/img-1.png", base, r.URL.EscapedPath())
		}
		if strings.Contains(base, "token") && r.URL.RawQuery != "token=t" {
			t.Errorf("base %s: query %q; want token=t", base, r.URL.RawQuery)
		}
	}

	// A password stays out of errors.
	u := strings.Replace(o.URL, "http://", "http://user:secret@", 1)
	_, _, err := HTTPOrigin(u, nil)(context.Background(), "missing")
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("fetch with a password: %v; want an error without it", err)
	}
}

func TestHTTPOriginBadInput(t *testing.T) {
	o := orgNew(t, nil)
	fetch := HTTPOrigin(o.URL, nil)
	for _, id := range []string{"", "..", "a/b", "a?b", strings.Repeat("x", 201)} {
		if _, _, err := fetch(context.Background(), id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("fetch %q: %v; want ErrInvalidID", id, err)
		}
	}
	if n := o.requests.Load(); n != 0 {
		t.Errorf("%d requests for invalid ids; want none", n)
	}

	for _, base := range []string{"", "::bad", "relative/path", "/images", "http://[::1"} {
		rc, _, err := HTTPOrigin(base, nil)(context.Background(), "x")
		if err == nil {
			rc.Close()
			t.Errorf("base %q: fetched", base)
			continue
		}
		if !strings.HasPrefix(err.Error(), "imagecache: fetch x: bad origin URL") {
			t.Errorf("base %q: %v; want a bad origin URL", base, err)
		}
		if _, _, err := HTTPOrigin(base, nil)(context.Background(), "a/b"); !errors.Is(err, ErrInvalidID) {
			t.Errorf("base %q, id a/b: %v; want ErrInvalidID", base, err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := fetch(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("fetch with a cancelled context: %v; want context.Canceled", err)
	}
}

// Prefetch through HTTPOrigin: images are verified by their digests, a
// lying one and a missing one stay queued.
func TestHTTPOriginPrefetch(t *testing.T) {
	images := map[string]orgImage{}
	var want = map[string][]byte{}
	for i, id := range []string{"p1", "p2", "p3", "p4"} {
		b := bytes.Repeat([]byte(id), 1000+i)
		want[id] = b
		h := map[string][]string{"Repr-Digest": {"sha-256=:" + orgB64(orgSHA256(b)) + ":"}}
		if i%2 == 1 {
			h = map[string][]string{"Content-Md5": {orgB64(orgMD5(b))}}
		}
		images["/img/"+id] = orgImage{body: b, header: h}
	}
	images["/img/liar"] = orgImage{body: []byte("lie"), header: map[string][]string{"Repr-Digest": {"sha-512=:" + orgB64(orgSHA512([]byte("truth"))) + ":"}}}
	o := orgNew(t, images)
	c := orgCache(t)
	for _, id := range []string{"p1", "liar", "p2", "gone", "p3", "p4"} {
		if ok, err := c.Queue(id); !ok || err != nil {
			t.Fatalf("Queue(%s) = %v, %v", id, ok, err)
		}
	}
	res, err := c.Prefetch(context.Background(), HTTPOrigin(o.URL+"/img/", nil), 3)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Cached, " ") != "p1 p2 p3 p4" {
		t.Errorf("cached %q; want p1 p2 p3 p4", res.Cached)
	}
	if !errors.Is(res.Failed["liar"], ErrChecksum) || !errors.Is(res.Failed["gone"], ErrNotFound) || len(res.Failed) != 2 {
		t.Errorf("failed %v; want liar with ErrChecksum and gone with ErrNotFound", res.Failed)
	}
	if msg := res.Failed["gone"].Error(); strings.Count(msg, "imagecache:") != 1 {
		t.Errorf("the error of gone names the package more than once: %s", msg)
	}
	for id, b := range want {
		rc, err := c.OpenForRead(id)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, b) {
			t.Errorf("%s: cached %d bytes that are not the image's", id, len(got))
		}
	}
	if q, _ := c.QueuedImages(); strings.Join(q, " ") != "liar gone" {
		t.Errorf("queue %q; want liar gone", q)
	}
	if c.IsCached("liar") {
		t.Error("the lying image was cached")
	}
}

func TestDigestHeaderSyntax(t *testing.T) {
	s256 := orgSHA256([]byte("x"))
	b := orgB64(s256)
	raw := strings.TrimRight(b, "=")
	sum := Checksum{"sha256", hex.EncodeToString(s256)}
	for _, tc := range []struct {
		value string
		want  Checksum
		ok    bool
	}{
		{"", Checksum{}, true},
		{"   ", Checksum{}, true},
		{"sha-256=:" + b + ":", sum, true},
		{"  sha-256=:" + b + ":  ", sum, true},
		{"sha-256=:" + raw + ":", sum, true}, // padding left off
		{"sha-256=:" + b + ":;p=1;q=\"s\\\"x\";r=?0;s=tok/en:x;t=-1.5;u=@12;v=%\"%c3%a9\"", sum, true},
		{"a, b=?1, c=(1 2 \"x\");z, sha-256=:" + b + ":", sum, true},
		{"sha-256=:AAAA:,\tsha-256=:" + b + ":", sum, true}, // the last wins
		{"*x=1.125, sha-256=:" + b + ":", sum, true},
		{"unixsum=:AAA=:", Checksum{}, true},
		{"sha-256=:" + b + ":,", Checksum{}, false},
		{",sha-256=:" + b + ":", Checksum{}, false},
		{"sha-256=:" + b, Checksum{}, false},
		{"sha-256=:" + b + ":x", Checksum{}, false},
		{"sha-256=:" + b[:len(b)-2] + "=:", Checksum{}, false}, // padding cut short
		{"sha-256=:=" + raw + ":", Checksum{}, false},
		{"x=1.1234, sha-256=:" + b + ":", Checksum{}, false},
		{"x=1234567890123456, sha-256=:" + b + ":", Checksum{}, false},
		{"x=1., sha-256=:" + b + ":", Checksum{}, false},
		{"x=\"open, sha-256=:" + b + ":", Checksum{}, false},
		{"x=(1 2, sha-256=:" + b + ":", Checksum{}, false},
		{"x=?2, sha-256=:" + b + ":", Checksum{}, false},
		{"x=@1.5, sha-256=:" + b + ":", Checksum{}, false},
		{"x=%\"%ff\", sha-256=:" + b + ":", Checksum{}, false},
		{"sha-256=(:" + b + ":)", Checksum{}, false},
		{"sha-256", Checksum{}, false},
	} {
		got, err := parseDigestField(tc.value)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDigestField(%q) = %+v, %v; want %+v, ok %v", tc.value, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzDigestHeader hands digestChecksum arbitrary digest fields. It must
// never panic; a checksum it accepts is well formed, comes from the field
// that ranks first, and reads back the same from a field written anew;
// an error names the field. The seed corpus is in
// testdata/fuzz/FuzzDigestHeader.
func FuzzDigestHeader(f *testing.F) {
	s := orgB64(orgSHA256([]byte("x")))
	f.Add("sha-256=:"+s+":", "", "")
	f.Add("", "sha-512=:"+orgB64(orgSHA512(nil))+":, sha-256=:"+s+":", "")
	f.Add("", "", orgB64(orgMD5(nil)))
	f.Add("sha-256=:!:", "a=(1 \"b\");c=?1", "zz")
	f.Fuzz(func(t *testing.T, repr, content, md5 string) {
		h := http.Header{}
		for name, v := range map[string]string{"Repr-Digest": repr, "Content-Digest": content, "Content-Md5": md5} {
			if v != "" {
				h.Set(name, v)
			}
		}
		sum, err := digestChecksum(h)
		if err != nil {
			if !sum.IsZero() {
				t.Errorf("an error %v with a checksum %+v", err, sum)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "malformed Repr-Digest") && !strings.HasPrefix(msg, "malformed Content-Digest") && !strings.HasPrefix(msg, "malformed Content-MD5") {
				t.Errorf("error %q names no field", msg)
			}
			return
		}
		if sum.IsZero() {
			return
		}
		size := map[string]int{"md5": 16, "sha256": 32, "sha512": 64}[sum.Algo]
		raw, herr := hex.DecodeString(sum.Hex)
		if size == 0 || herr != nil || len(raw) != size || sum.Hex != strings.ToLower(sum.Hex) {
			t.Fatalf("checksum %+v is not well formed", sum)
		}
		if _, err := sum.newHash(); err != nil {
			t.Fatalf("checksum %+v: %v", sum, err)
		}
		// The first field that gives a checksum gives it alone.
		for _, name := range []string{"Repr-Digest", "Content-Digest"} {
			if v := h.Get(name); v != "" {
				if alone, _ := digestChecksum(http.Header{name: {v}}); !alone.IsZero() {
					if alone != sum {
						t.Fatalf("%s alone gives %+v; with the others %+v", name, alone, sum)
					}
					break
				}
			}
		}
		// Written anew, it reads back the same.
		var again http.Header
		switch sum.Algo {
		case "md5":
			again = http.Header{"Content-Md5": {orgB64(raw)}}
		case "sha256":
			again = http.Header{"Repr-Digest": {"sha-256=:" + orgB64(raw) + ":"}}
		case "sha512":
			again = http.Header{"Repr-Digest": {"sha-512=:" + orgB64(raw) + ":"}}
		}
		if back, err := digestChecksum(again); err != nil || back != sum {
			t.Fatalf("%+v written as %v reads back as %+v, %v", sum, again, back, err)
		}
	})
}
