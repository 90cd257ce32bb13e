package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/arcache-go/arcache/imagecache"
)

func newListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the cached images and the prefetch queue",
		Long: `List the cached images, by id, with their sizes, hits, last access and
checksums, then the ids queued for prefetching, oldest first.

With --json, print what the management API's GET /cache answers:
{"cached_images":[{"image_id","size","hits","last_accessed",
"last_modified","checksum"}],"queued_images":[...]}, times in RFC 3339.`,
		Example: `  imagecache list --dir /var/cache/images
  imagecache list --dir /var/cache/images --json | jq '.cached_images[].image_id'`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := g.open(imagecache.Config{}, newLogger(cmd, slog.LevelWarn))
			if err != nil {
				return err
			}
			defer c.Close()
			if asJSON {
				return writeListingJSON(cmd.OutOrStdout(), c)
			}
			rs, err := c.CachedImages()
			if err != nil {
				return err
			}
			queued, err := c.QueuedImages()
			if err != nil {
				return err
			}
			return writeListing(cmd.OutOrStdout(), rs, queued, time.Now())
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, as the management API's GET /cache")
	return cmd
}

// writeListingJSON writes what the management API's GET /cache answers,
// from the handler itself, so that the two never differ; indented.
func writeListingJSON(w io.Writer, c *imagecache.Cache) error {
	rec := httptest.NewRecorder()
	imagecache.NewAdminHandler(c).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cache", nil))
	if rec.Code != http.StatusOK {
		var e struct{ Error string }
		json.Unmarshal(rec.Body.Bytes(), &e)
		return fmt.Errorf("list: %s", cmp.Or(e.Error, http.StatusText(rec.Code)))
	}
	var out bytes.Buffer
	if err := json.Indent(&out, rec.Body.Bytes(), "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err := out.WriteTo(w)
	return err
}

// shortChecksum keeps the table narrow: enough of the digest to tell
// images apart by eye; --json has it whole.
func shortChecksum(s imagecache.Checksum) string {
	if s.IsZero() {
		return "-"
	}
	const keep = 16
	if len(s.Hex) <= keep {
		return s.Algo + ":" + s.Hex
	}
	return s.Algo + ":" + s.Hex[:keep] + "…"
}

func writeListing(w io.Writer, rs []imagecache.Record, queued []string, now time.Time) error {
	var total int64
	for _, r := range rs {
		total += r.Size
	}
	fmt.Fprintf(w, "%s, %s\n", plural(len(rs), "cached image"), humanize.IBytes(uint64(max(total, 0))))
	if len(rs) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSIZE\tHITS\tLAST ACCESS\tCHECKSUM")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", r.ID, humanize.IBytes(uint64(max(r.Size, 0))), r.Hits,
				humanize.RelTime(r.LastAccessed, now, "ago", "from now"), shortChecksum(r.Checksum))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n%s", plural(len(queued), "queued image"))
	if len(queued) == 0 {
		_, err := fmt.Fprintln(w)
		return err
	}
	fmt.Fprintln(w, ", oldest first:")
	for _, id := range queued {
		if _, err := fmt.Fprintf(w, "  %s\n", id); err != nil {
			return err
		}
	}
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
