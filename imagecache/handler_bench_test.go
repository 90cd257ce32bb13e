package imagecache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
)

const (
	benchHTTPImages  = 64
	benchHTTPSize    = 64 << 10
	benchHTTPClients = 16
)

// BenchmarkHandlerHit serves cached 64 KiB images through NewHandler to
// 16 concurrent clients over loopback, each request counting a hit;
// compare with BenchmarkBaselineFileServer, which serves the same files.
func BenchmarkHandlerHit(b *testing.B) {
	c := benchHTTPCache(b)
	benchServe(b, NewHandler(c, nil))
	b.StopTimer()
	var hits int64
	for i := range benchHTTPImages {
		n, err := c.HitCount(benchHTTPID(i))
		if err != nil {
			b.Fatal(err)
		}
		hits += n
	}
	if hits != int64(b.N) { // the server has finished every request
		b.Fatalf("%d hits counted for %d requests", hits, b.N)
	}
}

// BenchmarkBaselineFileServer serves the files of BenchmarkHandlerHit's
// cache with http.FileServer over its data directory, to the same
// clients.
func BenchmarkBaselineFileServer(b *testing.B) {
	c := benchHTTPCache(b)
	benchServe(b, http.FileServer(http.Dir(filepath.Join(c.cfg.Dir, dataDir))))
}

// benchHTTPCache returns a cache of benchHTTPImages images with sha256
// checksums.
func benchHTTPCache(b *testing.B) *Cache {
	b.Helper()
	c, err := New(Config{Dir: b.TempDir()}, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	rng := rand.NewChaCha8([32]byte{'h', 't', 't', 'p'})
	data := make([]byte, benchHTTPSize)
	for i := range benchHTTPImages {
		rng.Read(data)
		s := sha256.Sum256(data)
		if ok, err := c.CacheReader(benchHTTPID(i), bytes.NewReader(data), Checksum{Algo: "sha256", Hex: hex.EncodeToString(s[:])}); !ok || err != nil {
			b.Fatalf("CacheReader = %v, %v", ok, err)
		}
	}
	return c
}

func benchHTTPID(i int) string { return fmt.Sprintf("image-%02d", i) }

// benchServe has benchHTTPClients goroutines GET the images from h over
// keep-alive connections, reading each body to its end.
func benchServe(b *testing.B, h http.Handler) {
	srv := httptest.NewServer(h)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: benchHTTPClients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	urls := make([]string, benchHTTPImages)
	for i := range urls {
		urls[i] = srv.URL + "/" + benchHTTPID(i)
	}
	var next atomic.Uint64
	b.SetBytes(benchHTTPSize)
	b.SetParallelism(max(1, benchHTTPClients/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			url := urls[next.Add(1)%benchHTTPImages]
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != benchHTTPSize || resp.StatusCode != http.StatusOK {
				b.Errorf("GET %s: %d, %d bytes, %v", url, resp.StatusCode, n, err)
				return
			}
		}
	})
}
