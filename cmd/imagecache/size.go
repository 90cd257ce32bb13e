package main

import (
	"fmt"
	"math"

	"github.com/dustin/go-humanize"
)

// sizeFlag is a byte count given as "512MiB", "10GiB", "1.5GB" or plain
// bytes; every size flag parses through it.
type sizeFlag int64

func (s *sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func (s *sizeFlag) String() string { return humanize.IBytes(uint64(*s)) }

func (s *sizeFlag) Type() string { return "size" }

func parseSize(v string) (int64, error) {
	n, err := humanize.ParseBytes(v)
	if err != nil || n > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size: want bytes, or a number with KiB, MiB, GiB (or KB, MB, GB)", v)
	}
	return int64(n), nil
}

// bytesText is n as people read it: "9.8 KiB (10000 bytes)".
func bytesText(n int64) string {
	if n < 1024 {
		return humanize.IBytes(uint64(max(n, 0)))
	}
	return fmt.Sprintf("%s (%d bytes)", humanize.IBytes(uint64(n)), n)
}
