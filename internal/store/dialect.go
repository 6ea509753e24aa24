package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the embedded default backend
)

// dialect is everything that differs between SQLite and Postgres. The SQL
// elsewhere is written once with ? placeholders and rebound here.
type dialect struct {
	name string
	// skipLocked is appended to the SELECT that picks deliveries to claim,
	// so concurrent instances skip each other's rows.
	skipLocked string
	// forUpdate locks a selected row until commit.
	forUpdate string
	// numbered placeholders ($1, $2…) instead of ?.
	numbered bool
	// writers is the number of group-commit transactions run at once.
	writers int
	// serialTx: a write transaction holds the database's one write lock
	// from its BEGIN (SQLite's BEGIN IMMEDIATE), so what it reads stays
	// true until it commits, whatever other connections do. Intake then
	// reads and writes its subject states once per batch (subjectBatch).
	serialTx bool
	// conflict, if set, reports an error that aborted a transaction only
	// because of a concurrent one (deadlock): the batch runs again.
	conflict func(error) bool
	// cancelStatements passes the batch's deadline to each statement of a
	// write transaction: a database across the network may hang.
	cancelStatements bool
	// text, if set, adapts every string written: Postgres text holds
	// neither NUL nor invalid UTF-8, which a vendor may send and SQLite
	// takes as is.
	text func(string) string
}

var (
	sqliteDialect   = dialect{name: "sqlite", writers: 1, serialTx: true}
	postgresDialect = dialect{name: "postgres", skipLocked: " FOR UPDATE SKIP LOCKED", forUpdate: " FOR UPDATE", numbered: true,
		conflict: pgConflict, text: pgText, cancelStatements: true}
)

// q rebinds a query written with ? placeholders.
func (d dialect) q(query string) string {
	if !d.numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// IsPostgres reports whether dsn names a Postgres database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

func (s *Store) openDialect(ctx context.Context, dsn string) (dialect, *sql.DB, *sql.DB, error) {
	if IsPostgres(dsn) {
		return s.openPostgres(ctx, dsn)
	}
	return openSQLite(ctx, dsn)
}

// sqliteDSN turns a file path into a modernc DSN with the pragmas that make
// commits durable (WAL, synchronous=FULL) and writers wait for each other.
func sqliteDSN(path string, readOnly bool) string {
	v := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "temp_store(MEMORY)"} {
		v.Add("_pragma", p)
	}
	if readOnly {
		v.Add("_pragma", "query_only(1)")
	} else {
		v.Set("_txlock", "immediate")
		// The page cache holds a busy batch's dirty pages (a batch of 20
		// intakes and outcomes dirties a few hundred) without spilling them
		// to the WAL mid-transaction, and no more: SQLite walks the cache's
		// hash table at every commit (pcache1TruncateUnsafe in a CPU
		// profile), so each cached page costs every commit. Once full, a
		// 32 MiB cache took 31 % of the CPU of a 3-row commit in a
		// standalone program, 8 MiB 11 %; go run ./bench served 3.5 % more
		// callbacks with 8 MiB than with 32 (2 MiB: the same as 8), and at
		// half load, warm, serve took 3 % less CPU per callback and 47 MiB
		// less memory. Checkpoints run from their own connection
		// (checkpoint.go); the writer's autocheckpoint is the backstop.
		v.Add("_pragma", "cache_size(-8192)")
		v.Add("_pragma", "wal_autocheckpoint(20000)")
	}
	return "file:" + path + "?" + v.Encode()
}

func openSQLite(ctx context.Context, path string) (dialect, *sql.DB, *sql.DB, error) {
	path = strings.TrimPrefix(path, "sqlite://")
	db, err := sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		return dialect{}, nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// One writer connection: SQLite serializes writers anyway, and the
	// group-commit writer is its only user.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return dialect{}, nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		db.Close()
		return dialect{}, nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	return sqliteDialect, db, read, nil
}
