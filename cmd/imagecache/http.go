//go:build imagecache_http

package main

import "github.com/spf13/cobra"

// httpCommands are the commands that speak HTTP.
func httpCommands(g *globals) []*cobra.Command {
	return []*cobra.Command{newServeCmd(g), newPrefetchCmd(g)}
}
