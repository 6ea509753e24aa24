package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/switchboard/switchboard/internal/server"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

const deliveriesUsage = `Usage: switchboard deliveries <list|show|retry> [flags]

  list   [--state S] [--sink S] [--rule R] [--subject X] [--since D] [--limit N] [--json]
         deliveries, newest first (states: pending, delivered, dead, suppressed, no_sink)
  show   ID [--json]
         one delivery: its event, rule, sink and every attempt
  retry  ID… | --dead [--sink S] [--since D]
         re-queue dead deliveries with a fresh attempt budget

--since takes a duration back from now (90m, 24h, 7d) or an RFC 3339 time.
The store is the one named in the configuration (--config), read directly:
this works whether serve is running or not.
`

func cmdDeliveries(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if done, err := usageWithout(args, deliveriesUsage, stdout); done {
		return err
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list", "ls":
		return deliveriesList(ctx, rest, stdout, stderr)
	case "show", "get":
		return deliveriesShow(ctx, rest, stdout, stderr)
	case "retry":
		return deliveriesRetry(ctx, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "switchboard deliveries: unknown subcommand %q\n\n%s", sub, deliveriesUsage)
	return exitError{"unknown subcommand"}
}

// logFlags are the flags every deliveries subcommand takes.
type logFlags struct {
	config, store *string
	json          *bool
}

func newLogFlags(fs *flag.FlagSet) logFlags {
	return logFlags{
		config: configFlag(fs),
		store:  fs.String("store", "", "store to read instead of the configuration's (SQLite path or postgres:// URL)"),
		json:   fs.Bool("json", false, "print JSON"),
	}
}

// parseInterspersed parses flags before, between and after positional
// arguments (`show ID --json`), and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// openLog opens the store the configuration names. It needs only the
// store setting: sections that do not load (a secret's variable unset in
// this shell) do not stop an operator from reading the log.
func (lf logFlags) openLog(ctx context.Context) (*store.Store, error) {
	dsn := *lf.store
	if dsn == "" {
		f, err := rules.LoadFile(*lf.config)
		if f == nil {
			return nil, err
		}
		dsn = f.Store
		if strings.Contains(dsn, "${") {
			return nil, fmt.Errorf("%s: store: %s is not set in this environment; set it or pass --store", *lf.config, dsn)
		}
	}
	if !store.IsPostgres(dsn) {
		// Do not create an empty database where the service never ran.
		if _, err := os.Stat(strings.TrimPrefix(dsn, "sqlite://")); err != nil {
			return nil, fmt.Errorf("store %s: %w (run from the directory serve runs in, or pass --store)", dsn, errors.Unwrap(err))
		}
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

func deliveriesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("deliveries list", stderr)
	lf := newLogFlags(fs)
	var f store.Filter
	fs.StringVar(&f.State, "state", "", "only deliveries in this state: pending, delivered, dead, suppressed, silenced, no_sink")
	fs.StringVar(&f.Sink, "sink", "", "only deliveries to this sink")
	fs.StringVar(&f.Rule, "rule", "", "only deliveries of this rule")
	fs.StringVar(&f.Subject, "subject", "", "only deliveries of events with this subject (the vendor's transaction id)")
	fs.StringVar(&f.EventID, "event", "", "only deliveries of this event id")
	since := fs.String("since", "", "only deliveries created since: a duration (24h, 7d) or an RFC 3339 time")
	limit := fs.String("limit", "", fmt.Sprintf("at most this many, newest first (default 100, at most %d)", server.MaxListLimit))
	pos, err := parseInterspersed(fs, args)
	if err != nil || helpAsked(args) {
		return err
	}
	if len(pos) > 0 {
		return usageError(stderr, "deliveries list takes no arguments, got %q", pos)
	}
	if f.Since, err = server.ParseSince(*since, time.Now()); err != nil {
		return usageError(stderr, "%v", err)
	}
	if f.Limit, err = server.ParseLimit(*limit); err != nil {
		return usageError(stderr, "%v", err)
	}
	st, err := lf.openLog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ds, err := st.List(ctx, f)
	if err != nil {
		return err
	}
	if *lf.json {
		if ds == nil {
			ds = []*store.Delivery{}
		}
		return writeJSON(stdout, map[string]any{"deliveries": ds, "count": len(ds)})
	}
	if len(ds) == 0 {
		fmt.Fprintln(stderr, "no deliveries match")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSINK\tRULE\tSUBJECT\tATTEMPTS\tUPDATED\tLAST ERROR")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", printable(d.ID), d.State, printable(d.Sink), printable(d.Rule), oneLine(d.Subject, 24),
			d.Attempts, stamp(d.UpdatedAt), oneLine(d.LastError, 120))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ds) == f.Limit {
		fmt.Fprintf(stderr, "(the newest %d; --limit for more)\n", f.Limit)
	}
	return nil
}

func deliveriesShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("deliveries show", stderr)
	lf := newLogFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil || helpAsked(args) {
		return err
	}
	if len(pos) != 1 {
		return usageError(stderr, "deliveries show takes one delivery id")
	}
	st, err := lf.openLog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	d, atts, err := st.Get(ctx, pos[0])
	if err != nil {
		return err
	}
	detail := server.Detail(d, atts)
	if *lf.json {
		return writeJSON(stdout, detail)
	}
	printDelivery(stdout, detail)
	return nil
}

