package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
)

// migrate brings an empty store to the current schema, then finds it up to
// date; on SQLite and on Postgres.
func TestMigrate(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dir := t.TempDir()
			dsn := filepath.Join(dir, "sb.db")
			if backend == "postgres" {
				dsn, _ = testPostgresSchema(t)
			}
			cfg := filepath.Join(dir, "rules.yaml")
			// Sections that do not load (an unset secret) do not stop a
			// migration.
			writeFile(t, cfg, fmt.Sprintf("store: %q\nsinks:\n  s:\n    type: webhook\n    url: ${SB_TEST_UNSET_URL}\n", dsn))
			want := []*regexp.Regexp{
				regexp.MustCompile(`^` + backend + ` store: schema migrated from version 0 to [1-9]\d*\n$`),
				regexp.MustCompile(`^` + backend + ` store: schema at version [1-9]\d*, up to date\n$`),
			}
			for i, re := range want {
				var stdout, stderr bytes.Buffer
				if err := run(context.Background(), []string{"migrate", "--config", cfg}, &stdout, &stderr); err != nil {
					t.Fatalf("run %d: %v\nstderr:\n%s", i+1, err, stderr.String())
				}
				if !re.MatchString(stdout.String()) {
					t.Errorf("run %d: stdout %q, want %s", i+1, stdout.String(), re)
				}
			}
		})
	}
}

func TestMigrateStoreFlag(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "other.db")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "--config", "/nonexistent/rules.yaml", "--store", dsn}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	if !regexp.MustCompile(`^sqlite store: schema migrated from version 0 to \d+\n$`).MatchString(stdout.String()) {
		t.Errorf("stdout %q", stdout.String())
	}
}
