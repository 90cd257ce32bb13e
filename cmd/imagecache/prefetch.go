package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/arcache-go/arcache/imagecache"
)

func newPrefetchCmd(g *globals) *cobra.Command {
	var (
		origin  string
		workers int
	)
	cmd := &cobra.Command{
		Use:   "prefetch --origin URL",
		Short: "Fetch the queued images into the cache",
		Long: `Fetch the queued images from the origin into the cache, several at once,
oldest first (Glance's glance-cache-prefetcher). An image is fetched
with GET URL/ID, and checked against the checksum the origin gives in
Repr-Digest, Content-Digest or Content-MD5. Ids cached meanwhile are
taken off the queue; ids that fail stay queued, and the exit status is
then 1.

On a terminal, a progress bar shows the images done and the bytes
fetched; otherwise each image gets a line.`,
		Example: `  imagecache prefetch --dir /var/cache/images --origin http://images.internal:9292/v2/images --workers 8`,
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if workers < 1 {
				return fmt.Errorf("--workers %d: want at least 1", workers)
			}
			if _, err := checkOrigin(origin); err != nil {
				return err
			}
			c, err := g.open(imagecache.Config{}, newLogger(cmd, slog.LevelWarn))
			if err != nil {
				return err
			}
			defer c.Close()
			return prefetch(cmd.Context(), c, imagecache.HTTPOrigin(origin, newOriginClient()), workers,
				cmd.OutOrStdout(), cmd.ErrOrStderr(), isTerminal(cmd.ErrOrStderr()))
		}),
	}
	f := cmd.Flags()
	f.StringVar(&origin, "origin", "", "the origin's base `URL`: images are URL/ID (required)")
	f.IntVar(&workers, "workers", 4, "how many images to fetch at once")
	cmd.MarkFlagRequired("origin")
	return cmd
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// prefetch runs c.Prefetch through fetch, reporting on stderr as a
// progress bar or as lines, and summing up on stdout.
func prefetch(ctx context.Context, c *imagecache.Cache, fetch imagecache.Fetcher, workers int, stdout, stderr io.Writer, bar bool) error {
	queued, err := c.QueuedImages()
	if err != nil {
		return err
	}
	total := 0
	for _, id := range queued {
		if !c.IsCached(id) {
			total++
		}
	}
	p := newPrefetchProgress(c, stderr, total, bar)
	res, err := c.Prefetch(ctx, p.fetcher(fetch), workers)
	p.finish(res, queued)
	var bytes int64
	for _, id := range res.Cached {
		bytes += p.size(id)
	}
	fmt.Fprintf(stdout, "cached %s (%s), skipped %d, failed %d\n",
		plural(len(res.Cached), "image"), humanize.IBytes(uint64(bytes)), len(res.Skipped), len(res.Failed))
	if err != nil {
		return err
	}
	if n := len(res.Failed); n > 0 {
		return fmt.Errorf("prefetch: %d of %s failed; they stay queued", n, plural(total, "image"))
	}
	return nil
}

// prefetchProgress follows the fetches: the bytes of each body, and the
// ids done. With a bar it draws the bar; without, it prints a line for
// each image as soon as it is known to be cached, and the others' at
// the end, when Prefetch tells their fate.
type prefetchProgress struct {
	c   *imagecache.Cache
	w   io.Writer
	bar *progressbar.ProgressBar // nil: lines

	mu        sync.Mutex
	bytes     map[string]int64
	total     int64
	printed   map[string]bool
	described time.Time // when the bar's bytes were last drawn
}

func newPrefetchProgress(c *imagecache.Cache, w io.Writer, ids int, bar bool) *prefetchProgress {
	p := &prefetchProgress{c: c, w: w, bytes: map[string]int64{}, printed: map[string]bool{}}
	if bar && ids > 0 { // a bar of 0 would be a spinner
		p.bar = progressbar.NewOptions(ids,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(bytesDescription(0)),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
		)
		p.bar.RenderBlank()
	}
	return p
}

func bytesDescription(n int64) string { return fmt.Sprintf("prefetch %9s", humanize.IBytes(uint64(n))) }

// fetcher wraps fetch to count the bytes of its bodies.
func (p *prefetchProgress) fetcher(fetch imagecache.Fetcher) imagecache.Fetcher {
	return func(ctx context.Context, id string) (io.ReadCloser, imagecache.Checksum, error) {
		rc, sum, err := fetch(ctx, id)
		if err != nil {
			p.done(id, false)
			return rc, sum, err
		}
		return &countedBody{ReadCloser: rc, id: id, p: p}, sum, nil
	}
}

type countedBody struct {
	io.ReadCloser
	id   string
	p    *prefetchProgress
	once sync.Once
}

func (b *countedBody) Read(q []byte) (int, error) {
	n, err := b.ReadCloser.Read(q)
	if n > 0 {
		b.p.add(b.id, n)
	}
	return n, err
}

// Close comes once the cache is done with the body: the image is cached
// by then, or failed.
func (b *countedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() { b.p.done(b.id, true) })
	return err
}

func (p *prefetchProgress) add(id string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes[id] += int64(n)
	p.total += int64(n)
	if p.bar != nil && time.Since(p.described) >= 100*time.Millisecond {
		p.described = time.Now()
		p.bar.Describe(bytesDescription(p.total))
	}
}

func (p *prefetchProgress) size(id string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes[id]
}

// done notes that id's fetch is over; fetched tells whether a body was
// read, and so whether it may be cached.
func (p *prefetchProgress) done(id string, fetched bool) {
	cached := fetched && p.c.IsCached(id)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Describe(bytesDescription(p.total))
		p.bar.Add(1)
		return
	}
	if cached {
		p.printed[id] = true
		fmt.Fprintf(p.w, "cached %s (%s)\n", id, humanize.IBytes(uint64(p.bytes[id])))
	}
}

// finish ends the bar, or prints the lines not printed yet, with the
// failures' errors, in queue order.
func (p *prefetchProgress) finish(res imagecache.PrefetchResult, queued []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		// A finished bar draws itself again when described.
		if !p.bar.IsFinished() {
			p.bar.Describe(bytesDescription(p.total))
			p.bar.Finish()
		}
		fmt.Fprintln(p.w)
	} else {
		for _, id := range res.Skipped {
			fmt.Fprintf(p.w, "skipped %s: already cached\n", id)
		}
		for _, id := range res.Cached {
			if !p.printed[id] {
				fmt.Fprintf(p.w, "cached %s (%s)\n", id, humanize.IBytes(uint64(p.bytes[id])))
			}
		}
	}
	// Failures on a terminal too: the bar does not say what went wrong.
	var late []string // queued after the list was read
	for id := range res.Failed {
		if !slices.Contains(queued, id) {
			late = append(late, id)
		}
	}
	slices.Sort(late)
	for _, id := range slices.Concat(queued, late) {
		if err, ok := res.Failed[id]; ok {
			fmt.Fprintf(p.w, "failed %s: %v\n", id, err)
		}
	}
}
