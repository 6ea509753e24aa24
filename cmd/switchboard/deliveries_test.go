package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/store"
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
