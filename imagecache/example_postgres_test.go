package imagecache_test

import (
	"fmt"
	"log"
	"os"

	"github.com/arcache-go/arcache/imagecache"
)

// Two nodes of a fleet keep their records in one database; each caches
// an image on its own disk, and either can tell which nodes hold it. (It
// needs a PostgreSQL server: IMAGECACHE_DSN names one, as in
// "postgres://cache@db/images"; the password is best kept in ~/.pgpass.)
func ExampleCache_CachedNodes() {
	dsn := os.Getenv("IMAGECACHE_DSN")
	var nodes []*imagecache.Cache
	for _, node := range []string{"http://node-a:9292", "http://node-b:9292"} {
		dir, err := os.MkdirTemp("", "imagecache-example")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		c, err := imagecache.New(imagecache.Config{Dir: dir, Driver: imagecache.DriverPostgres, DSN: dsn, Node: node})
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		if _, err := c.CacheFile("ubuntu-24.04", "/srv/images/ubuntu-24.04.qcow2"); err != nil {
			log.Fatal(err)
		}
		nodes = append(nodes, c)
	}

	urls, err := nodes[0].CachedNodes("ubuntu-24.04")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(urls) // [http://node-a:9292 http://node-b:9292]
}

// A node that left the fleet, its disk with it, is forgotten from any
// other: its records would otherwise stay in the database for good.
func ExampleCache_ForgetNode() {
	dir, err := os.MkdirTemp("", "imagecache-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c, err := imagecache.New(imagecache.Config{
		Dir:    dir,
		Driver: imagecache.DriverPostgres,
		DSN:    os.Getenv("IMAGECACHE_DSN"),
		Node:   "http://node-a:9292",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	n, err := c.ForgetNode("http://node-b:9292")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("forgot node-b and its %d records\n", n)
}
