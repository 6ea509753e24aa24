package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/switchboard/switchboard/internal/app"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

// cmdMigrate brings the store's schema up to this binary's version and
// reports it. serve does the same at start (instances starting together
// take turns on Postgres); running migrate first lets a deploy migrate
// once, and shows a failure where it is easy to read.
func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("migrate", stderr)
	path := configFlag(fs)
	dsn := fs.String("store", "", "store to migrate: a SQLite file or a postgres:// URL (default: the configuration's store)")
	wait := fs.Duration("wait", store.DefaultConnectWait, "how long to wait for a Postgres server that does not answer")
	if err := parseFlags(fs, args); err != nil || helpAsked(args) {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "switchboard migrate: unexpected arguments %q\n", fs.Args())
		return exitError{"usage"}
	}
	target := *dsn
	if target == "" {
		// Only the store setting matters here: a section that does not
		// load (a sink's secret unset in this shell) does not stop a
		// migration.
		f, err := rules.LoadFile(*path)
		if f == nil {
			return err
		}
		target = f.Store
		if strings.Contains(target, "${") {
			return fmt.Errorf("%s: store: %s is not set in this environment; set it or pass --store", *path, target)
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if !store.IsPostgres(target) {
		w, err := app.PrepareSQLite(target)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if w != "" {
			log.Warn(w)
		}
	}
	st, err := store.Open(ctx, target, store.WithLogger(log), store.WithConnectWait(*wait))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer st.Close()
	v, err := st.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	name := st.Dialect()
	if from := st.MigratedFrom(); from < v {
		fmt.Fprintf(stdout, "%s store: schema migrated from version %d to %d\n", name, from, v)
	} else {
		fmt.Fprintf(stdout, "%s store: schema at version %d, up to date\n", name, v)
	}
	return nil
}
