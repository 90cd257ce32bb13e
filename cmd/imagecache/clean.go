package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/arcache-go/arcache/imagecache"
)

func newCleanCmd(g *globals) *cobra.Command {
	var stall time.Duration
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove failed and stalled writes",
		Long: `Remove every failed write (in invalid/), and every write in progress
older than --stall whose writer is gone (Glance's glance-cache-cleaner).`,
		Example: `  imagecache clean --dir /var/cache/images --stall 2h`,
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if stall <= 0 {
				return fmt.Errorf("--stall %v: want a duration above 0", stall)
			}
			c, err := g.open(imagecache.Config{StallTime: stall}, newLogger(cmd, slog.LevelWarn))
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.Clean(stall)
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s and %s, %s\n",
				plural(res.Invalid, "invalid file"), plural(res.Stalled, "stalled file"), bytesText(res.Bytes))
			return err
		}),
	}
	cmd.Flags().DurationVar(&stall, "stall", 24*time.Hour, "how long a write may go unfinished before it counts as stalled")
	return cmd
}
