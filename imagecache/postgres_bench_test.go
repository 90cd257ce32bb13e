package imagecache

import (
	"testing"

	"github.com/arcache-go/arcache/internal/pgtest"
)

// BenchmarkPrunePostgres is BenchmarkPrune with the postgres driver, on a
// server on a Unix socket of this machine; compare with BenchmarkPrune.
func BenchmarkPrunePostgres(b *testing.B) {
	benchPrune(b, Config{Driver: DriverPostgres, DSN: pgtest.Shared(b).CreateDB(b), Node: "http://bench:9292"})
}