func printDelivery(w io.Writer, detail server.DeliveryDetail) {
	d := detail.Delivery
	var ev struct {
		ID, Source, Type, Subject, Status, Description string
	}
	_ = json.Unmarshal(detail.Event, &ev)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// Every value may hold vendor text: it stays on its line, and only
	// printable characters reach the terminal.
	row := func(k, v string) {
		if v = printable(strings.Join(strings.Fields(v), " ")); v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("delivery", d.ID)
	row("state", d.State)
	attempts := fmt.Sprint(d.Attempts)
	if n := len(detail.Attempts); n > 0 && detail.Attempts[n-1].N != d.Attempts {
		// A retry by command starts a fresh budget; the history goes on.
		attempts = fmt.Sprintf("%d since last queued, %d in all", d.Attempts, detail.Attempts[n-1].N)
	}
	row("attempts", attempts)
	row("sink", d.Sink)
	row("rule", d.Rule)
	row("event", fmt.Sprintf("%s (%s %s, subject %s, status %s)", d.EventID, ev.Source, ev.Type, ev.Subject, ev.Status))
	row("description", ev.Description)
	row("created", stamp(d.CreatedAt))
	row("updated", stamp(d.UpdatedAt))
	if !d.NextAttemptAt.IsZero() {
		row("next attempt", stamp(d.NextAttemptAt))
	}
	if d.LastStatus != 0 {
		row("last status", fmt.Sprint(d.LastStatus))
	}
	row("last error", oneLine(d.LastError, 1024))
	row("title", oneLine(d.Title, 200))
	row("text", oneLine(d.Text, 200))
	tw.Flush()

	fmt.Fprintf(w, "\nattempts (the last 20 are kept):\n")
	if len(detail.Attempts) == 0 {
		fmt.Fprintln(w, "  none yet")
	} else {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  #\tSTARTED\tDURATION\tSTATUS\tERROR")
		for _, a := range detail.Attempts {
			status := "-"
			if a.Status != 0 {
				status = fmt.Sprint(a.Status)
			}
			errText := a.Error
			if errText == "" {
				errText = "ok"
			}
			took := (time.Duration(a.DurationMS) * time.Millisecond).String()
			if a.DurationMS == 0 {
				took = "<1ms"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", a.N, stamp(a.StartedAt), took, status, oneLine(errText, 200))
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\nevent:\n")
	var pretty strings.Builder
	var v any
	if json.Unmarshal(detail.Event, &v) == nil {
		b, _ := json.MarshalIndent(v, "  ", "  ")
		pretty.Write(b)
	}
	// JSON escapes C0 control characters but not C1 (U+0080–U+009F).
	fmt.Fprintf(w, "  %s\n", printable(pretty.String()))
}

func deliveriesRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flags("deliveries retry", stderr)
	lf := newLogFlags(fs)
	dead := fs.Bool("dead", false, "re-queue every dead delivery (narrow with --sink and --since)")
	sink := fs.String("sink", "", "with --dead: only this sink's")
	sinceFlag := fs.String("since", "", "with --dead: only those created since: a duration (24h, 7d) or an RFC 3339 time")
	ids, err := parseInterspersed(fs, args)
	if err != nil || helpAsked(args) {
		return err
	}
	switch {
	case *dead && len(ids) > 0:
		return usageError(stderr, "deliveries retry: give ids or --dead, not both")
	case !*dead && len(ids) == 0:
		return usageError(stderr, "deliveries retry: give the ids of dead deliveries, or --dead")
	case !*dead && (*sink != "" || *sinceFlag != ""):
		return usageError(stderr, "deliveries retry: --sink and --since go with --dead")
	}
	since, err := server.ParseSince(*sinceFlag, time.Now())
	if err != nil {
		return usageError(stderr, "%v", err)
	}
	st, err := lf.openLog(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	type skipped struct {
		ID     string `json:"id"`
		Reason string `json:"reason"`
	}
	var n int
	var notRetried []skipped
	if *dead {
		if n, err = st.RetryDead(ctx, *sink, since); err != nil {
			return err
		}
	} else {
		var todo []string
		for _, id := range ids {
			d, _, err := st.Get(ctx, id)
			switch {
			case errors.Is(err, store.ErrNotFound):
				notRetried = append(notRetried, skipped{id, "not found"})
			case err != nil:
				return err
			case d.State != store.StateDead && d.State != store.StateSilenced:
				notRetried = append(notRetried, skipped{id, d.State + ", not dead or silenced"})
			default:
				todo = append(todo, id)
			}
		}
		if len(todo) > 0 {
			if n, err = st.Retry(ctx, todo...); err != nil {
				return err
			}
		}
	}
	if *lf.json {
		if notRetried == nil {
			notRetried = []skipped{}
		}
		if err := writeJSON(stdout, map[string]any{"retried": n, "not_retried": notRetried}); err != nil {
			return err
		}
	} else {
		for _, s := range notRetried {
			fmt.Fprintf(stderr, "%s: %s: left alone\n", s.ID, s.Reason)
		}
		fmt.Fprintf(stdout, "re-queued %d dead deliver%s", n, plural(n, "y", "ies"))
		if n > 0 {
			fmt.Fprint(stdout, "; a running serve sends them within its poll interval (1s)")
		}
		fmt.Fprintln(stdout)
	}
	if len(notRetried) > 0 {
		return exitError{"some deliveries were not re-queued"}
	}
	return nil
}

func usageError(stderr io.Writer, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(stderr, "switchboard: %s\n", msg)
	return exitError{msg}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stamp formats a time for tables: UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// oneLine makes s fit one table cell of at most n runes, with its
// whitespace folded and control characters removed.
func oneLine(s string, n int) string {
	s = printable(strings.Join(strings.Fields(s), " "))
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

// printable removes from s the C0 and C1 control characters and DEL but
// newlines and tabs: vendor text (an SMS, a fax's CSID) printed to a
// terminal must not carry escape sequences that move the cursor, rewrite
// the window title or hide lines. Invalid UTF-8 becomes U+FFFD.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
