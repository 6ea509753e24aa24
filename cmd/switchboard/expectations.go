package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/switchboard/switchboard/internal/server"
	"github.com/switchboard/switchboard/internal/store"
)

const expectationsUsage = `Usage: switchboard expectations list [flags]

Lists the open timers of expectations (expect: in the configuration), those
due first: each waits, for one transaction, for the event that stops it, and
fires expectation.missed when its window ends.
The store is the one named in the configuration (--config), read directly.
`

func cmdExpectations(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if done, err := usageWithout(args, expectationsUsage, stdout); done {
		return err
	}
	if sub := args[0]; sub != "list" && sub != "ls" {
		fmt.Fprintf(stderr, "switchboard expectations: unknown subcommand %q\n\n%s", sub, expectationsUsage)
		return exitError{"unknown subcommand"}
	}
	fs := flags("expectations list", stderr)
	lf := newLogFlags(fs)
	limit := fs.String("limit", "", fmt.Sprintf("at most this many, due first (default 100, at most %d)", server.MaxListLimit))
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil || helpAsked(args) {
		return err
	}
	if len(pos) > 0 {
		return usageError(stderr, "expectations list takes no arguments, got %q", pos)
	}
	n, err := server.ParseLimit(*limit)
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	st, err := lf.openLog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ts, total, err := st.Timers(ctx, n)
	if err != nil {
		return err
	}
	if *lf.json {
		if ts == nil {
			ts = []store.Timer{}
		}
		return writeJSON(stdout, map[string]any{"timers": ts, "open": total})
	}
	if total == 0 {
		fmt.Fprintln(stderr, "no open timers")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EXPECTATION\tSOURCE\tSUBJECT\tRECEIVER\tSTARTED\tDUE\tSTARTED BY")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(t.Expectation), printable(t.Source), oneLine(t.Subject, 24),
			printable(t.Receiver), stamp(t.StartedAt), stamp(t.DueAt), printable(t.EventID))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ts) < total {
		fmt.Fprintf(stderr, "(%d of %d open; --limit for more)\n", len(ts), total)
	}
	return nil
}
