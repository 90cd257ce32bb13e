package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/arcache-go/arcache/imagecache"
)

func newQueueCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "queue ID...",
		Short: "Queue images for prefetching",
		Long: `Add the ids to the prefetch queue, in the order given; "imagecache
prefetch", or a running "imagecache serve", fetches them. An id cached,
being written or queued already is left as it is. An invalid id queues
nothing.`,
		Example: `  imagecache queue --dir /var/cache/images 4f0c7e3a-ubuntu-24.04 9b1d-debian-12`,
		Args:    cobra.MinimumNArgs(1),
		RunE: runE(func(cmd *cobra.Command, ids []string) error {
			for _, id := range ids {
				if !imagecache.ValidID(id) {
					return fmt.Errorf("queue %q: %w", id, imagecache.ErrInvalidID)
				}
			}
			c, err := g.open(imagecache.Config{}, newLogger(cmd, slog.LevelWarn))
			if err != nil {
				return err
			}
			defer c.Close()
			out := cmd.OutOrStdout()
			for _, id := range ids {
				queued, err := c.Queue(id)
				switch {
				case err != nil:
					return err
				case queued:
					fmt.Fprintf(out, "queued %s\n", id)
				case c.IsCached(id):
					fmt.Fprintf(out, "%s: already cached\n", id)
				case c.IsQueued(id):
					fmt.Fprintf(out, "%s: already queued\n", id)
				default:
					fmt.Fprintf(out, "%s: being cached\n", id)
				}
			}
			return nil
		}),
	}
}
