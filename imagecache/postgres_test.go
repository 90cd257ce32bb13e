//go:build linux

package imagecache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/arcache-go/arcache/internal/pgtest"
)

// pgNode opens a cache of node on the database dsn in dir, closed when the
// test ends.
func pgNode(t *testing.T, dir, dsn, node string, logs *icLogBuffer) *Cache {
	t.Helper()
	return icOpen(t, Config{Dir: dir, Driver: DriverPostgres, DSN: dsn, Node: node}, logs)
}

// pgQuery runs sql on dsn and returns the first column of each row as
// text.
func pgQuery(t *testing.T, dsn, sql string, args ...any) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	col, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		v, err := r.Values()
		if err != nil || len(v) == 0 {
			return "", err
		}
		return fmt.Sprint(v[0]), nil
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return col
}

// Settings of the postgres driver are checked before anything is touched.
func TestPostgresConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Driver: DriverPostgres, Node: "http://a"},
		{Driver: DriverPostgres, DSN: "host=/nowhere"},
		{Driver: DriverSQLite, DSN: "host=/nowhere"},
		{Driver: DriverXattr, Node: "http://a"},
		{DSN: "host=/nowhere", Node: "http://a"},
		{Driver: DriverPostgres, DSN: "postgres://u:secret@db:port/x", Node: "http://a"},
	} {
		cfg.Dir = t.TempDir()
		c, err := New(cfg, WithLogger(nil))
		if !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v; want ErrConfig", cfg, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("New(%+v) = %v; shows the password", cfg, err)
		}
		if c != nil {
			c.Close()
		}
	}
}

// Other drivers keep one node's records: CachedNodes and ForgetNode are
// unsupported there.
func TestNodesUnsupported(t *testing.T) {
	c := icOpen(t, Config{Dir: t.TempDir()}, &icLogBuffer{})
	if urls, err := c.CachedNodes("a"); !errors.Is(err, errors.ErrUnsupported) || urls != nil || !strings.HasPrefix(err.Error(), "imagecache: nodes of a: ") {
		t.Errorf("CachedNodes on sqlite = %q, %v; want errors.ErrUnsupported", urls, err)
	}
	if n, err := c.ForgetNode("http://b"); !errors.Is(err, errors.ErrUnsupported) || n != 0 || !strings.HasPrefix(err.Error(), "imagecache: forget node http://b: ") {
		t.Errorf("ForgetNode on sqlite = %d, %v; want errors.ErrUnsupported", n, err)
	}
	if _, err := c.CachedNodes("../a"); !errors.Is(err, ErrInvalidID) {
		t.Errorf("CachedNodes of an invalid id: %v; want ErrInvalidID", err)
	}
	c.Close()
	if _, err := c.CachedNodes("a"); !errors.Is(err, ErrClosed) {
		t.Errorf("CachedNodes after Close: %v; want ErrClosed", err)
	}
	if _, err := c.ForgetNode("http://b"); !errors.Is(err, ErrClosed) {
		t.Errorf("ForgetNode after Close: %v; want ErrClosed", err)
	}
}

