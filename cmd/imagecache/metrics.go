package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/arcache-go/arcache/imagecache"
	"github.com/arcache-go/arcache/internal/httpcount"
)

// metrics are serve's Prometheus metrics, in a registry of their own.
type metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	hits, misses  prometheus.Counter
	fetches       prometheus.Counter
	fetchErrors   prometheus.Counter
	responseBytes prometheus.Counter
	prunedFiles   prometheus.Counter
	prunedBytes   prometheus.Counter
	cleanedFiles  prometheus.Counter
	prefetched    *prometheus.CounterVec
}

func newMetrics(c *imagecache.Cache) *metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "imagecache", Name: name, Help: help})
	}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "imagecache", Name: "http_requests_total",
			Help: "Requests for images answered, by method and status code.",
		}, []string{"method", "code"}),
		hits:          counter("hits_total", "Requests answered from the cache (Cache-Status hit)."),
		misses:        counter("misses_total", "Requests for images not cached, answered through a fetch from the origin (Cache-Status fwd)."),
		fetches:       counter("origin_fetches_total", "Fetches from the origin, by requests and by prefetching."),
		fetchErrors:   counter("origin_errors_total", "Fetches from the origin that failed, before or during the body."),
		responseBytes: counter("http_response_bytes_total", "Bytes of response bodies written to clients."),
		prunedFiles:   counter("prune_removed_files_total", "Images removed by the periodic prune."),
		prunedBytes:   counter("prune_removed_bytes_total", "Bytes removed by the periodic prune."),
		cleanedFiles:  counter("clean_removed_files_total", "Failed and stalled writes removed by the periodic clean."),
		prefetched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "imagecache", Name: "prefetch_images_total",
			Help: "Queued images the periodic prefetch handled, by result: cached, skipped or failed.",
		}, []string{"result"}),
	}
	size := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "imagecache", Name: "size_bytes",
		Help: "The total size of the cached images.",
	}, func() float64 {
		n, err := c.Size()
		if err != nil {
			return math.NaN()
		}
		return float64(n)
	})
	m.reg.MustRegister(
		m.requests, m.hits, m.misses, m.fetches, m.fetchErrors, m.responseBytes,
		m.prunedFiles, m.prunedBytes, m.cleanedFiles, m.prefetched, size,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// handler serves the metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// instrument counts the requests h answers, their bytes, and the hits
// and misses their Cache-Status headers tell.
func (m *metrics) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &httpcount.Writer{ResponseWriter: w}
		// Deferred, so that a request the handler aborts (with
		// http.ErrAbortHandler, on a checksum mismatch) counts too.
		defer func() {
			code := cw.Status
			if code == 0 {
				code = http.StatusOK // nothing written: net/http sends 200
			}
			m.requests.WithLabelValues(methodLabel(r.Method), strconv.Itoa(code)).Inc()
			m.responseBytes.Add(float64(cw.Bytes))
			switch cacheStatus(w.Header().Get("Cache-Status")) {
			case "hit":
				m.hits.Inc()
			case "fwd":
				m.misses.Inc()
			}
		}()
		h.ServeHTTP(cw, r)
	})
}

// methodLabel keeps the label's values few: a client may send any
// method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// cacheStatus reads what the imagecache member of an RFC 9211
// Cache-Status field says: "hit", "fwd" (whatever the reason), or "".
func cacheStatus(field string) string {
	for member := range strings.SplitSeq(field, ",") {
		params := strings.Split(member, ";")
		if strings.TrimSpace(params[0]) != "imagecache" {
			continue
		}
		for _, p := range params[1:] {
			p = strings.TrimSpace(p)
			if p == "hit" {
				return "hit"
			}
			if k, _, _ := strings.Cut(p, "="); k == "fwd" {
				return "fwd"
			}
		}
	}
	return ""
}

// countFetches wraps fetch to count the fetches from the origin and
// their errors: the fetch's own, or its body's.
func (m *metrics) countFetches(fetch imagecache.Fetcher) imagecache.Fetcher {
	return func(ctx context.Context, id string) (io.ReadCloser, imagecache.Checksum, error) {
		m.fetches.Inc()
		rc, sum, err := fetch(ctx, id)
		if err != nil {
			m.fetchErrors.Inc()
			return rc, sum, err
		}
		return &errorCountingBody{ReadCloser: rc, errors: m.fetchErrors}, sum, nil
	}
}

// errorCountingBody counts its first read error other than io.EOF.
type errorCountingBody struct {
	io.ReadCloser
	errors prometheus.Counter
	once   sync.Once
}

func (b *errorCountingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.once.Do(b.errors.Inc)
	}
	return n, err
}
