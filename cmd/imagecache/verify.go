package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/arcache-go/arcache/imagecache"
)

func newVerifyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Re-hash the cached images and remove those that fail",
		Long: `Re-hash every cached image that has a checksum. An image that does not
match is moved to invalid/, where the next clean removes it, and its
record is deleted; each is printed, and the exit status is then 1.`,
		Example: `  imagecache verify --dir /var/cache/images`,
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := g.open(imagecache.Config{}, newLogger(cmd, slog.LevelWarn))
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.Verify()
			out := cmd.OutOrStdout()
			for _, id := range res.Invalid {
				fmt.Fprintf(out, "invalid %s\n", id)
			}
			fmt.Fprintf(out, "checked %s, %d invalid\n", plural(res.Checked, "image"), len(res.Invalid))
			if err != nil {
				return err
			}
			if len(res.Invalid) > 0 {
				return fmt.Errorf("verify: %d of %s failed checksum verification; moved to invalid/", len(res.Invalid), plural(res.Checked, "image"))
			}
			return nil
		}),
	}
}
