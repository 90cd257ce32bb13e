package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/arcache-go/arcache/imagecache"
	"github.com/arcache-go/arcache/internal/pgtest"
)

// Two nodes on one database: nodes lists both for an image they share,
// forget-node drops one's records, and the database may come from
// IMAGECACHE_DSN.
func TestNodesAndForgetNode(t *testing.T) {
	dsn := pgtest.Start(t).CreateDB(t)
	const a, b = "http://node-a:9292", "http://node-b:9292"
	dirs := map[string]string{a: t.TempDir(), b: t.TempDir()}
	for _, node := range []string{a, b} {
		c := openCache(t, dirs[node], imagecache.Config{Driver: imagecache.DriverPostgres, DSN: dsn, Node: node})
		for _, id := range []string{"shared", "only-" + strings.TrimPrefix(node, "http://")[:6]} {
			if ok, err := c.CacheReader(id, bytes.NewReader([]byte(id)), imagecache.Checksum{}); !ok || err != nil {
				t.Fatalf("cache %s on %s: %v, %v", id, node, ok, err)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	pg := []string{"--driver", "postgres", "--dsn", dsn}
	out := mustRun(t, append([]string{"nodes", "--dir", dirs[a], "--node", a, "shared"}, pg...)...)
	if out != a+"\n"+b+"\n" {
		t.Errorf("nodes shared printed %q; want both nodes", out)
	}
	t.Setenv(dsnEnv, dsn)
	out = mustRun(t, "forget-node", "--dir", dirs[a], "--driver", "postgres", "--node", a, b)
	if out != "forgot "+b+": 2 records\n" {
		t.Errorf("forget-node printed %q", out)
	}
	out = mustRun(t, "nodes", "--dir", dirs[a], "--driver", "postgres", "--node", a, "shared")
	if out != a+"\n" {
		t.Errorf("nodes after forget-node printed %q; want node a alone", out)
	}
	// The other drivers know of one node only.
	if _, errs, code := run(t, "nodes", "--dir", t.TempDir(), "shared"); code != 1 || !strings.Contains(errs, "unsupported") {
		t.Errorf("nodes with sqlite: exit %d, %q; want 1 and an unsupported operation", code, errs)
	}
}
