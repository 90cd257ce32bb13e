package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/arcache-go/arcache/imagecache"
)

// defaultMaxSize is Glance's image_cache_max_size.
const defaultMaxSize = 10 << 30

func newPruneCmd(g *globals) *cobra.Command {
	maxSize := sizeFlag(defaultMaxSize)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove the least recently accessed images down to a size",
		Long: `Remove the least recently accessed images until the cache holds at most
--max-size bytes (Glance's glance-cache-pruner). An image never read
counts as accessed when it was cached.`,
		Example: `  imagecache prune --dir /var/cache/images --max-size 20GiB`,
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := g.open(imagecache.Config{MaxSize: int64(maxSize)}, newLogger(cmd, slog.LevelWarn))
			if err != nil {
				return err
			}
			defer c.Close()
			files, bytes, err := c.Prune()
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s, %s\n", plural(files, "file"), bytesText(bytes))
			return err
		}),
	}
	cmd.Flags().Var(&maxSize, "max-size", "the `size` to prune the cache down to")
	return cmd
}
