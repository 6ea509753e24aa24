package store

import (
	"context"
	"fmt"

	"github.com/switchboard/switchboard/internal/event"
)

// subjectBatch is, on SQLite, the states of the subjects a batch of
// intakes records events about: read in one statement before the events
// are routed again where needed, advanced in memory in commit order, and
// written back in one statement. The transaction holds SQLite's write lock
// from its start (dialect.serialTx), so nothing changes them in between,
// and the result is that of upsertSubject run event by event, at less
// cost: that statement's RETURNING is a temporary table per event.
// Postgres keeps upsertSubject, whose row locks order the instances.
type subjectBatch struct {
	rows    map[subjectKey]*subjectRow
	changed []*subjectRow // in the order of their first event
	args    []any         // reused by read and write
}

// subjectRow is one subject's stored state as the batch leaves it.
type subjectRow struct {
	key subjectKey
	subjectState
	updatedAt int64
	prior     subjectState // before the batch's last event about it
	changed   bool
}

// readSubjects reads the stored state of the subjects of the new events
// among preps.
func (s *Store) readSubjects(ctx context.Context, tx *wtx, preps []*prepared, isNew map[string]bool) (*subjectBatch, error) {
	b := &subjectBatch{rows: make(map[subjectKey]*subjectRow, len(preps))}
	var keys []subjectKey
	for _, p := range preps {
		k := subjectKey{p.ev.Source, p.ev.Subject}
		if isNew[p.ev.ID] && b.rows[k] == nil {
			b.rows[k] = &subjectRow{key: k}
			keys = append(keys, k)
		}
	}
	for len(keys) > 0 {
		n := chunkOf(len(keys), insertChunks)
		b.args = b.args[:0]
		for _, k := range keys[:n] {
			b.args = append(b.args, k.source, k.subject)
		}
		rows, err := tx.query(ctx, selectSubjects(n), b.args...)
		if err != nil {
			return nil, fmt.Errorf("%w: subject: %w", ErrUnavailable, err)
		}
		for rows.Next() {
			var k subjectKey
			var st subjectState
			var final int
			var updated int64
			if err := rows.Scan(&k.source, &k.subject, &st.status, &final, &updated); err != nil {
				rows.Close()
				return nil, fmt.Errorf("%w: subject: %w", ErrUnavailable, err)
			}
			if r := b.rows[k]; r != nil {
				st.final = final != 0
				r.subjectState, r.updatedAt = st, updated
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("%w: subject: %w", ErrUnavailable, err)
		}
		keys = keys[n:]
	}
	return b, nil
}

// selectSubjects reads the states of n subjects, given as source and
// subject each.
func selectSubjects(n int) string {
	return `SELECT source, subject, status, final, updated_at FROM subjects
		WHERE (source, subject) IN (VALUES ` + rowsOf("(?, ?)", n) + `)`
}

// advance records ev's status as its subject's state at now, unless the
// subject is final already (ev is stale and changes nothing), and returns
// the state before, as upsertSubject does.
func (b *subjectBatch) advance(ev *event.Event, now int64) (subjectState, error) {
	k := subjectKey{ev.Source, ev.Subject}
	r := b.rows[k]
	if r == nil {
		// Not among the events read for: guessing its state would route
		// the event for a history it may not have.
		return subjectState{}, fmt.Errorf("subject %s/%s of event %s was not read with its batch", ev.Source, ev.Subject, ev.ID)
	}
	before := r.subjectState
	r.prior = before
	if !before.final {
		r.subjectState, r.updatedAt = subjectState{ev.Status, ev.Final}, now
	}
	if !r.changed {
		r.changed = true
		b.changed = append(b.changed, r)
	}
	return before, nil
}

// write stores the states the batch changed.
func (b *subjectBatch) write(ctx context.Context, tx *wtx) error {
	rest := b.changed
	for len(rest) > 0 {
		n := chunkOf(len(rest), insertChunks)
		b.args = b.args[:0]
		for _, r := range rest[:n] {
			b.args = append(b.args, r.key.source, r.key.subject, r.status, b2i(r.final), r.updatedAt, r.prior.status, b2i(r.prior.final))
		}
		if _, err := tx.exec(ctx, `INSERT INTO subjects (source, subject, status, final, updated_at, prior_status, prior_final)
			VALUES `+rowsOf("(?, ?, ?, ?, ?, ?, ?)", n)+`
			ON CONFLICT (source, subject) DO UPDATE SET status = excluded.status, final = excluded.final,
				updated_at = excluded.updated_at, prior_status = excluded.prior_status, prior_final = excluded.prior_final`, b.args...); err != nil {
			return fmt.Errorf("%w: subject: %w", ErrUnavailable, err)
		}
		rest = rest[n:]
	}
	return nil
}
