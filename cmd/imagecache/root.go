package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/arcache-go/arcache/imagecache"
)

// globals holds the flags that every command shares.
type globals struct {
	dir    string
	driver string
	dsn    string // --driver postgres: the database
	node   string // --driver postgres: this node's URL
}

// dsnEnv holds the database of --driver postgres when --dsn is not
// given, so that a password need not be on a command line.
const dsnEnv = "IMAGECACHE_DSN"

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "imagecache",
		Short: "Serve and tend an on-disk image cache",
		Long: `imagecache runs and tends an on-disk image cache: a directory of image
files fetched from an origin, kept within a byte budget and verified
against their checksums, after OpenStack Glance's image cache.

"imagecache serve" serves the images over HTTP in front of the origin,
with the management API and Prometheus metrics on a second, private
listener. The other commands do by hand what serve does from time to
time, and what Glance's glance-cache-* tools did from cron. Several
processes may use one cache directory at once.

Sizes are bytes, or numbers with a unit: KiB, MiB, GiB (or KB, MB, GB in
powers of ten).

With --driver postgres the metadata of a fleet of nodes lives in one
PostgreSQL database, after Glance's centralized_db: each node keeps its
files on its own disk and names itself with --node; "nodes" tells which
nodes hold an image and "forget-node" drops a departed node's records.
The database comes from --dsn or, to keep a password off the command
line, from $IMAGECACHE_DSN.`,
		Example: `  imagecache serve --dir /var/cache/images --origin http://images.internal:9292
  imagecache list --dir /var/cache/images
  imagecache prune --dir /var/cache/images --max-size 20GiB`,
		// execute prints errors, and points to the usage when the
		// command never ran.
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			// Not cobra's MarkPersistentFlagRequired: it would make
			// "imagecache help" ask for a directory too.
			if g.dir == "" && cmd.Name() != "help" {
				return errors.New(`required flag "dir" not set`)
			}
			switch g.driver {
			case imagecache.DriverSQLite, imagecache.DriverXattr:
				if g.dsn != "" || g.node != "" {
					return fmt.Errorf("--dsn and --node are for --driver %s", imagecache.DriverPostgres)
				}
				return nil
			case imagecache.DriverPostgres:
				if g.dsn == "" {
					g.dsn = os.Getenv(dsnEnv)
				}
				if g.dsn == "" || g.node == "" {
					return fmt.Errorf("--driver %s needs --dsn (or %s) and --node", imagecache.DriverPostgres, dsnEnv)
				}
				return nil
			}
			return fmt.Errorf("--driver %q: want %s, %s or %s", g.driver, imagecache.DriverSQLite, imagecache.DriverXattr, imagecache.DriverPostgres)
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVar(&g.dir, "dir", "", "the cache `directory` (required)")
	pf.StringVar(&g.driver, "driver", imagecache.DriverSQLite, "the metadata `driver`: sqlite, xattr or postgres")
	pf.StringVar(&g.dsn, "dsn", "", "with --driver postgres, the `database`, e.g. postgres://cache@db/images (default $"+dsnEnv+")")
	pf.StringVar(&g.node, "node", "", "with --driver postgres, this node's `URL`, as the fleet knows it")
	root.AddCommand(
		newServeCmd(g),
		newListCmd(g),
		newQueueCmd(g),
		newPrefetchCmd(g),
		newPruneCmd(g),
		newCleanCmd(g),
		newDeleteCmd(g),
		newVerifyCmd(g),
		newNodesCmd(g),
		newForgetNodeCmd(g),
	)
	return root
}

// runE makes f a command's RunE. Once flags and arguments have been
// parsed and checked, an error is not a matter of usage: execute prints
// it without pointing to the usage.
func runE(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		cmd.SilenceUsage = true
		return f(cmd, args)
	}
}

// open opens the cache the global flags name, with cfg's other settings,
// logging to log.
func (g *globals) open(cfg imagecache.Config, log *slog.Logger) (*imagecache.Cache, error) {
	cfg.Dir, cfg.Driver, cfg.DSN, cfg.Node = g.dir, g.driver, g.dsn, g.node
	return imagecache.New(cfg, imagecache.WithLogger(log))
}

// newLogger logs to the command's standard error, at level and above.
func newLogger(cmd *cobra.Command, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
}
