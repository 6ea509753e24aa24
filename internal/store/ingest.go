package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboard/switchboard/internal/event"
)

// Ingest stores the events of one callback with the deliveries plan decides
// for each, all or nothing, and returns once they are durable. Events already
// stored (same id) are duplicates: they are reported and create nothing.
//
// For each new event it reads and updates the state of its subject (source +
// subject) to set PreviousStatus and Stale: an event that arrives after a
// final one for the same subject is stale and does not change that state.
func (s *Store) Ingest(ctx context.Context, events []*event.Event, plan Planner) (*IngestResult, error) {
	var res *IngestResult
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		res = &IngestResult{}
		if err := s.lockSubjects(ctx, tx, events); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, ev := range events {
			planned, throttled, stored, err := s.ingestOne(ctx, tx, ev, plan)
			if err != nil {
				return err
			}
			res.Throttled = append(res.Throttled, throttled...)
			if !stored {
				res.Duplicates = append(res.Duplicates, ev)
				continue
			}
			res.Stored = append(res.Stored, ev)
			res.Deliveries += len(planned)
			for _, p := range planned {
				if !seen[p.Sink] {
					seen[p.Sink] = true
					res.Sinks = append(res.Sinks, p.Sink)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// lockSubjects locks, on Postgres, the subjects of a callback with several
// events in one fixed order (source, subject) before any is used, so two
// instances taking callbacks about the same transactions cannot deadlock on
// them. SQLite has a single writer and needs no locks.
func (s *Store) lockSubjects(ctx context.Context, tx *wtx, events []*event.Event) error {
	if s.d.forUpdate == "" || len(events) < 2 {
		return nil
	}
	keys := make([][2]string, 0, len(events))
	for _, ev := range events {
		keys = append(keys, [2]string{ev.Source, ev.Subject})
	}
	slices.SortFunc(keys, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	keys = slices.Compact(keys)
	now := ms(s.now())
	for _, k := range keys {
		if _, err := tx.exec(ctx, `INSERT INTO subjects (source, subject, status, final, updated_at)
			VALUES (?, ?, '', 0, ?) ON CONFLICT (source, subject) DO UPDATE SET final = subjects.final`, k[0], k[1], now); err != nil {
			return fmt.Errorf("%w: lock subject: %v", ErrUnavailable, err)
		}
	}
	return nil
}

// ingestOne stores one event and its deliveries; it returns the deliveries
// to send and the rules a throttle suppressed.
func (s *Store) ingestOne(ctx context.Context, tx *wtx, ev *event.Event, plan Planner) ([]Planned, []string, bool, error) {
	now := ms(s.now())
	var prev string
	var final int
	var err error
	if s.d.forUpdate != "" {
		// Lock the subject (creating its row if needed) and read it in one
		// statement, so concurrent instances see each other's statuses in
		// order: an upsert waits for a concurrent insert of the same row
		// and returns its latest version.
		err = tx.queryRow(ctx, `INSERT INTO subjects (source, subject, status, final, updated_at)
			VALUES (?, ?, '', 0, ?) ON CONFLICT (source, subject) DO UPDATE SET final = subjects.final
			RETURNING status, final`, ev.Source, ev.Subject, now).Scan(&prev, &final)
	} else {
		// SQLite has one writer, this one: no lock is needed.
		err = tx.queryRow(ctx, `SELECT status, final FROM subjects WHERE source = ? AND subject = ?`,
			ev.Source, ev.Subject).Scan(&prev, &final)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, nil, false, fmt.Errorf("%w: subject: %v", ErrUnavailable, err)
	}
	ev.PreviousStatus = prev
	ev.Stale = final != 0

	body, err := json.Marshal(ev)
	if err != nil {
		return nil, nil, false, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	r, err := tx.exec(ctx, `INSERT INTO events (id, receiver, source, type, subject, status, received_at, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		ev.ID, ev.Receiver, ev.Source, ev.Type, ev.Subject, ev.Status, ms(ev.ReceivedAt), string(body))
	if err != nil {
		return nil, nil, false, fmt.Errorf("%w: event: %v", ErrUnavailable, err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return nil, nil, false, fmt.Errorf("%w: event: %v", ErrUnavailable, err)
	} else if n == 0 {
		return nil, nil, false, nil // a repeated callback
	}
	if s.hookEv != nil {
		if err := s.hookEv(); err != nil {
			return nil, nil, false, err
		}
	}
	if !ev.Stale {
		if _, err := tx.exec(ctx, `INSERT INTO subjects (source, subject, status, final, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (source, subject) DO UPDATE SET status = excluded.status, final = excluded.final, updated_at = excluded.updated_at`,
			ev.Source, ev.Subject, ev.Status, b2i(ev.Final), now); err != nil {
			return nil, nil, false, fmt.Errorf("%w: subject: %v", ErrUnavailable, err)
		}
	}
	planned := plan(ev)
	states, throttled, err := s.throttle(ctx, tx, planned, now)
	if err != nil {
		return nil, nil, false, err
	}
	send := planned
	if states != nil {
		send = make([]Planned, 0, len(planned))
	}
	// One statement for all of the event's deliveries: on Postgres each
	// statement is a round trip.
	args := make([]any, 0, 12*len(planned))
	for i, p := range planned {
		state := StatePending
		if states != nil {
			if state = states[i]; state == StatePending {
				send = append(send, p)
			}
		}
		args = append(args, DeliveryID(ev.ID, p.Rule, p.Sink), ev.ID, p.Rule, p.Sink, p.Title, p.Text, b2i(p.Templated),
			state, now, now, now, now)
	}
	for len(args) > 0 {
		n := min(len(args)/12, maxInsertRows)
		if _, err := tx.exec(ctx, insertDeliveries(n), args[:12*n]...); err != nil {
			return nil, nil, false, fmt.Errorf("%w: delivery: %v", ErrUnavailable, err)
		}
		args = args[12*n:]
	}
	return send, throttled, true, nil
}

// maxInsertRows bounds the rows of one INSERT, within the databases'
// limits on the parameters of a statement.
const maxInsertRows = 256

// insertDeliveries returns the statement that inserts n deliveries; the
// common counts are made once.
func insertDeliveries(n int) string {
	if n < len(insertDeliveriesN) {
		return insertDeliveriesN[n]
	}
	return makeInsertDeliveries(n)
}

var insertDeliveriesN = func() (qs [9]string) {
	for n := 1; n < len(qs); n++ {
		qs[n] = makeInsertDeliveries(n)
	}
	return qs
}()

func makeInsertDeliveries(n int) string {
	row := "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	return `INSERT INTO deliveries
		(id, event_id, rule, sink, title, text, templated, state, next_attempt_at, created_at, queued_at, updated_at)
		VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// DeliveryID is the stable id of the delivery of an event by a rule to a
// sink; webhook sinks send it as webhook-id.
func DeliveryID(eventID, rule, sink string) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + rule + "\x00" + sink))
	return "msg_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
}
