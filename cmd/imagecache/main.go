// Command imagecache runs and tends an on-disk image cache (package
// imagecache): it serves images in front of an origin, with a management
// API and Prometheus metrics, and lists, queues, prefetches, prunes,
// cleans, deletes and verifies the cached images from the command line,
// as Glance's glance-cache-* tools do.
//
// Usage:
//
//	imagecache serve --dir D --origin URL [--listen ADDR] [--admin-listen ADDR] [--max-size SIZE]
//	imagecache list --dir D [--json]
//	imagecache queue --dir D ID...
//	imagecache prefetch --dir D --origin URL [--workers N]
//	imagecache prune --dir D [--max-size SIZE]
//	imagecache clean --dir D [--stall DURATION]
//	imagecache delete --dir D (ID...|--all-cached|--all-queued)
//	imagecache verify --dir D
//
// Sizes are bytes, or numbers with a unit: KiB, MiB, GiB (or KB, MB, GB
// in powers of ten). Every command exits with status 1 on failure.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	// SIGINT and SIGTERM end the context: serve shuts down gracefully,
	// prefetch stops fetching. A second signal kills as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(execute(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs the command line args and returns the exit status.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, errorLine(err))
	if !cmd.SilenceUsage {
		// A matter of usage: the command never ran.
		fmt.Fprintf(stderr, "Run %q for usage.\n", cmd.CommandPath()+" --help")
	}
	return 1
}

// errorLine prefixes err with the command's name, once: the package's
// own errors carry it already.
func errorLine(err error) string {
	s := err.Error()
	if strings.HasPrefix(s, "imagecache: ") {
		return s
	}
	return "imagecache: " + s
}
