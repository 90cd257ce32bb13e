// Package imagecache keeps image files fetched from elsewhere (an HTTP
// origin, an object store, another disk) in a local directory, within a
// byte budget, verified against their checksums, for all the goroutines
// and processes of a host. It is modelled on OpenStack Glance's image
// cache, with its faults fixed.
//
// # Caching an image
//
// An image enters the cache as it is read from its source.
// [Cache.CachingReader] wraps the source: every byte passes through to
// the caller (a decoder, an HTTP response) while it is written to the
// cache, and the image is committed when the source reaches io.EOF.
// [Cache.CacheReader] reads a source to its end into the cache, and
// [Cache.CacheFile] copies a file. A write goes to incomplete/<id>, which
// only one writer can create: another writer of the same id, or a writer
// of an id already cached, passes its data through uncached. A commit
// syncs the file, renames it into data/ and records it.
//
// # Reading an image
//
// [Cache.OpenForRead] opens a cached image; reading it to the end and
// closing it counts a hit and sets its last access time, by which Prune
// chooses. [Cache.IsCached], [Cache.ImageSize], [Cache.HitCount] and
// [Cache.CachedImages] tell what is cached, and [Cache.Size] its total.
//
// Hits are counted in memory and written to the metadata in batches,
// within half a second and on [Cache.Close], so that a hit costs about
// what reading the file does. HitCount, CachedImages and Prune see this
// process's hits exactly; other processes see them within a second, and
// a crash loses at most that second's counts.
//
// # Serving over HTTP
//
// [NewHandler] serves a cache as glance-api's cache middleware did:
// GET and HEAD /{id} answer from disk, with ETags, conditional requests
// and ranges, and an image not cached is fetched from its origin once,
// however many requests ask for it, and streamed to the first while it
// is cached. [HTTPOrigin] is a [Fetcher] for an origin that serves
// images over HTTP, with their digests in Repr-Digest, Content-Digest or
// Content-MD5. [NewAdminHandler] is Glance's cache management API (list,
// queue, delete, clear, prune, clean), for a private listener. The
// imagecache command serves both, with Prometheus metrics.
//
// # Checksums
//
// A [Checksum] is the digest (md5, sha256 or sha512) an image must have;
// the zero Checksum checks nothing. A mismatch is returned, as an error
// matching [ErrChecksum], by the Read that would have returned io.EOF, so
// a caller that reads to the end never takes damaged data for a whole
// image. Every failed write (a mismatch, a source error, a reader closed
// early, a full disk) goes to invalid/, and nothing is cached.
// [Cache.Verify] hashes the cached images again and moves those that no
// longer match their checksums to invalid/.
//
// # Keeping within the budget
//
// [Cache.Prune] removes the least recently accessed images until the
// cache holds at most [Config.MaxSize] bytes. With [Config.AutoPrune], a
// commit that takes the cache over MaxSize prunes; it goes by a running
// estimate of the size instead of reading every record. [Cache.Clean]
// removes failed writes, and writes that stalled and whose writer is
// gone. [Cache.DeleteCached] and [Cache.DeleteAllCached] remove images
// by hand.
//
// # Prefetching
//
// [Cache.Queue] adds an id to a queue kept on disk in order of insertion,
// exact across processes, at about the cost of creating an empty file;
// [Cache.Prefetch] fetches the queued ids through a [Fetcher], several at
// once, skips those cached meanwhile, and leaves those that fail queued.
//
// # Metadata
//
// The records of the images (size, hits, access and modification times
// in nanoseconds, checksum) are kept by one of three drivers, chosen by
// [Config.Driver]: [DriverSQLite], the default, in cache.db (SQLite in WAL
// mode); [DriverXattr], in user extended attributes of each file; or
// [DriverPostgres], in a PostgreSQL database that a fleet of nodes shares.
// Where extended attributes do not work (a file system without them, a
// system other than Linux), [New] falls back to sqlite with a warning;
// [Cache.Driver] tells which is in use. A file in data/ without a record,
// such as one whose recording a crash cut short, is adopted when the
// cache opens.
//
// # A fleet on PostgreSQL
//
// With [DriverPostgres], after Glance's centralized_db, each node keeps
// its files on its own disk and its records in one database, named by
// [Config.DSN], under its own URL, [Config.Node]; every query is this
// node's alone. New makes or migrates the schema under an advisory lock,
// so that nodes starting together on an empty database all succeed, and
// brings a directory's sqlite records along, once, when a node switches.
// [Cache.CachedNodes] tells which nodes hold an image, and
// [Cache.ForgetNode] drops the records of a node that has gone. While the
// database is away, cached images are still read and their hits kept for
// it; calls that need it fail within seconds, with errors that name its
// host but never a password.
//
// # Concurrency
//
// A [Cache] is safe for concurrent use by multiple goroutines, and
// several processes may open one directory at once. Writers of one id
// exclude each other through the file system; commits, deletes and
// prunes take turns under a lock file; a hit is counted without losing
// another's. Each process keeps its own AutoPrune estimate and measures
// it again about once a second, to see what the others did.
//
// # Layout
//
// A cache directory holds:
//
//	data/        finished images, one file per id; nothing else
//	incomplete/  images being written
//	invalid/     writes that failed, until the next Clean
//	queue/       ids waiting for Prefetch
//	cache.db     the metadata, with the sqlite driver
//	*.lock       advisory locks that keep processes apart
//	queue.seq    the queue's order: a numbered line per Queue
//
// An id is 1 to 200 bytes of letters, digits, '.', '_' and '-', and not
// "." or ".." ([ValidID]); any other id is an error matching
// [ErrInvalidID] before the file system is touched.
//
// # Errors
//
// Errors read "imagecache: <operation> <subject>: <cause>" and match the
// package's sentinels ([ErrNotFound], [ErrInvalidID], [ErrChecksum],
// [ErrClosed], [ErrConfig]) with errors.Is where one applies. A source's
// own errors are handed on as they are.
package imagecache
