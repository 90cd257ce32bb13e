package imagecache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/arcache-go/arcache/imagecache"
)

// A cache in front of an image origin, mounted under /images/: the first
// GET is fetched and streamed, the second served from disk.
func ExampleNewHandler() {
	var img bytes.Buffer
	png.Encode(&img, image.NewGray(image.Rect(0, 0, 8, 8)))
	sum := sha256.Sum256(img.Bytes())

	// The origin holds one image, logo.png.
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/logo.png" {
			http.NotFound(w, r)
			return
		}
		w.Write(img.Bytes())
	}))
	defer origin.Close()
	fetch := func(ctx context.Context, id string) (io.ReadCloser, imagecache.Checksum, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, origin.URL+"/"+id, nil)
		if err != nil {
			return nil, imagecache.Checksum{}, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, imagecache.Checksum{}, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNotFound {
				return nil, imagecache.Checksum{}, imagecache.ErrNotFound
			}
			return nil, imagecache.Checksum{}, fmt.Errorf("origin: %s", resp.Status)
		}
		// This origin's checksums are known in advance.
		return resp.Body, imagecache.Checksum{Algo: "sha256", Hex: hex.EncodeToString(sum[:])}, nil
	}

	dir, err := os.MkdirTemp("", "imagecache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := imagecache.New(imagecache.Config{Dir: dir}, imagecache.WithLogger(nil))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	mux := http.NewServeMux()
	mux.Handle("/images/", http.StripPrefix("/images", imagecache.NewHandler(c, fetch)))
	srv := httptest.NewServer(mux)
	for _, path := range []string{"/images/logo.png", "/images/logo.png", "/images/missing.png"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s: %d %s, %s, the image: %v\n", path, resp.StatusCode,
			resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Status"), bytes.Equal(body, img.Bytes()))
	}
	srv.Close() // waits for the handler to finish, hit counting included
	hits, _ := c.HitCount("logo.png")
	fmt.Println("hits:", hits)
	// Output:
	// /images/logo.png: 200 image/png, imagecache; fwd=uri-miss, the image: true
	// /images/logo.png: 200 image/png, imagecache; hit, the image: true
	// /images/missing.png: 404 text/plain; charset=utf-8, imagecache; fwd=uri-miss, the image: false
	// hits: 1
}
