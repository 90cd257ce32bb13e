package httpcount

import (
	"io"
	"net/http"
)

// Writer notes the final status and the body bytes written through it.
// It passes io.ReaderFrom on, so that files still go out by sendfile, and
// Flush, so that streamed answers still reach clients as they are
// written; Unwrap lets http.ResponseController reach the rest.
type Writer struct {
	http.ResponseWriter
	Status int   // the first final status written; 0 before
	Bytes  int64 // body bytes written
}

// WriteHeader notes the first final status: 1xx answers are not.
func (w *Writer) WriteHeader(code int) {
	if w.Status == 0 && code >= 200 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.Bytes += int64(n)
	return n, err
}

// ReadFrom hands r to the wrapped writer's ReadFrom, where it has one.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	var (
		n   int64
		err error
	)
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(w.ResponseWriter, r)
	}
	w.Bytes += n
	return n, err
}

// Flush flushes the wrapped writer, if it can.
func (w *Writer) Flush() { w.FlushError() }

// FlushError is what http.ResponseController's Flush calls: it hands on
// the error of a flush to a client that has gone.
func (w *Writer) FlushError() error {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
