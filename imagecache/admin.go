package imagecache

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// clearTargetHeader tells DELETE /cache what to clear, as Glance's does.
const clearTargetHeader = "X-Image-Cache-Clear-Target"

// NewAdminHandler returns the management API of c, after Glance's
// /v2/cache, served at /cache: mount it with http.StripPrefix to put it
// elsewhere. It deletes and prunes at anyone's request, so serve it only
// on a private listener, never beside NewHandler.
//
// The routes, and their answers:
//
//	GET    /cache           200 {"cached_images":[...],"queued_images":[...]}
//	PUT    /cache/{id}      202 queued; 200 already cached, queued or being written
//	DELETE /cache/{id}      204 the cached image or queue entry deleted; 404 neither was there
//	DELETE /cache           200 {"cached_deleted":n,"queued_deleted":m}
//	POST   /cache/prune     200 {"files":n,"bytes":b}
//	POST   /cache/clean     200 {"invalid":n,"stalled":m,"bytes":b}
//
// Each cached image is listed as {"image_id", "size", "hits",
// "last_accessed", "last_modified", "checksum"}, by id; the queue is
// listed oldest first. Times are RFC 3339 strings in UTC with as many
// fractional digits as they need (time.RFC3339Nano), and null for a time
// not recorded; "checksum" is "algo:hex", or "" for an image without one.
// Lists are [] when empty, never null.
//
// PUT and DELETE of an id answer with no body. DELETE /cache clears what
// its x-image-cache-clear-target header names, in any case: "cache",
// "queue" or "both", the default. POST /cache/clean takes the stall time as a Go
// duration in the query ("?stall=2h"); without it, Config.StallTime.
//
// Other answers are JSON, with Content-Type application/json; errors are
// {"error":"..."}: 400 for an invalid id or a bad parameter, 404 for a
// route or image that is not there, 405 (with Allow) for a method a route
// does not take, 503 once c is closed, and 500 for a failure of the cache,
// whose details go to c's log rather than to the client.
func NewAdminHandler(c *Cache) http.Handler {
	a := &admin{c: c}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cache", a.list)
	mux.HandleFunc("PUT /cache/{id}", a.queue)
	mux.HandleFunc("DELETE /cache/{id}", a.delete)
	mux.HandleFunc("DELETE /cache", a.clear)
	mux.HandleFunc("POST /cache/prune", a.prune)
	mux.HandleFunc("POST /cache/clean", a.clean)
	return adminMux{mux}
}

type admin struct{ c *Cache }

// adminImage is one entry of cached_images.
type adminImage struct {
	ImageID      string    `json:"image_id"`
	Size         int64     `json:"size"`
	Hits         int64     `json:"hits"`
	LastAccessed adminTime `json:"last_accessed"`
	LastModified adminTime `json:"last_modified"`
	Checksum     string    `json:"checksum"`
}

// adminTime is a time in RFC 3339, UTC; the zero time is null.
type adminTime time.Time

func (t adminTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return strconv.AppendQuote(nil, tt.UTC().Format(time.RFC3339Nano)), nil
}

func (a *admin) list(w http.ResponseWriter, r *http.Request) {
	rs, err := a.c.CachedImages()
	if err != nil {
		a.fail(w, r, "list the cache", err)
		return
	}
	queued, err := a.c.QueuedImages()
	if err != nil {
		a.fail(w, r, "list the queue", err)
		return
	}
	images := make([]adminImage, len(rs))
	for i, rec := range rs {
		images[i] = adminImage{
			ImageID:      rec.ID,
			Size:         rec.Size,
			Hits:         rec.Hits,
			LastAccessed: adminTime(rec.LastAccessed),
			LastModified: adminTime(rec.LastModified),
		}
		if !rec.Checksum.IsZero() {
			images[i].Checksum = strings.ToLower(rec.Checksum.Algo + ":" + rec.Checksum.Hex)
		}
	}
	if queued == nil {
		queued = []string{}
	}
	writeJSON(w, http.StatusOK, struct {
		Cached []adminImage `json:"cached_images"`
		Queued []string     `json:"queued_images"`
	}{images, queued})
}

