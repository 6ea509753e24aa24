package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"text/tabwriter"

	"github.com/switchboard/switchboard/internal/server"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

const silenceUsage = `Usage: switchboard silence <subcommand> [flags]

Subcommands:
  add --match EXPR --for 2h --comment "why" [--sink S] [--rule R]
          hold back the deliveries of the events EXPR matches (an expr
          condition, as a rule's when), only to sink S or of rule R if
          given; they are stored as silenced (see deliveries list --state
          silenced) and can be retried by hand
  list [--all]
          the silences in force (--all: those that ended too)
  expire ID
          end a silence now

A silence applies on every running instance within a second of being
added or expired. The store is the one named in the configuration
(--config), read directly.
`

func cmdSilence(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if done, err := usageWithout(args, silenceUsage, stdout); done {
		return err
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "add":
		return silenceAdd(ctx, rest, stdout, stderr)
	case "list", "ls":
		return silenceList(ctx, rest, stdout, stderr)
	case "expire":
		return silenceExpire(ctx, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "switchboard silence: unknown subcommand %q\n\n%s", sub, silenceUsage)
	return exitError{"unknown subcommand"}
}

func silenceAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("silence add", stderr)
	lf := newLogFlags(fs)
	var req server.SilenceRequest
	fs.StringVar(&req.Match, "match", "", "expr condition over the event, as a rule's when (required)")
	fs.StringVar(&req.For, "for", "", "how long: 30m, 2h, 1d (required)")
	fs.StringVar(&req.Comment, "comment", "", "why, for whoever reads the list (required)")
	fs.StringVar(&req.Sink, "sink", "", "only deliveries to this sink")
	fs.StringVar(&req.Rule, "rule", "", "only deliveries of this rule")
	pos, err := parseInterspersed(fs, args)
	if err != nil || helpAsked(args) {
		return err
	}
	if len(pos) > 0 {
		return usageError(stderr, "silence add takes no arguments, got %q (quote the --match expression)", pos)
	}
	req.CreatedBy = whoami()
	var router *rules.Router
	if f, _ := rules.LoadFile(*lf.config); f != nil && *lf.store == "" {
		router = f.Router
	}
	sl, d, err := server.CheckSilence(req, router)
	if err != nil {
		return usageError(stderr, "silence add: %v", err)
	}
	st, err := lf.openLog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if sl, err = st.AddSilence(ctx, sl, d); err != nil {
		return err
	}
	if *lf.json {
		return writeJSON(stdout, sl)
	}
	fmt.Fprintf(stdout, "%s: silenced until %s; running instances apply it within a second\n", sl.ID, stamp(sl.EndsAt))
	return nil
}

// whoami names the operator a silence is recorded with.
func whoami() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}

func silenceList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("silence list", stderr)
	lf := newLogFlags(fs)
	all := fs.Bool("all", false, "also the silences that ended")
	pos, err := parseInterspersed(fs, args)
	if err != nil || helpAsked(args) {
		return err
	}
	if len(pos) > 0 {
		return usageError(stderr, "silence list takes no arguments, got %q", pos)
	}
	st, err := lf.openLog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	sls, err := st.Silences(ctx, *all)
	if err != nil {
		return err
	}
	if *lf.json {
		if sls == nil {
			sls = []store.Silence{}
		}
		return writeJSON(stdout, map[string]any{"silences": sls, "count": len(sls)})
	}
	if len(sls) == 0 {
		fmt.Fprintln(stderr, "no silences")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tACTIVE\tENDS\tSINK\tRULE\tMATCH\tBY\tCOMMENT")
	for _, sl := range sls {
		fmt.Fprintf(tw, "%s\t%t\t%s\t%s\t%s\t%s\t%s\t%s\n", sl.ID, sl.Active, stamp(sl.EndsAt), printable(sl.Sink), printable(sl.Rule),
			oneLine(sl.Match, 60), printable(sl.CreatedBy), oneLine(sl.Comment, 60))
	}
	return tw.Flush()
}

func silenceExpire(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("silence expire", stderr)
	lf := newLogFlags(fs)
	ids, err := parseInterspersed(fs, args)
	if err != nil || helpAsked(args) {
		return err
	}
	if len(ids) == 0 {
		return usageError(stderr, "silence expire: give the id of a silence (silence list)")
	}
	st, err := lf.openLog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, id := range ids {
		if err := st.ExpireSilence(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: expired; running instances stop applying it within a second\n", id)
	}
	return nil
}
