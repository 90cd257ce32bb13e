package imagecache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgMeta keeps this node's records in a PostgreSQL database that many
// nodes share, as Glance's centralized_db does: every query is scoped to
// the node's row in node_reference.
type pgMeta struct {
	pool *pgxpool.Pool
	node int32  // this node's node_id
	url  string // this node's URL, node_url
	// where names the server in errors, as "postgres at HOST:PORT" or
	// "postgres at SOCKETDIR"; secret is the password, which no error
	// may show.
	where, secret string
}

const (
	// pgConnectTimeout bounds a connection attempt when the DSN sets no
	// connect_timeout: a database that is away fails calls in seconds,
	// instead of the minutes a TCP connect can take.
	pgConnectTimeout = 2 * time.Second
	// pgQueryTimeout bounds a query on a server that is reached but does
	// not answer.
	pgQueryTimeout = 10 * time.Second
)

// openPostgres connects to cfg.DSN, creates or migrates the schema,
// registers cfg.Node, and brings over the records of a cache.db that
// cfg.Dir had from the sqlite driver.
func openPostgres(cfg Config, log *slog.Logger) (*pgMeta, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		// pgx's message quotes the DSN, with the password masked where it
		// can tell which part that is; a DSN it cannot parse may not say.
		return nil, fmt.Errorf("%w: DSN: not a PostgreSQL connection string (key=value) or URL (postgres://)", ErrConfig)
	}
	cc := pc.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = pgConnectTimeout
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = "imagecache"
	}
	m := &pgMeta{url: cfg.Node, where: "postgres at " + hostOf(cc.Host, cc.Port), secret: cc.Password}
	if m.pool, err = pgxpool.NewWithConfig(context.Background(), pc); err != nil {
		return nil, m.fail(err)
	}
	if err := m.do(m.setup); err != nil {
		m.pool.Close()
		return nil, err
	}
	if err := m.importSQLite(cfg.Dir, log); err != nil {
		m.pool.Close()
		return nil, err
	}
	return m, nil
}

// hostOf names a server for errors: a socket directory, or host:port.
func hostOf(host string, port uint16) string {
	if strings.HasPrefix(host, "/") {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// pgError is an error of the database, named by where and shown without
// the password even if a message were ever to quote it.
type pgError struct {
	where, secret string
	err           error
}

func (e *pgError) Error() string {
	s := e.where + ": " + e.err.Error()
	if e.secret != "" {
		s = strings.ReplaceAll(s, e.secret, "xxxxx")
	}
	return s
}

func (e *pgError) Unwrap() error { return e.err }

// fail names the server in err.
func (m *pgMeta) fail(err error) error {
	if err == nil {
		return nil
	}
	return &pgError{where: m.where, secret: m.secret, err: err}
}

// do runs f, a call's queries, within pgQueryTimeout. A connection that
// the server closed (it restarted, or failed over) fails its next query
// before the query runs, and so would every idle connection of the pool:
// do then drops them all and runs f once more, on a new connection.
func (m *pgMeta) do(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), pgQueryTimeout)
	defer cancel()
	err := f(ctx)
	if err != nil && ctx.Err() == nil && closedUnused(err) {
		m.pool.Reset()
		err = f(ctx)
	}
	return m.fail(err)
}

// closedUnused reports an error of a connection that was closed before
// the query reached the server: nothing was sent (on a Unix socket the
// write fails), or the server had ended the session when it shut down
// (on TCP the write succeeds and the server's goodbye is read).
func closedUnused(err error) bool {
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "57P01" || pe.Code == "57P02") // admin_shutdown, crash_shutdown
}

const pgColumns = `image_id, size, hits, last_accessed, last_modified, checksum_algo, checksum_hex`

