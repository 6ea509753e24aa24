package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/rules"
)

// The deliveries command refuses what it cannot do with a message that
// says why, and never creates a database where none was.
func TestDeliveriesUsage(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sb.db")
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfg := filepath.Join(dir, "rules.yaml")
	writeFile(t, cfg, "store: "+db+"\nsinks: {a: {type: slack, webhook_url: \"${UNSET_IN_THIS_SHELL}\"}}\nrules: []\n")
	noStore := filepath.Join(dir, "nostore.yaml")
	writeFile(t, noStore, "store: ${SB_STORE_UNSET}\n")
	missing := filepath.Join(dir, "missing.yaml")
	writeFile(t, missing, "store: "+filepath.Join(dir, "nothing-here.db")+"\n")

	for _, tc := range []struct {
		name string
		args []string
		ok   bool
		want string
	}{
		{"no subcommand", []string{"deliveries"}, false, "Usage: switchboard deliveries"},
		{"help", []string{"deliveries", "-h"}, true, "Usage: switchboard deliveries"},
		{"unknown subcommand", []string{"deliveries", "purge"}, false, `unknown subcommand "purge"`},
		{"empty log", []string{"deliveries", "list", "--config", cfg}, true, "no deliveries match"},
		{"empty log json", []string{"deliveries", "list", "--config", cfg, "--json"}, true, `"count": 0`},
		{"store override", []string{"deliveries", "list", "--config", missing, "--store", db}, true, "no deliveries match"},
		{"bad since", []string{"deliveries", "list", "--config", cfg, "--since", "last week"}, false, "neither a duration"},
		{"bad limit", []string{"deliveries", "list", "--config", cfg, "--limit", "-3"}, false, "limit"},
		{"stray argument", []string{"deliveries", "list", "dead", "--config", cfg}, false, "takes no arguments"},
		{"show unknown", []string{"deliveries", "show", "msg_nope", "--config", cfg}, false, "not found"},
		{"show without id", []string{"deliveries", "show", "--config", cfg}, false, "one delivery id"},
		{"retry nothing", []string{"deliveries", "retry", "--config", cfg}, false, "give the ids of dead deliveries, or --dead"},
		{"retry both", []string{"deliveries", "retry", "msg_x", "--dead", "--config", cfg}, false, "not both"},
		{"sink without dead", []string{"deliveries", "retry", "msg_x", "--sink", "a", "--config", cfg}, false, "go with --dead"},
		{"retry unknown", []string{"deliveries", "retry", "msg_x", "--config", cfg}, false, "msg_x: not found: left alone"},
		{"retry dead none", []string{"deliveries", "retry", "--dead", "--since", "7d", "--config", cfg}, true, "re-queued 0 dead deliveries"},
		{"store variable unset", []string{"deliveries", "list", "--config", noStore}, false, "${SB_STORE_UNSET} is not set"},
		{"store missing", []string{"deliveries", "list", "--config", missing}, false, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, &out, &errOut)
			all := out.String() + errOut.String()
			if err != nil {
				all += err.Error()
			}
			if (err == nil) != tc.ok || !strings.Contains(all, tc.want) {
				t.Errorf("err = %v, output:\n%s\nwant ok=%v and %q", err, all, tc.ok, tc.want)
			}
			if tc.ok && strings.Contains(strings.Join(tc.args, " "), "--json") {
				var v map[string]any
				if err := json.Unmarshal(out.Bytes(), &v); err != nil {
					t.Errorf("--json output is not JSON: %v", err)
				}
			}
		})
	}
	if _, err := filepath.Glob(filepath.Join(dir, "nothing-here.db*")); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "nothing-here.db*")); len(m) > 0 {
		t.Errorf("a store was created: %v", m)
	}
}

// Vendor text with terminal escape sequences (an SMS, a fax CSID, a
// description) reaches the text output of deliveries list and show without
// its control characters; --json keeps the value as stored.
func TestDeliveriesStripControlCharacters(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "sb.db")
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	const esc = "\x1b]0;pwned\x07\x1b[2J\u009b31m\x7f"
	ev := &event.Event{
		Source: "telesign", Type: "sms.inbound", Subject: "ref" + esc, Status: event.StatusSuccess,
		Description: "hello" + esc + "\nstate  delivered", DedupKey: "k1",
		Data: map[string]any{"mo_message": "hi" + esc},
	}
	ev.Seal("telesign", time.Now())
	res, err := st.Ingest(context.Background(), []*event.Event{ev}, func(*event.Event) rules.Result {
		return rules.Result{Matches: []rules.Match{{Rule: "r", Sink: "s", Title: "title" + esc, Text: "text" + esc, Templated: true}}}
	}, nil)
	if err != nil || res.Deliveries != 1 {
		t.Fatalf("ingest: %v, %+v", err, res)
	}
	st.Close()
	var id string
	{
		var out bytes.Buffer
		if err := run(context.Background(), []string{"deliveries", "list", "--store", db, "--json"}, &out, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		var v struct{ Deliveries []struct{ ID, Title string } }
		if err := json.Unmarshal(out.Bytes(), &v); err != nil || len(v.Deliveries) != 1 {
			t.Fatalf("list --json: %v %s", err, out.String())
		}
		id = v.Deliveries[0].ID
		if v.Deliveries[0].Title != "title"+esc {
			t.Errorf("--json changed the stored title: %q", v.Deliveries[0].Title)
		}
	}
	for _, args := range [][]string{{"deliveries", "list"}, {"deliveries", "show", id}} {
		t.Run(args[1], func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(context.Background(), append(args, "--store", db), &out, &errOut); err != nil {
				t.Fatalf("%v: %s", err, errOut.String())
			}
			for i, r := range out.String() {
				if r != '\n' && unicode.IsControl(r) {
					t.Fatalf("control character %U at byte %d of:\n%q", r, i, out.String())
				}
			}
			if !strings.Contains(out.String(), "ref]0;pwned[2J31m") {
				t.Errorf("subject not shown with its printable characters:\n%s", out.String())
			}
			if args[1] == "show" && strings.Contains(out.String(), "\nstate  delivered") {
				t.Errorf("a description forged a line of the table:\n%s", out.String())
			}
		})
	}
}
