package imagecache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/arcache-go/arcache/internal/httpcount"
)

// Values of the Cache-Status header (RFC 9211) of NewHandler's answers.
const (
	statusHit       = "imagecache; hit"
	statusMiss      = "imagecache; fwd=uri-miss"
	statusCollapsed = "imagecache; fwd=uri-miss; collapsed"
)

const (
	// pieceSize is the most a fetch reads at once, and so the largest
	// piece a streaming client receives in one write.
	pieceSize = 64 << 10
	// fetchAttempts bounds the fetches one request waits for when a
	// fetch succeeds but leaves no file in data/: another process was
	// writing the image, or it was deleted at once.
	fetchAttempts = 3
)

// NewHandler returns a handler that serves the images of c at /{id},
// fetching those not cached from origin as Glance's cache middleware
// does. The id is the request's URL path without its leading '/': mount
// the handler under a prefix with http.StripPrefix.
//
// GET and HEAD of a cached image are answered from disk as
// http.ServeContent answers them, with Last-Modified, Accept-Ranges,
// conditional requests (304) and ranges (206), and a strong ETag: the
// image's checksum, as in "sha256-<hex>", when it has one. A GET answered
// 200 from disk whose whole body was written counts a hit; a HEAD, a 304
// and a 206 do not.
//
// An image that is not cached is fetched from origin once, however many
// requests ask for it at the same time. The request that starts the
// fetch, when it is a plain GET (no Range or conditional header),
// receives the image as it arrives, in flushed chunks, while it is
// cached; the others wait for the fetch to end and are then answered
// from disk, so a range of an image not yet cached is answered 206 once
// it is. The fetch goes on, and caches the image, when its clients go
// away. The last byte of a streamed image is held back until the image
// has matched its checksum: on a mismatch, or an origin error midway, the
// connection is aborted, so that a client never takes a damaged image for
// a whole one; nothing is cached.
//
// An invalid id is answered 400 before the file system is touched, an
// origin error matching ErrNotFound 404, any other origin error (a
// panicking origin included) 502, and a method other than GET and HEAD
// 405. Error bodies are short plain text that name no file. A nil origin
// has no images: those not cached are 404.
//
// Every answer has a Cache-Status header (RFC 9211) that tells hits from
// misses exactly:
//
//	imagecache; hit                      served from disk, nothing fetched
//	imagecache; fwd=uri-miss             this request started a fetch
//	imagecache; fwd=uri-miss; collapsed  it waited for another request's fetch
//	imagecache; detail=<reason>          not looked up: invalid-id, method, closed, disk-error
func NewHandler(c *Cache, origin Fetcher) http.Handler {
	tags, err := lru.New[string, fileTag](tagEntries)
	if err != nil {
		panic(err) // only for a size below 1
	}
	if origin == nil {
		origin = func(context.Context, string) (io.ReadCloser, Checksum, error) { return nil, Checksum{}, ErrNotFound }
	}
	return &handler{c: c, origin: origin, tags: tags, flights: map[string]*flight{}}
}

type handler struct {
	c      *Cache
	origin Fetcher
	tags   *lru.Cache[string, fileTag] // by id

	mu      sync.Mutex
	flights map[string]*flight // fetches under way, by id
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		refuse(w, "method", "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/")
	if !ValidID(id) {
		refuse(w, "invalid-id", "invalid image id", http.StatusBadRequest)
		return
	}
	if h.c.isClosed() {
		refuse(w, "closed", "image cache closed", http.StatusServiceUnavailable)
		return
	}
	f, err := os.Open(h.c.path(dataDir, id))
	switch {
	case err == nil:
		h.serveFile(w, r, id, f, statusHit)
	case errors.Is(err, fs.ErrNotExist):
		h.serveMiss(w, r, id)
	default:
		h.diskError(w, id, err)
	}
}

// refuse answers a request the cache did not look up.
func refuse(w http.ResponseWriter, reason, msg string, code int) {
	w.Header().Set("Cache-Status", "imagecache; detail="+reason)
	http.Error(w, msg, code)
}

func (h *handler) diskError(w http.ResponseWriter, id string, err error) {
	h.c.log.Error("imagecache: cannot serve a cached image", "id", id, "err", err)
	refuse(w, "disk-error", "internal error", http.StatusInternalServerError)
}