// Two nodes on one database: each sees, sizes and prunes its own records
// only; CachedNodes shows both; ForgetNode removes the other's.
func TestPostgresTwoNodes(t *testing.T) {
	dsn := pgtest.Shared(t).CreateDB(t)
	const urlA, urlB = "http://node-a:9292", "http://node-b:9292"
	logs := &icLogBuffer{}
	a := pgNode(t, t.TempDir(), dsn, urlA, logs)
	b := pgNode(t, t.TempDir(), dsn, urlB, logs)
	icCache(t, a, "shared", icBytes(1, 100), Checksum{})
	icCache(t, a, "only-a", icBytes(2, 200), Checksum{})
	icCache(t, b, "shared", icBytes(3, 400), icSum("sha256", icBytes(3, 400)))
	icCache(t, b, "only-b", icBytes(4, 800), Checksum{})
	icRead(t, b, "shared")

	for _, tc := range []struct {
		c    *Cache
		ids  []string
		size int64
	}{{a, []string{"only-a", "shared"}, 300}, {b, []string{"only-b", "shared"}, 1200}} {
		if ids := icIDs(t, tc.c); !slices.Equal(ids, tc.ids) {
			t.Errorf("node %s lists %q; want %q", tc.c.cfg.Node, ids, tc.ids)
		}
		if n, err := tc.c.Size(); n != tc.size || err != nil {
			t.Errorf("node %s: Size = %d, %v; want %d", tc.c.cfg.Node, n, err, tc.size)
		}
	}
	if n, err := a.HitCount("shared"); n != 0 || err != nil {
		t.Errorf("node a: HitCount of shared = %d, %v; want 0 (the hit was b's)", n, err)
	}
	if r := icRecordOf(t, b, "shared"); r.Hits != 1 || r.Checksum.Algo != "sha256" {
		t.Errorf("node b's record of shared: %+v; want 1 hit and its checksum", r)
	}

	for id, want := range map[string][]string{"shared": {urlA, urlB}, "only-a": {urlA}, "only-b": {urlB}, "none": nil} {
		for _, c := range []*Cache{a, b} {
			if got, err := c.CachedNodes(id); !slices.Equal(got, want) || err != nil {
				t.Errorf("node %s: CachedNodes(%s) = %q, %v; want %q", c.cfg.Node, id, got, err, want)
			}
		}
	}

	// A prune of a removes a's images only.
	a.cfg.MaxSize = 0
	if files, bytes, err := a.Prune(); files != 2 || bytes != 300 || err != nil {
		t.Errorf("node a: Prune = %d, %d, %v; want 2, 300", files, bytes, err)
	}
	if ids := icIDs(t, b); !slices.Equal(ids, []string{"only-b", "shared"}) {
		t.Errorf("after a's prune node b lists %q", ids)
	}
	icCache(t, a, "shared", icBytes(1, 100), Checksum{})

	// Node b leaves the fleet; a forgets it.
	if n, err := a.ForgetNode(urlB); n != 2 || err != nil {
		t.Errorf("ForgetNode(b) = %d, %v; want 2", n, err)
	}
	if got, err := a.CachedNodes("shared"); !slices.Equal(got, []string{urlA}) || err != nil {
		t.Errorf("after ForgetNode(b), CachedNodes(shared) = %q, %v; want only a", got, err)
	}
	if got := pgQuery(t, dsn, `SELECT node_url FROM node_reference ORDER BY node_url`); !slices.Equal(got, []string{urlA}) {
		t.Errorf("node_reference after ForgetNode(b): %q; want only a", got)
	}
	if n, err := a.ForgetNode(urlB); n != 0 || err != nil {
		t.Errorf("ForgetNode(b) again = %d, %v; want 0", n, err)
	}
	if n, err := a.ForgetNode("http://never:9292"); n != 0 || err != nil {
		t.Errorf("ForgetNode of an unknown node = %d, %v; want 0", n, err)
	}
	if n, err := a.ForgetNode(urlA); err == nil || n != 0 {
		t.Errorf("ForgetNode of the cache's own node = %d, %v; want an error", n, err)
	}
	if ids := icIDs(t, a); !slices.Equal(ids, []string{"shared"}) {
		t.Errorf("node a lists %q after the ForgetNodes; want [shared]", ids)
	}
}

// Six nodes starting at once on an empty database all make it, and the
// schema is made once.
func TestPostgresStartTogether(t *testing.T) {
	dsn := pgtest.Shared(t).CreateDB(t)
	const nodes = 6
	caches := make([]*Cache, nodes)
	errs := make([]error, nodes)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range nodes {
		dir := t.TempDir()
		wg.Go(func() {
			<-start
			caches[i], errs[i] = New(Config{Dir: dir, Driver: DriverPostgres, DSN: dsn, Node: fmt.Sprintf("http://node-%d:9292", i)}, WithLogger(nil))
		})
	}
	close(start)
	wg.Wait()
	for i, c := range caches {
		if errs[i] != nil {
			t.Errorf("node %d: New: %v", i, errs[i])
			continue
		}
		icCache(t, c, "img", icBytes(uint64(i), 10+i), Checksum{})
		if err := c.Close(); err != nil {
			t.Errorf("node %d: Close: %v", i, err)
		}
	}
	if got := pgQuery(t, dsn, `SELECT count(*) FROM node_reference`); !slices.Equal(got, []string{"6"}) {
		t.Errorf("node_reference holds %s rows; want 6", got)
	}
	if got := pgQuery(t, dsn, `SELECT count(*) FROM cached_images WHERE image_id = 'img'`); !slices.Equal(got, []string{"6"}) {
		t.Errorf("cached_images holds %s records of img; want 6", got)
	}
	want := fmt.Sprint(len(pgMigrations) - 1)
	if got := pgQuery(t, dsn, `SELECT version FROM schema_version WHERE name = $1`, pgSchemaName); !slices.Equal(got, []string{want}) {
		t.Errorf("schema_version = %q; want [%s]", got, want)
	}
}

