package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Filter selects deliveries from the log. Zero fields match everything.
type Filter struct {
	State   string
	Sink    string
	Rule    string
	Subject string
	EventID string
	Since   time.Time // created at or after
	Until   time.Time // created before; zero: no bound
	Limit   int       // default 100
}

func (f Filter) where() (string, []any) {
	where := " WHERE 1 = 1"
	var args []any
	add := func(cond string, v any) {
		where += " AND " + cond
		args = append(args, v)
	}
	if f.State != "" {
		add("d.state = ?", f.State)
	}
	if f.Sink != "" {
		add("d.sink = ?", f.Sink)
	}
	if f.Rule != "" {
		add("d.rule = ?", f.Rule)
	}
	if f.Subject != "" {
		add("(d.event_at, d.event_id) IN (SELECT s.received_at, s.id FROM events s WHERE s.source IN ("+eventSources+") AND s.subject = ?)", f.Subject)
	}
	if f.EventID != "" {
		add("(d.event_at, d.event_id) IN (SELECT s.received_at, s.id FROM events s WHERE s.id = ?)", f.EventID)
	}
	if !f.Since.IsZero() {
		add("d.created_at >= ?", ms(f.Since))
	}
	if !f.Until.IsZero() {
		add("d.created_at < ?", ms(f.Until))
	}
	return where, args
}

// eventSources lists the distinct sources of the events (interfax,
// telesign, switchboard: a handful) by a walk of the events index that
// probes once per source, so that a subject is looked up by the index on
// (source, subject) without the caller naming the sources.
const eventSources = `WITH RECURSIVE src (v) AS (
		SELECT MIN(source) FROM events
		UNION ALL
		SELECT (SELECT MIN(source) FROM events WHERE source > src.v) FROM src WHERE src.v IS NOT NULL)
	SELECT v FROM src WHERE v IS NOT NULL`

// List returns deliveries matching f, newest first.
func (s *Store) List(ctx context.Context, f Filter) ([]*Delivery, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	where, args := f.where()
	return s.listDeliveries(ctx, "list deliveries", where, "d.created_at DESC, d.id", append(args, f.Limit))
}

// listQuery selects the deliveries where selects, with their subjects, in
// order, up to a limit.
func listQuery(where, order string) string {
	return `SELECT ` + prefixed("d.", deliveryColumns) + `, e.subject
		FROM deliveries d JOIN events e ON e.id = d.event_id` + where + ` ORDER BY ` + order + ` LIMIT ?`
}

// listDeliveries returns the deliveries, with their subjects, that where
// selects, in order; the last of args is the limit.
func (s *Store) listDeliveries(ctx context.Context, what, where, order string, args []any) ([]*Delivery, error) {
	rows, err := s.read.QueryContext(ctx, s.d.q(listQuery(where, order)), args...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	defer rows.Close()
	var out []*Delivery
	for rows.Next() {
		d, err := scanDeliverySubject(rows)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func prefixed(p, cols string) string {
	var out []byte
	out = append(out, p...)
	for i := 0; i < len(cols); i++ {
		out = append(out, cols[i])
		if cols[i] == ',' {
			for i+1 < len(cols) && (cols[i+1] == ' ' || cols[i+1] == '\n' || cols[i+1] == '\t') {
				i++
			}
			out = append(out, ' ')
			out = append(out, p...)
		}
	}
	return string(out)
}

// scanDeliverySubject scans the delivery columns followed by the event's
// subject.
func scanDeliverySubject(sc interface{ Scan(...any) error }) (*Delivery, error) {
	var subject string
	d, err := scanDelivery(extraScan{sc, []any{&subject}})
	if err != nil {
		return nil, err
	}
	d.Subject = subject
	return d, nil
}

// extraScan scans more columns after the ones asked for.
type extraScan struct {
	sc    interface{ Scan(...any) error }
	extra []any
}

func (e extraScan) Scan(dest ...any) error { return e.sc.Scan(append(dest, e.extra...)...) }

// Attempt is one recorded delivery attempt.
type Attempt struct {
	N        int           `json:"n"`
	Started  time.Time     `json:"started_at"`
	Duration time.Duration `json:"duration_ns"`
	Status   int           `json:"status,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// Get returns one delivery with its event and attempt history.
func (s *Store) Get(ctx context.Context, id string) (*Delivery, []Attempt, error) {
	d, err := scanDeliverySubject(s.read.QueryRowContext(ctx, s.d.q(`SELECT `+prefixed("d.", deliveryColumns)+`, e.subject
		FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("delivery %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: get delivery: %w", ErrUnavailable, err)
	}
	if err := s.attachEvents(ctx, s.read, map[string][]*Delivery{d.EventID: {d}}); err != nil {
		return nil, nil, err
	}
	// The last recorded attempt is in the delivery's row (migration 7).
	rows, err := s.read.QueryContext(ctx, s.d.q(`SELECT n, started_at, duration_ms, status, error FROM attempts WHERE delivery_id = ?
		UNION ALL SELECT attempt_n, attempt_started_at, attempt_duration_ms, last_status, last_error FROM deliveries
			WHERE id = ? AND attempt_owner <> ''
		ORDER BY 1`), id, id)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: get attempts: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	var atts []Attempt
	for rows.Next() {
		var a Attempt
		var started, dur int64
		if err := rows.Scan(&a.N, &started, &dur, &a.Status, &a.Error); err != nil {
			return nil, nil, fmt.Errorf("%w: get attempts: %w", ErrUnavailable, err)
		}
		a.Started, a.Duration = fromMS(started), time.Duration(dur)*time.Millisecond
		atts = append(atts, a)
	}
	return d, atts, rows.Err()
}

// Retry re-queues dead and silenced deliveries by id, with a fresh attempt
// budget; it returns how many were re-queued. Deliveries in other states
// are left alone.
func (s *Store) Retry(ctx context.Context, ids ...string) (int, error) {
	var n int
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		n = 0
		now := ms(s.now())
		for _, id := range ids {
			r, err := tx.exec(ctx, `UPDATE deliveries SET state = ?, attempts = 0, next_attempt_at = ?, queued_at = ?, updated_at = ?
				WHERE id = ? AND state IN (?, ?)`, StatePending, now, now, now, id, StateDead, StateSilenced)
			if err != nil {
				return fmt.Errorf("%w: retry: %w", ErrUnavailable, err)
			}
			c, _ := r.RowsAffected()
			n += int(c)
		}
		return nil
	})
	return n, err
}
