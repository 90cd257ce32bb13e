package main

import (
	"fmt"
	"image"

	"github.com/arcache-go/arcache"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
)

func newVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify FILE",
		Short: "Check every record of a bin file",
		Long: `verify reads the bin file FILE to its end and checks every record: its
key, its pixels against their checksum, its image's shape, and the count
in the file's trailer.

A sound file prints a one-line summary and exits with status 0. A damaged
one (cut short, altered, or of a newer format) exits with status 1 and
reports the first bad record: its index from 0, its key where it can be
read, and how many good records come before it. FILE "-" is standard input.`,
		Example: `  arcache verify ~/.imgcache.bin && echo sound
  arcache verify - < toolbar.bin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verify(cmd, args[0])
		},
	}
}

func verify(cmd *cobra.Command, path string) error {
	in, err := openInput(cmd, path)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer in.Close()
	var total int64
	n, err := arcache.ReadBin(in, func(_ string, img image.Image) error {
		total += arcache.PixelBytes(img)
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify %s: %w", in.name, cause(err, "read bin"))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: sound, %d %s, %d pixel bytes (%s)\n",
		in.name, n, plural(n, "record", "records"), total, humanize.IBytes(uint64(total)))
	return nil
}