// serveFile answers r from f, the open file of the cached image id, and
// closes f.
func (h *handler) serveFile(w http.ResponseWriter, r *http.Request, id string, f *os.File, status string) {
	defer f.Close()
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", id)
	}
	if err != nil {
		h.diskError(w, id, err)
		return
	}
	tag := h.tag(id, f, fi)
	hd := w.Header()
	hd.Set("Cache-Status", status)
	// ServeContent answers conditionals by this ETag, and sniffs no
	// bytes when the type is set.
	hd.Set("Etag", tag.etag)
	hd.Set("Content-Type", tag.ctype)
	if r.Method == http.MethodHead {
		http.ServeContent(w, r, id, fi.ModTime(), f)
		return
	}
	hw := &httpcount.Writer{ResponseWriter: w}
	http.ServeContent(hw, r, id, fi.ModTime(), f)
	if hw.Status == http.StatusOK && hw.Bytes == fi.Size() {
		h.c.countHit(id)
	}
}

// serveMiss answers r for the image id, which was not cached when r
// looked, through a fetch from the origin.
func (h *handler) serveMiss(w http.ResponseWriter, r *http.Request, id string) {
	plain := r.Method == http.MethodGet && isPlain(r.Header)
	status := statusHit
	for attempt := 1; ; attempt++ {
		fl, f, started := h.join(r.Context(), id, plain && attempt == 1)
		if f != nil {
			// Another fetch has just cached it.
			h.serveFile(w, r, id, f, status)
			return
		}
		status = statusCollapsed
		if started {
			status = statusMiss
		}
		if started && fl.pieces != nil && h.stream(w, r, id, fl) {
			return
		}
		select {
		case <-fl.done:
		case <-r.Context().Done():
			w.Header().Set("Cache-Status", status)
			http.Error(w, "gave up waiting for the origin", http.StatusGatewayTimeout)
			return
		}
		if fl.err != nil {
			originError(w, status, fl.err)
			return
		}
		f, err := os.Open(h.c.path(dataDir, id))
		switch {
		case err == nil:
			h.serveFile(w, r, id, f, status)
			return
		case !errors.Is(err, fs.ErrNotExist):
			h.diskError(w, id, err)
			return
		case attempt == fetchAttempts:
			h.c.log.Warn("imagecache: fetched images were not cached", "id", id, "fetches", attempt)
			w.Header().Set("Cache-Status", status)
			http.Error(w, "image not cached", http.StatusBadGateway)
			return
		}
	}
}

// isPlain reports whether a GET with header hd wants the whole image
// whatever it is: such a request can be answered as the fetch reads.
func isPlain(hd http.Header) bool {
	for _, k := range [...]string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"} {
		if _, ok := hd[k]; ok {
			return false
		}
	}
	return true
}

func originError(w http.ResponseWriter, status string, err error) {
	w.Header().Set("Cache-Status", status)
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, "image not found", http.StatusNotFound)
		return
	case errors.Is(err, ErrClosed):
		http.Error(w, "image cache closed", http.StatusServiceUnavailable)
		return
	}
	http.Error(w, "origin fetch failed", http.StatusBadGateway)
}

// A flight is one fetch of an image from the origin.
type flight struct {
	done chan struct{} // closed when the fetch has ended
	err  error         // why it failed; set before done is closed

	// The request that started a fetch may receive its pieces: pieces
	// is nil otherwise. The fetch reads into the buffers of free and
	// sends each piece on pieces, and gets the buffer back once it is
	// written. The request closes gone when it leaves, and the fetch
	// goes on without it.
	pieces chan []byte
	free   chan []byte
	gone   chan struct{}
	sum    Checksum // the origin's, set before the first piece is sent
}

