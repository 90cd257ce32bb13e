// Command thumbnails shows the module's two caches working together. It
// starts an HTTP origin on loopback that serves a few generated PNG and
// JPEG images, each with its SHA-256 in the X-Checksum-Sha256 header, and
// builds a 128×128 thumbnail of each, twice, through
// arcache.ProvideContext. The thumbnail's constructor gets the full image
// through package imagecache:
// from the file cache when it holds it, otherwise from the origin,
// streaming the body into the file cache, verified against the checksum,
// while decoding it. So a thumbnail comes from one of three places, and
// each pass prints how many came from which:
//
//   - network: the origin, on the first run;
//   - file-cache: the image file cached on disk by an earlier run, when the
//     thumbnail itself is not remembered;
//   - memory: a Provide hit, which needs neither network nor disk: the
//     second pass of every run, and the first pass of a run that loaded
//     the thumbnails the previous run saved on Close.
//
// Usage, from the module root:
//
//	go run ./examples/thumbnails                     # pass 1: network=6, pass 2: memory=6
//	go run ./examples/thumbnails                     # again: pass 1 memory=6, from the saved thumbnails
//	go run ./examples/thumbnails -forget-thumbnails  # pass 1 file-cache=6: the image files are still on disk
//
// Flags: -dir DIR holds both caches (by default arcache-thumbnails in the
// temporary directory; delete it to start cold), -out DIR writes the
// thumbnails there as PNGs, and -forget-thumbnails skips loading the saved
// thumbnails. The last line is the number of requests the origin served.
//
// With -redis ADDR (host:port, or the path of a Unix socket) the
// thumbnails are shared through a Redis (or Valkey) server, as a fleet of
// processes would share them: run two copies on two directories, and the
// second builds nothing, taking every thumbnail from the tier.
//
//	go run ./examples/thumbnails -dir /tmp/a -redis localhost:6379   # built 6 thumbnails, 0 from the tier
//	go run ./examples/thumbnails -dir /tmp/b -redis localhost:6379   # built 0 thumbnails, 6 from the tier
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/arcache-go/arcache"
	"github.com/arcache-go/arcache/examples/internal/pngfile"
	"github.com/arcache-go/arcache/imagecache"
	"github.com/arcache-go/arcache/redistier"
	"github.com/redis/go-redis/v9"
	"golang.org/x/image/draw"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage is printed already
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "thumbnails:", err)
		os.Exit(1)
	}
}

const (
	thumbSize      = 128
	checksumHeader = "X-Checksum-Sha256"
	width, height  = 640, 480
)

// originImages are the images the origin serves, drawn once at start.
var originImages = []struct {
	id, format string
	pixel      func(x, y int) color.NRGBA
}{
	{"dawn", "png", func(x, y int) color.NRGBA { return rgb(255-y*255/height, x*160/width, y*255/height) }},
	{"meadow", "jpeg", func(x, y int) color.NRGBA { return rgb(x*90/width, 120+y*135/height, 40) }},
	{"checker", "png", func(x, y int) color.NRGBA { return gray((x/40+y/40)%2*200 + 30) }},
	{"rings", "jpeg", func(x, y int) color.NRGBA {
		r := int(math.Hypot(float64(x-width/2), float64(y-height/2)))
		return rgb(r/24%2*200, 40, 160)
	}},
	{"stripes", "png", func(x, y int) color.NRGBA { return rgb((x+y)/32%2*220, 60, 90) }},
	{"dusk", "jpeg", func(x, y int) color.NRGBA { return rgb(200-(x+y)*150/(width+height), 40, 80+x*120/width) }},
}

func rgb(r, g, b int) color.NRGBA { return color.NRGBA{uint8(r), uint8(g), uint8(b), 0xff} }
func gray(v int) color.NRGBA      { return rgb(v, v, v) }

func run(args []string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("thumbnails", flag.ContinueOnError)
	dir := fs.String("dir", filepath.Join(os.TempDir(), "arcache-thumbnails"), "directory of the image file cache and the saved thumbnails")
	out := fs.String("out", "", "directory to write the thumbnails to as PNGs (default: none)")
	forget := fs.Bool("forget-thumbnails", false, "do not load the saved thumbnails, so that pass 1 reads the image file cache")
	redisAddr := fs.String("redis", "", "share the thumbnails through the Redis or Valkey server at this `address` (host:port, or a Unix socket's path)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	org, err := newOrigin()
	if err != nil {
		return err
	}
	defer org.Close()

	files, err := imagecache.New(imagecache.Config{Dir: filepath.Join(*dir, "images"), MaxSize: 64 << 20})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, files.Close()) }()

	// The defaults are relative to the working directory; the bin file
	// follows CacheDir, to thumbs.bin. With Preload, New loads the
	// thumbnails saved by the last run; a damaged bin file is quarantined
	// and logged, and the thumbnails it lost are simply built again.
	cfg := arcache.DefaultConfig()
	cfg.CacheDir = filepath.Join(*dir, "thumbs")
	cfg.ErrorDir = filepath.Join(*dir, "errors")
	cfg.Preload = !*forget
	var opts []arcache.Option
	if *redisAddr != "" {
		client := newRedisClient(*redisAddr)
		defer client.Close()
		opts = append(opts, arcache.WithTier(redistier.New(client)))
	}
	thumbs, err := arcache.New(cfg, opts...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, thumbs.Close()) }() // saves the thumbnails

	// A thumbnail that waits on the origin for longer gives up; the
	// origin is on loopback, so this never happens here.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	f := &fetcher{origin: org.URL, client: org.Client(), files: files}
	fmt.Fprintf(stdout, "caches in %s\n", *dir)
	imgs := make(map[string]*image.RGBA, len(originImages))
	for pass := 1; pass <= 2; pass++ {
		network, fileCache, hits := f.network.Load(), f.fileCache.Load(), thumbs.Stats().Hits
		for _, o := range originImages {
			// Named, so that the key does not depend on where this
			// method lives; its receiver only carries the plumbing.
			img, err := arcache.ProvideContext(ctx, thumbs, f.thumbnail, thumbArgs{ID: o.id, Size: thumbSize}, arcache.Name("thumbnail"))
			if err != nil {
				return err
			}
			imgs[o.id] = img
		}
		fmt.Fprintf(stdout, "pass %d: network=%d file-cache=%d memory=%d\n", pass,
			f.network.Load()-network, f.fileCache.Load()-fileCache, thumbs.Stats().Hits-hits)
	}

	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		for id, img := range imgs {
			if _, err := pngfile.Write(filepath.Join(*out, id+".png"), img); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "wrote %d thumbnails to %s\n", len(imgs), *out)
	}
	if *redisAddr != "" {
		st := thumbs.Stats()
		fmt.Fprintf(stdout, "shared tier: built %d thumbnails, %d from the tier, %d tier errors\n", st.Builds, st.TierHits, st.TierErrors)
	}
	fmt.Fprintf(stdout, "origin requests: %d\n", org.requests.Load())
	return nil
}

