package imagecache

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// pgMigrations[v] takes the schema from version v-1 to v; the schema's
// version is the last index. A later version appends a step, never edits
// one: nodes migrate a shared database from whatever version it has.
var pgMigrations = []string{
	1: `CREATE TABLE node_reference (
		node_id  serial PRIMARY KEY,
		node_url text NOT NULL UNIQUE
	);
	CREATE TABLE cached_images (
		node_id       integer NOT NULL REFERENCES node_reference ON DELETE CASCADE,
		image_id      text NOT NULL,
		size          bigint NOT NULL,
		hits          bigint NOT NULL DEFAULT 0,
		last_accessed bigint NOT NULL, -- Unix nanoseconds
		last_modified bigint NOT NULL,
		checksum_algo text NOT NULL DEFAULT '',
		checksum_hex  text NOT NULL DEFAULT '',
		PRIMARY KEY (node_id, image_id)
	);
	CREATE INDEX cached_images_image_id ON cached_images (image_id);`,
}

// pgSchemaLock is the key of the advisory lock under which nodes create
// and migrate the schema one at a time: CREATE TABLE IF NOT EXISTS alone
// fails in one of two nodes that run it at once on an empty database.
// (It is the first 8 bytes of the SHA-256 of "imagecache schema", big-endian.)
const pgSchemaLock int64 = 0x31b1d1c38c9c5447

// pgSchemaName is this package's row in schema_version, which other
// software sharing the database may keep versions in too.
const pgSchemaName = "imagecache"

// setup brings the schema to the latest version and finds or makes this
// node's row, in one transaction under pgSchemaLock.
func (m *pgMeta) setup(ctx context.Context) error {
	return pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgSchemaLock); err != nil {
			return fmt.Errorf("lock the schema: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			name    text PRIMARY KEY,
			version integer NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		var v int
		err := tx.QueryRow(ctx, `SELECT version FROM schema_version WHERE name = $1`, pgSchemaName).Scan(&v)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("read the schema version: %w", err)
		}
		latest := len(pgMigrations) - 1
		if v > latest {
			return fmt.Errorf("the schema is at version %d, newer than this program's %d", v, latest)
		}
		for next := v + 1; next <= latest; next++ {
			if _, err := tx.Exec(ctx, pgMigrations[next]); err != nil {
				return fmt.Errorf("migrate the schema to version %d: %w", next, err)
			}
		}
		if v < latest {
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version (name, version) VALUES ($1, $2)
				ON CONFLICT (name) DO UPDATE SET version = excluded.version`, pgSchemaName, latest); err != nil {
				return fmt.Errorf("record the schema version: %w", err)
			}
		}
		// DO UPDATE, not DO NOTHING: RETURNING then gives the id of a
		// row that was already there.
		err = tx.QueryRow(ctx, `INSERT INTO node_reference (node_url) VALUES ($1)
			ON CONFLICT (node_url) DO UPDATE SET node_url = excluded.node_url
			RETURNING node_id`, m.url).Scan(&m.node)
		if err != nil {
			return fmt.Errorf("register node %s: %w", m.url, err)
		}
		return nil
	})
}
