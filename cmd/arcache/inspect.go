package main

import (
	"fmt"
	"image"
	"text/tabwriter"

	"github.com/arcache-go/arcache"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE",
		Short: "List the entries of a bin file",
		Long: `inspect lists the entries of the bin file FILE in file order, least
recently used first: each entry's key, image type, bounds and bytes, the
pixel bytes that the cache's max_bytes counts. The totals follow.

A damaged file lists the entries before the damage, then reports it and
exits with status 1. FILE "-" is standard input.`,
		Example: `  arcache inspect ~/.imgcache.bin
  arcache inspect - < toolbar.bin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return inspect(cmd, args[0])
		},
	}
}

func inspect(cmd *cobra.Command, path string) error {
	in, err := openInput(cmd, path)
	if err != nil {
		return fmt.Errorf("inspect: %w", err)
	}
	defer in.Close()
	out := cmd.OutOrStdout()
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tTYPE\tBOUNDS\tBYTES")
	var total int64
	n, err := arcache.ReadBin(in, func(key string, img image.Image) error {
		b := arcache.PixelBytes(img)
		total += b
		_, err := fmt.Fprintf(tw, "%s\t%T\t%v\t%d\n", key, img, img.Bounds(), b)
		return err
	})
	if ferr := tw.Flush(); err == nil {
		err = ferr
	}
	fmt.Fprintf(out, "%d %s, %d bytes (%s)\n", n, plural(n, "entry", "entries"), total, humanize.IBytes(uint64(total)))
	if err != nil {
		return fmt.Errorf("inspect %s: %w", in.name, cause(err, "read bin"))
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
