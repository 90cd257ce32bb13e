package imagecache

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Fetcher fetches the image id, for Prefetch and NewHandler, with the
// checksum to verify it against (the zero Checksum checks nothing). When
// ctx ends, the fetch and the reads of its body should end too, with an
// error: Close waits for the fetches a handler runs on its own.
type Fetcher func(ctx context.Context, id string) (io.ReadCloser, Checksum, error)

// PrefetchResult reports what Prefetch did with each queued id.
type PrefetchResult struct {
	Cached, Skipped []string         // fetched into the cache; already cached
	Failed          map[string]error // still queued
}

// Prefetch fetches the queued ids into the cache, at most workers at once,
// in queue order. Ids already cached are skipped and taken off the queue;
// an id that fails stays queued, and Prefetch goes on with the others.
// When ctx ends, ids not yet fetched fail with an error matching
// ctx.Err(), and so does Prefetch.
func (c *Cache) Prefetch(ctx context.Context, fetch Fetcher, workers int) (PrefetchResult, error) {
	res := PrefetchResult{Failed: map[string]error{}}
	if err := c.checkOpen("prefetch"); err != nil {
		return res, err
	}
	ids, err := c.queuedInOrder()
	if err != nil {
		return res, fmt.Errorf("imagecache: prefetch: %w", err)
	}
	workers = max(workers, 1)
	outcome := make([]error, len(ids)) // nil: cached
	skipped := make([]bool, len(ids))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, id := range ids {
		if c.IsCached(id) {
			skipped[i] = true
			c.DeleteQueued(id)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			outcome[i] = fmt.Errorf("imagecache: fetch %s: %w", id, err)
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			outcome[i] = c.prefetchOne(ctx, fetch, id)
		})
	}
	wg.Wait()
	for i, id := range ids {
		switch {
		case skipped[i]:
			res.Skipped = append(res.Skipped, id)
		case outcome[i] != nil:
			res.Failed[id] = outcome[i]
		default:
			res.Cached = append(res.Cached, id)
		}
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("imagecache: prefetch: %w", err)
	}
	return res, nil
}

func (c *Cache) prefetchOne(ctx context.Context, fetch Fetcher, id string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("imagecache: fetch %s: panic: %v", id, r)
		}
	}()
	rc, sum, err := fetch(ctx, id)
	if err != nil {
		return fetchError(id, err)
	}
	defer rc.Close()
	// CacheReader returns the body's errors as they are, and its own
	// with the package's name already.
	cached, err := c.CacheReader(id, fetchedBody{rc, id}, sum)
	if err != nil {
		return err
	}
	if !cached {
		if c.IsCached(id) {
			return nil // another writer finished it
		}
		return fmt.Errorf("imagecache: fetch %s: another writer has it", id)
	}
	return nil
}

// fetchedBody names the image in the errors of a fetched body.
type fetchedBody struct {
	r  io.Reader
	id string
}

func (b fetchedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("imagecache: fetch %s: %w", b.id, err)
	}
	return n, err
}

// fetchError names id in a Fetcher's error, unless the error comes from
// this package (HTTPOrigin's do) and so names it already.
func fetchError(id string, err error) error {
	if strings.HasPrefix(err.Error(), "imagecache: ") {
		return err
	}
	return fmt.Errorf("imagecache: fetch %s: %w", id, err)
}