func (m *pgMeta) put(r Record) error {
	return m.do(func(ctx context.Context) error {
		_, err := m.pool.Exec(ctx, `INSERT INTO cached_images (node_id, `+pgColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (node_id, image_id) DO UPDATE SET size = excluded.size, hits = excluded.hits,
				last_accessed = excluded.last_accessed, last_modified = excluded.last_modified,
				checksum_algo = excluded.checksum_algo, checksum_hex = excluded.checksum_hex`,
			m.node, r.ID, r.Size, r.Hits, r.LastAccessed.UnixNano(), r.LastModified.UnixNano(), r.Checksum.Algo, r.Checksum.Hex)
		return err
	})
}

func (m *pgMeta) get(id string) (Record, bool, error) {
	var r Record
	err := m.do(func(ctx context.Context) (err error) {
		r, err = scanRecord(m.pool.QueryRow(ctx, `SELECT `+pgColumns+` FROM cached_images WHERE node_id = $1 AND image_id = $2`, m.node, id))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Record{}, false, nil
	}
	return r, err == nil, err
}

func (m *pgMeta) all() ([]Record, error) {
	var rs []Record
	err := m.do(func(ctx context.Context) error {
		rows, err := m.pool.Query(ctx, `SELECT `+pgColumns+` FROM cached_images WHERE node_id = $1`, m.node)
		if err != nil {
			return err
		}
		rs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) { return scanRecord(row) })
		return err
	})
	return rs, err
}

// addHits writes a batch in one statement, one round trip however many
// ids it holds. An access time only moves forward: another process of
// this node may have recorded a later one.
func (m *pgMeta) addHits(batch map[string]pendingHit) error {
	ids := make([]string, 0, len(batch))
	ns := make([]int64, 0, len(batch))
	ats := make([]int64, 0, len(batch))
	for id, p := range batch {
		ids, ns, ats = append(ids, id), append(ns, p.n), append(ats, p.at.UnixNano())
	}
	return m.do(func(ctx context.Context) error {
		_, err := m.pool.Exec(ctx, `UPDATE cached_images AS c
			SET hits = c.hits + h.n, last_accessed = GREATEST(c.last_accessed, h.at)
			FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS h(id, n, at)
			WHERE c.node_id = $1 AND c.image_id = h.id`, m.node, ids, ns, ats)
		return err
	})
}

func (m *pgMeta) size() (int64, error) {
	var n int64
	err := m.do(func(ctx context.Context) error {
		return m.pool.QueryRow(ctx, `SELECT COALESCE(SUM(size), 0)::bigint FROM cached_images WHERE node_id = $1`, m.node).Scan(&n)
	})
	return n, err
}

// remove deletes the records in one statement: a prune of thousands is
// one round trip.
func (m *pgMeta) remove(ids ...string) error {
	return m.do(func(ctx context.Context) error {
		_, err := m.pool.Exec(ctx, `DELETE FROM cached_images WHERE node_id = $1 AND image_id = ANY($2::text[])`, m.node, ids)
		return err
	})
}

func (m *pgMeta) close() error {
	m.pool.Close()
	return nil
}

// nodesOf returns the URLs of the nodes that hold a record of id.
func (m *pgMeta) nodesOf(id string) ([]string, error) {
	var urls []string
	err := m.do(func(ctx context.Context) error {
		rows, err := m.pool.Query(ctx, `SELECT n.node_url FROM cached_images AS c JOIN node_reference AS n USING (node_id)
			WHERE c.image_id = $1 ORDER BY n.node_url`, id)
		if err != nil {
			return err
		}
		urls, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return urls, err
}

// forgetNode deletes the records of the node url and the node itself, and
// returns how many records there were.
func (m *pgMeta) forgetNode(url string) (int, error) {
	if url == m.url {
		return 0, errors.New("that is this cache's own node")
	}
	var n int
	err := m.do(func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `DELETE FROM cached_images WHERE node_id = (SELECT node_id FROM node_reference WHERE node_url = $1)`, url)
			if err != nil {
				return err
			}
			n = int(tag.RowsAffected())
			_, err = tx.Exec(ctx, `DELETE FROM node_reference WHERE node_url = $1`, url)
			return err
		})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
