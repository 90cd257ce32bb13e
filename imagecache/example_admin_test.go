package imagecache_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/arcache-go/arcache/imagecache"
)

// The management API on its own listener, under /admin: queue an image
// for the next prefetch, and list the cache.
func ExampleNewAdminHandler() {
	dir, err := os.MkdirTemp("", "imagecache-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := imagecache.New(imagecache.Config{Dir: dir}, imagecache.WithLogger(nil))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// A real server binds a private address, such as 127.0.0.1:9292.
	admin := httptest.NewServer(http.StripPrefix("/admin", imagecache.NewAdminHandler(c)))
	defer admin.Close()

	for range 2 {
		req, _ := http.NewRequest(http.MethodPut, admin.URL+"/admin/cache/photo-1.jpg", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println("PUT:", resp.Status)
	}

	resp, err := http.Get(admin.URL + "/admin/cache")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("GET: %s %s", resp.Status, body)
	// Output:
	// PUT: 202 Accepted
	// PUT: 200 OK
	// GET: 200 OK {"cached_images":[],"queued_images":["photo-1.jpg"]}
}

// Prefetching queued images from an HTTP origin, which gives each image's
// digest in its Repr-Digest header.
func ExampleHTTPOrigin() {
	image := []byte("not really a JPEG")
	digest := sha256.Sum256(image)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/images/photo-1.jpg" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(digest[:])+":")
		w.Write(image)
	}))
	defer origin.Close()

	dir, err := os.MkdirTemp("", "imagecache-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := imagecache.New(imagecache.Config{Dir: dir}, imagecache.WithLogger(nil))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	fetch := imagecache.HTTPOrigin(origin.URL+"/images/", nil)
	c.Queue("photo-1.jpg")
	c.Queue("photo-2.jpg")
	res, err := c.Prefetch(context.Background(), fetch, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("cached:", res.Cached)
	fmt.Println("failed:", len(res.Failed), "still queued")
	size, _ := c.ImageSize("photo-1.jpg")
	fmt.Println("photo-1.jpg:", size, "bytes, verified by sha-256")
	// Output:
	// cached: [photo-1.jpg]
	// failed: 1 still queued
	// photo-1.jpg: 17 bytes, verified by sha-256
}
