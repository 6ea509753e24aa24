package store

import (
	"context"
	"fmt"
)

// migrations are applied in order; each runs once, recorded in
// schema_version. The SQL is portable between SQLite and Postgres: times are
// unix milliseconds in BIGINT, booleans are integers, ids are text made in Go.
var migrations = []string{
	`CREATE TABLE events (
		id          TEXT PRIMARY KEY,
		receiver    TEXT NOT NULL,
		source      TEXT NOT NULL,
		type        TEXT NOT NULL,
		subject     TEXT NOT NULL,
		status      TEXT NOT NULL,
		received_at BIGINT NOT NULL,
		body        TEXT NOT NULL
	);
	CREATE INDEX events_subject ON events (source, subject);
	CREATE TABLE subjects (
		source     TEXT NOT NULL,
		subject    TEXT NOT NULL,
		status     TEXT NOT NULL,
		final      INTEGER NOT NULL,
		updated_at BIGINT NOT NULL,
		PRIMARY KEY (source, subject)
	);
	CREATE TABLE deliveries (
		id              TEXT PRIMARY KEY,
		event_id        TEXT NOT NULL REFERENCES events (id),
		rule            TEXT NOT NULL,
		sink            TEXT NOT NULL,
		title           TEXT NOT NULL,
		text            TEXT NOT NULL,
		templated       INTEGER NOT NULL,
		state           TEXT NOT NULL,
		attempts        INTEGER NOT NULL DEFAULT 0,
		next_attempt_at BIGINT NOT NULL,
		lease_until     BIGINT NOT NULL DEFAULT 0,
		lease_owner     TEXT NOT NULL DEFAULT '',
		last_status     INTEGER NOT NULL DEFAULT 0,
		last_error      TEXT NOT NULL DEFAULT '',
		created_at      BIGINT NOT NULL,
		queued_at       BIGINT NOT NULL,
		updated_at      BIGINT NOT NULL
	);
	CREATE INDEX deliveries_due ON deliveries (sink, state, next_attempt_at);
	CREATE INDEX deliveries_event ON deliveries (event_id);
	CREATE TABLE attempts (
		delivery_id TEXT NOT NULL REFERENCES deliveries (id),
		n           INTEGER NOT NULL,
		started_at  BIGINT NOT NULL,
		duration_ms BIGINT NOT NULL,
		status      INTEGER NOT NULL,
		error       TEXT NOT NULL,
		owner       TEXT NOT NULL,
		PRIMARY KEY (delivery_id, n)
	);`,
	// Throttle state of rules with throttle: the start of the current
	// window per rule and key, and how many matches were suppressed in it.
	`CREATE TABLE throttles (
		rule         TEXT NOT NULL,
		throttle_key TEXT NOT NULL,
		window_start BIGINT NOT NULL,
		suppressed   INTEGER NOT NULL,
		PRIMARY KEY (rule, throttle_key)
	);`,
	// The state of a subject before its latest event, which the intake's
	// upsert of the subject returns: reading and updating the state is one
	// statement.
	`ALTER TABLE subjects ADD COLUMN prior_status TEXT NOT NULL DEFAULT '';
	ALTER TABLE subjects ADD COLUMN prior_final INTEGER NOT NULL DEFAULT 0;`,
	// Threads (a Slack sink with thread:): each delivery's thread key ('' for
	// none), an index over the pending threaded deliveries only (partial, so
	// intake of un-threaded ones does not maintain it and a long thread's
	// sent messages leave it) that keeps a thread's messages in order, and
	// per sink and key the thread's anchor: the
	// channel ID and ts of its first message, the delivery that posted into
	// it last, and while the first message is being posted the attempt that
	// posts it (owner, owned_until).
	`ALTER TABLE deliveries ADD COLUMN thread_key TEXT NOT NULL DEFAULT '';
	CREATE INDEX deliveries_thread ON deliveries (sink, thread_key, id) WHERE thread_key <> '' AND state = 'pending';
	CREATE TABLE threads (
		sink          TEXT NOT NULL,
		thread_key    TEXT NOT NULL,
		channel       TEXT NOT NULL,
		ts            TEXT NOT NULL,
		last_delivery TEXT NOT NULL,
		owner         TEXT NOT NULL,
		owned_until   BIGINT NOT NULL,
		created_at    BIGINT NOT NULL,
		updated_at    BIGINT NOT NULL,
		PRIMARY KEY (sink, thread_key)
	);`,
	// Alerting on what never arrived, and silences: the open timers of
	// expectations (one per source, subject and expectation, found by due
	// time when they fire); per receiver with expect_traffic, the last
	// accepted callback any instance saw and whether receiver.silent was
	// emitted; and the silences an operator added.
	`CREATE TABLE timers (
		source      TEXT NOT NULL,
		subject     TEXT NOT NULL,
		expectation TEXT NOT NULL,
		receiver    TEXT NOT NULL,
		event_id    TEXT NOT NULL,
		started_at  BIGINT NOT NULL,
		due_at      BIGINT NOT NULL,
		PRIMARY KEY (source, subject, expectation)
	);
	CREATE INDEX timers_due ON timers (due_at);
	CREATE TABLE receiver_traffic (
		receiver TEXT PRIMARY KEY,
		last_at  BIGINT NOT NULL,
		silent   INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE silences (
		id         TEXT PRIMARY KEY,
		matcher    TEXT NOT NULL,
		sink       TEXT NOT NULL,
		rule       TEXT NOT NULL,
		comment    TEXT NOT NULL,
		created_by TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		ends_at    BIGINT NOT NULL
	);
	CREATE INDEX silences_ends ON silences (ends_at);`,
	// Each delivery's event's received_at, so its deliveries are found by
	// (event_at, event_id): on SQLite an index in that order replaces the
	// one on event_id, whose random keys (event ids are hashes) put every
	// intake's delivery on a page of its own: 27 % of the bytes an intake
	// and its outcome wrote (BenchmarkHotPath's B-written/op). Postgres keeps the event_id index, which its foreign
	// key checks need (sqliteMigrations).
	`ALTER TABLE deliveries ADD COLUMN event_at BIGINT NOT NULL DEFAULT 0;
	UPDATE deliveries SET event_at = COALESCE((SELECT e.received_at FROM events e WHERE e.id = deliveries.event_id), 0);`,
	// A delivery's last recorded attempt is kept in its row (attempt_n, its
	// start, duration and owner; its status and error are last_status and
	// last_error), and moves to attempts when the next one is recorded: a
	// delivery sent once, most of them, writes no attempts row, which was
	// a tenth of the store writer's time per callback. attempt_n numbers
	// the attempts recorded so far, for the histories kept in attempts;
	// attempt_owner (the recording instance) is '' while the row holds none.
	`ALTER TABLE deliveries ADD COLUMN attempt_n INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE deliveries ADD COLUMN attempt_started_at BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE deliveries ADD COLUMN attempt_duration_ms BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE deliveries ADD COLUMN attempt_owner TEXT NOT NULL DEFAULT '';
	UPDATE deliveries SET attempt_n = (SELECT MAX(a.n) FROM attempts a WHERE a.delivery_id = deliveries.id)
		WHERE EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = deliveries.id);`,
}

// sqliteMigrations run on SQLite after the migration of the same version.
//
// SQLite does not enforce the foreign keys (the connection leaves
// foreign_keys off): checking one when an event is deleted needs an index
// led by deliveries.event_id, the random index version 6 drops. The code
// keeps them (an event's deliveries are stored with it, retention deletes
// an event only once it has none), Postgres enforces them, and the store
// tests run on both.
var sqliteMigrations = map[int]string{
	6: `CREATE INDEX deliveries_event_at ON deliveries (event_at, event_id);
	DROP INDEX deliveries_event;`,
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if s.d.name == "postgres" {
		// Instances starting together take turns.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(72756117)`); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	s.migratedFrom = v
	if v > len(migrations) {
		return fmt.Errorf("migrate: database schema version %d is newer than this binary knows (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate: to version %d: %w", i+1, err)
		}
		if q, ok := sqliteMigrations[i+1]; ok && s.d.name == "sqlite" {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("migrate: to version %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.q(`INSERT INTO schema_version (version) VALUES (?)`), i+1); err != nil {
			return fmt.Errorf("migrate: record version %d: %w", i+1, err)
		}
	}
	return tx.Commit()
}
