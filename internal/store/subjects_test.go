package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/event"
)

// TestSubjectBatchEqualsUpserts runs the same random batches of callbacks
// through SQLite's batched subject states (subjectBatch) and through
// upsertSubject event by event, as Postgres records them, on two stores:
// every event must be stored with the same previous status and staleness,
// routed for them, and every subject left in the same state. The batches
// hold several callbacks and events about one subject, repeated events
// (duplicates), statuses after a final one (stale), and restarts (the
// hints forgotten, so events are routed for a wrong guess and again in the
// writer).
func TestSubjectBatchEqualsUpserts(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			c := &clock{t: time.Unix(1700000000, 0)}
			batched, upserts := openTestSQLite(t, c), openTestSQLite(t, c)
			upserts.d.serialTx = false
			r := rand.New(rand.NewPCG(seed, 1))
			statuses := []string{"queued", "sending", "success", "busy", "failed"}
			for range 30 {
				if r.IntN(8) == 0 {
					batched.hints, upserts.hints = subjectHints{}, subjectHints{} // a restart
				}
				var script [][]*event.Event
				for range 1 + r.IntN(6) {
					var cb []*event.Event
					for range 1 + r.IntN(3) {
						// Few subjects and codes: events meet their subject's
						// history, and some come again (a duplicate).
						subject := fmt.Sprint("tx-", r.IntN(5))
						code := r.IntN(12)
						cb = append(cb, newEvent(subject, statuses[code%len(statuses)], code, r.IntN(4) == 0))
					}
					script = append(script, cb)
				}
				c.add(time.Second)
				a, b := ingestGroup(t, batched, script), ingestGroup(t, upserts, script)
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("results differ:\n batched %v\n upserts %v", a, b)
				}
			}
			if a, b := dumpSubjectsAndEvents(t, batched), dumpSubjectsAndEvents(t, upserts); !reflect.DeepEqual(a, b) {
				t.Fatalf("stored state differs:\n batched %v\n upserts %v", a, b)
			}
		})
	}
}

// ingestGroup routes each callback of script as Ingest does, runs them all
// in one transaction of the writer, in order, and reports for each stored
// event its previous status and staleness, and how many were duplicates
// and routed again.
func ingestGroup(t *testing.T, st *Store, script [][]*event.Event) []string {
	t.Helper()
	var ops []*op
	for _, cb := range script {
		evs := make([]*event.Event, len(cb))
		for i, ev := range cb {
			cp := *ev
			evs[i] = &cp
		}
		in, err := st.newIntake(evs, statusPlan, nil)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, &op{intake: in})
	}
	if err := st.w.do(context.Background(), func(ctx context.Context, tx *wtx) error {
		return st.runIntakes(ctx, tx, ops)
	}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range ops {
		res := o.intake.res
		for _, ev := range res.Stored {
			out = append(out, fmt.Sprintf("%s %s prev=%q stale=%v", ev.Subject, ev.Status, ev.PreviousStatus, ev.Stale))
		}
		out = append(out, fmt.Sprintf("duplicates=%d replanned=%d deliveries=%d", len(res.Duplicates), res.Replanned, res.Deliveries))
	}
	return out
}

// dumpSubjectsAndEvents lists every subject state and every event with its
// stored previous status and the text of its delivery, which records the
// state it was routed for (statusPlan).
func dumpSubjectsAndEvents(t *testing.T, st *Store) []string {
	t.Helper()
	var out []string
	rows, err := st.read.Query(`SELECT source, subject, status, final, updated_at, prior_status, prior_final FROM subjects ORDER BY source, subject`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var source, subject, status, prior string
		var final, priorFinal int
		var updated int64
		if err := rows.Scan(&source, &subject, &status, &final, &updated, &prior, &priorFinal); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("subject %s/%s %s final=%d at=%d prior=%s/%d", source, subject, status, final, updated, prior, priorFinal))
	}
	rows.Close()
	rows, err = st.read.Query(`SELECT e.id, e.body, d.text FROM events e JOIN deliveries d ON d.event_id = e.id ORDER BY e.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, body, text string
		if err := rows.Scan(&id, &body, &text); err != nil {
			t.Fatal(err)
		}
		ev, err := event.Decode([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("prev=%s stale=%v", ev.PreviousStatus, ev.Stale); text != want {
			t.Errorf("event %s stored with previous %q stale %v but routed for %q", id, ev.PreviousStatus, ev.Stale, text)
		}
		out = append(out, fmt.Sprintf("event %s %s", id, text))
	}
	if len(out) < 10 {
		t.Fatalf("only %d subjects and events stored: %v", len(out), out)
	}
	return out
}

// The batch's read looks each subject up by its primary key: a scan would
// cost every intake the size of the table.
func TestSubjectBatchReadUsesPrimaryKey(t *testing.T) {
	st := openTestSQLite(t, &clock{t: time.Unix(1700000000, 0)})
	plan := queryPlan(t, st, selectSubjects(4), "a", "1", "a", "2", "b", "1", "b", "2")
	uses := false
	for _, step := range plan {
		if strings.Contains(step, "SCAN subjects") {
			t.Errorf("plan scans subjects: %q", plan)
		}
		uses = uses || strings.Contains(step, "SEARCH subjects USING INDEX sqlite_autoindex_subjects_1 (source=? AND subject=?)")
	}
	if !uses {
		t.Errorf("plan does not search subjects by its primary key: %q", plan)
	}
}

// An event whose subject the batch did not read is refused, not routed for
// a guessed history.
func TestSubjectBatchRefusesUnreadSubject(t *testing.T) {
	b := &subjectBatch{rows: map[subjectKey]*subjectRow{{"test", "read"}: {key: subjectKey{"test", "read"}}}}
	if _, err := b.advance(newEvent("read", "queued", 1, false), 1); err != nil {
		t.Fatalf("advance of a subject read: %v", err)
	}
	if _, err := b.advance(newEvent("unread", "queued", 2, false), 1); err == nil || !strings.Contains(err.Error(), "test/unread") {
		t.Errorf("advance of a subject not read = %v, want an error naming it", err)
	}
	if len(b.changed) != 1 {
		t.Errorf("%d subjects to write, want the 1 read", len(b.changed))
	}
}
