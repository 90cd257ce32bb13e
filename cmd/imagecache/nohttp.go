//go:build !imagecache_http

package main

import "github.com/spf13/cobra"

// httpCommands are serve and prefetch, which need the package's HTTP
// handlers and origin; without the imagecache_http build tag there are
// none.
func httpCommands(*globals) []*cobra.Command { return nil }
