package main

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"os"

	"github.com/arcache-go/arcache"
	"github.com/arcache-go/arcache/internal/fsutil"
	"github.com/spf13/cobra"
)

// exportBatch is how many PNGs are made durable and put in place at a
// time: one sync for many files, and few temporary files left behind by
// a crash.
const exportBatch = 64

func newExportCmd() *cobra.Command {
	var progress progressFlag
	cmd := &cobra.Command{
		Use:   "export FILE DIR",
		Short: "Write each entry of a bin file as DIR/<key>.png",
		Long: `export writes each entry of the bin file FILE as the PNG file DIR/<key>.png,
creating DIR if need be and replacing files of the same names. Each file
is written whole or not at all: to a temporary file, synced, then renamed.
PNG keeps the pixels of every image type, though not the bounds' origin.

A progress bar is drawn on standard error when it is a terminal (see
--progress); a summary line is printed on standard output. A damaged file
exports the entries before the damage, then reports it and exits with
status 1. FILE "-" is standard input.`,
		Example: `  arcache export ~/.imgcache.bin /tmp/icons
  arcache export --progress=never toolbar.bin icons`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return export(cmd, args[0], args[1], progress)
		},
	}
	addProgressFlag(cmd, &progress)
	return cmd
}

func export(cmd *cobra.Command, path, dir string, progress progressFlag) error {
	in, err := openInput(cmd, path)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	var r io.Reader = in
	bar := progress.bar(cmd, in.size, "exporting")
	if bar != nil {
		r = &countingReader{r: in, bar: bar}
	}

	batch := fsutil.NewBatch(dir, 64<<10)
	enc := &png.Encoder{BufferPool: new(pngBuffers)}
	done := 0 // files in place
	commit := func() error {
		n := batch.Len()
		if err := batch.Commit(); err != nil {
			return err
		}
		done += n
		return nil
	}
	_, err = arcache.ReadBin(r, func(key string, img image.Image) error {
		if err := batch.Add(key+".png", func(w io.Writer) error { return enc.Encode(w, img) }); err != nil {
			return fmt.Errorf("%s.png: %w", key, err)
		}
		if bar != nil {
			bar.Describe(fmt.Sprintf("exporting %d", done+batch.Len()))
		}
		if batch.Len() >= exportBatch {
			return commit()
		}
		return nil
	})
	// What was read before an error is good: put it in place.
	if cerr := commit(); err == nil {
		err = cerr
	}
	if bar != nil {
		if err == nil {
			bar.Finish()
		} else {
			bar.Exit()
			fmt.Fprintln(cmd.ErrOrStderr())
		}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "exported %d %s to %s\n", done, plural(done, "image", "images"), dir)
	if err != nil {
		return fmt.Errorf("export %s: %w", in.name, cause(err, "read bin"))
	}
	return nil
}

// pngBuffers keeps the encoder's buffers from one image to the next.
type pngBuffers struct{ b *png.EncoderBuffer }

func (p *pngBuffers) Get() *png.EncoderBuffer  { b := p.b; p.b = nil; return b }
func (p *pngBuffers) Put(b *png.EncoderBuffer) { p.b = b }
