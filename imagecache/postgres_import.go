package imagecache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/arcache-go/arcache/internal/fsutil"
)

// importedSuffix is added to the name of a cache.db whose records went
// to postgres, so that they go once, and the file stays for an operator
// who wants to switch back.
const importedSuffix = ".migrated"

// pgImportTimeout bounds the import of a cache.db: a hundred thousand
// records is one statement of a few seconds.
const pgImportTimeout = time.Minute

// importSQLite brings the records of dir's cache.db, from the sqlite
// driver, over to this node, if it has none yet: sizes, hits, times and
// checksums, in one transaction. The file is then renamed aside. A node
// that has records already keeps them, and cache.db is left alone.
// Processes opening dir take turns under openLock, so one imports.
func (m *pgMeta) importSQLite(dir string, log *slog.Logger) error {
	path := filepath.Join(dir, dbFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	lock, err := fsutil.LockFile(filepath.Join(dir, openLock))
	if err != nil {
		return fmt.Errorf("import %s: %w", dbFile, err)
	}
	defer lock.Unlock()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil // another process imported it meanwhile
	}
	rs, err := readSQLite(path)
	if isCorrupt(err) {
		// The sqlite driver would have moved it aside and rebuilt the
		// records from the files; adopting the files does that here.
		log.Warn("imagecache: cache.db is damaged; its records are not brought over to postgres", "file", path, "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("import %s: %w", dbFile, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgImportTimeout)
	defer cancel()
	imported, err := m.insertAll(ctx, rs)
	if err != nil {
		return fmt.Errorf("import %s: %w", dbFile, m.fail(err))
	}
	if !imported && len(rs) > 0 {
		log.Warn("imagecache: cache.db left as it is: this node has records in postgres already", "node", m.url, "records", len(rs), "file", path)
	}
	if !imported {
		return nil
	}
	moved := path + importedSuffix
	for _, side := range []string{"", "-wal", "-shm"} {
		err := os.Rename(path+side, moved+side)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("import %s: the records are in postgres, but: %w", dbFile, err)
		}
	}
	log.Info("imagecache: brought the records of cache.db over to postgres", "node", m.url, "records", len(rs), "moved", moved)
	return nil
}

// readSQLite returns the records of the sqlite database path.
func readSQLite(path string) ([]Record, error) {
	src, err := openDB(path)
	if err != nil {
		return nil, err
	}
	defer src.close() // before the rename: the last to close removes -wal and -shm
	return src.all()
}

// insertAll inserts rs as this node's records, in one statement, unless
// the node has records already; it reports whether it did.
func (m *pgMeta) insertAll(ctx context.Context, rs []Record) (bool, error) {
	var (
		ids, algos, hexes         []string
		sizes, hits, accs, modifs []int64
	)
	for _, r := range rs {
		ids, algos, hexes = append(ids, r.ID), append(algos, r.Checksum.Algo), append(hexes, r.Checksum.Hex)
		sizes, hits = append(sizes, r.Size), append(hits, r.Hits)
		accs, modifs = append(accs, r.LastAccessed.UnixNano()), append(modifs, r.LastModified.UnixNano())
	}
	imported := false
	err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		var has bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cached_images WHERE node_id = $1)`, m.node).Scan(&has); err != nil || has {
			return err
		}
		imported = true
		if len(rs) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO cached_images (node_id, `+pgColumns+`)
			SELECT $1, r.* FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::text[]) AS r
			ON CONFLICT (node_id, image_id) DO NOTHING`,
			m.node, ids, sizes, hits, accs, modifs, algos, hexes)
		return err
	})
	return imported, err
}
