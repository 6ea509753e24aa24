package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// A store at version 5 with deliveries gets their events' received_at in
// event_at, and finds them again by event, subject and timeline.
func TestMigrateEventAt(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	upgradeFrom(t, 5, at.UnixMilli(), []string{
		`INSERT INTO events (id, receiver, source, type, subject, status, received_at, body)
			VALUES ('evt_a', 'interfax', 'interfax', 'fax.outbound', '664598111', 'failure', ?, '{}')`,
		`INSERT INTO deliveries (id, event_id, rule, sink, title, text, templated, state, next_attempt_at, created_at, queued_at, updated_at)
			VALUES ('msg_1', 'evt_a', 'r', 'ops', 't', 'x', 0, 'dead', ?, ?, ?, ?)`,
	}, func(t *testing.T, st *Store) {
		ctx := context.Background()
		var eventAt int64
		if err := st.read.QueryRowContext(ctx, `SELECT event_at FROM deliveries WHERE id = 'msg_1'`).Scan(&eventAt); err != nil || eventAt != at.UnixMilli() {
			t.Errorf("event_at = %d, %v; want %d", eventAt, err, at.UnixMilli())
		}
		for _, f := range []Filter{{EventID: "evt_a"}, {Subject: "664598111"}} {
			ds, err := st.List(ctx, f)
			if err != nil || len(ds) != 1 || ds[0].ID != "msg_1" {
				t.Errorf("List(%+v) = %d deliveries, %v; want msg_1", f, len(ds), err)
			}
		}
		evs, err := st.Timeline(ctx, []string{"interfax"}, "664598111")
		if err != nil || len(evs) != 1 || len(evs[0].Deliveries) != 1 {
			t.Fatalf("Timeline = %v, %v; want the event with its delivery", evs, err)
		}
	})
}

// upgradeFrom runs f on SQLite and on Postgres, each with a store whose
// schema an older binary created up to version and that holds what stmts
// insert (each ? is at), opened by this binary, which migrates it.
func upgradeFrom(t *testing.T, version int, at int64, stmts []string, f func(t *testing.T, st *Store)) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			db, dsn, d := storeAtVersion(t, backend, version)
			for _, q := range stmts {
				args := make([]any, strings.Count(q, "?"))
				for i := range args {
					args[i] = at
				}
				if _, err := db.ExecContext(context.Background(), d.q(q), args...); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			st, err := Open(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			f(t, st)
		})
	}
}

// storeAtVersion creates a store's schema up to version on a new SQLite file
// or Postgres schema, as an older binary left it, and returns the database
// open, its DSN for Open, and its dialect.
func storeAtVersion(t *testing.T, backend string, version int) (*sql.DB, string, dialect) {
	t.Helper()
	var db *sql.DB
	var dsn string
	d := sqliteDialect
	if backend == "postgres" {
		dsn, d = testSchema(t), postgresDialect
		cfg, _, err := pgConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		db = stdlib.OpenDB(*cfg)
	} else {
		dsn = filepath.Join(t.TempDir(), "sb.db")
		var err error
		if db, err = sql.Open("sqlite", sqliteDSN(dsn, false)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_version (version INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, q := range migrations[:version] {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
		if q, ok := sqliteMigrations[i+1]; ok && backend == "sqlite" {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.ExecContext(ctx, d.q(`INSERT INTO schema_version (version) VALUES (?)`), i+1); err != nil {
			t.Fatal(err)
		}
	}
	return db, dsn, d
}

// On SQLite an event's deliveries are found by the index on (event_at,
// event_id), and no index on event_id alone is kept up.
func TestEventFilterUsesEventAtIndex(t *testing.T) {
	st := openTestSQLite(t, &clock{t: time.Unix(1700000000, 0)})
	where, args := Filter{EventID: "evt_a"}.where()
	plan := strings.Join(queryPlan(t, st, listQuery(where+" AND d.id < ?", "d.id DESC"), append(args, "msg_z", 50)...), "\n")
	if !strings.Contains(plan, "deliveries_event_at") || strings.Contains(plan, "SCAN d") {
		t.Errorf("plan does not look deliveries up by (event_at, event_id):\n%s", plan)
	}
	var n int
	if err := st.read.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'deliveries_event'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("deliveries_event still there (%d, %v)", n, err)
	}
}
