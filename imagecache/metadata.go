package imagecache

import (
	"fmt"
	"log/slog"
	"path/filepath"
)

// metadata keeps the records of cached images. There are three: sqlite,
// in cache.db, xattr, in extended attributes of the files in data/, and
// postgres, in a database many nodes share.
type metadata interface {
	// put creates or replaces a record.
	put(r Record) error
	get(id string) (Record, bool, error)
	// all returns every record.
	all() ([]Record, error)
	// addHits adds counted hits to the records they name, and moves
	// each record's last access forward to the time of its last hit. A
	// missing record is not an error: its image was removed meanwhile.
	addHits(batch map[string]pendingHit) error
	// size returns the total size of the records.
	size() (int64, error)
	// remove deletes the records of ids; a missing record is not an
	// error.
	remove(ids ...string) error
	close() error
}

// openMetadata opens the driver cfg.Driver names in cfg.Dir, and reports
// which one it opened: where extended attributes do not work, the xattr
// driver falls back to sqlite with a warning.
func openMetadata(cfg Config, log *slog.Logger) (metadata, string, error) {
	switch cfg.Driver {
	case "", DriverSQLite:
	case DriverPostgres:
		m, err := openPostgres(cfg, log)
		if err != nil {
			return nil, "", fmt.Errorf("open postgres metadata: %w", err)
		}
		return m, DriverPostgres, nil
	case DriverXattr:
		m, err := openXattr(filepath.Join(cfg.Dir, dataDir))
		if err == nil {
			return m, DriverXattr, nil
		}
		log.Warn("imagecache: extended attributes do not work here; using sqlite", "dir", cfg.Dir, "err", err)
	default:
		return nil, "", fmt.Errorf("%w: unknown driver %q", ErrConfig, cfg.Driver)
	}
	m, err := openSQLite(cfg.Dir, log)
	if err != nil {
		return nil, "", fmt.Errorf("open sqlite metadata: %w", err)
	}
	return m, DriverSQLite, nil
}