// A schema newer than the program's stops New, rather than be written in
// a form the program does not know.
func TestPostgresNewerSchema(t *testing.T) {
	dsn := pgtest.Shared(t).CreateDB(t)
	pgNode(t, t.TempDir(), dsn, "http://a", &icLogBuffer{}).Close()
	pgQuery(t, dsn, `UPDATE schema_version SET version = 99 WHERE name = $1`, pgSchemaName)
	c, err := New(Config{Dir: t.TempDir(), Driver: DriverPostgres, DSN: dsn, Node: "http://a"}, WithLogger(nil))
	if err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("New on a schema of version 99 = %v; want an error naming it", err)
	}
	if c != nil {
		c.Close()
	}
}

// A hundred reads, then Close: the node opened again counts them all.
func TestPostgresHitsAcrossReopen(t *testing.T) {
	dsn := pgtest.Shared(t).CreateDB(t)
	dir := t.TempDir()
	logs := &icLogBuffer{}
	c := pgNode(t, dir, dsn, "http://a", logs)
	icCache(t, c, "img", icBytes(5, 1000), Checksum{})
	for range 100 {
		icRead(t, c, "img")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = pgNode(t, dir, dsn, "http://a", logs)
	if n, err := c.HitCount("img"); n != 100 || err != nil {
		t.Errorf("HitCount after Close and New = %d, %v; want 100", n, err)
	}
}

// A directory of the sqlite driver opened with postgres brings its records
// over, exactly and once.
func TestPostgresFromSQLite(t *testing.T) {
	dsn := pgtest.Shared(t).CreateDB(t)
	dir := t.TempDir()
	logs := &icLogBuffer{}
	s := icOpen(t, Config{Dir: dir}, logs)
	for i := range 5 {
		b := icBytes(uint64(10+i), 100*(i+1))
		sum := Checksum{}
		if i%2 == 0 {
			sum = icSum("sha256", b)
		}
		icCache(t, s, fmt.Sprint("img-", i), b, sum)
		for range i {
			icRead(t, s, fmt.Sprint("img-", i))
		}
	}
	want, err := s.CachedImages()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	p := pgNode(t, dir, dsn, "http://a", logs)
	got, err := p.CachedImages()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, recordsEqual) {
		t.Errorf("records after the switch to postgres:\n%+v\nwant those of sqlite:\n%+v", got, want)
	}
	if n := strings.Count(logs.String(), "brought the records of cache.db over"); n != 1 || !strings.Contains(logs.String(), "records=5") {
		t.Errorf("the log says %d times that the records were brought over, with a count of 5: %v\n%s", n, strings.Contains(logs.String(), "records=5"), logs)
	}
	names := icNames(t, dir)
	if slices.Contains(names, dbFile) || !slices.Contains(names, dbFile+importedSuffix) {
		t.Errorf("the directory after the switch holds %q; want %s moved to %s", names, dbFile, dbFile+importedSuffix)
	}

	// Once: the records are not brought over again, the hits not doubled.
	icRead(t, p, "img-4")
	p.Close()
	p = pgNode(t, dir, dsn, "http://a", logs)
	if n, err := p.HitCount("img-4"); n != 5 || err != nil {
		t.Errorf("HitCount of img-4 after reopening = %d, %v; want 5", n, err)
	}
	if n := strings.Count(logs.String(), "brought the records"); n != 1 {
		t.Errorf("the records were brought over %d times; want once", n)
	}
}

func recordsEqual(a, b Record) bool {
	return a.ID == b.ID && a.Size == b.Size && a.Hits == b.Hits && a.Checksum == b.Checksum &&
		a.LastAccessed.Equal(b.LastAccessed) && a.LastModified.Equal(b.LastModified)
}

