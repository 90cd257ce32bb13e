package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// progressFlag is the --progress flag of the commands that draw a bar.
type progressFlag string

const (
	progressAuto   = "auto"
	progressAlways = "always"
	progressNever  = "never"
)

func (p *progressFlag) String() string { return string(*p) }
func (p *progressFlag) Type() string   { return "when" }
func (p *progressFlag) Set(s string) error {
	switch s {
	case progressAuto, progressAlways, progressNever:
		*p = progressFlag(s)
		return nil
	}
	return fmt.Errorf("%q is not auto, always or never", s)
}

func addProgressFlag(cmd *cobra.Command, p *progressFlag) {
	*p = progressAuto
	cmd.Flags().Var(p, "progress", "draw a progress bar on standard error: auto (when it is a terminal), always or never")
}

// bar returns a progress bar of total bytes on cmd's standard error, or
// nil when there should be none.
func (p progressFlag) bar(cmd *cobra.Command, total int64, desc string) *progressbar.ProgressBar {
	w := cmd.ErrOrStderr()
	if p == progressNever || p == progressAuto && !isTerminal(w) {
		return nil
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetSpinnerChangeInterval(0), // no goroutine drawing behind our back
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// isTerminal reports whether w is a terminal. A character device is taken
// for one: the other character devices a program's standard error meets,
// such as /dev/null, show nothing anyway.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// countingReader adds what it reads to a progress bar.
type countingReader struct {
	r   io.Reader
	bar *progressbar.ProgressBar
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bar.Add(n)
	return n, err
}
