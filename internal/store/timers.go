package store

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard/switchboard/internal/event"
	"github.com/switchboard/switchboard/rules"
)

// Timer is the open timer of one expectation for one subject: started by
// an event matching the expectation's after, due when its window ends.
type Timer struct {
	Source      string    `json:"source"`
	Subject     string    `json:"subject"`
	Expectation string    `json:"expectation"`
	Receiver    string    `json:"receiver"`
	EventID     string    `json:"event_id"` // the event that started it
	StartedAt   time.Time `json:"started_at"`
	DueAt       time.Time `json:"due_at"`
	// Last is, for a timer that fired, the last event stored for its
	// subject (nil when retention removed it).
	Last *LastEvent `json:"last_event,omitempty"`
}

// LastEvent is the last event seen for a subject, as a missed expectation
// reports it.
type LastEvent struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Status     string    `json:"status"`
	ReceivedAt time.Time `json:"received_at"`
}

// expect applies what a new event does to the timers of its subject, in
// the transaction that stores it: its starts create the timers not running
// yet (a running one is kept), its stops delete them; one statement each,
// whatever the number of expectations. Only events that start or stop an
// expectation get here: the others cost intake nothing.
func (s *Store) expect(ctx context.Context, tx *wtx, ev *event.Event, acts []rules.ExpectAction, at time.Time, res *IngestResult) error {
	var starts, stops []any
	for _, a := range acts {
		if a.Start {
			starts = append(starts, ev.Source, ev.Subject, a.Expectation, ev.Receiver, ev.ID, ms(at), ms(at.Add(a.Within)))
		} else {
			stops = append(stops, a.Expectation)
		}
	}
	if len(starts) > 0 {
		q := `INSERT INTO timers (source, subject, expectation, receiver, event_id, started_at, due_at)
			VALUES ` + rowsOf("(?, ?, ?, ?, ?, ?, ?)", len(starts)/7) + `
			ON CONFLICT (source, subject, expectation) DO NOTHING RETURNING expectation`
		if err := s.timerNames(ctx, tx, q, starts, &res.TimersStarted); err != nil {
			return err
		}
	}
	if len(stops) > 0 {
		q := `DELETE FROM timers WHERE source = ? AND subject = ? AND expectation IN (` + placeholders(len(stops)) + `)
			RETURNING expectation`
		if err := s.timerNames(ctx, tx, q, append([]any{ev.Source, ev.Subject}, stops...), &res.TimersCancelled); err != nil {
			return err
		}
	}
	return nil
}

// timerNames runs a statement that returns expectation names and appends
// them to names.
func (s *Store) timerNames(ctx context.Context, tx *wtx, q string, args []any, names *[]string) error {
	rows, err := tx.query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%w: timer: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("%w: timer: %w", ErrUnavailable, err)
		}
		*names = append(*names, name)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: timer: %w", ErrUnavailable, err)
	}
	return nil
}

// FireTimers fires up to limit timers that are due: in one transaction it
// deletes them (on Postgres skipping those another instance is firing, so
// each fires once), makes each one's event with mk and stores those events
// as intake does, routed by plan, their deliveries offered to h. A timer
// for which mk returns nil is deleted without an event. It returns the
// timers fired and what their intake stored.
func (s *Store) FireTimers(ctx context.Context, limit int, mk func(Timer) *event.Event, plan Planner, h Handoff) ([]Timer, *IngestResult, error) {
	var fired []Timer
	res, err := s.emit(ctx, plan, h, func(ctx context.Context, tx *wtx) ([]*event.Event, error) {
		var err error
		if fired, err = s.claimTimers(ctx, tx, limit); err != nil {
			return nil, err
		}
		var evs []*event.Event
		for _, t := range fired {
			if ev := mk(t); ev != nil {
				evs = append(evs, ev)
			}
		}
		return evs, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return fired, res, nil
}

// emit runs claim in a write transaction and stores the events it returns
// in the same transaction, as intake does: the state change that makes
// Switchboard emit an event (a timer fired, a receiver fell silent) commits
// with that event or not at all. claim may run more than once.
func (s *Store) emit(ctx context.Context, plan Planner, h Handoff, claim func(ctx context.Context, tx *wtx) ([]*event.Event, error)) (*IngestResult, error) {
	in := &intake{plan: plan, h: h, token: s.leaseToken()}
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		in.res = &IngestResult{}
		evs, err := claim(ctx, tx)
		if err != nil || len(evs) == 0 {
			return err
		}
		in.events, in.preps = evs, in.preps[:0]
		for _, ev := range evs {
			prev, final := s.hints.get(ev.Source, ev.Subject)
			p, err := s.prepare(ev, prev, final, plan)
			if err != nil {
				return err
			}
			in.preps = append(in.preps, p)
		}
		return s.runIntakes(ctx, tx, []*op{{intake: in}})
	})
	if err != nil {
		in.unreserve()
		return nil, err
	}
	if len(in.leased) > 0 {
		h.Take(in.leased)
	}
	return in.res, nil
}

