package arcache_test

import (
	"bytes"
	_ "embed"
	"flag"
	"fmt"
	"image/color"
	"log"
	"os"
	"testing"

	"github.com/arcache-go/arcache"
)

// toolbar are the badges a program ships prebuilt.
var toolbar = []badgeArgs{
	{Fill: color.NRGBA{R: 0xd0, A: 0xff}, Size: 16},
	{Fill: color.NRGBA{G: 0xa0, A: 0xff}, Size: 16},
	{Fill: color.NRGBA{B: 0xc0, A: 0xff}, Size: 24},
}

// prebuilt is the bin file of the toolbar's badges, made at build time
// (here by go test -run TestPrebuiltBinFile -update-prebuilt).
//
//go:embed testdata/prebuilt/toolbar.bin
var prebuilt []byte

// A program can ship its icons prebuilt: LoadFrom reads a bin file
// embedded in the binary, and Provide finds every icon without building
// one and without touching the disk.
func ExampleSlugCache_LoadFrom() {
	cfg := arcache.DefaultConfig()
	cfg.BinFile = arcache.NoBinFile // nothing on disk: the icons come with the binary
	cache, err := arcache.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()
	n, err := cache.LoadFrom(bytes.NewReader(prebuilt))
	if err != nil {
		log.Fatal(err)
	}
	for _, args := range toolbar {
		// Named, so that the key does not depend on the package the
		// constructor lives in.
		if _, err := arcache.Provide(cache, badge, args, arcache.Name("badge")); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Printf("loaded %d icons; constructor calls: %d\n", n, cache.Stats().Builds)
	// Output: loaded 3 icons; constructor calls: 0
}

var updatePrebuilt = flag.Bool("update-prebuilt", false, "rewrite testdata/prebuilt/toolbar.bin")

// TestPrebuiltBinFile checks that the embedded bin file is what the
// toolbar's badges make today, so that the example cannot pass on a stale
// file.
func TestPrebuiltBinFile(t *testing.T) {
	cfg := arcache.DefaultConfig()
	cfg.CacheDir = t.TempDir()
	cfg.BinFile = arcache.NoBinFile
	cache, err := arcache.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	for _, args := range toolbar {
		if _, err := arcache.Provide(cache, badge, args, arcache.Name("badge")); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := cache.SaveTo(&buf); err != nil {
		t.Fatal(err)
	}
	if *updatePrebuilt {
		if err := os.WriteFile("testdata/prebuilt/toolbar.bin", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(buf.Bytes(), prebuilt) {
		t.Fatal("testdata/prebuilt/toolbar.bin is stale: run go test -run TestPrebuiltBinFile -update-prebuilt")
	}
}