// newRedisClient returns a client of the server at addr that gives up on
// a server that has gone away in a fraction of a second: go-redis's
// defaults dial five times and retry three, which a miss would wait for.
func newRedisClient(addr string) *redis.Client {
	o := &redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
		DialerRetries: 1, MaxRetries: 1, ContextTimeoutEnabled: true}
	if strings.Contains(addr, "/") {
		o.Network = "unix"
	}
	return redis.NewClient(o)
}

// origin serves originImages at /images/<id> and counts the requests.
type origin struct {
	*httptest.Server
	requests atomic.Int64
}

func newOrigin() (*origin, error) {
	type file struct {
		body []byte
		sum  string
	}
	files := make(map[string]file, len(originImages))
	for _, o := range originImages {
		img := image.NewNRGBA(image.Rect(0, 0, width, height))
		for y := range height {
			for x := range width {
				img.SetNRGBA(x, y, o.pixel(x, y))
			}
		}
		var buf bytes.Buffer
		var err error
		if o.format == "png" {
			err = png.Encode(&buf, img)
		} else {
			err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
		}
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", o.id, err)
		}
		sum := sha256.Sum256(buf.Bytes())
		files[o.id] = file{buf.Bytes(), hex.EncodeToString(sum[:])}
	}

	o := &origin{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /images/{id}", func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		f, ok := files[r.PathValue("id")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", http.DetectContentType(f.body))
		w.Header().Set(checksumHeader, f.sum)
		w.Write(f.body)
	})
	o.Server = httptest.NewServer(mux)
	return o, nil
}

// fetcher gets full images through the file cache, counting where they
// came from.
type fetcher struct {
	origin             string
	client             *http.Client
	files              *imagecache.Cache
	network, fileCache atomic.Int64
}

type thumbArgs struct {
	ID   string
	Size int
}

// thumbnail is the constructor given to ProvideContext: it runs only when
// the thumbnail is not in memory. The image is scaled to fit
// a.Size×a.Size, keeping its aspect ratio, centred on transparency. ctx
// ends the request to the origin once nobody waits for the thumbnail.
func (f *fetcher) thumbnail(ctx context.Context, a thumbArgs) (*image.RGBA, error) {
	src, err := f.source(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	sb := src.Bounds()
	w, h := a.Size, a.Size
	if sb.Dx() > sb.Dy() {
		h = a.Size * sb.Dy() / sb.Dx()
	} else {
		w = a.Size * sb.Dx() / sb.Dy()
	}
	dst := image.NewRGBA(image.Rect(0, 0, a.Size, a.Size))
	at := image.Rect(0, 0, w, h).Add(image.Pt((a.Size-w)/2, (a.Size-h)/2))
	draw.CatmullRom.Scale(dst, at, src, sb, draw.Src, nil)
	return dst, nil
}

// source returns the decoded image id, from the file cache when it holds
// it, otherwise from the origin.
func (f *fetcher) source(ctx context.Context, id string) (image.Image, error) {
	// No IsCached first: OpenForRead's ErrNotFound says the same, and
	// leaves no moment for a prune between the check and the open.
	rc, err := f.files.OpenForRead(id)
	if errors.Is(err, imagecache.ErrNotFound) {
		return f.fromNetwork(ctx, id)
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	img, err := decodeAll(rc)
	if err != nil {
		return nil, fmt.Errorf("file cache %s: %w", id, err)
	}
	f.fileCache.Add(1)
	return img, nil
}

// fromNetwork GETs the image and decodes it as it streams into the file
// cache.
func (f *fetcher) fromNetwork(ctx context.Context, id string) (image.Image, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.origin+"/images/"+id, nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", resp.Request.URL, resp.Status)
	}
	sum := imagecache.Checksum{Algo: "sha256", Hex: resp.Header.Get(checksumHeader)}
	body := f.files.CachingReader(id, sum, resp.Body)
	defer body.Close() // closes resp.Body too
	img, err := decodeAll(body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", resp.Request.URL, err)
	}
	f.network.Add(1)
	return img, nil
}

// decodeAll decodes r and then reads it to its end, because image.Decode
// may stop before the end and both of imagecache's readers act only there:
// CachingReader verifies the checksum and commits the file (closing it
// earlier abandons the write), and OpenForRead's reader counts a hit.
func decodeAll(r io.Reader) (image.Image, error) {
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, err
	}
	return img, nil
}