// claimTimers deletes and returns up to limit due timers, earliest first,
// each with the last event of its subject.
func (s *Store) claimTimers(ctx context.Context, tx *wtx, limit int) ([]Timer, error) {
	rows, err := tx.query(ctx, `DELETE FROM timers WHERE (source, subject, expectation) IN (
			SELECT source, subject, expectation FROM timers WHERE due_at <= ? ORDER BY due_at LIMIT ?`+s.d.skipLocked+`)
		RETURNING source, subject, expectation, receiver, event_id, started_at, due_at`, ms(s.now()), limit)
	if err != nil {
		return nil, fmt.Errorf("%w: fire timers: %w", ErrUnavailable, err)
	}
	var out []Timer
	for rows.Next() {
		var t Timer
		var started, due int64
		if err := rows.Scan(&t.Source, &t.Subject, &t.Expectation, &t.Receiver, &t.EventID, &started, &due); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%w: fire timers: %w", ErrUnavailable, err)
		}
		t.StartedAt, t.DueAt = fromMS(started), fromMS(due)
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: fire timers: %w", ErrUnavailable, err)
	}
	for i := range out {
		t := &out[i]
		var l LastEvent
		var at int64
		err := tx.queryRow(ctx, `SELECT id, type, status, received_at FROM events WHERE source = ? AND subject = ?
			ORDER BY received_at DESC LIMIT 1`, t.Source, t.Subject).Scan(&l.ID, &l.Type, &l.Status, &at)
		if err == nil {
			l.ReceivedAt = fromMS(at)
			t.Last = &l
		}
	}
	return out, nil
}

// TimersDue reports whether a timer is due: the cheap read that tells the
// firing loop whether to take the writer at all.
func (s *Store) TimersDue(ctx context.Context) (bool, error) {
	var n int
	err := s.read.QueryRowContext(ctx, s.d.q(`SELECT COUNT(*) FROM (SELECT 1 FROM timers WHERE due_at <= ? LIMIT 1) t`), ms(s.now())).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("%w: timers due: %w", ErrUnavailable, err)
	}
	return n > 0, nil
}

// Timers lists up to limit open timers, those due first, and how many are
// open in all.
func (s *Store) Timers(ctx context.Context, limit int) ([]Timer, int, error) {
	total, err := s.OpenTimers(ctx)
	if err != nil {
		return nil, 0, err
	}
	rows, err := s.read.QueryContext(ctx, s.d.q(`SELECT source, subject, expectation, receiver, event_id, started_at, due_at
		FROM timers ORDER BY due_at LIMIT ?`), limit)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: timers: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	var out []Timer
	for rows.Next() {
		var t Timer
		var started, due int64
		if err := rows.Scan(&t.Source, &t.Subject, &t.Expectation, &t.Receiver, &t.EventID, &started, &due); err != nil {
			return nil, 0, fmt.Errorf("%w: timers: %w", ErrUnavailable, err)
		}
		t.StartedAt, t.DueAt = fromMS(started), fromMS(due)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("%w: timers: %w", ErrUnavailable, err)
	}
	return out, total, nil
}

// OpenTimers counts the open timers.
func (s *Store) OpenTimers(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM timers`).Scan(&n); err != nil {
		return 0, fmt.Errorf("%w: timers: %w", ErrUnavailable, err)
	}
	return n, nil
}
