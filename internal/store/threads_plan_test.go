package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The ordered claim asks, for each due delivery of a threaded sink,
// whether an earlier one of its thread is still pending: an answer from
// the partial index of pending threaded deliveries alone, whose size does
// not grow with how long a thread has run.
func TestClaimOrderedProbesPendingIndex(t *testing.T) {
	st := openTestSQLite(t, &clock{t: time.Unix(1700000000, 0)})
	q := "EXPLAIN QUERY PLAN " + fmt.Sprintf(claimOrdered, "")
	rows, err := st.read.QueryContext(context.Background(), q, 0, "o", 0, "s", StatePending, 0, 0, 10)
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
	joined := strings.Join(plan, "\n  ")
	if !strings.Contains(joined, "SEARCH e USING COVERING INDEX deliveries_thread") {
		t.Errorf("the in-order probe does not answer from the pending threaded deliveries' index:\n  %s", joined)
	}
}
