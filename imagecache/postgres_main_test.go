package imagecache

import (
	"os"
	"testing"

	"github.com/arcache-go/arcache/internal/pgtest"
)

// TestMain lets the postgres tests share one PostgreSQL server, each in
// databases of its own, and start their own servers from one initdb.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
