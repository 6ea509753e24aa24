package expect

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/pgtest"
)

// After the store failed to answer (intake answered the vendors 503
// meanwhile, and they retry), due timers are held for the grace again, as
// after a start: the final status a vendor retries cancels its timer
// instead of a false expectation.missed. The outage is real: the store's
// schema on the machine's Postgres is renamed away, then back.
func TestRunnerGraceAfterOutage(t *testing.T) {
	dsn, admin, schema := pgtest.Schema(t, "sb_expect_")
	r, st, c := setupOn(t, dsn, 5*time.Minute)
	ctx := context.Background()
	callback(t, r, st, pending(c, "R1"))
	c.add(6 * time.Minute)
	r.Round(ctx) // settled; nothing due yet
	c.add(10 * time.Minute)
	rename := func(from, to string) {
		t.Helper()
		if _, err := admin.Exec(`ALTER SCHEMA ` + from + ` RENAME TO ` + to); err != nil {
			t.Fatal(err)
		}
	}
	rename(schema, schema+"_down")
	r.Round(ctx) // the store does not answer
	rename(schema+"_down", schema)
	c.add(time.Minute)
	heldForGrace(t, r, st, c, "Expectation sms-final for telesign R1")
}
