// Package pgtest gives a test a schema of its own on the machine's
// Postgres, for tests that need the real server rather than SQLite.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// DefaultURL is the server used when $SWITCHBOARD_TEST_POSTGRES is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Schema creates an empty schema, named prefix and random hex, on the
// server at $SWITCHBOARD_TEST_POSTGRES (or DefaultURL), dropped when t
// ends. It returns a URL whose connections use the schema, a pool on the
// server (the test's own statements) and the schema's name. Without a
// reachable server t skips, except in CI (CI=true), where it fails.
func Schema(t testing.TB, prefix string) (dsn string, admin *sql.DB, schema string) {
	t.Helper()
	server := os.Getenv("SWITCHBOARD_TEST_POSTGRES")
	if server == "" {
		server = DefaultURL
	}
	admin, err := sql.Open("pgx", server)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		msg := "Postgres unreachable (set SWITCHBOARD_TEST_POSTGRES, or start it: pg_ctlcluster $(ls /etc/postgresql) main start): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema = prefix + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA IF EXISTS ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return SearchPath(t, server, schema), admin, schema
}

// SearchPath returns the server URL dsn with connections that use schema.
func SearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema) // sent to the server as a run-time setting
	u.RawQuery = q.Encode()
	return u.String()
}
