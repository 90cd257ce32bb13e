package httpcount

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Writer counts what goes through it and keeps the fast paths of the
// writer it wraps.
func TestWriter(t *testing.T) {
	under := &fastWriter{ResponseRecorder: httptest.NewRecorder()}
	w := &Writer{ResponseWriter: under}
	src := &io.LimitedReader{R: strings.NewReader("hello, world"), N: 5}
	if n, err := io.Copy(w, src); n != 5 || err != nil {
		t.Fatalf("io.Copy = %d, %v", n, err)
	}
	if under.readFrom != 1 {
		t.Errorf("ReadFrom of the wrapped writer called %d times; want 1", under.readFrom)
	}
	if w.Status != 200 || w.Bytes != 5 || under.Body.String() != "hello" {
		t.Errorf("status %d, %d bytes, body %q; want 200, 5, hello", w.Status, w.Bytes, under.Body)
	}
	w.Write([]byte("!"))
	if w.Bytes != 6 {
		t.Errorf("%d bytes after a Write; want 6", w.Bytes)
	}
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil || !under.Flushed {
		t.Errorf("Flush through ResponseController: %v, flushed %v", err, under.Flushed)
	}
	if err := rc.SetWriteDeadline(time.Now().Add(time.Second)); err != nil || !under.deadline {
		t.Errorf("SetWriteDeadline through ResponseController: %v, reached %v", err, under.deadline)
	}
	if w.Unwrap() != http.ResponseWriter(under) {
		t.Error("Unwrap does not return the wrapped writer")
	}

	// Without a ReadFrom below, io.Copy still works, and counts.
	rec := httptest.NewRecorder()
	w = &Writer{ResponseWriter: rec}
	if n, err := io.Copy(w, strings.NewReader("plain")); n != 5 || err != nil || w.Bytes != 5 || rec.Body.String() != "plain" {
		t.Errorf("io.Copy without ReadFrom below = %d, %v; counted %d, body %q", n, err, w.Bytes, rec.Body)
	}
}

// The status is the first final one.
func TestWriterStatus(t *testing.T) {
	w := &Writer{ResponseWriter: httptest.NewRecorder()}
	w.WriteHeader(http.StatusEarlyHints)
	w.WriteHeader(http.StatusNotFound)
	w.WriteHeader(http.StatusOK) // superfluous: ignored
	if w.Status != http.StatusNotFound {
		t.Errorf("status %d after 103, 404 and 200; want 404", w.Status)
	}
	w = &Writer{ResponseWriter: httptest.NewRecorder()}
	w.Flush()
	if w.Status != http.StatusOK {
		t.Errorf("status %d after a Flush; want 200, which net/http sends then", w.Status)
	}
}

type fastWriter struct {
	*httptest.ResponseRecorder
	readFrom int
	deadline bool
}

func (w *fastWriter) ReadFrom(r io.Reader) (int64, error) {
	w.readFrom++
	return io.Copy(w.ResponseRecorder, r)
}

func (w *fastWriter) SetWriteDeadline(time.Time) error { w.deadline = true; return nil }
