package imagecache

import "time"

// metadata keeps the records of cached images. There are two: sqlite, in
// cache.db, and xattr, in extended attributes of the files in data/.
type metadata interface {
	// put creates or replaces a record.
	put(r Record) error
	get(id string) (Record, bool, error)
	// all returns every record.
	all() ([]Record, error)
	// hit counts one read to the end of id, at time at.
	hit(id string, at time.Time) error
	// remove deletes the records of ids; a missing record is not an
	// error.
	remove(ids ...string) error
	close() error
}
