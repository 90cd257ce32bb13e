package imagecache_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/arcache-go/arcache/imagecache"
)

func ExampleCache_Verify() {
	dir, err := os.MkdirTemp("", "imagecache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := imagecache.New(imagecache.Config{Dir: dir}, imagecache.WithLogger(nil))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	for _, id := range []string{"kept", "damaged"} {
		image := "the bytes of " + id
		d := sha256.Sum256([]byte(image))
		sum := imagecache.Checksum{Algo: "sha256", Hex: hex.EncodeToString(d[:])}
		if _, err := c.CacheReader(id, strings.NewReader(image), sum); err != nil {
			log.Fatal(err)
		}
	}
	// Something other than the cache changes a file behind its back.
	if err := os.WriteFile(filepath.Join(dir, "data", "damaged"), []byte("the bytes of rot"), 0o644); err != nil {
		log.Fatal(err)
	}

	res, err := c.Verify()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("checked:", res.Checked)
	fmt.Println("invalid:", res.Invalid)
	fmt.Println("damaged still cached:", c.IsCached("damaged"))
	// Output:
	// checked: 2
	// invalid: [damaged]
	// damaged still cached: false
}
