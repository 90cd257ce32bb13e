package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/arcache-go/arcache/imagecache"
)

func newNodesCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "nodes ID",
		Short: "List the nodes that hold an image",
		Long: `List the URLs of the nodes whose caches hold the image ID, one a line,
from the metadata the nodes of a fleet share. It needs --driver postgres;
the other drivers know of one node only.`,
		Example: `  IMAGECACHE_DSN=postgres://cache@db/images imagecache nodes --dir /var/cache/images \
      --driver postgres --node http://node-a:9292 4f0c7e3a-ubuntu-24.04`,
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := g.open(imagecache.Config{}, newLogger(cmd, slog.LevelWarn))
			if err != nil {
				return err
			}
			defer c.Close()
			nodes, err := c.CachedNodes(args[0])
			if err != nil {
				return err
			}
			for _, n := range nodes {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		}),
	}
}

func newForgetNodeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "forget-node URL",
		Short: "Delete the records of a node that has left the fleet",
		Long: `Delete every record of the node URL from the metadata the nodes of a
fleet share, as when a node has been replaced, and print how many went.
The node's files, on its own disk, are not touched. It needs --driver
postgres.`,
		Example: `  imagecache forget-node --dir /var/cache/images --driver postgres \
      --node http://node-a:9292 http://node-old:9292`,
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := g.open(imagecache.Config{}, newLogger(cmd, slog.LevelWarn))
			if err != nil {
				return err
			}
			defer c.Close()
			n, err := c.ForgetNode(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "forgot %s: %s\n", args[0], plural(n, "record"))
			return nil
		}),
	}
}