func (a *admin) queue(w http.ResponseWriter, r *http.Request) {
	id, ok := a.id(w, r)
	if !ok {
		return
	}
	queued, err := a.c.Queue(id)
	switch {
	case err != nil:
		a.fail(w, r, "queue "+id, err)
	case queued:
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func (a *admin) delete(w http.ResponseWriter, r *http.Request) {
	id, ok := a.id(w, r)
	if !ok {
		return
	}
	// The queue entry first: a prefetch that reads the queue meanwhile
	// must not bring back the image just deleted.
	queued := a.c.IsQueued(id)
	if err := a.c.DeleteQueued(id); err != nil {
		a.fail(w, r, "unqueue "+id, err)
		return
	}
	cached, err := a.c.deleteCached(id)
	if err != nil {
		a.fail(w, r, "delete "+id, err)
		return
	}
	if !queued && !cached {
		writeError(w, http.StatusNotFound, fmt.Sprintf("image %s is neither cached nor queued", id))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) clear(w http.ResponseWriter, r *http.Request) {
	var cache, queue bool
	switch t := strings.ToLower(strings.TrimSpace(r.Header.Get(clearTargetHeader))); t {
	case "", "both":
		cache, queue = true, true
	case "cache":
		cache = true
	case "queue":
		queue = true
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s is %q; want cache, queue or both", clearTargetHeader, t))
		return
	}
	var res struct {
		Cached int `json:"cached_deleted"`
		Queued int `json:"queued_deleted"`
	}
	var err error
	if queue {
		if res.Queued, err = a.c.DeleteAllQueued(); err != nil {
			a.fail(w, r, "clear the queue", err)
			return
		}
	}
	if cache {
		if res.Cached, err = a.c.DeleteAllCached(); err != nil {
			a.fail(w, r, "clear the cache", err)
			return
		}
	}
	writeJSON(w, http.StatusOK, res)
}

func (a *admin) prune(w http.ResponseWriter, r *http.Request) {
	files, bytes, err := a.c.Prune()
	if err != nil {
		a.fail(w, r, "prune", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Files int   `json:"files"`
		Bytes int64 `json:"bytes"`
	}{files, bytes})
}

func (a *admin) clean(w http.ResponseWriter, r *http.Request) {
	var stall time.Duration
	if s := r.URL.Query().Get("stall"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("stall %q is not a duration of 0 or more, such as 2h", s))
			return
		}
		stall = d
	}
	res, err := a.c.Clean(stall)
	if err != nil {
		a.fail(w, r, "clean", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Invalid int   `json:"invalid"`
		Stalled int   `json:"stalled"`
		Bytes   int64 `json:"bytes"`
	}{res.Invalid, res.Stalled, res.Bytes})
}

// id returns the request's id, or answers 400 for an invalid one.
func (a *admin) id(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !ValidID(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s %q", ErrInvalidID, id))
		return "", false
	}
	return id, true
}

// fail answers err, an error of the cache doing what, with a short
// message; a failure of the cache itself goes to the log in full.
func (a *admin) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, ErrInvalidID):
		writeError(w, http.StatusBadRequest, ErrInvalidID.Error())
	case errors.Is(err, ErrClosed):
		writeError(w, http.StatusServiceUnavailable, ErrClosed.Error())
	default:
		a.c.log.Error("imagecache: management request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "cannot "+what)
	}
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// The answers are plain structs: this is a bug.
		code, b = http.StatusInternalServerError, []byte(`{"error":"cannot encode the answer"}`)
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b)
}

// adminMux gives the ServeMux's own answers (no route 404, wrong method
// 405 with Allow) JSON bodies like the rest of the API.
type adminMux struct{ mux *http.ServeMux }

func (m adminMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := m.mux.Handler(r); pattern == "" {
		w = &routeErrorWriter{ResponseWriter: w}
	}
	m.mux.ServeHTTP(w, r)
}

// routeErrorWriter replaces the text body of the ServeMux's http.Error
// with {"error":...}, keeping its status and headers such as Allow.
type routeErrorWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *routeErrorWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.Header().Del("X-Content-Type-Options")
	writeError(w.ResponseWriter, code, http.StatusText(code))
}

func (w *routeErrorWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return len(p), nil
}
