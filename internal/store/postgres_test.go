package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/switchboard/switchboard/internal/pgtest"
)

// The conformance suite runs against the machine's Postgres at
// $SWITCHBOARD_TEST_POSTGRES (default below), each test in a schema of its
// own that is dropped afterwards. Without a reachable server the Postgres
// tests skip, except in CI (CI=true), where they fail.
const defaultTestPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var pgOnce struct {
	sync.Once
	db  *sql.DB
	dsn string
	err error
}

// testPostgres returns a pool on the test server for creating and dropping
// schemas, and the server's URL; it skips or fails t when there is none.
func testPostgres(t testing.TB) (*sql.DB, string) {
	t.Helper()
	pgOnce.Do(func() {
		pgOnce.dsn = os.Getenv("SWITCHBOARD_TEST_POSTGRES")
		if pgOnce.dsn == "" {
			pgOnce.dsn = defaultTestPostgres
		}
		cfg, _, err := pgConfig(pgOnce.dsn)
		if err != nil {
			pgOnce.err = err
			return
		}
		db := stdlib.OpenDB(*cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			pgOnce.err = err
			return
		}
		pgOnce.db = db
	})
	if pgOnce.err != nil {
		msg := "Postgres at " + redact(pgOnce.dsn) + " unreachable (set SWITCHBOARD_TEST_POSTGRES, or start it: " +
			"pg_ctlcluster $(ls /etc/postgresql) main start): " + pgOnce.err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return pgOnce.db, pgOnce.dsn
}

// testSchema creates an empty schema, dropped when t ends, and returns a
// store URL whose connections use it.
func testSchema(t testing.TB) string {
	t.Helper()
	db, dsn := testPostgres(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "sb_test_" + hex.EncodeToString(b)
	if _, err := db.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return pgtest.SearchPath(t, dsn, schema)
}

func openTestPostgres(t testing.TB, c *clock) *Store {
	t.Helper()
	st, err := Open(context.Background(), testSchema(t), WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// sibling opens a second store on st's database, as another instance
// would.
func sibling(t testing.TB, st *Store, c *clock) *Store {
	t.Helper()
	other, err := Open(context.Background(), st.dsn, WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

// Instances starting together on an empty database migrate it once.
func TestPostgresConcurrentMigrate(t *testing.T) {
	dsn := testSchema(t)
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(context.Background(), dsn)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var rows, max int
	if err := stores[0].read.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_version`).Scan(&rows, &max); err != nil {
		t.Fatal(err)
	}
	if rows != len(migrations) || max != len(migrations) {
		t.Errorf("schema_version has %d rows up to %d, want %d", rows, max, len(migrations))
	}
	if v, err := stores[1].SchemaVersion(context.Background()); err != nil || v != len(migrations) {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(migrations))
	}
}

// Open waits a bounded time for a server that is not there and says so.
func TestPostgresUnreachable(t *testing.T) {
	// A port nothing listens on: taken, then released.
	addr := closedPort(t)
	start := time.Now()
	_, err := Open(context.Background(), "postgres://u:hunter2@"+addr+"/db?sslmode=disable", WithConnectWait(700*time.Millisecond))
	took := time.Since(start)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "not reachable") || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not say which store is not reachable", err)
	}
	if took < 500*time.Millisecond || took > 10*time.Second {
		t.Errorf("Open gave up after %s, want about the connect wait (700ms)", took)
	}
}

// A server that refuses this client is not waited for.
func TestPostgresUnknownDatabase(t *testing.T) {
	_, dsn := testPostgres(t)
	u, _ := url.Parse(dsn)
	u.Path = "/sb_no_such_database"
	start := time.Now()
	_, err := Open(context.Background(), u.String(), WithConnectWait(time.Minute))
	if err == nil {
		t.Fatal("Open of an unknown database succeeded")
	}
	if errors.Is(err, ErrUnavailable) || time.Since(start) > 10*time.Second {
		t.Errorf("Open = %v after %s, want a prompt, permanent error", err, time.Since(start))
	}
}

func TestPostgresPoolParam(t *testing.T) {
	for _, tc := range []struct {
		dsn      string
		pool     int
		wantErr  bool
		noParams []string
	}{
		{dsn: "postgres://h/db", pool: defaultPool},
		{dsn: "postgres://h/db?pool_max_conns=3&sslmode=disable", pool: 3, noParams: []string{"pool_max_conns"}},
		{dsn: "postgres://h/db?pool_max_conns=0", wantErr: true},
		{dsn: "postgres://h/db?pool_max_conns=x", wantErr: true},
	} {
		cfg, pool, err := pgConfig(tc.dsn)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: no error", tc.dsn)
			}
			continue
		}
		if err != nil || pool != tc.pool {
			t.Errorf("%s: pool %d, %v; want %d", tc.dsn, pool, err, tc.pool)
			continue
		}
		for _, p := range tc.noParams {
			if _, ok := cfg.RuntimeParams[p]; ok {
				t.Errorf("%s: %s would be sent to the server", tc.dsn, p)
			}
		}
		if cfg.ConnectTimeout == 0 {
			t.Errorf("%s: no connect timeout", tc.dsn)
		}
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
