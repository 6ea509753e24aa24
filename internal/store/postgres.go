package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Postgres pool settings, read from the store URL's query and removed from
// it before the rest goes to pgx (which would send an unknown parameter to
// the server as a run-time setting).
const (
	// poolParam caps the open connections of one instance. The name is
	// pgxpool's, so a URL written for other pgx programs means the same here.
	poolParam = "pool_max_conns"
	// defaultPool is the connections of one instance when the URL does not
	// say: the writers plus room for claims' reads, the delivery log API
	// and readiness checks.
	defaultPool = pgWriters + 4
	// pgWriters is how many group-commit transactions one instance keeps in
	// flight on Postgres. Unlike SQLite, Postgres runs concurrent
	// transactions in parallel and a commit costs a network round trip
	// plus the server's WAL flush: with one writer, intake stalls for each
	// commit; a few overlap them (measured: see README, Performance).
	pgWriters = 4
	// defaultConnectTimeout bounds one connection attempt when the URL has
	// no connect_timeout, so an unreachable host fails a request with 503
	// instead of holding it until the batch timeout.
	defaultConnectTimeout = "5"
)

// DefaultConnectWait is how long Open keeps retrying a Postgres server that
// does not answer before it gives up.
const DefaultConnectWait = 30 * time.Second

// WithLogger sets the logger for what the store reports on its own:
// retries while the database is unreachable at Open. Nil discards.
func WithLogger(log *slog.Logger) Option {
	return func(s *Store) {
		if log != nil {
			s.log = log
		}
	}
}

// WithConnectWait sets how long Open retries, with backoff, a Postgres
// server that cannot be reached (refused, timed out, starting up). Zero or
// less means one attempt. The default is DefaultConnectWait. Errors the
// server answers with, such as a wrong password or an unknown database,
// fail at once.
func WithConnectWait(d time.Duration) Option { return func(s *Store) { s.connectWait = d } }

// pgConfig splits a postgres:// URL into the pgx connection config and the
// pool size.
func pgConfig(dsn string) (*pgx.ConnConfig, int, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		// url.Parse's error repeats the URL, password included.
		return nil, 0, errors.New("postgres store: malformed URL")
	}
	q := u.Query()
	pool := defaultPool
	if v := q.Get(poolParam); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, 0, fmt.Errorf("postgres store: %s=%q: want a positive number of connections", poolParam, v)
		}
		pool = n
	}
	q.Del(poolParam)
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", defaultConnectTimeout)
	}
	u.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) {
			// Its message may quote the connection string.
			return nil, 0, fmt.Errorf("postgres store %s: invalid URL", redact(dsn))
		}
		return nil, 0, fmt.Errorf("postgres store %s: %w", redact(dsn), err)
	}
	return cfg, pool, nil
}

func (s *Store) openPostgres(ctx context.Context, dsn string) (dialect, *sql.DB, *sql.DB, error) {
	cfg, pool, err := pgConfig(dsn)
	if err != nil {
		return dialect{}, nil, nil, err
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pool)
	// database/sql keeps 2 idle connections by default: the writers would
	// reconnect for nearly every batch.
	db.SetMaxIdleConns(pool)
	db.SetConnMaxIdleTime(5 * time.Minute)
	// Connections are renewed now and then, so instances rebalance after a
	// failover or a pooler restart.
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := s.waitReachable(ctx, db, dsn); err != nil {
		db.Close()
		return dialect{}, nil, nil, err
	}
	d := postgresDialect
	d.writers = max(1, min(pgWriters, pool-1))
	return d, db, db, nil
}

// waitReachable pings the server until it answers, retrying with backoff
// for up to s.connectWait: instances started together with their database
// (or during its restart) wait for it rather than crash-loop.
func (s *Store) waitReachable(ctx context.Context, db *sql.DB, dsn string) error {
	start := time.Now()
	deadline := start.Add(s.connectWait)
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := db.PingContext(pctx)
		cancel()
		if err == nil {
			if attempt > 1 {
				s.log.Info("store reachable", "store", redact(dsn), "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		if !pgTransient(err) {
			return fmt.Errorf("postgres store %s: %w", redact(dsn), err)
		}
		left := time.Until(deadline)
		if ctx.Err() != nil || left <= 0 {
			return fmt.Errorf("%w: postgres store %s not reachable (waited %s, %d attempts): %w",
				ErrUnavailable, redact(dsn), time.Since(start).Round(time.Millisecond), attempt, err)
		}
		wait := min(backoff, left)
		s.log.Warn("store not reachable, retrying", "store", redact(dsn), "err", err, "retry_in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// pgTransient reports whether a connection failure may heal by itself: the
// server is down, unreachable, starting up or out of connections. An answer
// that rejects this client (authentication, unknown database) will not.
func pgTransient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "28"), // invalid authorization
			strings.HasPrefix(pe.Code, "3D"), // invalid catalog name: no such database
			strings.HasPrefix(pe.Code, "42"): // syntax error or access rule violation
			return false
		}
	}
	return true
}

// pgConflict reports whether err is Postgres aborting a transaction that
// collided with a concurrent one (deadlock, serialization failure): running
// the same work again in a new transaction succeeds.
func pgConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// redact returns the store URL without its password, for messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://…"
	}
	u.RawQuery = ""
	return u.Redacted()
}

// pgText makes s storable in a Postgres text column: NUL bytes dropped,
// invalid UTF-8 replaced (as encoding/json does in the event body).
func pgText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}
