package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/arcache-go/arcache/imagecache"
)

// serveFlags are serve's settings.
type serveFlags struct {
	origin          string
	listen          string
	adminListen     string
	maxSize         sizeFlag
	autoPrune       bool
	pruneInterval   time.Duration
	cleanInterval   time.Duration
	prefetchEvery   time.Duration
	stall           time.Duration
	workers         int
	shutdownTimeout time.Duration
}

func newServeCmd(g *globals) *cobra.Command {
	s := serveFlags{maxSize: defaultMaxSize}
	cmd := &cobra.Command{
		Use:   "serve --origin URL",
		Short: "Serve the cached images in front of an origin",
		Long: `Serve the images over HTTP, GET and HEAD /ID, from the cache, or from the
origin (GET URL/ID) on a miss: one fetch per image however many clients
ask at once, streamed to the first while it is cached. Responses carry
an RFC 9211 Cache-Status header.

A second listener, on loopback by default, serves the management API
(GET /cache, PUT and DELETE /cache/ID, DELETE /cache, POST /cache/prune,
POST /cache/clean) and Prometheus metrics at /metrics.

Every --prune-interval the cache is pruned to --max-size, every
--clean-interval failed and stalled writes are removed, and every
--prefetch-interval the queue is fetched; 0 turns each off.

SIGTERM or SIGINT shuts down gracefully: the listeners close, requests in
flight finish (for up to --shutdown-timeout), and the cache is closed.`,
		Example: `  imagecache serve --dir /var/cache/images --origin http://glance.internal:9292/v2/images \
      --listen :9292 --max-size 50GiB --prefetch-interval 5m`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return serve(cmd.Context(), g, cmd, s)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&s.origin, "origin", "", "the origin's base `URL`: images are URL/ID (required)")
	f.StringVar(&s.listen, "listen", ":9292", "the `address` to serve images on")
	f.StringVar(&s.adminListen, "admin-listen", "127.0.0.1:9293", "the `address` to serve the management API and metrics on")
	f.Var(&s.maxSize, "max-size", "the `size` the prunes keep the cache to")
	f.BoolVar(&s.autoPrune, "auto-prune", false, "also prune whenever caching an image takes the cache over --max-size")
	f.DurationVar(&s.pruneInterval, "prune-interval", 10*time.Minute, "how often to prune the cache to --max-size (0: never)")
	f.DurationVar(&s.cleanInterval, "clean-interval", time.Hour, "how often to remove failed and stalled writes (0: never)")
	f.DurationVar(&s.prefetchEvery, "prefetch-interval", time.Minute, "how often to fetch the queued images (0: never)")
	f.DurationVar(&s.stall, "stall", 24*time.Hour, "how long a write may go unfinished before clean removes it")
	f.IntVar(&s.workers, "workers", 4, "how many queued images to fetch at once")
	f.DurationVar(&s.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to wait for requests in flight on shutdown")
	cmd.MarkFlagRequired("origin")
	return cmd
}

func (s serveFlags) check() error {
	switch {
	case s.workers < 1:
		return fmt.Errorf("--workers %d: want at least 1", s.workers)
	case s.pruneInterval < 0, s.cleanInterval < 0, s.prefetchEvery < 0:
		return errors.New("the intervals cannot be negative")
	case s.stall <= 0:
		return fmt.Errorf("--stall %v: want a duration above 0", s.stall)
	case s.shutdownTimeout < 0:
		return fmt.Errorf("--shutdown-timeout %v is negative", s.shutdownTimeout)
	case s.autoPrune && s.maxSize == 0:
		return errors.New("--auto-prune needs a --max-size above 0")
	}
	return nil
}

// Timeouts of both listeners. There is no read or write timeout: an
// image may take long to send, and a read timeout would cancel the
// request's context in the middle of it.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// serve runs until ctx ends, then shuts down.
func serve(ctx context.Context, g *globals, cmd *cobra.Command, s serveFlags) error {
	if err := s.check(); err != nil {
		return err
	}
	originName, err := checkOrigin(s.origin)
	if err != nil {
		return err
	}
	log := newLogger(cmd, slog.LevelInfo)
	c, err := g.open(imagecache.Config{MaxSize: int64(s.maxSize), StallTime: s.stall, AutoPrune: s.autoPrune}, log)
	if err != nil {
		return err
	}
	defer c.Close()

	m := newMetrics(c)
	origin := m.countFetches(imagecache.HTTPOrigin(s.origin, newOriginClient()))
	admin := http.NewServeMux()
	admin.Handle("/metrics", m.handler())
	admin.Handle("/", imagecache.NewAdminHandler(c))

	// Listening first makes ":0" work, and a busy port fails before
	// anything runs.
	pl, err := net.Listen("tcp", s.listen)
	if err != nil {
		return err
	}
	defer pl.Close()
	al, err := net.Listen("tcp", s.adminListen)
	if err != nil {
		return err
	}
	defer al.Close()
	if !isLoopback(al.Addr()) {
		log.Warn("imagecache: the management API is reachable from other hosts: anyone there can delete images", "addr", al.Addr().String())
	}

	servers := []*http.Server{
		newServer(m.instrument(imagecache.NewHandler(c, origin)), log),
		newServer(admin, log),
	}
	errc := make(chan error, len(servers))
	for i, l := range []net.Listener{pl, al} {
		go func() { errc <- servers[i].Serve(l) }()
	}
	log.Info("imagecache: serving images", "addr", pl.Addr().String(), "origin", originName, "dir", g.dir, "driver", c.Driver())
	log.Info("imagecache: serving the management API and metrics", "addr", al.Addr().String())

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var tasks sync.WaitGroup
	startTasks(bg, &tasks, c, origin, m, log, s)

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("imagecache: shutting down", "timeout", s.shutdownTimeout)
	case serveErr = <-errc:
		log.Error("imagecache: a listener failed; shutting down", "err", serveErr)
	}
	stopBackground()
	shutdownErr := shutdown(servers, s.shutdownTimeout)
	tasks.Wait()
	if shutdownErr != nil {
		log.Warn("imagecache: requests still in flight were cut off", "err", shutdownErr)
	}
	if err := c.Close(); err != nil {
		return err
	}
	log.Info("imagecache: stopped")
	return serveErr
}

