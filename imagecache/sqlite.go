package imagecache

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"modernc.org/sqlite" // also the database/sql driver "sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/arcache-go/arcache/internal/fsutil"
)

// sqliteMeta keeps records in cache.db. WAL mode and a busy timeout let
// several processes share it.
type sqliteMeta struct{ db *sql.DB }

const openLock = "open.lock"

const schema = `CREATE TABLE IF NOT EXISTS images (
	id            TEXT PRIMARY KEY,
	size          INTEGER NOT NULL,
	hits          INTEGER NOT NULL DEFAULT 0,
	last_accessed INTEGER NOT NULL, -- Unix nanoseconds
	last_modified INTEGER NOT NULL,
	checksum_algo TEXT NOT NULL DEFAULT '',
	checksum_hex  TEXT NOT NULL DEFAULT ''
)`

// openSQLite opens cache.db in dir. Switching a new database to WAL
// mode needs it to itself, so processes opening one directory at once
// take turns under openLock.
//
// A cache.db that is not a database, or a damaged one, is moved to
// invalid/ and a new one made: New then adopts the files in data/, which
// loses their hit counts and checksums but not the images.
func openSQLite(dir string, log *slog.Logger) (*sqliteMeta, error) {
	lock, err := fsutil.LockFile(filepath.Join(dir, openLock))
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	path := filepath.Join(dir, dbFile)
	m, err := openDB(path)
	if !isCorrupt(err) {
		return m, err
	}
	moved, qerr := fsutil.Quarantine(path, filepath.Join(dir, invalidDir))
	if qerr != nil {
		return nil, fmt.Errorf("%w; moving it aside: %w", err, qerr)
	}
	for _, side := range []string{"-wal", "-shm"} {
		os.Remove(path + side) // they belong to the damaged file
	}
	log.Warn("imagecache: cache.db is damaged; moved aside, records rebuilt from the files", "moved", moved, "err", err)
	return openDB(path)
}

func openDB(path string) (*sqliteMeta, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, err
	}
	return &sqliteMeta{db}, nil
}

// isCorrupt reports an error that says the database file is damaged.
func isCorrupt(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	code := e.Code() & 0xff // the primary code of an extended one
	return code == sqlite3.SQLITE_NOTADB || code == sqlite3.SQLITE_CORRUPT
}

func (m *sqliteMeta) put(r Record) error {
	_, err := m.db.Exec(`INSERT INTO images (id, size, hits, last_accessed, last_modified, checksum_algo, checksum_hex)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET size = excluded.size, hits = excluded.hits,
			last_accessed = excluded.last_accessed, last_modified = excluded.last_modified,
			checksum_algo = excluded.checksum_algo, checksum_hex = excluded.checksum_hex`,
		r.ID, r.Size, r.Hits, r.LastAccessed.UnixNano(), r.LastModified.UnixNano(), r.Checksum.Algo, r.Checksum.Hex)
	return err
}

const columns = `id, size, hits, last_accessed, last_modified, checksum_algo, checksum_hex`

func scanRecord(s interface{ Scan(...any) error }) (Record, error) {
	var r Record
	var accessed, modified int64
	err := s.Scan(&r.ID, &r.Size, &r.Hits, &accessed, &modified, &r.Checksum.Algo, &r.Checksum.Hex)
	r.LastAccessed, r.LastModified = time.Unix(0, accessed), time.Unix(0, modified)
	return r, err
}

func (m *sqliteMeta) get(id string) (Record, bool, error) {
	r, err := scanRecord(m.db.QueryRow(`SELECT `+columns+` FROM images WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, false, nil
	}
	return r, err == nil, err
}

func (m *sqliteMeta) all() ([]Record, error) {
	rows, err := m.db.Query(`SELECT ` + columns + ` FROM images`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// addHits writes a batch in one transaction. An access time only moves
// forward: another process may have recorded a later one.
func (m *sqliteMeta) addHits(batch map[string]pendingHit) error {
	tx, err := m.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	st, err := tx.Prepare(`UPDATE images SET hits = hits + ?, last_accessed = MAX(last_accessed, ?) WHERE id = ?`)
	if err != nil {
		return err
	}
	defer st.Close()
	for id, p := range batch {
		if _, err := st.Exec(p.n, p.at.UnixNano(), id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (m *sqliteMeta) size() (int64, error) {
	var n int64
	err := m.db.QueryRow(`SELECT COALESCE(SUM(size), 0) FROM images`).Scan(&n)
	return n, err
}

// remove deletes the records in one transaction: a prune of thousands
// commits once.
func (m *sqliteMeta) remove(ids ...string) error {
	if len(ids) == 1 {
		_, err := m.db.Exec(`DELETE FROM images WHERE id = ?`, ids[0])
		return err
	}
	tx, err := m.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	st, err := tx.Prepare(`DELETE FROM images WHERE id = ?`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, id := range ids {
		if _, err := st.Exec(id); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func (m *sqliteMeta) close() error { return m.db.Close() }