// A node that has records in postgres already keeps them, and leaves a
// cache.db that appears later alone.
func TestPostgresFromSQLiteNodeHasRecords(t *testing.T) {
	dsn := pgtest.Shared(t).CreateDB(t)
	dir := t.TempDir()
	logs := &icLogBuffer{}
	p := pgNode(t, dir, dsn, "http://a", logs)
	icCache(t, p, "pg", icBytes(1, 10), Checksum{})
	p.Close()
	s := icOpen(t, Config{Dir: dir}, logs) // adopts data/pg, records it in cache.db
	icCache(t, s, "sqlite", icBytes(2, 20), Checksum{})
	s.Close()

	p = pgNode(t, dir, dsn, "http://a", logs)
	if ids := icIDs(t, p); !slices.Equal(ids, []string{"pg", "sqlite"}) { // sqlite adopted from data/
		t.Errorf("node lists %q; want [pg sqlite]", ids)
	}
	if _, err := os.Stat(filepath.Join(dir, dbFile)); err != nil {
		t.Errorf("cache.db: %v; want it left in place", err)
	}
	if !strings.Contains(logs.String(), "cache.db left as it is") {
		t.Errorf("the log does not say cache.db was left:\n%s", logs)
	}
}

// A restart of the database fails no call, though the pool's connections
// all went with it. While the database is away, a cached image is still
// read, and its hit written once the database is back; calls that need the
// database fail at once, naming the server and not the password.
func TestPostgresDatabaseAway(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.CreateDB(t) + " password=secret" // trust authentication ignores it
	logs := &icLogBuffer{}
	c := pgNode(t, t.TempDir(), dsn, "http://a", logs)
	b := icBytes(6, 5000)
	icCache(t, c, "img", b, Checksum{})
	icRead(t, c, "img")
	if n, err := c.HitCount("img"); n != 1 || err != nil {
		t.Fatalf("HitCount = %d, %v; want 1", n, err)
	}

	var wg sync.WaitGroup
	for range 8 { // several connections, idle from now on
		wg.Go(func() { c.Size() })
	}
	wg.Wait()
	srv.Restart(t)
	for i := range 8 {
		if n, err := c.Size(); n != int64(len(b)) || err != nil {
			t.Errorf("Size #%d after a restart of the database = %d, %v; want %d", i+1, n, err, len(b))
		}
	}

	srv.Stop()
	if got := icRead(t, c, "img"); len(got) != len(b) {
		t.Fatalf("read %d bytes with the database away; want %d", len(got), len(b))
	}
	if !c.IsCached("img") {
		t.Error("IsCached = false with the database away")
	}
	_, err := c.HitCount("img")
	if err == nil || !strings.Contains(err.Error(), srv.Dir()) || strings.Contains(err.Error(), "secret") {
		t.Errorf("HitCount with the database away: %v; want an error naming %s, without the password", err, srv.Dir())
	}
	if _, err := c.CachedNodes("img"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("CachedNodes with the database away: %v; want an error without the password", err)
	}

	srv.Restart(t)
	if n, err := c.HitCount("img"); n != 2 || err != nil {
		t.Errorf("HitCount once the database is back = %d, %v; want 2 (the hit made while it was away kept)", n, err)
	}
}

// New on a database that cannot be reached fails at once, naming the host,
// never the password.
func TestPostgresUnreachable(t *testing.T) {
	for _, tc := range []struct{ dsn, host string }{
		{"postgres://cache:secret@127.0.0.1:1/images", "127.0.0.1:1"},
		{"host=127.0.0.1 port=1 user=cache password=secret dbname=images", "127.0.0.1:1"},
		{"host=" + t.TempDir() + " password=secret", "/"},
	} {
		c, err := New(Config{Dir: t.TempDir(), Driver: DriverPostgres, DSN: tc.dsn, Node: "http://a"}, WithLogger(nil))
		if c != nil {
			c.Close()
		}
		if err == nil || !strings.Contains(err.Error(), "postgres at "+tc.host) || strings.Contains(err.Error(), "secret") {
			t.Errorf("New on %s = %v; want an error naming %s, without the password", tc.dsn, err, tc.host)
		}
	}
}

// The password is kept out of an error even where a message quotes it.
func TestPostgresErrorHidesPassword(t *testing.T) {
	m := &pgMeta{where: "postgres at db:5432", secret: "s3cret!"}
	err := m.fail(fmt.Errorf("wrapped: %w", errors.New("password s3cret! refused")))
	if got := err.Error(); strings.Contains(got, "s3cret!") || !strings.HasPrefix(got, "postgres at db:5432: ") {
		t.Errorf("error = %q; want it named by the server, without the password", got)
	}
	if m.fail(nil) != nil {
		t.Error("fail(nil) != nil")
	}
}
