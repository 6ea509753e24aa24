package store

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// A store at version 6 with an attempt history keeps it, and numbers the
// attempts recorded after the upgrade after it; the last recorded attempt
// lives in the delivery's row and moves to attempts when the next one is
// recorded.
func TestMigrateLastAttemptInline(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).UnixMilli()
	upgradeFrom(t, 6, at, []string{
		`INSERT INTO events (id, receiver, source, type, subject, status, received_at, body)
			VALUES ('evt_a', 'interfax', 'interfax', 'fax.outbound', '664598111', 'failure', ?, '{}')`,
		`INSERT INTO deliveries (id, event_id, rule, sink, title, text, templated, state, attempts, next_attempt_at,
			last_status, last_error, created_at, queued_at, updated_at, event_at, lease_owner, lease_until)
			VALUES ('msg_1', 'evt_a', 'r', 'ops', 't', 'x', 0, 'pending', 3, ?, 503, 'busy', ?, ?, ?, ?, 'tok', 9999999999999)`,
		`INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status, error, owner) VALUES ('msg_1', 1, ?, 10, 500, 'down', 'old')`,
		`INSERT INTO attempts (delivery_id, n, started_at, duration_ms, status, error, owner) VALUES ('msg_1', 2, ?, 20, 503, 'busy', 'old')`,
	}, func(t *testing.T, st *Store) {
		ctx := context.Background()
		attempts := func(want ...int) {
			t.Helper()
			_, atts, err := st.Get(ctx, "msg_1")
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, a := range atts {
				got = append(got, a.N)
			}
			if len(got) != len(want) {
				t.Fatalf("attempts %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("attempts %v, want %v", got, want)
				}
			}
		}
		attempts(1, 2)
		started := time.UnixMilli(at).Add(time.Minute)
		// Two more attempts under the lease: a failure, then success.
		for i, o := range []Outcome{
			{ID: "msg_1", Lease: "tok", State: StatePending, NextAttemptAt: started, Status: 502, Error: "bad gateway", Started: started, Duration: 30 * time.Millisecond},
			{ID: "msg_1", Lease: "tok", State: StateDelivered, Status: 200, Started: started.Add(time.Second), Duration: 40 * time.Millisecond},
		} {
			if i == 1 {
				if _, err := st.db.ExecContext(ctx, st.d.q(`UPDATE deliveries SET lease_owner = 'tok' WHERE id = 'msg_1'`)); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.Finish(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
		attempts(1, 2, 3, 4)
		_, atts, _ := st.Get(ctx, "msg_1")
		if a := atts[2]; a.Status != 502 || a.Error != "bad gateway" || a.Duration != 30*time.Millisecond || !a.Started.Equal(started) {
			t.Errorf("attempt 3 = %+v, want the failure at %v", a, started)
		}
		if a := atts[3]; a.Status != 200 || a.Error != "" || a.Duration != 40*time.Millisecond {
			t.Errorf("attempt 4 = %+v, want the success", a)
		}
		var rows, inline int
		if err := st.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM attempts WHERE delivery_id = 'msg_1'`).Scan(&rows); err != nil || rows != 3 {
			t.Errorf("attempts rows = %d, %v; want 3 (the fourth is in the delivery's row)", rows, err)
		}
		if err := st.read.QueryRowContext(ctx, `SELECT attempt_n FROM deliveries WHERE id = 'msg_1'`).Scan(&inline); err != nil || inline != 4 {
			t.Errorf("attempt_n = %d, %v; want 4", inline, err)
		}
	})
}

// A delivery sent once writes no attempts row: its attempt is in its row.
func TestOneAttemptWritesNoAttemptsRow(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := &clock{t: time.Unix(1700000000, 0)}
			st := open(t, c)
			if _, err := st.Ingest(ctx, []*event.Event{newEvent("tx", "success", 1, true)}, toSinks("a"), nil); err != nil {
				t.Fatal(err)
			}
			ds, err := st.Claim(ctx, "a", 10, time.Minute)
			if err != nil || len(ds) != 1 {
				t.Fatalf("claim = %d, %v", len(ds), err)
			}
			started := c.now()
			if err := st.Finish(ctx, Outcome{ID: ds[0].ID, Lease: ds[0].Lease, State: StateDelivered, Status: 204, Started: started, Duration: time.Second}); err != nil {
				t.Fatal(err)
			}
			var rows int
			if err := st.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM attempts`).Scan(&rows); err != nil || rows != 0 {
				t.Errorf("attempts rows = %d, %v; want 0", rows, err)
			}
			_, atts, err := st.Get(ctx, ds[0].ID)
			if err != nil || len(atts) != 1 || atts[0].N != 1 || atts[0].Status != 204 || atts[0].Duration != time.Second || !atts[0].Started.Equal(started) {
				t.Errorf("Get attempts = %+v, %v; want attempt 1 (204, 1s)", atts, err)
			}
			// An outcome under a lost lease records nothing.
			if err := st.Finish(ctx, Outcome{ID: ds[0].ID, Lease: "lost", State: StateDead, Status: 500, Started: started, Duration: time.Second}); err != nil {
				t.Fatal(err)
			}
			if _, atts, _ := st.Get(ctx, ds[0].ID); len(atts) != 1 || atts[0].Status != 204 {
				t.Errorf("after a lost lease's outcome: %+v, want attempt 1 only", atts)
			}
			// An attempt without a start time is kept and moved all the same.
			if _, err := st.Ingest(ctx, []*event.Event{newEvent("tx", "failure", 2, true)}, toSinks("a"), nil); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				ds, err := st.Claim(ctx, "a", 10, time.Minute)
				if err != nil || len(ds) != 1 {
					t.Fatalf("claim %d = %d, %v", i, len(ds), err)
				}
				o := Outcome{ID: ds[0].ID, Lease: ds[0].Lease, State: StatePending, NextAttemptAt: c.now(), Status: 503}
				if i == 1 {
					o.State = StateDead
				}
				if err := st.Finish(ctx, o); err != nil {
					t.Fatal(err)
				}
				if _, atts, _ := st.Get(ctx, ds[0].ID); len(atts) != i+1 || atts[i].N != i+1 {
					t.Errorf("attempts after %d unstarted outcomes: %+v", i+1, atts)
				}
			}
		})
	}
}