// join returns the flight fetching id, starting it if there is none,
// and reports whether it started it; the new flight streams to its
// starter if stream is set. When the image was cached meanwhile, it
// returns the image's open file instead.
func (h *handler) join(ctx context.Context, id string, stream bool) (fl *flight, f *os.File, started bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fl := h.flights[id]; fl != nil {
		return fl, nil, false
	}
	// A flight removes itself from the map once the image is in data/,
	// so under the lock this sees what it cached.
	if f, err := os.Open(h.c.path(dataDir, id)); err == nil {
		return nil, f, false
	}
	fl = &flight{done: make(chan struct{})}
	if stream {
		fl.pieces = make(chan []byte)
		fl.free = make(chan []byte, 2)
		fl.free <- make([]byte, pieceSize)
		fl.free <- make([]byte, pieceSize)
		fl.gone = make(chan struct{})
	}
	h.flights[id] = fl
	// The fetch belongs to every request that waits for it, so none of
	// them can cancel it; closing the cache does.
	if !h.c.background(ctx, func(ctx context.Context) { h.fetch(ctx, id, fl) }) {
		fl.err = fmt.Errorf("imagecache: fetch %s: %w", id, ErrClosed)
		delete(h.flights, id)
		close(fl.done)
	}
	return fl, nil, true
}

// fetch reads id from the origin into the cache, handing the pieces to
// the flight's starter while it is there.
func (h *handler) fetch(ctx context.Context, id string, fl *flight) {
	defer h.land(id, fl)
	rc, sum, err := h.origin(ctx, id)
	if err != nil {
		if rc != nil {
			rc.Close()
		}
		fl.err = fetchError(id, err)
		return
	}
	if rc == nil {
		fl.err = fmt.Errorf("imagecache: fetch %s: the origin gave no body", id)
		return
	}
	fl.sum = sum
	cr := h.c.CachingReader(id, sum, fetchedBody{rc, id})
	defer cr.Close() // closes rc
	gone := fl.gone  // nil: nobody to hand pieces to
	var own []byte
	for {
		var b []byte
		if gone != nil {
			select {
			case b = <-fl.free:
			case <-gone:
				gone = nil
			}
		}
		if b == nil {
			if own == nil {
				own = make([]byte, pieceSize)
			}
			b = own
		}
		n, err := cr.Read(b)
		if n > 0 && gone != nil && (err == nil || err == io.EOF) {
			select {
			case fl.pieces <- b[:n]:
			case <-gone:
				gone, own = nil, b
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			fl.err = err
			return
		}
	}
}

// land ends a fetch: a panic in the origin is its error, and the flight
// leaves the map before its waiters are woken.
func (h *handler) land(id string, fl *flight) {
	if p := recover(); p != nil {
		fl.err = fmt.Errorf("imagecache: fetch %s: panic: %v", id, p)
	}
	if fl.err != nil {
		h.c.log.Warn("imagecache: fetch failed", "id", id, "err", fl.err)
	}
	h.mu.Lock()
	delete(h.flights, id)
	h.mu.Unlock()
	close(fl.done)
}

// stream answers r with the pieces of fl as the fetch reads them. It
// reports false, having written nothing, when the fetch ended before any
// piece came: r is then answered as a waiter is. A client that goes away
// leaves the fetch to go on; one that was sent part of the image has its
// connection aborted, as it has when the fetch fails, so that the end of
// the body is never written for an image that did not verify.
func (h *handler) stream(w http.ResponseWriter, r *http.Request, id string, fl *flight) bool {
	defer close(fl.gone)
	rc := http.NewResponseController(w)
	var (
		started bool
		held    [1]byte // the last byte received, written once the next piece or the end comes
	)
	for {
		select {
		case p := <-fl.pieces:
			if !started {
				started = true
				hd := w.Header()
				hd.Set("Cache-Status", statusMiss)
				hd.Set("Content-Type", contentType(id, p))
				if etag, ok := checksumETag(fl.sum); ok {
					hd.Set("Etag", etag)
				}
				w.WriteHeader(http.StatusOK)
			} else if _, err := w.Write(held[:]); err != nil {
				fl.free <- p[:cap(p)]
				panic(http.ErrAbortHandler)
			}
			_, err := w.Write(p[:len(p)-1])
			held[0] = p[len(p)-1]
			fl.free <- p[:cap(p)]
			if err == nil {
				err = rc.Flush()
			}
			if err != nil {
				panic(http.ErrAbortHandler)
			}
		case <-fl.done:
			if !started {
				return false
			}
			if fl.err != nil {
				panic(http.ErrAbortHandler)
			}
			w.Write(held[:]) // the client's to lose now
			return true
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		}
	}
}
