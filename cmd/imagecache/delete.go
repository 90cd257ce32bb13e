package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/arcache-go/arcache/imagecache"
)

func newDeleteCmd(g *globals) *cobra.Command {
	var allCached, allQueued bool
	cmd := &cobra.Command{
		Use:   "delete (ID...|--all-cached|--all-queued)",
		Short: "Delete cached images or queued ids",
		Long: `Delete the images with the ids given from the cache and from the queue,
or, with --all-cached, every cached image, or, with --all-queued, the
whole queue. An id that was neither cached nor queued is an error, once
the others are deleted.`,
		Example: `  imagecache delete --dir /var/cache/images 4f0c7e3a-ubuntu-24.04
  imagecache delete --dir /var/cache/images --all-queued`,
		Args: func(cmd *cobra.Command, ids []string) error {
			forms := len(ids) > 0
			if allCached {
				if forms {
					return errors.New("give ids, --all-cached or --all-queued, not several")
				}
				forms = true
			}
			if allQueued && forms {
				return errors.New("give ids, --all-cached or --all-queued, not several")
			}
			if !forms && !allQueued {
				return errors.New("give ids, --all-cached or --all-queued")
			}
			for _, id := range ids {
				if !imagecache.ValidID(id) {
					return fmt.Errorf("delete %q: %w", id, imagecache.ErrInvalidID)
				}
			}
			return nil
		},
		RunE: runE(func(cmd *cobra.Command, ids []string) error {
			c, err := g.open(imagecache.Config{}, newLogger(cmd, slog.LevelWarn))
			if err != nil {
				return err
			}
			defer c.Close()
			out := cmd.OutOrStdout()
			switch {
			case allCached:
				n, err := c.DeleteAllCached()
				fmt.Fprintf(out, "deleted %s\n", plural(n, "cached image"))
				return err
			case allQueued:
				n, err := c.DeleteAllQueued()
				fmt.Fprintf(out, "deleted %s\n", plural(n, "queued image"))
				return err
			}
			var missing []string
			for _, id := range ids {
				// What was there, for the report; the deletes themselves
				// do not mind either way.
				cached, queued := c.IsCached(id), c.IsQueued(id)
				// The queue entry first: a prefetch meanwhile must not
				// bring the image back.
				if err := c.DeleteQueued(id); err != nil {
					return err
				}
				if err := c.DeleteCached(id); err != nil {
					return err
				}
				switch {
				case cached && queued:
					fmt.Fprintf(out, "deleted %s from the cache and the queue\n", id)
				case cached:
					fmt.Fprintf(out, "deleted %s from the cache\n", id)
				case queued:
					fmt.Fprintf(out, "deleted %s from the queue\n", id)
				default:
					missing = append(missing, id)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("delete: neither cached nor queued: %q", missing)
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&allCached, "all-cached", false, "delete every cached image")
	f.BoolVar(&allQueued, "all-queued", false, "empty the prefetch queue")
	return cmd
}
