package store

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// The queries of the web console: a page of the delivery log by keyset,
// counts per state, and one subject's timeline.

// Page returns up to f.Limit deliveries matching f, newest first by id
// (ids start with the time their event was received). before and after
// are delivery ids ("" for no bound): only deliveries whose id sorts
// before before, and after after, are returned. Paging by the last id of
// a page walks the primary key's index instead of counting past OFFSET
// rows, so a page deep in a large log costs what the first one does.
// With after alone, the page is the oldest deliveries after it (still
// newest first): polling for new deliveries from the newest one seen
// skips none, however many came in since.
func (s *Store) Page(ctx context.Context, f Filter, before, after string) ([]*Delivery, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	where, args := f.where()
	if before != "" {
		where += " AND d.id < ?"
		args = append(args, before)
	}
	if after == "" || before != "" {
		if after != "" {
			where += " AND d.id > ?"
			args = append(args, after)
		}
		return s.listDeliveries(ctx, "page deliveries", where, "d.id DESC", append(args, f.Limit))
	}
	ds, err := s.listDeliveries(ctx, "page deliveries", where+" AND d.id > ?", "d.id", append(args, after, f.Limit))
	slices.Reverse(ds)
	return ds, err
}

// CountStates returns how many deliveries match f in each state; f.State
// and f.Limit are ignored.
func (s *Store) CountStates(ctx context.Context, f Filter) (map[string]int, error) {
	f.State = ""
	where, args := f.where()
	rows, err := s.read.QueryContext(ctx, s.d.q(`SELECT d.state, COUNT(*) FROM deliveries d`+where+` GROUP BY d.state`), args...)
	if err != nil {
		return nil, fmt.Errorf("%w: count deliveries: %w", ErrUnavailable, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("%w: count deliveries: %w", ErrUnavailable, err)
		}
		out[state] = n
	}
	return out, rows.Err()
}

// StoredEvent is an event as stored, with the deliveries it caused.
type StoredEvent struct {
	ID         string
	Source     string
	Type       string
	Status     string
	ReceivedAt time.Time
	JSON       []byte
	Deliveries []*Delivery
}

// Timeline returns every event of subject from the given sources, in the
// order they were received, each with its deliveries. Naming the sources
// lets the lookup use the events index on (source, subject).
func (s *Store) Timeline(ctx context.Context, sources []string, subject string) ([]*StoredEvent, error) {
	if len(sources) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(sources)+1)
	for _, src := range sources {
		args = append(args, src)
	}
	rows, err := s.read.QueryContext(ctx, s.d.q(`SELECT id, source, type, status, received_at, body FROM events
		WHERE source IN (`+placeholders(len(sources))+`) AND subject = ? ORDER BY received_at, id`), append(args, subject)...)
	if err != nil {
		return nil, fmt.Errorf("%w: timeline: %w", ErrUnavailable, err)
	}
	var out []*StoredEvent
	byID := map[string]*StoredEvent{}
	for rows.Next() {
		var e StoredEvent
		var at int64
		var body string
		if err := rows.Scan(&e.ID, &e.Source, &e.Type, &e.Status, &at, &body); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%w: timeline: %w", ErrUnavailable, err)
		}
		e.ReceivedAt, e.JSON = fromMS(at), []byte(body)
		out = append(out, &e)
		byID[e.ID] = &e
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	keys := make([]any, 0, 2*len(out))
	for _, e := range out {
		keys = append(keys, ms(e.ReceivedAt), e.ID)
	}
	drows, err := s.read.QueryContext(ctx, s.d.q(`SELECT `+deliveryColumns+` FROM deliveries
		WHERE (event_at, event_id) IN (`+rowsOf("(?, ?)", len(out))+`) ORDER BY id`), keys...)
	if err != nil {
		return nil, fmt.Errorf("%w: timeline deliveries: %w", ErrUnavailable, err)
	}
	defer drows.Close()
	for drows.Next() {
		d, err := scanDelivery(drows)
		if err != nil {
			return nil, fmt.Errorf("%w: timeline deliveries: %w", ErrUnavailable, err)
		}
		d.Subject = subject
		if e := byID[d.EventID]; e != nil {
			e.Deliveries = append(e.Deliveries, d)
		}
	}
	return out, drows.Err()
}
