package store

import (
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
	plan := queryPlan(t, st, fmt.Sprintf(claimOrdered, ""), 0, "o", 0, "s", StatePending, 0, 0, 10)
	joined := strings.Join(plan, "\n  ")
	if !strings.Contains(joined, "SEARCH e USING COVERING INDEX deliveries_thread") {
		t.Errorf("the in-order probe does not answer from the pending threaded deliveries' index:\n  %s", joined)
	}
}
