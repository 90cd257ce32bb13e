package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
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
			rs, err := c.CachedImages()
			if err != nil {
				return err
			}
			queued, err := c.QueuedImages()
			if err != nil {
				return err
			}
			if asJSON {
				return writeListingJSON(cmd.OutOrStdout(), rs, queued)
			}
			return writeListing(cmd.OutOrStdout(), rs, queued, time.Now())
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON, as the management API's GET /cache")
	return cmd
}

// cacheListing is the JSON of GET /cache in the management API.
type cacheListing struct {
	CachedImages []cachedImage `json:"cached_images"`
	QueuedImages []string      `json:"queued_images"`
}

type cachedImage struct {
	ImageID      string   `json:"image_id"`
	Size         int64    `json:"size"`
	Hits         int64    `json:"hits"`
	LastAccessed listTime `json:"last_accessed"`
	LastModified listTime `json:"last_modified"`
	Checksum     string   `json:"checksum"` // "algo:hex", or "" for none
}

// listTime is a time as the management API writes it: RFC 3339 in UTC,
// with the fractional digits it needs; null for a time not recorded.
type listTime time.Time

func (t listTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return strconv.AppendQuote(nil, tt.UTC().Format(time.RFC3339Nano)), nil
}

func writeListingJSON(w io.Writer, rs []imagecache.Record, queued []string) error {
	l := cacheListing{CachedImages: make([]cachedImage, 0, len(rs)), QueuedImages: queued}
	if l.QueuedImages == nil {
		l.QueuedImages = []string{}
	}
	for _, r := range rs {
		l.CachedImages = append(l.CachedImages, cachedImage{
			ImageID:      r.ID,
			Size:         r.Size,
			Hits:         r.Hits,
			LastAccessed: listTime(r.LastAccessed),
			LastModified: listTime(r.LastModified),
			Checksum:     checksumText(r.Checksum),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}

func checksumText(s imagecache.Checksum) string {
	if s.IsZero() {
		return ""
	}
	return strings.ToLower(s.Algo + ":" + s.Hex)
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