func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// shutdown stops the servers accepting and waits for their requests in
// flight, for up to timeout; then it closes what is left.
func shutdown(servers []*http.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		wg.Go(func() {
			if errs[i] = srv.Shutdown(ctx); errs[i] != nil {
				srv.Close()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// startTasks starts the periodic prune, clean and prefetch, which end
// with ctx.
func startTasks(ctx context.Context, wg *sync.WaitGroup, c *imagecache.Cache, origin imagecache.Fetcher, m *metrics, log *slog.Logger, s serveFlags) {
	every := func(d time.Duration, task func()) {
		if d <= 0 {
			return
		}
		wg.Go(func() {
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					task()
				}
			}
		})
	}
	every(s.pruneInterval, func() {
		files, bytes, err := c.Prune()
		m.prunedFiles.Add(float64(files))
		m.prunedBytes.Add(float64(bytes))
		logTask(log, err, files > 0, "imagecache: pruned", "files", files, "bytes", bytes)
	})
	every(s.cleanInterval, func() {
		res, err := c.Clean(s.stall)
		m.cleanedFiles.Add(float64(res.Invalid + res.Stalled))
		logTask(log, err, res.Invalid+res.Stalled > 0, "imagecache: cleaned", "invalid", res.Invalid, "stalled", res.Stalled, "bytes", res.Bytes)
	})
	every(s.prefetchEvery, func() {
		res, err := c.Prefetch(ctx, origin, s.workers)
		if ctx.Err() != nil {
			err = nil // shutting down: what is left stays queued
		}
		m.prefetched.WithLabelValues("cached").Add(float64(len(res.Cached)))
		m.prefetched.WithLabelValues("skipped").Add(float64(len(res.Skipped)))
		m.prefetched.WithLabelValues("failed").Add(float64(len(res.Failed)))
		for id, ferr := range res.Failed {
			if ctx.Err() == nil {
				log.Warn("imagecache: prefetch failed; the image stays queued", "id", id, "err", ferr)
			}
		}
		logTask(log, err, len(res.Cached)+len(res.Skipped)+len(res.Failed) > 0, "imagecache: prefetched",
			"cached", len(res.Cached), "skipped", len(res.Skipped), "failed", len(res.Failed))
	})
}

// logTask logs what a periodic task did: an error as such, a task that
// did something at level info, one that found nothing to do at debug.
func logTask(log *slog.Logger, err error, did bool, msg string, args ...any) {
	switch {
	case err != nil:
		log.Error(msg, append(args, "err", err)...)
	case did:
		log.Info(msg, args...)
	default:
		log.Debug(msg, args...)
	}
}
