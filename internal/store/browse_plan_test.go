package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A subject filter finds the subject's events by the events index on
// (source, subject) and their deliveries by the deliveries index on
// (event_at, event_id): a page of the delivery log filtered to one fax reads a few
// rows, not every delivery (seconds on a million-row log).
func TestSubjectFilterUsesIndexes(t *testing.T) {
	st := openTestSQLite(t, &clock{t: time.Unix(1700000000, 0)})
	where, args := Filter{Subject: "664598111"}.where()
	for name, q := range map[string]string{
		"page":   listQuery(where+" AND d.id < ?", "d.id DESC"),
		"counts": `SELECT d.state, COUNT(*) FROM deliveries d` + where + ` GROUP BY d.state`,
	} {
		plan := queryPlan(t, st, q, append(args, "msg_z", 50)[:strings.Count(q, "?")]...)
		for _, step := range plan {
			// The only scan allowed is of the CTE listing the sources.
			if strings.HasPrefix(step, "SCAN ") && !strings.HasPrefix(step, "SCAN src") {
				t.Errorf("%s: plan scans a table:\n  %s", name, strings.Join(plan, "\n  "))
				break
			}
		}
	}
}

// queryPlan returns the steps of SQLite's plan for q with args.
func queryPlan(t *testing.T, st *Store, q string, args ...any) []string {
	t.Helper()
	rows, err := st.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
